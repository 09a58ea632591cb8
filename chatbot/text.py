"""Cleaning user questions and finding what they name (regions, methods, images).

Questions come from people: empty, very long, pasted HTML or Markdown, other languages. Cleaning never raises;
it returns the cleaned text and notes saying what was changed, so the answer can tell the user.
"""

from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass, field

_SCRIPT_STYLE = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]{0,500}>")
_MD_LINK = re.compile(r"!?\[([^\]]{0,300})\]\([^)]{0,500}\)")
_URL = re.compile(r"\bhttps?://\S+", re.IGNORECASE)
_MD_MARKS = re.compile(r"(```+|`|\*\*+|__+|~~|^\s{0,3}#{1,6}\s*|^\s{0,3}>\s?|^\s*[-*+]\s+)", re.MULTILINE)
_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")


@dataclass
class CleanQuestion:
    """A question ready for answering, with what cleaning did to it."""

    original: str
    text: str  # cleaned, original case
    truncated: bool = False
    markup_removed: bool = False
    non_english: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def lower(self) -> str:
        return self.text.lower()

    @property
    def words(self) -> list[str]:
        return _WORD.findall(self.lower)


def _latin_share(text: str) -> float:
    letters = [c for c in text if c.isalpha()]
    if not letters:
        return 1.0
    latin = sum(1 for c in letters if "LATIN" in unicodedata.name(c, ""))
    return latin / len(letters)


def clean_question(raw: object, max_chars: int = 500) -> CleanQuestion:
    """Strip markup and control characters, normalise spaces, cut overlong questions at a word boundary."""
    original = "" if raw is None else raw if isinstance(raw, str) else str(raw)
    text = unicodedata.normalize("NFKC", original)
    text = "".join(c if (c.isprintable() or c in "\n\t") else " " for c in text)
    notes: list[str] = []
    before = text
    text = html.unescape(text)
    text = _SCRIPT_STYLE.sub(" ", text)
    text = _TAG.sub(" ", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _URL.sub(" ", text)
    text = _MD_MARKS.sub(" ", text)
    text = _SPACE.sub(" ", text).strip()
    markup_removed = _SPACE.sub(" ", before).strip() != text
    if markup_removed:
        notes.append("markup was removed from the question")
    truncated = False
    if len(text) > max_chars:
        cut = text[:max_chars]
        if " " in cut[max_chars // 2:]:
            cut = cut[: cut.rfind(" ")]
        text = cut.rstrip(" ,;:-")
        truncated = True
        notes.append(f"the question was cut to its first {len(text)} characters")
    non_english = bool(text) and _latin_share(text) < 0.5
    return CleanQuestion(original, text, truncated, markup_removed, non_english, notes)


def find_phrases(text: str, phrases: dict[str, list[str]]) -> list[str]:
    """Keys whose phrases occur in ``text`` as whole words, longest phrase first, in order of appearance.

    A shorter phrase inside a longer match ("eye" in "left eye") does not count again.
    """
    lower = " " + re.sub(r"[^a-z0-9_]+", " ", text.lower()) + " "
    candidates = sorted(((p.lower(), key) for key, ps in phrases.items() for p in ps), key=lambda x: -len(x[0]))
    taken = [False] * len(lower)
    hits: list[tuple[int, str]] = []
    for phrase, key in candidates:
        norm = " " + re.sub(r"[^a-z0-9_]+", " ", phrase).strip() + " "
        start = 0
        while (i := lower.find(norm, start)) != -1:
            span = range(i + 1, i + len(norm) - 1)
            if not any(taken[j] for j in span):
                for j in span:
                    taken[j] = True
                hits.append((i, key))
            start = i + 1
    seen: list[str] = []
    for _, key in sorted(hits):
        if key not in seen:
            seen.append(key)
    return seen
