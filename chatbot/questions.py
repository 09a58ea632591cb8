"""An explicit representation of a question about one explanation, and the parser that fills it.

A :class:`Question` says what is asked about (``subject``: regions, methods, side, decision, scores, evidence,
quality, robustness, or a refusal reason) and what to do (``operation``: look up, rank, top-k, position, compare,
what-if threshold, counterfactual set, explain-why, refuse, ...), with its slots: regions, methods, photo side,
k / position / level, a number the user gave (a threshold), a colour the user assumed. The rules, words and
settings come from ``prompts/questions.yaml``; this module only applies them.

:class:`QuestionParser` returns ``None`` for a question its rules do not represent, which then goes to the intent
router and the paper's QA cascade. Follow-ups ("and by the greedy method?", "how much?") are resolved against a
:class:`chatbot.dialogue.DialogueState`.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

from rapidfuzz import process
from rapidfuzz.distance import OSA

from prompts import PROMPTS_DIR, Prompts, read_data_file

_WORD = re.compile(r"[a-z][a-z0-9']*")
_NUMBER = re.compile(r"(?<![\w.])(0?\.\d+|1\.0+|[01])(?!\w|\.\d)")


@lru_cache(maxsize=1)
def _answer_words() -> frozenset[str]:
    """The words of ``prompts/answers.yaml`` (cached: parsing it took longer than the rest of a chatbot's start)."""
    return frozenset(re.findall(r"[a-z]{3,}", str(read_data_file(PROMPTS_DIR / "answers.yaml")).lower()))


@lru_cache(maxsize=4)
def load_lexicon(path: str | None = None) -> dict:
    """``prompts/questions.yaml`` (cached); rules compiled."""
    data = read_data_file(PROMPTS_DIR / "questions.yaml" if path is None else path)
    for rule in data["rules"]:
        rule["regex"] = re.compile(rule["pattern"], re.IGNORECASE)
        rule.setdefault("needs", [])
        rule.setdefault("state", False)
    data["elliptical_regex"] = re.compile(data["elliptical"], re.IGNORECASE)
    data["one_sided_regex"] = re.compile(data["one_sided_cue"], re.IGNORECASE)
    data["anaphora_regex"] = re.compile(data["anaphora"], re.IGNORECASE)
    data["identity_name_regex"] = re.compile(data["identity_name"])  # case matters: capitalised names
    data["identity_name_cue_regex"] = re.compile(data["identity_name_cue"], re.IGNORECASE)
    return data


@dataclass
class Question:
    """What a question asks, explicitly. Filled by :class:`QuestionParser`, executed by chatbot.executor."""

    operation: str
    subject: str
    regions: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    side: str | None = None  # "a" | "b": a photo the question restricts itself to
    k: int | None = None  # top-k / bottom-k size, a position, or an importance level
    number: float | None = None  # a number the user gave (e.g. a threshold for a what-if)
    colour: str | None = None  # a heatmap colour the question assumes
    field: str | None = None  # which fact of the subject (evidence: lr, conclusive, ...)
    followup: str | None = None  # how earlier turns filled it: "repeat", "state"
    words: str = ""  # the text the rules read (after spelling correction)

    def to_dict(self) -> dict:
        data = asdict(self)
        data.pop("words", None)
        return data


class SpellingCorrector:
    """Reads words the chatbot does not know as the nearest domain word (rapidfuzz OSA distance)."""

    def __init__(self, domain: list[str], known: set[str], min_length: int, max_distance: dict) -> None:
        self.domain = sorted({w.lower() for w in domain})
        self.known = {w.lower() for w in known} | set(self.domain)
        self.min_length = int(min_length)
        self.limits = sorted((int(k), int(v)) for k, v in max_distance.items())
        self._cache: dict[str, str | None] = {}

    def limit(self, word: str) -> int:
        out = 0
        for length, distance in self.limits:
            if len(word) >= length:
                out = distance
        return out

    def word(self, word: str) -> str | None:
        """The correction of one lower-case word, or None to keep it."""
        if len(word) < self.min_length or word in self.known or not word.isalpha():
            return None
        if word not in self._cache:
            best = process.extractOne(word, self.domain, scorer=OSA.distance, score_cutoff=self.limit(word))
            self._cache[word] = best[0] if best is not None and best[0] != word else None
        return self._cache[word]

    def correct(self, text: str) -> tuple[str, list[tuple[str, str]]]:
        """(text with unknown words replaced, [(typed, read as)])."""
        changes: list[tuple[str, str]] = []

        def fix(m: re.Match) -> str:
            typed = m.group(0)
            better = self.word(typed.lower())
            if better is None:
                return typed
            changes.append((typed, better))
            return better

        return re.sub(r"[A-Za-z]+", fix, text), changes


def known_words(prompts: Prompts) -> set[str]:
    """Every word in the chatbot's own wording (examples, knowledge, templates, vocabulary): not typos."""
    texts: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(str(k))
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)

    for spec in prompts.intents.values():
        walk(spec.get("examples", []))
    walk(prompts.templates)
    walk(prompts.vocabulary)
    walk([f["text"] for f in prompts.facts.values()])
    walk(prompts.replies)
    return {w for t in texts for w in _WORD.findall(t.lower())}


