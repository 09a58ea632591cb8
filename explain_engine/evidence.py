"""Strength of evidence: the score-based likelihood ratio of one comparison, its verbal equivalent, the error rates at
the threshold and whether the result is conclusive, as forensic examiners report it.

Two propositions (ENFSI Guideline for Evaluative Reporting in Forensic Science, 2015; for faces Jacquet & Champod,
Forensic Sci. Int. 2020): H1 "the photos show the same person", H2 "the photos show different people". The
likelihood ratio LR = p(similarity | H1) / p(similarity | H2) comes from the calibration's lir calibrator, bounded
by ELUB (Vergeer et al. 2016; see :mod:`explain_engine.calibration`). The verbal equivalent comes from a published
scale kept as data (``prompts/verbal_scale.yaml``, ENFSI 2015 by default; ``FACEX_VERBAL_SCALE`` swaps it).

The record's ``evidence`` section (:func:`compute_evidence`) holds numbers and codes only; :func:`lr_statement`
and :func:`evidence_lines` render them with the words in ``prompts/evidence.yaml`` -- one renderer for the CLI,
the decision card, the case report and the chat.

Inconclusive rule (stated in every output): a result is inconclusive when |log10 LR| < ``INCONCLUSIVE_LOG10_BAND``
(LR between 1/10 and 10: at most weak support on the ENFSI scale), when the LR points the other way than the
decision at the threshold, when |margin| <= ``JITTER_FACTOR`` x the similarity's standard deviation under repeated
alignment (when measured), when the two inputs are identical, or when a photo failed the quality checks.
Quality warnings cap the verbal equivalent at ``QUALITY_CAP_LEVEL``.
"""

from __future__ import annotations

import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from models.errors import ConfigError

PROMPTS_DIR = Path(__file__).resolve().parent.parent / "prompts"
SCALE_ENV = "FACEX_VERBAL_SCALE"
INCONCLUSIVE_LOG10_BAND = 1.0  # |log10 LR| below this (LR within 1/10 .. 10) is inconclusive
JITTER_FACTOR = 2.0  # |margin| within this many standard deviations of the similarity's own spread: inconclusive
QUALITY_CAP_LEVEL = "moderate_support"  # the strongest wording allowed when a quality check warned
REASON_ORDER = (
    "identical_inputs", "quality_refused", "lr_contradicts_decision", "margin_within_jitter", "lr_within_band",
)  # fmt: skip


# ----------------------------------------------------------------------------------------------------------------
# data files


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot be read as YAML ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a YAML mapping")
    return data


@lru_cache(maxsize=8)
def load_verbal_scale(path: str | Path | None = None) -> dict:
    """The verbal scale: {"name", "source", "bands": [{"min_lr", "level", "words"}] ordered by min_lr}.

    Args:
        path: a scale file; default ``$FACEX_VERBAL_SCALE`` or ``prompts/verbal_scale.yaml`` (ENFSI 2015).

    Raises:
        ConfigError: the file is missing, unreadable, or its bands are not ordered, start above LR 1, or lack fields.
    """
    path = Path(path or os.environ.get(SCALE_ENV) or PROMPTS_DIR / "verbal_scale.yaml")
    data = _read_yaml(path)
    bands = data.get("bands")
    if not data.get("name") or not data.get("source") or not isinstance(bands, list) or not bands:
        raise ConfigError(f"{path}: a verbal scale needs name, source and a list of bands")
    out = []
    for b in bands:
        if not isinstance(b, dict) or not {"min_lr", "level", "words"} <= set(b):
            raise ConfigError(f"{path}: every band needs min_lr, level and words")
        out.append({"min_lr": float(b["min_lr"]), "level": str(b["level"]), "words": str(b["words"])})
    limits = [b["min_lr"] for b in out]
    if limits[0] != 1.0 or limits != sorted(limits) or len(set(limits)) != len(limits):
        raise ConfigError(f"{path}: bands must start at min_lr 1 and rise strictly")
    return {"name": str(data["name"]), "source": " ".join(str(data["source"]).split()), "bands": out,
            "path": str(path)}


