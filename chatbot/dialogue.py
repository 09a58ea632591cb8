"""What the conversation so far is about: the last regions, method, photo side, number and operation.

Built from the earlier answers (``Answer.frame`` holds what a computed answer was about; answers from the intent
router contribute their regions, methods and intent), so elliptical follow-ups ("is that a lot?", "and by the
greedy method?", "and in photo A only?", "which of the two?") resolve against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

# Intents of the router whose answer states one number the user may follow up on ("is that a lot?").
INTENT_NUMBERS = {"similarity": "similarity", "threshold": "threshold", "how_decided": "margin",
                  "strength": "margin", "decision": "margin"}
# Router answers leave the operation open: their own follow-ups ("and the eyes?") stay with the router.
INTENT_OPERATIONS: dict[str, str] = {}


@dataclass
class DialogueState:
    """The slots the last answers filled. ``number_kind``: delta | margin | similarity | threshold | share."""

    operation: str | None = None
    subject: str | None = None
    regions: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    side: str | None = None
    k: int | None = None
    number: float | None = None
    number_kind: str | None = None
    colour: str | None = None
    field: str | None = None
    intent: str | None = None

    @classmethod
    def from_history(cls, history: Sequence[Any], facts: Any = None, reach: int = 3) -> DialogueState | None:
        """The state after ``history`` (answers, oldest first); None when nothing usable was said yet. The
        operation and number come from the last answer; regions and methods, when it named none, from the most
        recent of the last ``reach`` answers that did."""
        answers = [a for a in history if getattr(a, "method", None) != "reply"]
        if not answers:
            return None
        state = cls._from_answer(answers[-1], facts)
        for earlier in reversed(answers[-reach:-1]):
            if state.regions:
                break
            before = cls._from_answer(earlier, facts)
            if before.regions:
                state.regions = before.regions
                state.methods = state.methods or before.methods
        if state.operation is None and state.number is None and not state.regions:
            return None
        return state

    @classmethod
    def _from_answer(cls, answer: Any, facts: Any) -> DialogueState:
        frame = getattr(answer, "frame", None)
        if frame:
            return cls(**{k: v for k, v in frame.items() if k in cls.__dataclass_fields__})
        state = cls(intent=answer.intent, regions=list(answer.regions), methods=list(answer.methods))
        state.operation = INTENT_OPERATIONS.get(answer.intent)
        if answer.intent == "most_important_region" and facts is not None and not state.regions:
            state.regions = [facts.record["most_important_region"]]
        if answer.intent in INTENT_NUMBERS and facts is not None:
            kind = INTENT_NUMBERS[answer.intent]
            state.number_kind = kind
            state.number = {"similarity": facts.similarity, "threshold": facts.threshold, "margin": facts.margin}[kind]
        return state
