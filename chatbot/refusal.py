"""Questions about a pair whose photo the image-quality check refused: no decision exists, only the refusal.

A refused pair has no similarity, no decision and no explanation, so :class:`chatbot.answering.Chatbot` (which
answers from an explanation record) does not apply. :class:`RefusalChatbot` answers from the refusal record
(``explain_engine.record.RefusalRecord``, refusal.json): "why was this photo refused?", "is the photo good
enough?", "are the eyes visible?", "is part of the face hidden?" from the quality stage's own sentences
(``explain_engine.quality.words``, words in ``prompts/quality_policy.yaml``); every other question gets the reply
that no decision or explanation exists, why, and what the user can do. It never states a decision.

The question is read by the same rules as the main chatbot (``prompts/questions.yaml``: the identity /
demographics / legal refusals and the region-visibility rule, then the ``refused_photo`` topics), with the same
cleaning, spelling tolerance and language check. It needs no model, so it starts at once.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path

from chatbot.answering import Answer
from chatbot.context import join_names, readable_region
from chatbot.executor import load_answers
from chatbot.language import other_language
from chatbot.questions import QuestionParser, load_lexicon
from chatbot.text import clean_question
from explain_engine.quality import load_policy
from explain_engine.quality.words import component_facts, sentences, unjudged
from explain_engine.record import RefusalRecord, load_refusal
from prompts import Prompts, default_prompts

REFUSED = "photo_refused"  # Answer.refusal of every answer that says no decision exists


class RefusalChatbot:
    """Answers questions about one refused pair from its :class:`RefusalRecord`.

    Has the parts of :class:`chatbot.answering.Chatbot` that :class:`chatbot.conversation.Conversation`, the
    command line and the app use (``answer``, ``prepare``, ``explanation``, ``record``, ``prompts``, ``base_dir``,
    ``model_info``).
    """

    def __init__(self, refusal: dict | RefusalRecord, *, prompts: Prompts | None = None,
                 base_dir: str | Path | None = None, allow_edited: bool = False) -> None:
        started = time.perf_counter()
        self.record = load_refusal(refusal, allow_edited=allow_edited)
        r = self.record  # what a conversation log keeps: the record with its digest (an edited one as it was)
        self.explanation = r.model_dump(mode="json") if r.edited else r.to_dict()
        self.prompts = prompts or default_prompts()
        self.base_dir = Path(base_dir) if base_dir else None
        self.policy = load_policy()
        self.lexicon = load_lexicon()
        self.t = load_answers()["refused_photo"]
        self.topics = self.lexicon["refused_photo"]
        self.settings = self.prompts.settings
        r = self.record
        self.sentences = dict(sentences(r.quality, r.names, self.policy))
        # photos refused by a global component (too dark, upside down...): none of their regions can be judged
        self.unjudged = [side for side in ("a", "b") if unjudged(r.quality.get(side), self.policy)]
        seen = [n for q in r.quality.values() for n in (q.get("visibility") or {})]
        coarse = [n for spec in self.prompts.vocabulary["regions"].values() for n in spec.get("coarse", [])]
        self.parser = QuestionParser(self.prompts, list(dict.fromkeys(seen + coarse)), "coarse", self.lexicon)
        self.fields = {"side": r.side.upper(), "photo": r.photo, "message": r.message,
                       **(component_facts(r.refused, r.component, self.policy) or {})}
        self.load_seconds = time.perf_counter() - started

    @classmethod
    def from_file(cls, path: str | Path, **kwargs) -> RefusalChatbot:
        path = Path(path).expanduser()
        return cls(load_refusal(path, allow_edited=kwargs.get("allow_edited", False)),
                   base_dir=kwargs.pop("base_dir", path.parent), **kwargs)

    # --- the parts of Chatbot others use ------------------------------------------------------------------------
    def prepare(self, questions: Sequence[object]) -> None:
        """Nothing to encode ahead: the refusal chat uses no model."""

    def model_info(self) -> dict:
        return {"face_model": None, "sentence": None, "qa": None}

    def say(self, key: str, **fields) -> str:
        return self.t[key].format(**{**self.fields, **fields})

    # --- answering ----------------------------------------------------------------------------------------------
    def answer(self, question: object, history: Sequence[Answer] = ()) -> Answer:
        """Answer ``question`` from the refusal (``history`` is accepted for the Conversation's sake)."""
        started = time.perf_counter()
        q = clean_question(question, int(self.settings["max_question_chars"]))
        if q.text and not q.non_english and other_language(q.text, self.lexicon["language"]):
            q.non_english = True
        if not q.text or not any(c.isalnum() for c in q.text) or q.non_english:
            reply = "non_english" if q.non_english else "empty"
            texts = [self.say(reply), self.say("no_decision")]
            answer = Answer(q.original, " ".join(texts), 1.0, texts, "reply", reply, refusal=REFUSED,
                            cleaned_question=q.text, notes=list(q.notes))
        else:
            corrected, changes = self.parser.correct(q.text)
            if changes:
                q.text = corrected
                q.notes.append("read " + ", ".join(f"'{a}' as '{b}'" for a, b in changes))
            topic, ids, regions, refusal = self.route(q.text)
            texts = [self._text(i) for i in ids]
            texts = [t for t in texts if t]
            answer = Answer(q.original, " ".join(texts), 1.0, texts, "facts", f"refused:{topic}", regions=regions,
                            evidence_ids=ids, refusal=refusal, cleaned_question=q.text, notes=list(q.notes))
        if self.record.edited:
            answer.notes.insert(0, "the refusal record was edited after it was written: "
                                + "; ".join(self.record.problems))
        answer.elapsed_ms = round(1000 * (time.perf_counter() - started), 2)
        return answer

    def route(self, text: str) -> tuple[str, list[str], list[str], str | None]:
        """(topic, sentence ids, regions, Answer.refusal) for a cleaned, spelling-corrected question."""
        low = text.lower()
        parsed = self.parser.parse(low)
        topics = {k: v for k, v in self.topics.items() if isinstance(v, str)}
        hit = {k for k, pattern in topics.items() if re.search(pattern, low, re.IGNORECASE)}
        regions = self.parser.regions(low)
        if parsed is not None and parsed.operation == "refuse":
            return parsed.subject, [f"@refuse.{parsed.subject}", "@no_decision"], [], parsed.subject
        if regions and (("hidden" in hit) or (parsed is not None and parsed.operation == "visibility")):
            return "visibility", ["@lead", *self._region_ids(regions), "@reminder"], regions, None
        if "hidden" in hit:
            return "hidden", ["@lead", *self._hidden_ids()], [], None
        if "why" in hit:
            return "why", ["@lead", "@why", *self._also_ids(), "@advice"], [], None
        if "good_enough" in hit:
            return "good_enough", [*self._photo_ids(), "@advice"], [], None
        if "advice" in hit:
            return "advice", ["@lead", "@why", "@advice"], [], None
        if regions:  # "and the mouth?", "is the nose important?": all a refusal knows of a region is whether it shows
            return "visibility", ["@no_decision", *self._region_ids(regions)], regions, REFUSED
        return "no_decision", ["@no_decision", "@advice"], [], REFUSED

    # --- sentence ids -----------------------------------------------------------------------------------------
    def _photo_ids(self) -> list[str]:
        out: list[str] = []
        for side in ("a", "b"):
            if side in self.record.quality:
                out += [f"quality.{side}", f"quality.{side}.issues"]
            else:
                out.append(f"@not_checked:{side}")
        refused = self.record.side
        return [i for i in out if i.startswith(f"quality.{refused}")] + [
            i for i in out if not i.startswith(f"quality.{refused}")]

    def _also_ids(self) -> list[str]:
        others = [c for c in self.record.refused.get("components") or []
                  if c.get("outcome") == "refuse" and c.get("name") != self.record.component]
        return ["@also"] if others else []

    def _region_ids(self, regions: list[str]) -> list[str]:
        """A photo refused as too dark, upside down...: first that none of its regions can be judged (and no region
        of it is called visible or covered); then each region in the photos that can be judged."""
        out: list[str] = [f"quality.{side}.unjudged" for side in self.unjudged]
        judged = [side for side in ("a", "b") if side not in self.unjudged]
        for region in regions:
            shown = [side for side in judged if region in (self.record.quality.get(side) or {}).get("visibility", {})]
            if shown:
                out.append(f"region.{region}.visibility")
            elif not self.unjudged:
                out.append(f"@no_visibility:{region}")
            linked = [name for name, rule in self.policy.components.items() if region in rule.regions]
            out += [f"quality.{side}.{name}" for side in judged for name in linked
                    if f"quality.{side}.{name}" in self.sentences]
        return out

    def _hidden_ids(self) -> list[str]:
        """What hides part of a face: for a photo refused as too dark, upside down...: only that this cannot be
        judged (in ``quality.hidden``); for the others their hiding components' sentences."""
        names = self.topics.get("hidden_components") or []
        out = [f"quality.{side}.{name}" for side in (self.record.side, "b" if self.record.side == "a" else "a")
               if side not in self.unjudged for name in names if f"quality.{side}.{name}" in self.sentences]
        if self.unjudged or any((q.get("visibility") or {}) for q in self.record.quality.values()):
            out.append("quality.hidden")
        return out

    def _text(self, sid: str) -> str:
        if not sid.startswith("@"):
            return self.sentences.get(sid, "")
        key, _, arg = sid[1:].partition(":")
        if key.startswith("refuse."):
            return load_answers()["refuse"][key.split(".", 1)[1]]
        if key == "also":
            items = [self.say("also_item", **component_facts(self.record.refused, c["name"], self.policy))
                     for c in self.record.refused.get("components") or []
                     if c.get("outcome") == "refuse" and c.get("name") != self.record.component
                     and c.get("name") in self.policy.components]
            return self.say("also", items=join_names(items, article="")) if items else ""
        if key == "not_checked":
            return self.say("not_checked", side=arg.upper(), photo=self.record.names.get(arg, arg.upper()))
        if key == "no_visibility":
            return self.say("no_visibility", region=readable_region(arg))
        return self.say(key)


def refusal_chatbot(source, **kwargs) -> RefusalChatbot:
    """A :class:`RefusalChatbot` over a refusal record (a path, a dict or a RefusalRecord)."""
    if isinstance(source, (str, Path)):
        return RefusalChatbot.from_file(source, **kwargs)
    return RefusalChatbot(source, **kwargs)
