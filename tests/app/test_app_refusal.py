"""A photo the quality check refuses, in the Streamlit page (streamlit.testing.v1.AppTest, the real engine): the
one-line error, each photo's quality component table, and a chat that answers from the refusal and never states a
decision.

The refused photo is the astronaut darkened to a mean pixel value under 10 (the issue's recipe); the other photo is
the astronaut itself. The engine refuses before any attribution runs, so this module is quick after the models load.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP_FILE = Path(__file__).resolve().parents[2] / "streamlit_app.py"
STEP_TIMEOUT = 420  # loads the models on the first click (2 busy cores)


def _plain(markdown: str) -> str:
    return markdown.replace("\\", "")


def _assistant(at) -> list[str]:
    return [_plain(m.markdown[0].value) for m in at.chat_message if m.name == "assistant"]


@pytest.fixture(scope="module")
def dark_pair(sample_photos):
    from explain_engine.quality import degrade

    astronaut = sample_photos[0].image
    dark = degrade.darken(astronaut, 8.0)
    assert dark.mean() < 10
    return astronaut, dark


@pytest.fixture(scope="module")
def refused_app(dark_pair, to_png):
    astronaut, dark = dark_pair
    at = AppTest.from_file(str(APP_FILE), default_timeout=60)
    at.run()
    at.sidebar.radio(key="source").set_value("upload").run()
    at.sidebar.multiselect(key="methods").set_value(["S0: one at a time"]).run()
    at.file_uploader(key="upload_a").set_value(("astronaut.png", to_png(astronaut), "image/png"))
    at.file_uploader(key="upload_b").set_value(("dark.png", to_png(dark), "image/png"))
    at.run()
    at.button(key="explain").click().run(timeout=STEP_TIMEOUT)
    return at


def test_refusal_shows_the_error_and_each_photos_component_table(refused_app):
    at = refused_app
    assert not at.exception
    errors = [_plain(e.value) for e in at.error]
    assert any("dark.png" in e and "luminance_mean" in e and "\n" not in e for e in errors), errors
    assert at.session_state["result"] is None  # no decision was made, none is shown
    assert not [m for m in at.metric if m.label == "Similarity"]
    refused = at.session_state["refusal"]
    assert refused is not None and refused.record["side"] == "b" and refused.record["component"] == "luminance_mean"
    # the refused photo's table first, then the photo that passed; every component with its value and source
    tables = [d.value for d in at.dataframe]
    assert len(tables) == 2
    b, a = tables
    assert list(b.columns) == ["component", "outcome", "value", "unit", "threshold", "what it checks", "source"]
    assert b["component"].iloc[0] == "luminance_mean"  # the refusing components lead, the named one first
    assert list(b["outcome"]).index("pass") > max(i for i, o in enumerate(b["outcome"]) if o == "refuse")
    row = b[b["component"] == "luminance_mean"].iloc[0]
    assert row["outcome"] == "refuse" and row["value"] < 35 and "refused below 35" in row["threshold"]
    assert row["source"] and row["unit"]
    assert set(a["outcome"]) == {"pass"} and len(a) == len(b)
    card = " ".join(_plain(m.value) for m in at.markdown)
    assert "No decision: photo B (dark.png) was refused" in card


def test_chat_answers_why_from_the_refusal(refused_app):
    at = refused_app
    at.button(key="suggest Why was this photo refused?").click().run()
    assert not at.exception
    why = _assistant(at)[-1]
    assert "Photo B (dark.png) was refused" in why and "brightness of the face" in why
    value = next(c["value"] for c in at.session_state["refusal"].record["quality"]["b"]["components"]
                 if c["name"] == "luminance_mean")
    assert f"{value:.3g}" in why and "no decision was made" in why


@pytest.mark.parametrize("question,expected", [
    ("Is the photo good enough?", "the photo was refused; no decision was made"),
    ("Are the eyes visible?", "The eyes: in photo A 100% inside the frame"),
    ("Is part of the face hidden?", "in photo B is visible, hidden, covered or cut off cannot be judged"),
])
def test_chat_answers_the_quality_questions(refused_app, question, expected):
    refused_app.chat_input(key="chat_question").set_value(question).run()
    assert not refused_app.exception
    assert expected in _assistant(refused_app)[-1]


@pytest.mark.parametrize("question", ["Which region drove the match?", "How sure are you?", "Is it a match?"])
def test_other_questions_say_no_decision_exists(refused_app, question):
    refused_app.chat_input(key="chat_question").set_value(question).run()
    answer = _assistant(refused_app)[-1]
    assert answer.startswith("No decision, score or explanation exists for this pair: photo B (dark.png)")
    assert "brightness of the face" in answer and "another photo" in answer
    # nothing in it states a decision or a score
    assert "similarity of" not in answer and "confidence" not in answer.lower()
    assert refused_app.session_state["conversation"].turns[-1].answer.refusal == "photo_refused"


def test_refusal_conversation_exports_say_no_decision(refused_app, app_module):
    as_json, markdown = app_module.conversation_exports(refused_app.session_state["conversation"])
    assert "- No decision: photo B was refused by the quality check (luminance_mean)" in markdown
    assert "Decision: **" not in markdown
    assert "Why was this photo refused?" in markdown and '"kind": "refusal"' in as_json


def test_a_good_pair_afterwards_replaces_the_refusal_and_archives_its_chat(refused_app, sample_photos, to_png):
    at = refused_app
    turns = len(at.session_state["conversation"].turns)
    a, b = sample_photos
    at.file_uploader(key="upload_a").set_value(("me.png", to_png(a.image), "image/png"))
    at.file_uploader(key="upload_b").set_value(("me-edited.png", to_png(b.image), "image/png"))
    at.run()
    at.button(key="explain").click().run(timeout=STEP_TIMEOUT)
    assert not at.exception
    assert [e.value for e in at.error] == []
    assert at.session_state["refusal"] is None and at.session_state["result"].names == ("me.png", "me-edited.png")
    assert not [d for d in at.dataframe if "what it checks" in d.value.columns]  # the quality tables are gone
    archived = at.session_state["archive"][-1]
    assert archived["title"] == "astronaut.png vs dark.png (photo B refused)" and archived["turns"] == turns
