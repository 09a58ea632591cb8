"""A conversation: the turns so far, follow-ups resolved against them, export and re-loading."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from chatbot.answering import Answer, Chatbot
from chatbot.context import summarize, validate_explanation
from chatbot.errors import ConversationError


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class Turn:
    """One question and its answer."""

    index: int
    question: str
    answer: Answer
    asked_at: str  # ISO 8601, UTC

    def to_dict(self) -> dict:
        return {"index": self.index, "question": self.question, "asked_at": self.asked_at,
                "answer": self.answer.to_dict()}

    @classmethod
    def from_dict(cls, data: dict) -> Turn:
        try:
            return cls(int(data["index"]), str(data["question"]), Answer.from_dict(data["answer"]), str(data["asked_at"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ConversationError(f"a saved turn is malformed: {exc!r}") from exc


class Conversation:
    """Questions and answers about one explanation, oldest first.

    ``Conversation(bot)`` starts one; ``Conversation.load(path)`` restores a saved one (attach a bot with
    ``attach`` or let ``ask`` build one from the saved explanation through the model registry).
    """

    def __init__(self, bot: Chatbot | None = None, *, explanation: dict | None = None, turns: list[Turn] | None = None,
                 conversation_id: str | None = None, created: str | None = None, models: dict | None = None,
                 explanation_path: str | None = None, explanation_edited: bool = False) -> None:
        if bot is None and explanation is None:
            raise ConversationError("a conversation needs a chatbot or an explanation")
        self.bot = bot
        self.explanation = explanation if explanation is not None else bot.explanation
        # the record failed its digest/consistency check and was questioned anyway (Chatbot(allow_edited=True))
        self.explanation_edited = bool(explanation_edited or (bot is not None and bot.record.edited))
        self.turns: list[Turn] = list(turns or [])
        self.id = conversation_id or uuid.uuid4().hex
        self.created = created or now_iso()
        self._models = models
        if explanation_path is None and bot is not None and bot.base_dir is not None:
            explanation_path = str(bot.base_dir / "explanation.json")
        self.explanation_path = explanation_path

    @property
    def history(self) -> list[Answer]:
        return [t.answer for t in self.turns]

    def attach(self, bot: Chatbot) -> None:
        self.bot = bot

    def ask(self, question: object) -> Answer:
        """Answer ``question`` in the light of the earlier turns and record the turn."""
        if self.bot is None and self.explanation.get("kind") == "refusal":
            from chatbot.refusal import RefusalChatbot

            self.bot = RefusalChatbot(self.explanation, allow_edited=self.explanation_edited)
        elif self.bot is None:
            self.bot = Chatbot(self.explanation, allow_edited=self.explanation_edited)
        asked_at = now_iso()
        answer = self.bot.answer(question, self.history)
        self.turns.append(Turn(len(self.turns) + 1, answer.question, answer, asked_at))
        return answer

    # --- export ----------------------------------------------------------------------------------------------
    def models(self) -> dict:
        if self.bot is not None:
            return {**self.bot.model_info(), "versions": software_versions()}
        return self._models or {}

    def to_dict(self) -> dict:
        from chatbot.export import FORMAT, FORMAT_VERSION

        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "id": self.id,
            "created": self.created,
            "explanation_path": self.explanation_path,
            "explanation_summary": summarize(self.explanation),
            "models": self.models(),
            "explanation_versions": dict(self.explanation.get("versions") or {}),
            "turns": [t.to_dict() for t in self.turns],
            "explanation": self.explanation,
            "explanation_edited": self.explanation_edited,
        }

    @classmethod
    def from_dict(cls, data: dict, bot: Chatbot | None = None) -> Conversation:
        from chatbot.export import FORMAT

        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ConversationError(f"not a saved facex-chat conversation (expected format {FORMAT!r})")
        missing = [k for k in ("id", "created", "turns", "explanation") if k not in data]
        if missing:
            raise ConversationError(f"saved conversation is missing keys {', '.join(missing)}")
        edited = bool(data.get("explanation_edited", False))
        explanation = validate_explanation(data["explanation"], allow_edited=edited)
        turns = [Turn.from_dict(t) for t in data["turns"]]
        conv = cls(bot, explanation=explanation, turns=turns, conversation_id=data["id"], created=data["created"],
                   models=data.get("models"), explanation_path=data.get("explanation_path"),
                   explanation_edited=edited)
        return conv

    def save(self, path: str | Path) -> Path:
        """Write the log as JSON (``.json``) or Markdown (``.md``), chosen by the file's extension."""
        from chatbot.export import save_conversation

        return save_conversation(self, path)

    @classmethod
    def load(cls, path: str | Path, bot: Chatbot | None = None) -> Conversation:
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise ConversationError(f"conversation file {path} does not exist") from exc
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ConversationError(f"cannot read conversation file {path}: {exc}") from exc
        return cls.from_dict(data, bot)

    def to_markdown(self) -> str:
        from chatbot.export import conversation_markdown

        return conversation_markdown(self)


def software_versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("facex-chat", "sentence-transformers", "transformers", "torch"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = None
    return out
