"""Saving conversations: JSON (loads back into a Conversation) and Markdown (for people)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from chatbot.context import readable_region
from chatbot.errors import ConversationError

FORMAT = "facex-chat-conversation"
FORMAT_VERSION = 1


def conversation_json(conversation) -> str:
    return json.dumps(conversation.to_dict(), indent=2, ensure_ascii=False)


def _honest(summary: dict, key: str) -> str:
    """A C-score / PIC-score as a percentage held to what the calibration set resolves ("≥ 97.2%", never 100%)."""
    from explain_engine.evidence import honest_probability, percent_floor

    info = honest_probability(summary.get(key), summary.get("decision") or "", summary.get("calibration") or {})
    if info is None or info["shown"] is None:
        return "n/a"
    return ("≥ " if info["capped"] else "") + percent_floor(info["shown"])


def _fmt(value, spec: str) -> str:
    return format(value, spec) if isinstance(value, (int, float)) and not isinstance(value, bool) else "n/a"


def conversation_markdown(conversation) -> str:
    s = conversation.to_dict()["explanation_summary"]
    models = conversation.models()
    lines = [
        "# facex-chat conversation",
        "",
        f"- Conversation: `{conversation.id}`, started {conversation.created}",
        f"- Images: {s['images'].get('a') or 'A'} and {s['images'].get('b') or 'B'}",
    ]
    if refusal := s.get("refusal"):  # a refused pair: no decision, no scores, no regions
        lines += [(f"- No decision: photo {str(refusal['side']).upper()} was refused by the quality check "
                   f"({refusal['component']}): {refusal['message']}"),
                  f"- Record: SHA-256 digest of the refusal record's content `{s['digest']}`"]
    else:
        lines += [
            (f"- Decision: **{s['decision']}** (similarity {_fmt(s['similarity'], '.3f')}, threshold "
             f"{_fmt(s['threshold'], '.3f')}, confidence {_honest(s, 'confidence')}, PIC {_honest(s, 'pic_score')})"),
            f"- Face model: {s['model']} ({s.get('model_description') or ''})",
            (f"- Most / least important region: {readable_region(str(s['most_important_region']))} / "
             f"{readable_region(str(s['least_important_region']))}; methods: {', '.join(s.get('methods') or [])}; "
             f"perturbation: {s.get('perturbation')}"),
            (f"- Record: SHA-256 digest of the explanation's content `{s['digest']}`" if s.get("digest")
             else "- Record: no content digest (a version-1 explanation.json)"),
        ]
    if models:
        sentence, qa = models.get("sentence") or {}, models.get("qa") or {}
        lines.append(f"- Chat models: sentence embeddings {sentence.get('name', 'n/a')}, "
                     f"QA {qa.get('name', 'none (answers from retrieved sentences)')}")
        versions = models.get("versions") or {}
        if versions:
            lines.append("- Versions: " + ", ".join(f"{k} {v}" for k, v in versions.items() if v))
    lines.append("")
    for turn in conversation.turns:
        a = turn.answer
        question = " ".join((a.cleaned_question or turn.question).split()) or "(empty question)"
        if len(question) > 300:
            question = question[:300] + " …"
        lines += [f"## {turn.index}. {question}", "", f"*{turn.asked_at}*", "", a.text, ""]
        meta = f"method: {a.method}; intent: {a.intent}; score: {a.score:.2f}"
        if a.followup:
            meta += f"; follow-up ({a.followup})"
        lines.append(f"<sub>{meta}</sub>")
        if a.links:
            lines.append("")
            lines.append("Heatmaps: " + ", ".join(f"[{link.label}]({link.file})" for link in a.links))
        for note in a.notes:
            lines.append(f"> note: {note}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_conversation(conversation, path: str | Path) -> Path:
    """Write ``.json`` or ``.md`` (by extension); other extensions are refused with a clear message."""
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = conversation_json(conversation)
    elif suffix in (".md", ".markdown"):
        text = conversation_markdown(conversation)
    else:
        raise ConversationError(f"cannot export to {path.name}: use a .json or .md file name")
    try:
        _write_atomic(path, text)
    except OSError as exc:
        raise ConversationError(f"cannot write {path}: {exc}") from exc
    return path
