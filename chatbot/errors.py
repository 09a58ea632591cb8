"""Chatbot exceptions: plain messages a user can act on (the CLI prints them as one line)."""

from __future__ import annotations

from explain_engine.record import RecordError
from models.errors import FaceXError


class ChatbotError(FaceXError):
    """Anything the chatbot reports to a user instead of a traceback."""


class ExplanationError(ChatbotError, RecordError):
    """The explanation record is missing, unreadable, malformed, incomplete or edited."""


class ConversationError(ChatbotError):
    """A saved conversation cannot be loaded, or a conversation cannot answer (no explanation attached)."""