@lru_cache(maxsize=4)
def load_words(path: str | Path | None = None) -> dict:
    """The statement templates (``prompts/evidence.yaml``)."""
    return _read_yaml(Path(path or PROMPTS_DIR / "evidence.yaml"))


# ----------------------------------------------------------------------------------------------------------------
# numbers


def verbal_level(log10_lr: float, scale: dict) -> tuple[str, str]:
    """(level, side) of a log10 LR on ``scale``; side is "same", "different" or "" for the neutral first band."""
    strength = abs(float(log10_lr))
    level = scale["bands"][0]["level"]
    for band in scale["bands"]:
        if strength >= math.log10(band["min_lr"]) - 1e-12:
            level = band["level"]
    if level == scale["bands"][0]["level"]:
        return level, ""
    return level, "same" if log10_lr > 0 else "different"


def verbal_code(level: str, side: str) -> str:
    """The record's code, e.g. "moderate_support_same"; the neutral band has no side ("no_support")."""
    return f"{level}_{side}" if side else level


def _level_index(scale: dict, level: str) -> int:
    names = [b["level"] for b in scale["bands"]]
    return names.index(level) if level in names else len(names) - 1


@lru_cache(maxsize=64)
def probability_floor(n: int) -> float | None:
    """The largest probability of being right that ``n`` error-free pairs can show: 1 - the 95% Clopper-Pearson upper
    limit of an error rate with 0 errors in n, which is 0.025^(1/n).

    With 398 pairs this is 0.9908; with 37 pairs 0.9051. None when n is 0.
    """
    from explain_engine.calibration import clopper_pearson

    if n <= 0:
        return None
    return 1.0 - clopper_pearson(0, n)["ci95"][1]


def honest_probability(value: float | None, decision: str, calibration: dict | None) -> dict | None:
    """A probability of being right (PIC) or a C-score, held to what the calibration set can resolve.

    Args:
        value: the raw probability in [0, 1].
        decision: "match" (the relevant errors are impostor pairs) or "non-match" (genuine pairs).
        calibration: {"n_genuine", "n_impostor"}.

    Returns:
        {"value": the raw value, "shown": min(value, floor), "capped": bool, "n": pairs, "kind": "impostor" |
        "genuine", "floor": the largest showable value} or None when ``value`` is None.
    """
    if value is None:
        return None
    cal = calibration or {}
    kind = "impostor" if decision == "match" else "genuine"
    n = int(cal.get(f"n_{kind}") or 0)
    floor = probability_floor(n)
    if floor is None:
        return {"value": float(value), "shown": None, "capped": True, "n": 0, "kind": kind, "floor": None}
    shown = min(float(value), floor)
    return {"value": float(value), "shown": shown, "capped": float(value) > floor, "n": n, "kind": kind,
            "floor": floor}


