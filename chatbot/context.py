"""Turn an explanation record (explanation.json) into the chat context: plain sentences, each tagged with what it
is about (an id, the regions and methods it names), so answers can cite whole sentences and link heatmaps.

The wording comes from ``prompts/`` (templates.yaml, knowledge.yaml, vocabulary.yaml); this module only computes
the fields those templates need.
"""

from __future__ import annotations

import json
import math
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chatbot.errors import ExplanationError
from explain_engine.record import RECORD_FILE, ExplanationRecord, RecordError, load_record
from prompts import Prompts, render

# Top-level keys every explanation record has (the schema's required fields: explain_engine.record).
REQUIRED_KEYS = tuple(name for name, spec in ExplanationRecord.model_fields.items() if spec.is_required())


# --- validation ------------------------------------------------------------------------------------------------
def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def read_record(explanation: Any, *, allow_edited: bool = False) -> ExplanationRecord:
    """The explanation as its typed record (:func:`explain_engine.record.load_record`: validated once, version-1
    records migrated, digest and consistency checked).

    Args:
        explanation: an explanation dict, a path to explanation.json (or its folder), or a record.
        allow_edited: load an edited or inconsistent record (``record.edited`` is then True) instead of refusing it.

    Raises:
        ExplanationError: one message naming every missing or malformed field, or saying that the record was edited.
    """
    try:
        return load_record(explanation, allow_edited=allow_edited)
    except RecordError as exc:
        raise ExplanationError(str(exc)) from None


def record_dict(record: ExplanationRecord) -> dict:
    """The record as a current-version JSON dict, as loaded (its stored digest kept: an edited record stays edited)."""
    return record.model_dump(mode="json")


def validate_explanation(explanation: Any, *, allow_edited: bool = False) -> dict:
    """Check an explanation dict against the record schema; return it unchanged or raise ExplanationError."""
    if not isinstance(explanation, dict):
        raise ExplanationError(f"an explanation must be a JSON object, not {type(explanation).__name__}")
    if explanation.get("kind") == "refusal":  # a refused pair's record (chatbot.refusal)
        from explain_engine.record import RecordError, load_refusal

        try:
            load_refusal(explanation, allow_edited=allow_edited)
        except RecordError as exc:
            raise ExplanationError(str(exc)) from None
        return explanation
    read_record(explanation, allow_edited=allow_edited)
    return explanation


