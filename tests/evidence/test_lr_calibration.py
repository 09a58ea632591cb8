"""The score-based LR of a calibration (lir calibrators, ELUB bounds, Cllr) on synthetic similarity scores."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.stats import beta

from explain_engine.calibration import (
    LR_CALIBRATORS,
    MIN_PAIRS_PER_CLASS,
    Calibration,
    _lir_llrs,
    _lir_llrs_exact,
    clopper_pearson,
    cross_validated_llrs,
    fit_calibration,
    fit_score_to_lr,
    plot_calibration,
    size_warnings,
)
from models.errors import ConfigError


@pytest.fixture(scope="module")
def overlapping():
    """Two overlapping Gaussian classes (d' = 4): some errors at any threshold."""
    rng = np.random.default_rng(3)
    return rng.normal(0.95, 0.02, 150), rng.normal(0.87, 0.02, 1500)


@pytest.fixture(scope="module")
def cal(overlapping):
    g, i = overlapping
    return fit_calibration(g, i, model="synthetic", fitted_on="synthetic Gaussians", name="synthetic")


def test_calibrator_is_the_one_with_the_lowest_cross_validated_cllr(cal):
    lr = cal.lr
    assert set(lr["candidates"]) == set(LR_CALIBRATORS)
    best = min(lr["candidates"], key=lambda k: lr["candidates"][k]["cllr"])
    assert lr["calibrator"] == best
    assert "cross-validated Cllr" in lr["selection"] and lr["cv"]["folds"] == 5
    assert lr["library"].startswith("lir ")
    assert math.isclose(cal.evaluation["cllr"], lr["candidates"][best]["cllr"])


def test_cllr_figures_are_consistent(cal):
    ev = cal.evaluation
    assert 0 <= ev["cllr_min"] <= ev["cllr"] < 1  # an informative, roughly calibrated system on d' = 4
    assert math.isclose(ev["cllr_cal"], ev["cllr"] - ev["cllr_min"], abs_tol=1e-12)
    assert 0 < ev["eer"] < 0.1


def test_lr_is_bounded_by_elub_within_the_set_sizes(cal, overlapping):
    g, i = overlapping
    b = cal.lr["bounds"]
    assert b["method"] == "ELUB" and "Vergeer" in b["source"]
    # ELUB never exceeds what one misleading pair of the other class would allow
    assert b["log10_upper"] <= math.log10(i.size + 1) + 1e-9
    assert b["log10_lower"] >= -math.log10(g.size + 1) - 1e-9
    far_high, unbounded_high = cal.log10_lr(1.0)
    far_low, unbounded_low = cal.log10_lr(0.5)
    assert far_high == pytest.approx(b["log10_upper"]) and unbounded_high > far_high
    assert far_low == pytest.approx(b["log10_lower"]) and unbounded_low < far_low
    # monotone between: a higher similarity never gives a lower LR
    s = np.linspace(0.8, 1.0, 200)
    llr = cal.lr_model().log10_lr(s)
    assert np.all(np.diff(llr) >= -1e-9)


def test_lr_at_the_crossing_of_the_densities_is_near_one(cal):
    """Equal spreads: the densities cross half way (0.91); there the LR is about 1 (class sizes do not matter)."""
    bounded, _ = cal.log10_lr(0.91)
    assert abs(bounded) < 0.5


def test_error_rates_have_clopper_pearson_intervals(cal, overlapping):
    g, i = overlapping
    t = cal.threshold
    fmr, fnmr = cal.evaluation["fmr"], cal.evaluation["fnmr"]
    assert fmr["errors"] == int(np.sum(i >= t)) and fmr["n"] == i.size
    assert fnmr["errors"] == int(np.sum(g < t)) and fnmr["n"] == g.size
    for r in (fmr, fnmr):
        k, n = r["errors"], r["n"]
        lo = 0.0 if k == 0 else beta.ppf(0.025, k, n - k + 1)
        hi = 1.0 if k == n else beta.ppf(0.975, k + 1, n - k)
        assert r["ci95"][0] == pytest.approx(lo, abs=1e-9) and r["ci95"][1] == pytest.approx(hi, abs=1e-9)
        assert r["ci95"][0] <= r["value"] <= r["ci95"][1]


def test_no_error_interval_is_the_rule_of_three():
    r = clopper_pearson(0, 398)
    assert r["value"] == 0 and r["ci95"][0] == 0
    assert r["ci95"][1] == pytest.approx(1 - 0.025 ** (1 / 398), rel=1e-9)  # about 3.7 / n


def test_save_load_refits_the_same_lr(cal, tmp_path):
    path = cal.save(tmp_path / "cal.json")
    loaded = Calibration.load(path)
    for s in (0.85, 0.9, 0.93, 0.97):
        assert loaded.log10_lr(s) == pytest.approx(cal.log10_lr(s), abs=1e-9)
    assert not list(tmp_path.glob("*.partial"))


def test_an_edited_lr_section_is_detected(cal, tmp_path):
    data = cal.to_dict()
    data["lr"]["bounds"]["log10_upper"] += 1.0  # claim a stronger LR than the data support
    path = tmp_path / "edited.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ConfigError, match="edited"):
        Calibration.load(path).log10_lr(0.99)


def test_a_file_without_the_lr_section_gets_it_fitted_on_load(cal, tmp_path):
    data = cal.to_dict()
    for key in ("lr", "evaluation", "warnings"):
        data.pop(key)
    data["schema"] = "facex-calibration/1"
    path = tmp_path / "v1.json"
    path.write_text(json.dumps(data))
    old = Calibration.load(path)
    assert old.log10_lr(0.93) == pytest.approx(cal.log10_lr(0.93), abs=1e-9)
    assert old.lr["fitted_at_load"] is True and old.evaluation["cllr"] == pytest.approx(cal.evaluation["cllr"])


def test_forced_calibrator_is_recorded():
    rng = np.random.default_rng(5)
    c = fit_calibration(rng.normal(0.95, 0.02, 40), rng.normal(0.86, 0.02, 200), model="m", fitted_on="x",
                        calibrator="logistic")
    assert c.lr["calibrator"] == "logistic" and c.lr["selection"] == "chosen by the user"
    with pytest.raises(ConfigError, match="calibrator"):
        fit_calibration([0.9] * 20 + [0.95], [0.8] * 20 + [0.7], model="m", fitted_on="x", calibrator="isotonic")


def test_cross_validated_llrs_are_out_of_fold(overlapping):
    g, i = overlapping
    llrs, labels = cross_validated_llrs(g, i, "logistic")
    assert llrs.shape == labels.shape == (g.size + i.size,)
    # each pair's LR comes from a model that did not see it, so it differs from the in-sample LR
    model = fit_score_to_lr(g, i, "logistic")
    x = np.concatenate([g, i])
    assert not np.allclose(llrs, model.log10_lr(x))


def test_grid_evaluation_matches_exact_calibrator():
    rng = np.random.default_rng(0)
    g, i = rng.normal(0.95, 0.02, 2000), rng.normal(0.85, 0.02, 2000)
    model = fit_score_to_lr(g, i, "kde")
    z = (np.concatenate([g, i]) - model.centre) / model.scale
    assert np.abs(_lir_llrs(model.calibrator, z) - _lir_llrs_exact(model.calibrator, z)).max() < 1e-3


# ---- set sizes (bad input issue: calibrate on 1 + 1 pairs wrote a file that broke every later verify)


def test_too_small_sets_are_refused():
    with pytest.raises(ConfigError, match="too few calibration pairs"):
        fit_calibration([0.95], [0.8], model="m", fitted_on="x")
    rng = np.random.default_rng(1)
    with pytest.raises(ConfigError, match=f"at least\\s+{MIN_PAIRS_PER_CLASS}"):
        fit_calibration(rng.normal(0.95, 0.02, MIN_PAIRS_PER_CLASS - 1), rng.normal(0.8, 0.02, 500), model="m",
                        fitted_on="x")


def test_small_sets_are_written_with_a_loud_warning():
    rng = np.random.default_rng(2)
    c = fit_calibration(rng.normal(0.95, 0.02, MIN_PAIRS_PER_CLASS), rng.normal(0.85, 0.02, 300), model="m",
                        fitted_on="x")
    assert len(c.warnings) == 1 and "only 10 genuine pairs" in c.warnings[0]
    assert c.summary()["warnings"] == c.warnings
    c.check_usable()
    assert size_warnings(500, 500) == []


def test_constant_scores_are_refused():
    with pytest.raises(ConfigError, match="distinct"):
        fit_calibration([0.9] * 20, [0.8 + 0.001 * k for k in range(20)], model="m", fitted_on="x")


def test_plots_are_written(cal, tmp_path):
    files = plot_calibration(cal, tmp_path, prefix="c.")
    assert set(files) == {"tippett", "ece", "det", "lr_curve"}
    for name in files.values():
        data = (tmp_path / name).read_bytes()
        assert name.startswith("c.") and data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