def compute_evidence(
    similarity: float,
    threshold: float,
    calibration,
    *,
    decision: str | None = None,
    case_specific: bool = False,
    identical_inputs: bool = False,
    quality: dict | None = None,
    score_sd: float | None = None,
    scale: dict | None = None,
) -> dict:
    """The ``evidence`` section of explanation.json for one comparison.

    Args:
        similarity: cosine similarity of the pair.
        threshold: the decision threshold ("match" iff similarity >= threshold).
        calibration: an :class:`explain_engine.calibration.Calibration` or None (then no LR is given).
        decision: "match" / "non-match"; derived from the threshold when None.
        case_specific: the calibration was given for this case (``--calibration FILE``), not the shipped one.
        identical_inputs: the two inputs are the same image (similarity 1 by construction).
        quality: the record's quality section {"a": {"outcome"}, "b": {...}} (pass | warn | refuse), if any.
        score_sd: standard deviation of the similarity under repeated alignment / seeds (``--samples``), if measured.
        scale: a verbal scale (default :func:`load_verbal_scale`).

    Returns:
        {"log10_lr", "lr", "log10_lr_unbounded", "log10_lr_bounds", "bounded_by", "at_bound", "verbal",
        "verbal_uncapped", "capped_by", "scale", "calibration", "fmr", "fnmr", "conclusive", "inconclusive_reason",
        "inconclusive_reasons", "rule", "margin", "score_sd", "decision", "probability_floor"} -- numbers and codes.
    """
    scale = scale or load_verbal_scale()
    decision = decision or ("match" if similarity >= threshold else "non-match")
    margin = float(similarity) - float(threshold)
    rule = {"log10_band": INCONCLUSIVE_LOG10_BAND, "jitter_factor": JITTER_FACTOR, "quality_cap": QUALITY_CAP_LEVEL}
    out: dict[str, Any] = {
        "log10_lr": None, "lr": None, "log10_lr_unbounded": None, "log10_lr_bounds": [None, None],
        "bounded_by": None, "at_bound": False, "verbal": None, "verbal_uncapped": None, "capped_by": [],
        "scale": {"name": scale["name"], "source": scale["source"]}, "calibration": None,
        "fmr": None, "fnmr": None, "conclusive": False, "inconclusive_reason": None, "inconclusive_reasons": [],
        "rule": rule, "margin": margin, "score_sd": None if score_sd is None else float(score_sd),
        "decision": decision, "threshold": float(threshold), "probability_floor": None,
    }  # fmt: skip
    reasons = []
    if identical_inputs:
        reasons.append("identical_inputs")
    if calibration is None:
        out["inconclusive_reasons"] = reasons + ["no_calibration"]
        out["inconclusive_reason"] = out["inconclusive_reasons"][0]
        return out

    from explain_engine.calibration import error_rates_at

    lr_info = calibration.lr_section()
    ev = calibration.evaluation or {}
    bounded, unbounded = calibration.log10_lr(similarity)
    lo, hi = lr_info["bounds"]["log10_lower"], lr_info["bounds"]["log10_upper"]
    rates = error_rates_at(calibration.genuine_scores, calibration.impostor_scores, threshold)
    out.update(
        log10_lr=bounded,
        lr=10.0**bounded,
        log10_lr_unbounded=unbounded,
        log10_lr_bounds=[lo, hi],
        bounded_by="ELUB",
        at_bound=bool(unbounded >= hi or unbounded <= lo),
        calibration={
            "name": calibration.name, "n_genuine": calibration.n_genuine, "n_impostor": calibration.n_impostor,
            "cllr": ev.get("cllr"), "cllr_min": ev.get("cllr_min"), "cllr_cal": ev.get("cllr_cal"),
            "calibrator": lr_info["calibrator"], "selection": lr_info["selection"], "library": lr_info["library"],
            "case_specific": bool(case_specific), "fitted_on": calibration.fitted_on,
            "warnings": list(calibration.warnings),
        },
        fmr=rates["fmr"],
        fnmr=rates["fnmr"],
        probability_floor={
            "match": probability_floor(calibration.n_impostor),
            "non-match": probability_floor(calibration.n_genuine),
        },
    )  # fmt: skip
    level, side = verbal_level(bounded, scale)
    out["verbal_uncapped"] = out["verbal"] = verbal_code(level, side)

    if (decision == "match" and bounded <= 0) or (decision == "non-match" and bounded >= 0):
        reasons.append("lr_contradicts_decision")
    if score_sd is not None and score_sd > 0 and abs(margin) <= JITTER_FACTOR * score_sd:
        reasons.append("margin_within_jitter")
    if abs(bounded) < INCONCLUSIVE_LOG10_BAND:
        reasons.append("lr_within_band")
    reasons = sorted(set(reasons), key=REASON_ORDER.index)
    out["inconclusive_reasons"] = reasons
    out["inconclusive_reason"] = reasons[0] if reasons else None
    out["conclusive"] = not reasons
    return with_quality(out, quality, scale) if quality else out


