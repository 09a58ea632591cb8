"""One function per kind of statement about an explanation record, worded by ``prompts/statements.yaml`` and
``prompts/vocabulary.yaml``.

The record (``explain_engine.record``) carries numbers and codes; these functions turn them into the sentences that
the command line, the app's decision card and the chatbot show, so all three say the same thing. Each function takes
the record's section as a dict or as its schema model, and never invents a number: a sentence whose numbers are
missing is left out (or, for version-1 records, the sentence that record stored is used).

```python
from prompts import render
render.strength_sentence(record.strength, similarity=record.similarity, threshold=record.threshold)
render.counterfactual_sentence(record.counterfactual, threshold=record.threshold, decision=record.decision)
render.confidence_level(0.93)                   # {"min": 0.85, "word": "high", ...}: the chat's level word
```
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from prompts import PROMPTS_DIR, PromptsError, read_data_file

STATEMENTS_FILE = PROMPTS_DIR / "statements.yaml"


@lru_cache(maxsize=1)
def statements() -> dict:
    """The shipped statements.yaml, loaded once per process."""
    data = read_data_file(STATEMENTS_FILE)
    kinds = ("verification", "scores", "card", "strength", "counterfactual", "heatmap", "record")
    missing = [k for k in kinds if k not in data]
    if missing:
        raise PromptsError(f"{STATEMENTS_FILE} lacks {', '.join(missing)}")
    return data


@lru_cache(maxsize=1)
def vocabulary() -> dict:
    return read_data_file(PROMPTS_DIR / "vocabulary.yaml")


def _get(section: Any, key: str, default: Any = None) -> Any:
    """A key of a record section given as a dict or as a pydantic model (extra keys included)."""
    if section is None:
        return default
    if isinstance(section, dict):
        return section.get(key, default)
    value = getattr(section, key, None)
    if value is None and getattr(section, "model_extra", None):
        value = section.model_extra.get(key)
    return default if value is None else value


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def readable(name: str) -> str:
    """A region or method key as words: "right_eye" -> "right eye"."""
    return str(name).replace("_", " ")


def join_regions(names: list[str]) -> str:
    """["cheeks", "nose"] -> "the cheeks and the nose" (the article on every region)."""
    names = [readable(n) for n in names]
    if len(names) <= 1:
        return "the " + (names[0] if names else "")
    return "the " + ", the ".join(names[:-1]) + " and the " + names[-1]


# --- the decision --------------------------------------------------------------------------------------------------
def confidence_level(c_score: float | None, levels: list[dict] | None = None) -> dict | None:
    """The vocabulary.yaml ``confidence_levels`` band of an xFace C-score (0.5 = coin toss, 1 = always right).

    Returns:
        The band ({"min", "word", "plain"}), or None when there is no score.
    """
    value = _number(c_score)
    if value is None:
        return None
    levels = levels or vocabulary()["confidence_levels"]
    for level in levels:
        if value >= level["min"]:
            return level
    return levels[-1]


def score_meaning(value: str | None) -> str | None:
    """What a confidence score means, from the record's ``confidence_meaning`` / ``pic_meaning`` code ("c_score",
    "pic"); version-1 records stored the sentence itself (returned as is)."""
    if value is None:
        return None
    return statements()["scores"].get(value, value)


def card_headline(decision: str) -> str:
    return statements()["card"]["headline"][decision]


def caveat() -> str:
    """The clause every confidence wording adds when the input is outside what the face model was calibrated on."""
    return statements()["verification"]["caveat"]


def caveat_sentence() -> str:
    """The caveat as a sentence of its own, for the card when the input is outside the calibration."""
    return statements()["card"]["caveat_sentence"].format(caveat=caveat())


# --- strength and counterfactual -------------------------------------------------------------------------------------
def _share(share: float | None) -> str:
    words = statements()["strength"]["share"]
    if share is None:
        return words["unbounded"]
    if share >= 1:
        return words["times"].format(share=share)
    # rounded down, so a share under half never reads "about 50%" beside "no region moves it by half"
    return words["percent"].format(percent=math.floor(share * 100))


def strength_sentence(strength: Any, *, similarity: float | None = None, threshold: float | None = None) -> str | None:
    """How far the score is from the threshold against what hiding regions changes (explain.assess_strength).

    Args:
        strength: the record's ``strength`` section (dict or model).
        similarity, threshold: the record's, used when the section lacks them (records written before 2026-12).

    Returns:
        The sentences, or the stored sentence of a version-1 record that lacks the numbers, or None.
    """
    words = statements()["strength"]
    similarity = _number(_get(strength, "similarity", similarity))
    threshold = _number(_get(strength, "threshold", threshold))
    level = _get(strength, "level")
    if similarity is None or threshold is None or level not in words["level"]:
        return _get(strength, "statement")  # version 1 stored the sentence itself
    decision = "match" if similarity >= threshold else "non-match"
    parts = [
        words["position"].format(
            similarity=similarity, gap=abs(similarity - threshold), side=words["side"][decision], threshold=threshold
        )
    ]
    region, largest = _get(strength, "largest_single_region"), _number(_get(strength, "largest_single_change"))
    if region is not None and largest is not None:
        share = _number(_get(strength, "single_share"))
        parts.append(words["single"].format(largest=largest, region=readable(region), share=_share(share)))
    else:
        parts.append(words["single_away"])
    cumulative = _number(_get(strength, "s1_cumulative_change"))
    if cumulative is not None:
        parts.append(words["greedy"].format(cumulative=cumulative))
    parts.append(words["level"][level])
    return " ".join(parts)


def strength_word(strength: Any) -> str | None:
    """The strength level as one word (weak / moderate / strong); version-1 records without a level: weak or clear."""
    words = statements()["strength"]["level_word"]
    level = _get(strength, "level")
    if level in words:
        return words[level]
    weak = _get(strength, "weak")
    return None if weak is None else words["weak" if weak else "clear"]


def counterfactual_outcome(counterfactual: Any) -> str | None:
    """The outcome code of a counterfactual section; derived from flips/source/tried for records without one."""
    outcome = _get(counterfactual, "outcome")
    if outcome:
        return outcome
    tried = _get(counterfactual, "tried")
    if _get(counterfactual, "flips"):
        return "single_region" if len(_get(counterfactual, "regions", [])) == 1 else "region_set"
    if _get(counterfactual, "source") == "s1" and tried is not None:
        return "no_flip" if tried else "no_region_towards"
    if _get(counterfactual, "source") == "s0" and not _get(counterfactual, "flips"):
        return "not_searched"
    return None


def counterfactual_sentence(
    counterfactual: Any, *, threshold: float | None = None, decision: str | None = None
) -> str | None:
    """Whether hiding region(s) flips the decision (explain.find_counterfactual), in one sentence.

    Args:
        counterfactual: the record's ``counterfactual`` section (dict or model).
        threshold, decision: the record's, used when the section lacks its similarity and threshold.

    Returns:
        The sentence, the stored sentence of a version-1 record, or None.
    """
    words = statements()["counterfactual"]
    outcome = counterfactual_outcome(counterfactual)
    threshold = _number(_get(counterfactual, "threshold", threshold))
    similarity = _number(_get(counterfactual, "similarity"))
    if similarity is not None and threshold is not None:
        decision = "match" if similarity >= threshold else "non-match"
    score = _number(_get(counterfactual, "score_after"))
    regions = list(_get(counterfactual, "regions", []) or [])
    tried = list(_get(counterfactual, "tried", []) or [])
    if outcome not in words or decision not in ("match", "non-match") or threshold is None:
        return _get(counterfactual, "statement")
    if outcome in ("single_region", "region_set", "no_flip") and score is None:
        return _get(counterfactual, "statement")
    new = "non-match" if decision == "match" else "match"
    return words[outcome].format(
        region=readable(regions[0]) if regions else "",
        regions=join_regions(regions),
        tried=join_regions(tried),
        score_after=score if score is not None else float("nan"),
        new_decision=new,
        side=words["side"][decision],
        threshold=threshold,
    )


# --- heatmaps and the record --------------------------------------------------------------------------------------
def legend_labels() -> tuple[str, str]:
    """(supports, against): the texts under the ends of the colour legend."""
    legend = statements()["heatmap"]["legend"]
    return legend["supports"], legend["against"]


def colour_scale_text(code: str | None) -> str | None:
    """The meaning of a record's ``colour_scale`` code (version-1 records stored the sentence: returned as is)."""
    if code is None:
        return None
    return statements()["heatmap"]["colour_scales"].get(code, code)


def column_description(value: str) -> str:
    """What a table column shows, from the record's ``table_columns`` value: a method key (version 2) gives the
    method's description in vocabulary.yaml ``methods``; version 1 stored the description itself (returned as is)."""
    words = vocabulary().get("methods", {}).get(value)
    return words.get("description", words.get("name", value)) if words else value


def edited_sentence(problems: list[str]) -> str:
    """What the chat says first about a record that failed its digest or consistency check."""
    return statements()["record"]["edited"].format(problems="; ".join(problems))