class QuestionParser:
    """Fills a :class:`Question` from text with the rules of ``prompts/questions.yaml``."""

    def __init__(self, prompts: Prompts, region_names: list[str], region_set: str, lexicon: dict | None = None) -> None:
        from chatbot.text import find_phrases

        self.prompts = prompts
        self.lexicon = lexicon or load_lexicon()
        self.region_names = list(region_names)
        self.region_set = region_set
        self._find = find_phrases
        spelling = self.lexicon["spelling"]
        vocabulary_words = [w for spec in prompts.vocabulary["regions"].values() for p in spec["phrases"]
                            for w in p.split()]
        # Words the rules and answers spell out are known too ("difference" is not a typo of "different").
        lexicon_words = {w for rule in self.lexicon["rules"] for w in re.findall(r"[a-z]{3,}", rule["pattern"])}
        answer_words = _answer_words()
        self.speller = SpellingCorrector(list(spelling["words"]) + vocabulary_words,
                                         known_words(prompts) | _COMMON | lexicon_words | answer_words,
                                         spelling["min_length"], spelling["max_distance"])
        self._region_phrases = {k: v["phrases"] for k, v in prompts.vocabulary["regions"].items()}
        self._method_phrases = {k: v["phrases"] for k, v in prompts.vocabulary["methods"].items()}

    # --- slots ----------------------------------------------------------------------------------------------
    def regions(self, text: str) -> list[str]:
        out: list[str] = []
        for concept in self._find(text, self._region_phrases):
            spec = self.prompts.vocabulary["regions"][concept]
            for name in spec.get(self.region_set, spec.get("coarse", [concept])):
                if name in self.region_names and name not in out:
                    out.append(name)
        return out

    def methods(self, text: str) -> list[str]:
        return self._find(text, self._method_phrases)

    def side(self, text: str) -> str | None:
        found = self._find(text, self.lexicon["sides"])
        return found[0] if len(found) == 1 else None

    def number(self, text: str) -> float | None:
        found = _NUMBER.findall(text)
        return float(found[-1]) if found else None

    def count(self, match: re.Match, *groups: str) -> int | None:
        words = self.lexicon["number_words"]
        for g in groups:
            value = match.groupdict().get(g)
            if value:
                return int(value) if value.isdigit() else words.get(value)
        return None

    # --- parsing --------------------------------------------------------------------------------------------
    def correct(self, text: str) -> tuple[str, list[tuple[str, str]]]:
        return self.speller.correct(text)

    def parse(self, text: str, state: Any = None) -> Question | None:
        """The question ``text`` (already cleaned and spelling-corrected) as a Question, or None."""
        low = text.lower().strip()
        if self.names_a_person(text):  # "Is this Barack Obama?": who someone is
            return Question("refuse", "identity", words=low)
        regions, methods, side = self.regions(low), self.methods(low), self.side(low)
        n_words = len(_WORD.findall(low))
        for rule in self.lexicon["rules"]:
            m = rule["regex"].search(low)
            if not m:
                continue
            q = Question(rule["op"], rule["subject"], list(regions), list(methods), side, field=rule.get("field"),
                         words=low)
            if "methods" in rule["needs"] and not methods:
                continue
            if not self._fill(q, rule, m, low, state):
                continue
            return q
        # An elliptical follow-up: a new region, method or photo side for the previous computed operation.
        operation = state.operation if state is not None else None
        if operation is None and state is not None and side and state.regions:
            operation = "change"  # "Tell me about the nose." -> "and in photo B only?": the one-sided change
        if (operation in self.lexicon["repeatable"] and n_words <= self.lexicon["elliptical_max_words"]
                and (regions or methods or side) and self.lexicon["elliptical_regex"].search(low)):
            q = Question(operation, state.subject or "scores", regions or list(state.regions),
                         methods or ([] if side else list(state.methods)), side, k=state.k, number=state.number,
                         colour=state.colour, field=state.field, followup="repeat", words=low)
            if side and not methods and regions:
                q.methods = list(state.methods)
            return q
        return None

    def names_a_person(self, text: str) -> bool:
        """Whether the question as typed names someone: capitalised words in a row that the chatbot does not know
        (not "Is the Nose More Important Than The Eyes?"), asked with "is", "are", "same", "as", ..."""
        if not self.lexicon["identity_name_cue_regex"].search(text):
            return False
        for m in self.lexicon["identity_name_regex"].finditer(text):
            words = [w.lower() for w in m.group(0).split()]
            if len(words) >= 2 and not any(w in self.speller.known for w in words):
                return True
        return False

    def _fill(self, q: Question, rule: dict, m: re.Match, low: str, state: Any) -> bool:  # noqa: C901 -- one slot after another (regions, method, side, k, threshold, operation), each a short rule
        """Fill the rule's slots (from the question, else from the conversation when the rule allows); False when a
        required slot stays empty."""
        op = q.operation
        if op in ("top_k", "bottom_k"):
            q.k = self.count(m, "k", "k2", "k3") or int(self.lexicon["default_k"])
        elif op == "position":
            q.k = self.lexicon["ordinals"].get(m.group("ord"))
        elif op == "level":
            q.k = self.count(m, "n", "n2")
        elif op in ("colour", "colour_list"):
            found = [c for w, c in self.lexicon["colours"].items() if re.search(rf"\b{w}\b", low)]
            q.colour = found[0] if found else None
        elif op == "whatif_threshold":
            q.number = self.number(low)
        elif op == "method" and (name := m.groupdict().get("m")) and not q.methods:
            q.methods = self.methods(name) or [name.replace("-", "").replace(" ", "_")]
        uses_state = rule["state"] or bool(self.lexicon["anaphora_regex"].search(low))
        needs_own = op in ("top_k", "bottom_k", "position", "level", "order_by_change", "counterfactual")
        if state is not None and uses_state and not q.regions and state.regions and not needs_own:
            q.regions = list(state.regions)
            q.followup = "state"
            if not q.methods and not q.side and state.methods:
                q.methods = list(state.methods)
            if not q.side and state.side:
                q.side = state.side
        needs = rule["needs"]
        if "regions" in needs and not q.regions:
            return False
        if "two_regions" in needs and len(q.regions) < 2:
            return False
        if "number" in needs and q.number is None:
            return False
        if "colour" in needs and q.colour is None:
            return False
        if op == "compare" and len(q.regions) < 2:
            return False
        if op in ("change", "score_after", "list_regions", "role") and not q.regions:
            return False
        if op in ("share_of_margin", "is_a_lot") and not q.regions and (state is None or state.number is None):
            return False
        return not (op in ("position", "level") and q.k is None)