def with_quality(evidence: dict, quality: dict | None, scale: dict | None = None) -> dict:
    """The evidence section under the photos' quality checks (the record's ``quality`` section): a "warn" caps the
    verbal equivalent at QUALITY_CAP_LEVEL, a "refuse" makes the result inconclusive. Returns a new dict; applying
    it twice changes nothing.

    Args:
        evidence: a section from :func:`compute_evidence`.
        quality: {"a": {"outcome": "pass" | "warn" | "refuse", ...}, "b": {...}} or None.
    """
    out = dict(evidence)
    outcomes = [(q or {}).get("outcome") for side, q in (quality or {}).items() if side in ("a", "b") and
                isinstance(q, dict)]
    reasons = [r for r in out.get("inconclusive_reasons") or [] if r != "quality_refused"]
    if "refuse" in outcomes:
        reasons.append("quality_refused")
    known = [r for r in reasons if r in REASON_ORDER]
    reasons = sorted(set(known), key=REASON_ORDER.index) + [r for r in reasons if r not in REASON_ORDER]
    out["inconclusive_reasons"] = reasons
    out["inconclusive_reason"] = reasons[0] if reasons else None
    out["conclusive"] = not reasons
    capped = [c for c in out.get("capped_by") or [] if c != "quality_warning"]
    uncapped = out.get("verbal_uncapped")
    out["verbal"] = uncapped
    if uncapped and "warn" in outcomes:
        scale = scale or load_verbal_scale()
        side = "same" if uncapped.endswith("_same") else "different" if uncapped.endswith("_different") else ""
        level = uncapped[: -len(side) - 1] if side else uncapped
        if _level_index(scale, level) > _level_index(scale, QUALITY_CAP_LEVEL):
            out["verbal"] = verbal_code(QUALITY_CAP_LEVEL, side)
            capped.append("quality_warning")
    out["capped_by"] = capped
    return out


# ----------------------------------------------------------------------------------------------------------------
# words (one renderer for every screen)


def format_lr(lr: float) -> str:
    """An LR in plain figures, two significant digits: 380, 2.0, 1/37 (for LR < 1, as "1/N")."""
    if lr >= 1:
        return f"{float(f'{lr:.2g}'):,.0f}" if lr >= 10 else f"{lr:.2g}"
    inv = 1.0 / lr
    return f"1/{float(f'{inv:.2g}'):,.0f}" if inv >= 10 else f"1/{inv:.2g}"


def percent_floor(value: float) -> str:
    """A percentage that never rounds up to 100% (floor at the last digit shown)."""
    digits = 1 if value < 0.999 else 2
    scale = 10**digits
    return f"{math.floor(100 * value * scale) / scale:.{digits}f}%"


def _rate(value: float) -> str:
    return f"{value:.3g}" if value else "0"


def lr_statement(evidence: dict | None, words: dict | None = None) -> str:
    """The LR statement in the propositions' form, e.g. "The observed similarity is about 380 times more probable if
    the photos show the same person than if they show different people (likelihood ratio 380; ...)".

    Args:
        evidence: the record's ``evidence`` section (or None).

    Returns:
        One sentence; when no LR could be given, the reason.
    """
    w = words or load_words()
    props, alts = w["propositions"], w["alternatives"]
    if not evidence:
        return w["lr_statement"]["not_available"].format(reason=w["inconclusive_reasons"]["not_recorded"])
    if evidence.get("log10_lr") is None or "identical_inputs" in (evidence.get("inconclusive_reasons") or []):
        reasons = evidence.get("inconclusive_reasons") or ["no_calibration"]
        reason = "identical_inputs" if "identical_inputs" in reasons else reasons[-1]
        return w["lr_statement"]["not_available"].format(reason=w["inconclusive_reasons"][reason])
    log10_lr = float(evidence["log10_lr"])
    favoured, other = (props["same"], alts["different"]) if log10_lr >= 0 else (props["different"], alts["same"])
    strength = 10 ** abs(log10_lr)
    lr_value = format_lr(10**log10_lr)
    if strength < 2:
        return w["lr_statement"]["neutral"].format(favoured=favoured, other=other, lr_value=lr_value)
    bound_note = ""
    if evidence.get("at_bound"):
        cal = evidence.get("calibration") or {}
        kind, n = ("impostor", cal.get("n_impostor")) if log10_lr > 0 else ("genuine", cal.get("n_genuine"))
        bound_note = w["bound_note"].format(n_pairs=n, kind=kind)
    lr_words = format_lr(strength)
    return w["lr_statement"]["favours"].format(
        lr_words=lr_words, favoured=favoured, other=other, lr_value=lr_value, bound_note=bound_note
    )


