"""The chat when no region supports the decision above the noise floor (most_important_region is None)."""

from __future__ import annotations

import numpy as np


def test_chat_says_no_region_stands_out_instead_of_failing(astronaut):
    from chatbot import Chatbot, Conversation
    from explain_engine import Engine, EngineConfig

    edited = np.ascontiguousarray(np.clip(np.roll(astronaut[:, ::-1], (12, -10), (0, 1)).astype(int) + 25, 0, 255)
                                  .astype(np.uint8))
    exp = Engine(EngineConfig(methods=("s0",))).explain(astronaut, edited)
    # a noise floor above every change: no region clears it (what a pair with a flat map gives)
    exp.arrays.robustness = {**exp.arrays.robustness, "noise_floor": 1.0}
    record = exp.to_dict()
    assert record["most_important_region"] is None
    assert {r["role"] for r in record["regions"] if r["present"]} == {"neutral"}
    chat = Conversation(Chatbot(record))
    answer = chat.ask("Which region drove the match?")
    assert "No region stands out" in answer.text
    assert chat.ask("Which region mattered least?").text  # still answers
