"""The evidence section: LR -> verbal scale, the inconclusive rule, the caps, and honest wording."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from explain_engine import evidence as ev
from explain_engine.calibration import Calibration, fit_calibration
from models.errors import ConfigError

LR_FORM = re.compile(
    r"^The observed similarity is about [\d,./]+ times more probable if the photos show (the same person|different "
    r"people) than if they show (the same person|different people)"
)
OVERSTATED = re.compile(r"100\s*%|100 in 100|very sure|\bcertain(ly)?\b|1\.000?\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def cal() -> Calibration:
    rng = np.random.default_rng(7)
    return fit_calibration(rng.normal(0.95, 0.02, 120), rng.normal(0.85, 0.025, 1200), model="synthetic",
                           fitted_on="synthetic", name="synthetic reference pairs")


@pytest.fixture(scope="module")
def shipped() -> Calibration:
    return Calibration.load("explain_engine/calibrations/dlib-torch.json")


def test_enfsi_scale_loads_with_name_and_source():
    scale = ev.load_verbal_scale()
    assert scale["name"].startswith("ENFSI") and "2015" in scale["source"]
    assert [b["min_lr"] for b in scale["bands"]] == [1, 2, 10, 100, 1000, 10000, 1000000]


@pytest.mark.parametrize(
    ("log10_lr", "code"),
    [(0.0, "no_support"), (0.25, "no_support"), (-0.25, "no_support"), (math.log10(2), "weak_support_same"),
     (0.999, "weak_support_same"), (1.0, "moderate_support_same"), (2.5, "moderately_strong_support_same"),
     (-1.57, "moderate_support_different"), (-3.2, "strong_support_different"), (4.5, "very_strong_support_same"),
     (7.0, "extremely_strong_support_same")],
)  # fmt: skip
def test_verbal_codes_follow_the_scale(log10_lr, code):
    assert ev.verbal_code(*ev.verbal_level(log10_lr, ev.load_verbal_scale())) == code


def test_a_lab_can_swap_the_scale(tmp_path, monkeypatch, cal):
    lab = tmp_path / "lab.yaml"
    lab.write_text(
        "name: Lab scale\nsource: our SOP 12\nbands:\n"
        "  - {min_lr: 1, level: none, words: do not help}\n  - {min_lr: 100, level: support, words: support}\n"
    )
    monkeypatch.setenv(ev.SCALE_ENV, str(lab))
    ev.load_verbal_scale.cache_clear()
    try:
        e = ev.compute_evidence(0.99, cal.threshold, cal)
        assert e["scale"] == {"name": "Lab scale", "source": "our SOP 12"}
        assert e["verbal"] in ("support_same", "none")
        assert "Lab scale" in ev.verbal_statement(e)
    finally:
        monkeypatch.delenv(ev.SCALE_ENV)
        ev.load_verbal_scale.cache_clear()
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsource: y\nbands:\n  - {min_lr: 10, level: a, words: b}\n")
    with pytest.raises(ConfigError, match="start at min_lr 1"):
        ev.load_verbal_scale(bad)


def test_evidence_has_the_agreed_fields(cal):
    e = ev.compute_evidence(0.97, cal.threshold, cal)
    for key in ("log10_lr", "lr", "log10_lr_bounds", "bounded_by", "verbal", "scale", "calibration", "fmr", "fnmr",
                "conclusive", "inconclusive_reason"):
        assert key in e
    assert e["bounded_by"] == "ELUB" and e["lr"] == pytest.approx(10 ** e["log10_lr"])
    assert set(e["calibration"]) >= {"name", "n_genuine", "n_impostor", "cllr", "cllr_min"}
    assert e["calibration"]["n_genuine"] == 120 and e["calibration"]["case_specific"] is False
    for r in (e["fmr"], e["fnmr"]):
        assert set(r) >= {"value", "ci95"} and r["ci95"][0] <= r["value"] <= r["ci95"][1]
    lo, hi = e["log10_lr_bounds"]
    assert lo <= e["log10_lr"] <= hi


def test_clear_match_is_conclusive_and_worded_in_the_propositions_form(cal):
    e = ev.compute_evidence(0.99, cal.threshold, cal, case_specific=True)
    assert e["conclusive"] and e["inconclusive_reason"] is None and e["log10_lr"] > 1
    text = ev.lr_statement(e)
    assert LR_FORM.match(text) and "the same person than if they show different people" in text
    lines = ev.evidence_lines(e)
    assert lines[0] == text and any("given for this case" in line for line in lines)


def test_clear_non_match_favours_different_people(cal):
    e = ev.compute_evidence(0.78, cal.threshold, cal)
    assert e["decision"] == "non-match" and e["log10_lr"] < -1 and e["verbal"].endswith("_different")
    assert "if the photos show different people than if they show the same person" in ev.lr_statement(e)


def test_weak_lr_is_inconclusive_by_the_lr_band(cal):
    """Where the LR is about 1 (the densities cross), the result is inconclusive, whatever the decision."""
    grid = np.linspace(0.85, 0.95, 201)
    s = float(grid[np.argmin(np.abs(cal.lr_model().log10_lr(grid)))])
    e = ev.compute_evidence(s, s - 0.001, cal)  # a threshold just below: a "match" by 0.001
    assert e["decision"] == "match" and abs(e["log10_lr"]) < 0.1
    assert not e["conclusive"] and "lr_within_band" in e["inconclusive_reasons"]
    text = ev.conclusiveness_statement(e)
    assert text.startswith("The result is inconclusive") and "between 1/10 and 10" in text


def test_margin_within_the_similaritys_own_jitter_is_inconclusive(cal):
    s = cal.threshold + 0.03
    assert ev.compute_evidence(s, cal.threshold, cal)["conclusive"]
    e = ev.compute_evidence(s, cal.threshold, cal, score_sd=0.02)
    assert not e["conclusive"] and e["inconclusive_reason"] == "margin_within_jitter"
    assert "within 2 standard deviations" in ev.conclusiveness_statement(e)


def test_identical_inputs_give_no_lr_statement(cal):
    e = ev.compute_evidence(1.0, cal.threshold, cal, identical_inputs=True)
    assert not e["conclusive"] and e["inconclusive_reason"] == "identical_inputs"
    text = ev.lr_statement(e)
    assert text.startswith("No likelihood ratio is given") and "identical" in text
    assert not any("times more probable" in line for line in ev.evidence_lines(e))


def test_quality_warning_caps_the_wording_and_refusal_makes_it_inconclusive(cal):
    warn = {"a": {"outcome": "warn"}, "b": {"outcome": "pass"}}
    e = ev.compute_evidence(0.99, cal.threshold, cal, quality=warn)
    scale = ev.load_verbal_scale()
    names = [b["level"] for b in scale["bands"]]
    level = e["verbal"].rsplit("_same", 1)[0]
    assert names.index(level) <= names.index(ev.QUALITY_CAP_LEVEL)
    if e["verbal"] != e["verbal_uncapped"]:
        assert e["capped_by"] == ["quality_warning"] and "capped" in " ".join(ev.evidence_lines(e))
    refused = ev.compute_evidence(0.99, cal.threshold, cal, quality={"a": {"outcome": "refuse"}})
    assert not refused["conclusive"] and refused["inconclusive_reason"] == "quality_refused"


def test_no_calibration_gives_no_lr():
    e = ev.compute_evidence(0.9, 0.91, None)
    assert e["log10_lr"] is None and not e["conclusive"] and e["inconclusive_reason"] == "no_calibration"
    assert ev.lr_statement(e).startswith("No likelihood ratio is given")


def test_lr_contradicting_the_decision_is_inconclusive(cal):
    e = ev.compute_evidence(0.95, 0.97, cal)  # an explicit threshold above where the LR turns in favour of H1
    assert e["decision"] == "non-match" and e["log10_lr"] > 0
    assert "lr_contradicts_decision" in e["inconclusive_reasons"]


@pytest.mark.parametrize("similarity", [0.70, 0.80, 0.88, 0.905, 0.9186, 0.925, 0.934, 0.96, 0.99, 1.0])
def test_wording_never_overstates_on_the_shipped_calibration(shipped, similarity):
    """The shipped set (37 genuine, 398 impostor pairs) cannot support 'certain', 100% or a huge LR."""
    e = ev.compute_evidence(similarity, shipped.threshold, shipped)
    lo, hi = e["log10_lr_bounds"]
    assert hi <= math.log10(shipped.n_impostor + 1) and lo >= -math.log10(shipped.n_genuine + 1)
    assert e["verbal"] not in ("very_strong_support_same", "extremely_strong_support_same", "strong_support_same")
    for line in ev.evidence_lines(e):
        assert not OVERSTATED.search(line), line
    for decision in ("match", "non-match"):
        for p in (1.0, 0.99999, 0.9999999):
            text = ev.probability_text(p, decision, shipped.summary())
            assert not OVERSTATED.search(text) and "no error among" in text


def test_probability_floor_is_what_n_error_free_pairs_resolve():
    assert ev.probability_floor(398) == pytest.approx(0.025 ** (1 / 398))
    assert ev.probability_floor(0) is None
    info = ev.honest_probability(1.0, "match", {"n_genuine": 37, "n_impostor": 398})
    assert info["capped"] and info["n"] == 398 and info["kind"] == "impostor" and info["shown"] < 0.992
    assert ev.probability_text(0.8, "non-match", {"n_genuine": 37, "n_impostor": 398}) == "80.0%"


def test_format_lr():
    assert ev.format_lr(380.2) == "380" and ev.format_lr(1 / 37.0) == "1/37" and ev.format_lr(2.04) == "2"
    assert ev.format_lr(12345) == "12,000" and ev.format_lr(0.5) == "1/2"


def _record(cal, similarity, **kw):
    decision = "match" if similarity >= cal.threshold else "non-match"
    e = ev.compute_evidence(similarity, cal.threshold, cal, decision=decision, **kw)
    return {"decision": decision, "similarity": similarity, "threshold": cal.threshold,
            "margin": similarity - cal.threshold, "confidence": 1.0, "pic_score": 1.0, "calibration": cal.summary(),
            "evidence": e}


def test_decision_lines_lead_with_the_lr_then_the_decision(cal):
    lines = ev.decision_lines(_record(cal, 0.99))
    assert LR_FORM.match(lines[0])
    k = next(n for n, line in enumerate(lines) if line.startswith("At the threshold"))
    assert k > 0 and "the decision is match" in lines[k]
    assert "each 99.6% or more" in lines[-1] and "1200 impostor calibration pairs" in lines[-1]
    for line in lines:
        assert not OVERSTATED.search(line), line


def test_identical_inputs_give_no_scores(cal):
    lines = ev.decision_lines(_record(cal, 1.0, identical_inputs=True))
    assert lines[0].startswith("No likelihood ratio") and lines[-1].startswith("No C-score or PIC-score")


def test_with_quality_is_idempotent_and_reversible_by_pass(cal):
    base = ev.compute_evidence(0.99, cal.threshold, cal)
    warn = {"a": {"outcome": "warn"}, "b": {"outcome": "pass"}}
    once = ev.with_quality(base, warn)
    assert ev.with_quality(once, warn) == once
    refused = ev.with_quality(once, {"a": {"outcome": "refuse"}})
    assert refused["inconclusive_reasons"] == ["quality_refused"] and refused["capped_by"] == []
    assert ev.with_quality(refused, {"a": {"outcome": "pass"}, "b": {"outcome": "pass"}}) == base