def verbal_statement(evidence: dict, words: dict | None = None, scale: dict | None = None) -> str | None:
    """The verbal equivalent as a sentence ("On the ENFSI ... scale, the findings provide moderate support ...")."""
    if not evidence or not evidence.get("verbal"):
        return None
    w, scale = words or load_words(), scale or load_verbal_scale()
    props = w["propositions"]
    code = evidence["verbal"]
    side = "same" if code.endswith("_same") else "different" if code.endswith("_different") else ""
    level = code[: -len(side) - 1] if side else code
    band = next((b for b in scale["bands"] if b["level"] == level), scale["bands"][0])
    name = (evidence.get("scale") or {}).get("name") or scale["name"]
    if not side:
        return w["verbal_neutral"].format(scale_name=name, strength=band["words"])
    other = w["alternatives"]["different" if side == "same" else "same"]
    return w["verbal"].format(scale_name=name, strength=band["words"], favoured=props[side], other=other)


def rule_text(evidence: dict | None = None, words: dict | None = None) -> str:
    w = words or load_words()
    rule = (evidence or {}).get("rule") or {"log10_band": INCONCLUSIVE_LOG10_BAND, "jitter_factor": JITTER_FACTOR}
    return w["rule"].format(band=format_lr(10 ** rule["log10_band"]), jitter_factor=f"{rule['jitter_factor']:g}")


def conclusiveness_statement(evidence: dict, words: dict | None = None) -> str:
    w = words or load_words()
    rule = rule_text(evidence, w)
    if evidence.get("conclusive"):
        return w["conclusive"].format(rule=rule)
    reason = evidence.get("inconclusive_reason") or "no_calibration"
    band = (evidence.get("rule") or {}).get("log10_band", INCONCLUSIVE_LOG10_BAND)
    fields = {
        "margin": evidence.get("margin") or 0.0, "score_sd": evidence.get("score_sd") or 0.0,
        "jitter_factor": f"{(evidence.get('rule') or {}).get('jitter_factor', JITTER_FACTOR):g}",
        "band": format_lr(10**band),
        "lr_value": format_lr(evidence["lr"]) if evidence.get("lr") else "not available",
    }  # fmt: skip
    return w["inconclusive"].format(reason=w["inconclusive_reasons"][reason].format(**fields), rule=rule)


def error_rate_statement(evidence: dict, words: dict | None = None) -> str | None:
    w = words or load_words()
    fmr, fnmr = evidence.get("fmr"), evidence.get("fnmr")
    if not fmr or not fnmr:
        return None
    return w["error_rates"].format(
        fmr_errors=fmr["errors"], fmr_n=fmr["n"], fmr_lo=_rate(fmr["ci95"][0]), fmr_hi=_rate(fmr["ci95"][1]),
        fnmr_errors=fnmr["errors"], fnmr_n=fnmr["n"], fnmr_lo=_rate(fnmr["ci95"][0]), fnmr_hi=_rate(fnmr["ci95"][1]),
    )


def calibration_statement(evidence: dict, words: dict | None = None) -> str | None:
    w = words or load_words()
    cal = evidence.get("calibration")
    if not cal:
        return None
    lo, hi = evidence["log10_lr_bounds"]
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"
    return w["calibration"].format(
        name=cal["name"], kind=w["calibration_kinds"]["case" if cal.get("case_specific") else "shipped"],
        n_genuine=cal["n_genuine"], n_impostor=cal["n_impostor"], calibrator=cal["calibrator"],
        selection=cal["selection"], lo_lr=format_lr(10**-lo), hi_lr=format_lr(10**hi), cllr=fmt(cal.get("cllr")),
        cllr_min=fmt(cal.get("cllr_min")),
    )