def load_explanation(path: str | Path, *, allow_edited: bool = False) -> tuple[dict, Path]:
    """Read and validate explanation.json (or the folder holding it); return (dict as written, its folder)."""
    path = Path(path).expanduser()
    if path.is_dir():
        path = path / RECORD_FILE
    if not path.is_file():
        raise ExplanationError(f"explanation file {path} does not exist")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ExplanationError(f"cannot read explanation file {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise ExplanationError(f"explanation file {path} is not valid JSON (truncated?): {exc}") from exc
    if isinstance(data, dict):
        try:
            load_record(data, allow_edited=allow_edited, label=str(path))
        except RecordError as exc:
            raise ExplanationError(str(exc)) from None
        return data, path.parent
    raise ExplanationError(f"{path}: an explanation must be a JSON object, not {type(data).__name__}")


# --- sentences -------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Sentence:
    """One context sentence and what it talks about."""

    id: str  # e.g. "decision", "region.nose.summary", "method.s1.ranking", "k.xai"
    text: str
    kind: str  # "fact" (about this pair), "table" (region/method rows), "knowledge" (general)
    regions: tuple[str, ...] = ()
    methods: tuple[str, ...] = ()


@dataclass
class Context:
    """The whole chat context for one explanation."""

    sentences: list[Sentence]
    explanation: dict
    fields: dict
    base_dir: Path | None = None
    by_id: dict[str, Sentence] = field(default_factory=dict)
    record: ExplanationRecord | None = None

    def __post_init__(self) -> None:
        self.by_id = {s.id: s for s in self.sentences}

    @property
    def text(self) -> str:
        """All sentences as one plain-text passage (what a QA model reads)."""
        return " ".join(s.text for s in self.sentences)

    def get(self, sentence_id: str) -> Sentence | None:
        return self.by_id.get(sentence_id)

    def with_prefix(self, prefix: str) -> list[Sentence]:
        return [s for s in self.sentences if s.id.startswith(prefix)]


# --- fields for the templates ------------------------------------------------------------------------------------
def readable_region(name: str) -> str:
    return name.replace("_", " ")


def join_names(names: list[str], article: str = "the ") -> str:
    items = [f"{article}{n}" for n in names]
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + " and " + items[-1]


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


def _level(value: float, levels: list[dict]) -> str:
    for level in levels:
        if value >= level["min"]:
            return level["word"]
    return levels[-1]["word"]


def method_name(method: str, vocabulary: dict, short: bool = False) -> str:
    spec = vocabulary["methods"].get(method)
    if not spec:
        return method.upper().replace("_", " ")
    return spec["short"] if short else spec["name"]


def main_method(explanation: dict) -> str:
    """The method whose ranking the record's most/least important regions use (AVG if present, else S0)."""
    methods = explanation["methods"]
    for m in ("avg", "s0"):
        if m in methods:
            return m
    return methods[0]


def _perturbation_desc(perturbation: str, vocabulary: dict) -> str:
    table = vocabulary.get("perturbations", {})
    return table.get(perturbation) or table.get(str(perturbation).split(":")[0]) or str(perturbation)


def present_regions(explanation: dict) -> list[dict]:
    return [r for r in explanation["regions"] if r.get("present")]


def method_ranking(explanation: dict, method: str) -> list[str]:
    """Present regions ordered from most to least important by ``method`` (importance, then |contribution|)."""
    rows = []
    for r in present_regions(explanation):
        m = (r.get("methods") or {}).get(method)
        if m is None and method == "s0":
            m = {"importance": r["importance"], "contribution": r["contribution"]}
        if m is None or m.get("importance") is None:
            continue
        rows.append((m["importance"], -abs(m.get("contribution") or 0.0), r["name"]))
    return [name for _, _, name in sorted(rows)]


def _delta(region: dict, method: str = "s0") -> float | None:
    m = (region.get("methods") or {}).get(method) or {}
    return m.get("delta") if _is_number(m.get("delta")) else None


def general_fields(explanation: dict, vocabulary: dict, parts: dict | None = None) -> dict:  # noqa: C901 -- a flat list of the record's fields the templates name, each read once
    """Every field the ``general`` templates use; a missing optional value simply leaves its field out.

    ``explanation`` is a record already validated by the schema (``record_dict(read_record(...))``): every key is
    there with its type, optional values are None. ``parts``: templates.yaml ``parts`` (default: the shipped ones).
    """
    if parts is None:
        from prompts import default_prompts

        parts = default_prompts().templates["parts"]
    e = explanation
    decision = vocabulary["decisions"][e["decision"]]
    main = main_method(e)
    f: dict[str, Any] = {
        "decision_phrase": decision["phrase"], "decision_word": decision["word"], "decision_meaning": decision["meaning"],
        "similarity": float(e["similarity"]), "distance": float(e["distance"]), "threshold": float(e["threshold"]),
        "margin": float(e["margin"]), "abs_margin": abs(float(e["margin"])),
        "relation": "at or above" if e["similarity"] >= e["threshold"] else "below",
        "model": e["model"], "model_description": e.get("model_description") or e["model"],
        "confidence_meaning": render.score_meaning(e["confidence_meaning"]),
        "pic_meaning": render.score_meaning(e["pic_meaning"]),
        "perturbation_desc": _perturbation_desc(e["perturbation"], vocabulary),
        "methods_list": join_names([method_name(m, vocabulary) for m in e["methods"]], article=""),
        "main_method_name": method_name(main, vocabulary),
        "region_set": e["region_set"],
        "regions_list": join_names([readable_region(r["name"]) for r in e["regions"]], article=""),
    }
    # probabilities in words held to what the calibration set resolves: never "100%" (explain_engine.evidence)
    from explain_engine.evidence import accuracy_text, honest_probability, probability_text

    if e["confidence"] is not None:
        f["confidence"] = float(e["confidence"])
        f["confidence_pct"] = probability_text(f["confidence"], e["decision"], e["calibration"])
        # the level word follows the value actually shown (held to what the calibration resolves), not the raw one
        held = honest_probability(f["confidence"], e["decision"], e["calibration"])
        shown = held["shown"] if held and held["shown"] is not None else f["confidence"]
        f["confidence_level"] = render.confidence_level(shown, vocabulary.get("confidence_levels"))["word"]
    # the C-score / PIC come from the shipped calibration, not from case-like pairs: said next to them, as the CLI
    # says it next to the LR (explain_engine.evidence.shipped_note)
    from explain_engine.evidence import shipped_note

    if e["confidence"] is not None or e["pic_score"] is not None:
        f["scores_shipped_note"] = shipped_note(e.get("evidence"), "scores")
    if e["pic_score"] is not None:
        f["pic_score"] = float(e["pic_score"])
        f["pic_pct"] = probability_text(float(e["pic_score"]), e["decision"], e["calibration"])
    cal = e["calibration"]
    if cal["threshold_rule"]:
        f["threshold_rule"] = cal["threshold_rule"]
    if cal["fitted_on"]:
        f.update(fitted_on=cal["fitted_on"], n_genuine=cal["n_genuine"], n_impostor=cal["n_impostor"],
                 threshold_rule=cal["threshold_rule"] or cal["name"] or "not stated")
        n_pairs = int(cal["n_genuine"] or 0) + int(cal["n_impostor"] or 0)
        f["accuracy_pct"] = accuracy_text(float(cal["accuracy"]), n_pairs) if cal["accuracy"] is not None else (
            "not reported")
        f["eer_pct"] = f"{100 * cal['eer']:.1f}%" if cal["eer"] is not None else "not reported"
    for side in ("a", "b"):
        img = e["images"][side]
        f[f"name_{side}"], f[f"width_{side}"], f[f"height_{side}"] = img["name"], img["width"], img["height"]
        f[f"faces_{side}"] = e["faces_found"].get(side, "?")

    by_name = {r["name"]: r for r in e["regions"]}

    def detail(name: str) -> str:
        r = by_name.get(name)
        if not r or not r.get("present"):
            return parts["region_not_visible"]
        m = (r.get("methods") or {}).get(main) or {}
        return parts["region_detail"].format(
            importance=m.get("importance", r["importance"]), method_short=method_name(main, vocabulary, short=True),
            direction="more" if (r["contribution"] or 0) > 0 else "less")

    floor = e.get("noise_floor")
    f["noise_floor_text"] = (parts.get("noise_floor", "").format(noise_floor=float(floor)) if _is_number(floor)
                             else "")
    for key, name in (("most", e["most_important_region"]), ("least", e["least_important_region"])):
        if name is not None:
            f[key], f[f"{key}_detail"] = readable_region(name), detail(name)
    present = present_regions(e)
    # Sorted by the size of the effect so lists start with the strongest region.
    similar = [r["name"] for r in sorted(present, key=lambda r: -r["contribution"]) if r["contribution"] > 0]
    dissimilar = [r["name"] for r in sorted(present, key=lambda r: r["contribution"]) if r["contribution"] < 0]
    f["similar_names"], f["dissimilar_names"] = similar, dissimilar
    against = dissimilar if e["decision"] == "match" else similar
    f["against_names"] = against
    plural = set(vocabulary.get("plural_regions", []))
    for key, names in (("similar", similar), ("dissimilar", dissimilar), ("against", against)):
        if not names:
            continue
        f[f"{key}_list"] = join_names([readable_region(n) for n in names])
        many = len(names) > 1 or names[0] in plural
        f[f"{key}_noun"] = "regions" if len(names) > 1 else "region"
        f[f"{key}_verb"] = "are" if len(names) > 1 else "is"
        f[f"{key}_pron"] = "them" if many else "it"
        f[f"{key}_subject"] = "they" if many else "it"
    if against:
        f["against_direction"] = "less alike" if e["decision"] == "match" else "more alike"
    f.update(_other_method_fields(e, vocabulary))
    ranking = method_ranking(e, main)
    if ranking:
        f["ranking_list"] = ", ".join(readable_region(n) for n in ranking)
    agreement = e.get("agreement") or {}
    # Only independent methods: AVG agrees with S0 and S1 because it is built from them (chatbot.facts.independent).
    from chatbot.facts import independent

    pairs = [(k, v) for k, v in agreement.items() if _is_number(v) and "~" in k and independent(*k.split("~", 1))]
    if pairs:
        def pair_name(key: str) -> str:
            parts = key.split("~")
            return " and ".join(method_name(p, vocabulary, short=True) for p in parts)
        f["agreement_list"] = "; ".join(f"{pair_name(k)} {v:.2f}" for k, v in pairs)
        mean_rho = sum(v for _, v in pairs) / len(pairs)
        f["agreement_word"] = _level(mean_rho, vocabulary.get("agreement_levels", [{"min": -1, "word": "vary"}]))
    strength = e.get("strength") or {}
    if text := render.strength_sentence(strength, similarity=e["similarity"], threshold=e["threshold"]):
        f["strength_statement"] = text
    if _is_number(strength.get("largest_single_change")) and strength.get("largest_single_region"):
        f["largest_change"] = abs(float(strength["largest_single_change"]))
        f["largest_region"] = readable_region(strength["largest_single_region"])
        f["strength_word"] = render.strength_word(strength)
    cf = e.get("counterfactual") or {}
    if text := render.counterfactual_sentence(cf, threshold=e["threshold"], decision=e["decision"]):
        f["counterfactual_statement"] = text
    stab = e.get("stability")
    if isinstance(stab, dict) and _is_number(stab.get("top_region_kept")):
        f["samples"] = stab.get("samples", "several")
        f["top_region_kept_pct"] = _pct(float(stab["top_region_kept"]))
    return f


def _other_method_fields(e: dict, vocabulary: dict) -> dict:
    """Which regions each method of the record other than the base one (S0, whose figures the region sentences
    state) marks as arguing against the decision, as making the faces more alike, and as making them less alike:
    every method the record ran or shows (S1, AVG, S0 black, the one-sided S0 columns, FGGB, CorrRISE, ...), by the
    record's decision-relative role where it has one (chatbot.facts.Facts.effect), so "no region argued against the
    decision" is only said when no method marks one.

    Returns:
        Template fields: ``base_method`` (the base method's short name), ``all_methods_list`` (every method of the
        record), and, only when some other method marks such regions, ``against_others_list``,
        ``similar_others_list``, ``dissimilar_others_list`` ("S0 (B only): the forehead and the nose; CorrRISE:
        the hair"), with ``against_others_names`` etc. the regions (for tags).
    """
    from chatbot.facts import Facts

    facts = Facts(e)
    base = "s0" if "s0" in facts.methods else (facts.methods[0] if facts.methods else None)
    out: dict = {"base_method": method_name(base, vocabulary, short=True) if base else None}
    others = [m for m in facts.methods if m != base]
    out["all_methods_list"] = join_names([method_name(m, vocabulary, short=True) for m in facts.methods], article="")
    for key in ("against", "similar", "dissimilar"):
        items, names = [], []
        for m in others:
            if chosen := facts.marked(m, key):
                items.append(f"{method_name(m, vocabulary, short=True)}: "
                             f"{join_names([readable_region(r) for r in chosen])}")
                names += [r for r in chosen if r not in names]
        out[f"{key}_others_names"] = names
        if items:
            out[f"{key}_others_list"] = "; ".join(items)
    return out


class _Strict(string.Formatter):
    """str.format that refuses None values, so a template with a missing field is skipped, not printed as None."""

    def get_value(self, key, args, kwargs):
        value = super().get_value(key, args, kwargs)
        if value is None:
            raise KeyError(key)
        return value


_FORMATTER = _Strict()


def fill(template: str, fields: dict) -> str | None:
    try:
        return _FORMATTER.format(template, **fields).strip()
    except (KeyError, IndexError, ValueError, TypeError):
        return None


# --- building the context ----------------------------------------------------------------------------------------
def _table_rows(explanation: dict) -> dict[str, dict]:
    return {row.get("region"): row for row in explanation.get("table") or [] if isinstance(row, dict)}


def region_sentences(explanation: dict, region: dict, prompts: Prompts, fields: dict) -> list[Sentence]:
    vocab, templates = prompts.vocabulary, prompts.templates["region"]
    name = region["name"]
    readable = readable_region(name)
    sid = f"region.{name}"
    plural = name in set(vocab.get("plural_regions", []))
    grammar = {"has": "have" if plural else "has", "was": "were" if plural else "was",
               "it": "them" if plural else "it", "subject": "they" if plural else "it"}
    if not region.get("present"):
        text = fill(templates["absent"], {"region": readable, **grammar})
        return [Sentence(f"{sid}.absent", text, "table", (name,))] if text else []
    out: list[Sentence] = []
    contribution = float(region["contribution"])
    delta = _delta(region, "s0")
    raised_lowered = "lowered" if contribution > 0 else "raised"
    supports = (contribution > 0) == (explanation["decision"] == "match")
    summary_fields = {
        "region": readable, "importance": region["importance"], **grammar,
        "method_short": method_name("s0", vocab, short=True),
        "direction": "more" if contribution > 0 else "less",
        "moved": raised_lowered if contribution != 0 else "changed",
        "abs_delta": abs(delta) if delta is not None else abs(contribution),
        "stance": "supported" if supports else "argued against",
        "decision_word": fields["decision_word"],
    }
    if contribution == 0:
        summary_fields.update(direction="neither more nor less", stance="did not affect")
    role = region.get("role")  # decision-relative role against the noise floor (explain_engine.table), when recorded
    if role in ("supports", "against", "neutral"):
        summary_fields["stance"] = {"supports": "supported", "against": "argued against",
                                    "neutral": "did not measurably affect"}[role]
    if _is_number(region.get("abs_change")):
        summary_fields["abs_delta"] = abs(float(region["abs_change"]))
    if text := fill(templates["summary"], summary_fields):
        out.append(Sentence(f"{sid}.summary", text, "table", (name,), ("s0",)))
    methods = region.get("methods") or {}
    row = _table_rows(explanation).get(name, {})
    per_method = [f"{method_name(m, vocab, short=True)} {methods[m]['importance']}"
                  for m in explanation["methods"] if m in methods and methods[m].get("importance") is not None]
    if per_method:
        mean = row.get("Mean")
        ratio = row.get("Ratio of 1s")
        text = fill(templates["methods"], {
            "region": readable, "per_method_list": ", ".join(per_method),
            "mean": f"{mean:.2f}" if _is_number(mean) else "n/a", "ratio": f"{ratio:.2f}" if _is_number(ratio) else "n/a",
        })
        if text:
            out.append(Sentence(f"{sid}.methods", text, "table", (name,), tuple(m for m in explanation["methods"] if m in methods)))
    stab = explanation.get("stability")
    per_region = (stab or {}).get("per_region", {}) if isinstance(stab, dict) else {}
    if name in per_region and (text := fill(templates["stability"], {"region": readable, "samples": stab.get("samples", "several"), **per_region[name]})):
        out.append(Sentence(f"{sid}.stability", text, "table", (name,)))
    return out


def build_context(  # noqa: C901 -- the context in reading order: general, per region, per method, facts
    explanation: dict | ExplanationRecord, prompts: Prompts, base_dir: str | Path | None = None,
    *, allow_edited: bool = False,
) -> Context:
    """All sentences for one explanation: facts about the pair, the table as sentences, general knowledge.

    Args:
        explanation: the record (a dict as in explanation.json, any supported version, or an ExplanationRecord).
        prompts: the wording (templates, vocabulary, facts).
        base_dir: the folder holding the record's files (heatmaps), for links.
        allow_edited: build a context for an edited or inconsistent record instead of refusing it.

    Returns:
        The context; ``context.explanation`` is the record as a current-version dict, ``context.record`` the record.

    Raises:
        ExplanationError: the record is malformed (every failing field named) or was edited (unless allowed).
    """
    if not isinstance(explanation, (dict, ExplanationRecord)):
        raise ExplanationError(f"an explanation must be a JSON object, not {type(explanation).__name__}")
    record = read_record(explanation, allow_edited=allow_edited)
    explanation = record_dict(record)
    vocab, general = prompts.vocabulary, prompts.templates["general"]
    fields = general_fields(explanation, vocab, prompts.templates.get("parts"))
    sentences: list[Sentence] = []
    region_tags = {
        "most_important": tuple(r for r in (explanation["most_important_region"],) if r),
        "least_important": tuple(r for r in (explanation["least_important_region"],) if r),
        "similar": tuple(fields["similar_names"]), "dissimilar": tuple(fields["dissimilar_names"]),
        "against_decision": tuple(fields["against_names"]),
        "against_others": tuple(fields["against_others_names"]),
        "similar_others": tuple(fields["similar_others_names"]),
        "dissimilar_others": tuple(fields["dissimilar_others_names"]),
    }
    skip_when = {  # pairs of mutually exclusive sentences: keep the one whose data exists
        "no_similar": bool(fields["similar_names"]), "no_dissimilar": bool(fields["dissimilar_names"]),
        "no_against_decision": bool(fields["against_names"]) or bool(fields["against_others_names"]),
        "no_against_base": bool(fields["against_names"]) or not fields["against_others_names"],
        "no_warnings": bool(explanation.get("warnings")),
        "no_agreement": "agreement_list" in fields, "no_confidence": "confidence" in fields,
        "no_calibration": "fitted_on" in fields,
        "no_most_important": bool(explanation.get("most_important_region")),
    }
    for sid, template in general.items():
        if sid == "warning" or skip_when.get(sid):
            continue
        text = fill(template, fields)
        if text:
            kind = "knowledge" if sid in ("measure", "heatmap_colours") else "fact"
            sentences.append(Sentence(sid, text, kind, region_tags.get(sid, ())))
    if record.edited:
        sentences.insert(0, Sentence("record.edited", render.edited_sentence(record.problems), "fact"))
    for i, warning in enumerate(explanation.get("warnings") or []):
        if text := fill(general["warning"], {"warning": str(warning)}):
            sentences.append(Sentence(f"warning.{i}", text, "fact"))
    sentences.extend(quality_sentences(explanation, sentences))
    for region in explanation["regions"]:
        sentences.extend(region_sentences(explanation, region, prompts, fields))
    for method in explanation["methods"]:
        ranking = method_ranking(explanation, method)
        if len(ranking) >= 2:
            text = fill(prompts.templates["method"]["ranking"], {
                "method": method_name(method, vocab), "top": readable_region(ranking[0]),
                "bottom": readable_region(ranking[-1])})
            if text:
                sentences.append(Sentence(f"method.{method}.ranking", text, "table", (ranking[0], ranking[-1]), (method,)))
    for fact in prompts.facts.values():
        methods = (fact["id"][2:],) if fact["id"][2:] in vocab["methods"] else ()
        sentences.append(Sentence(fact["id"], fact["text"], "knowledge", (), methods))
    return Context(sentences, explanation, fields, Path(base_dir) if base_dir else None, record=record)


_QUALITY_REGIONS = {"eyes_occlusion": ("eyes",), "mouth_occlusion": ("mouth",)}


def quality_sentences(explanation: dict, sentences: list[Sentence]) -> list[Sentence]:
    """The record's quality facts (explain_engine.quality.words, worded in prompts/quality_policy.yaml); when the
    record says ``outside_calibration``, the confidence sentence already built gets the caveat that it is not a
    certainty."""
    from dataclasses import replace

    from explain_engine.quality import caveat
    from explain_engine.quality.words import sentences as quality_words

    if explanation.get("outside_calibration"):
        for i, sentence in enumerate(sentences):
            if sentence.id == "confidence":
                sentences[i] = replace(sentence, text=f"{sentence.text.rstrip('.')}; but {caveat()}.")
    if not explanation.get("quality"):
        return []
    names = {side: (explanation.get("images") or {}).get(side, {}).get("name") for side in ("a", "b")}
    out = []
    for sid, text in quality_words(explanation["quality"], names):
        part = sid.split(".")
        regions = ((part[-1],) if part[0] == "visibility" else (part[1],) if part[0] == "region"
                   else _QUALITY_REGIONS.get(part[-1], ()))
        out.append(Sentence(sid, text, "fact", regions))
    return out


def summarize(explanation: dict) -> dict:
    """The few facts a conversation log keeps about the explanation it discussed."""
    keys = ("decision", "similarity", "threshold", "margin", "confidence", "pic_score", "model", "model_description",
            "perturbation", "methods", "region_set", "most_important_region", "least_important_region", "created",
            "schema_version", "digest")
    summary = {k: explanation.get(k) for k in keys}
    summary["images"] = {side: (explanation.get("images") or {}).get(side, {}).get("name") for side in ("a", "b")}
    if explanation.get("kind") == "refusal":  # a refused pair (explain_engine.record.RefusalRecord): no decision
        summary["refusal"] = {k: explanation.get(k) for k in ("side", "photo", "component", "message")}
    calibration = explanation.get("calibration") or {}
    # pair counts: the log shows the scores only as far as the calibration set resolves them (never "1.00")
    summary["calibration"] = {k: calibration.get(k) for k in ("n_genuine", "n_impostor")}
    return summary