# Ordinary English words that are not typos of domain words although they are close to one.
_COMMON = {
    "there", "their", "these", "those", "where", "which", "while", "whole", "would", "could", "should", "other",
    "order", "sorted", "shows", "shown", "showing", "about", "above", "after", "again", "below", "between",
    "thing", "things", "think", "thanks", "hello", "please", "maybe", "really", "exactly", "precisely", "first",
    "second", "third", "fourth", "fifth", "sixth", "seventh", "bottom", "greedy", "regions", "region", "photos",
    "images", "faces", "persons", "woman", "women", "person", "people", "share", "fraction", "lower", "raise",
    "raised", "lowered", "hiding", "hidden", "every", "never", "still", "stays", "whose", "threshold", "margin",
    "match", "mouth", "eyes", "cheeks", "hair", "nose", "chin", "ears", "forehead", "eyebrows", "list", "smallest",
    "largest", "biggest", "change", "changed", "changes", "makes", "making", "made", "likely", "least", "most",
    "explain", "explanation", "white", "black", "colour", "color", "colours", "colors", "under", "until", "trust",
    "worth", "words", "write", "state", "court", "proof", "prove", "legal", "identity", "identify", "visible",
    "covered", "quality", "refused", "agree", "methods", "method", "flips", "flipped", "ratio", "means",
    "meaning", "reliable", "sure", "certain", "weight", "strength", "result", "results", "answer", "twins",
}