def cap_statement(evidence: dict, words: dict | None = None, scale: dict | None = None) -> str | None:
    w, scale = words or load_words(), scale or load_verbal_scale()
    caps = evidence.get("capped_by") or []
    if not caps:
        return None
    level = (evidence.get("rule") or {}).get("quality_cap", QUALITY_CAP_LEVEL)
    band = next((b for b in scale["bands"] if b["level"] == level), scale["bands"][-1])
    return w["capped"].format(cap_words=band["words"], cap_reasons="; ".join(w["cap_reasons"][c] for c in caps))


def probability_text(value: float | None, decision: str, calibration: dict | None, words: dict | None = None) -> str:
    """A probability (PIC, C-score) in words that never claim more than the calibration set resolves.

    "at least 99.1% (no error among 398 impostor calibration pairs; ...)" instead of "100%".
    """
    w = words or load_words()
    info = honest_probability(value, decision, calibration)
    if info is None:
        return "not available"
    if info["floor"] is None:
        return w["probability"]["none"].format(kind=info["kind"])
    if info["capped"]:
        return w["probability"]["capped"].format(
            floor_pct=percent_floor(info["floor"]), n=info["n"], kind=info["kind"], perfect="certainty"
        )
    return w["probability"]["plain"].format(pct=percent_floor(info["shown"]))


def evidence_lines(evidence: dict | None, words: dict | None = None) -> list[str]:
    """Every evidence sentence in reading order: LR statement, verbal equivalent, cap, conclusiveness, error rates,
    calibration. The CLI, card, report and chat show (a prefix of) these."""
    w = words or load_words()
    lines = [lr_statement(evidence, w)]
    if evidence:
        for text in (
            verbal_statement(evidence, w) if evidence.get("log10_lr") is not None and "identical_inputs"
            not in evidence.get("inconclusive_reasons", []) else None,
            cap_statement(evidence, w),
            conclusiveness_statement(evidence, w),
            error_rate_statement(evidence, w),
            calibration_statement(evidence, w),
        ):
            if text:
                lines.append(text)
    return lines


# ----------------------------------------------------------------------------------------------------------------
# the similarity's own spread


JITTER_SHIFTS = ((1, 0), (-1, 0), (0, 1), (0, -1), (2, 0), (-2, 0), (0, 2), (0, -2))  # px, A one way and B the other


def similarity_jitter(crop_a, crop_b, embed, shifts=JITTER_SHIFTS) -> dict:
    """The similarity's spread under small alignment changes: both aligned crops shifted by 1-2 px in opposite
    directions (as in the stability check of :mod:`explain_engine.attribution.stability`), re-embedded in one batch.

    Args:
        crop_a, crop_b: (H, W, 3) uint8 aligned face crops.
        embed: callable, list of crops -> (n, d) embeddings.
        shifts: (dx, dy) pixel shifts; A is shifted by (dx, dy) and B by (-dx, -dy).

    Returns:
        {"sd": standard deviation (ddof=1) of the shifted similarities, "n": len(shifts), "min", "max",
        "shifts_px": the largest shift}.
    """
    import numpy as np

    from explain_engine.attribution.stability import shift_image
    from explain_engine.scoring import cosine

    crops = []
    for dx, dy in shifts:
        crops += [shift_image(crop_a, dx, dy), shift_image(crop_b, -dx, -dy)]
    e = np.asarray(embed(crops), dtype=np.float64)
    sims = np.atleast_1d(cosine(e[0::2], e[1::2]))
    return {
        "sd": float(np.std(sims, ddof=1)) if sims.size > 1 else 0.0, "n": int(sims.size),
        "min": float(sims.min()), "max": float(sims.max()), "shifts_px": int(max(max(abs(x), abs(y)) for x, y in shifts)),
    }  # fmt: skip


def has_lr(evidence: dict | None) -> bool:
    """Whether the evidence section gives a likelihood ratio (none for identical inputs or without calibration)."""
    return bool(evidence) and evidence.get("log10_lr") is not None and "identical_inputs" not in (
        evidence.get("inconclusive_reasons") or [])


def shipped_note(evidence: dict | None, subject: str = "lr", words: dict | None = None) -> str | None:
    """The caveat that a figure comes from the calibration shipped with the software, not from reference pairs like
    the case material: ``subject`` "lr" for the likelihood ratio, "scores" for the C-score and PIC-score. None when
    the record's calibration was given for the case, or is not recorded.

    Args:
        evidence: the record's ``evidence`` section (its ``calibration`` block says ``case_specific``).
        subject: "lr" | "scores".
    """
    w = words or load_words()
    cal = (evidence or {}).get("calibration") or {}
    if not cal.get("name") or cal.get("case_specific"):
        return None
    key = "shipped_note" if subject == "lr" else "shipped_scores_note"
    return w[key].format(name=cal["name"], n_genuine=cal.get("n_genuine"), n_impostor=cal.get("n_impostor"))


def decision_lines(record: dict, words: dict | None = None) -> list[str]:
    """What verify / explain print and the card shows, in order: the LR statement, its verbal equivalent, whether it
    is conclusive, then the decision at the threshold and the C-score / PIC-score held to what the calibration set
    resolves, and the quality caveat when a photo's quality check warned (``outside_calibration``).

    Args:
        record: a verification or explanation record (decision, similarity, threshold, margin, confidence,
            pic_score, calibration, evidence).
    """
    w = words or load_words()
    evidence = record.get("evidence")
    lines = [lr_statement(evidence, w)]
    if evidence:
        verbal = None
        if evidence.get("log10_lr") is not None and "identical_inputs" not in evidence.get("inconclusive_reasons", []):
            verbal = verbal_statement(evidence, w)
        lines += [t for t in (verbal, cap_statement(evidence, w), conclusiveness_statement(evidence, w)) if t]
        if has_lr(evidence) and (note := shipped_note(evidence, "lr", w)):  # the LR's reference set is not the case's
            lines.append(note)
    lines.append(w["decision"].format(
        threshold=record["threshold"], decision=record["decision"], similarity=record["similarity"],
        margin=record["margin"],
    ))
    cal = record.get("calibration") or {}
    infos = [honest_probability(record.get(k), record["decision"], cal) for k in ("confidence", "pic_score")]
    if "identical_inputs" in ((evidence or {}).get("inconclusive_reasons") or []):
        lines.append(w["scores_identical"])
    elif record.get("confidence") is None and record.get("pic_score") is None:
        lines.append(w["no_scores"])
    elif all(i is not None and i["capped"] and i["floor"] is not None for i in infos):
        i = infos[0]
        lines.append(w["scores_capped"].format(floor_pct=percent_floor(i["floor"]), n=i["n"], kind=i["kind"]))
    else:
        lines.append(w["scores"].format(
            cscore=probability_text(record.get("confidence"), record["decision"], cal, w),
            pic=probability_text(record.get("pic_score"), record["decision"], cal, w),
        ))
    if record.get("outside_calibration"):  # a photo's quality check warned: no confidence is worded as certain
        from prompts.render import caveat_sentence

        lines.append(caveat_sentence())
    return lines


def accuracy_text(accuracy: float | None, n_pairs: int, words: dict | None = None) -> str:
    """A calibration's accuracy in words: a percentage that never rounds up to 100%, or "no error among the N
    calibration pairs" when there was none."""
    w = words or load_words()
    if accuracy is None:
        return "not reported"
    if accuracy >= 1.0:
        return w["accuracy"]["perfect"].format(n=n_pairs)
    return w["accuracy"]["plain"].format(pct=percent_floor(float(accuracy)))
