"""Calibration on synthetic score distributions: thresholds, EER, the xFace C-score and the PIC-score."""

from __future__ import annotations

import json

import numpy as np
import pytest

from explain_engine.calibration import (
    Calibration,
    best_accuracy_threshold,
    cscore_histogram,
    equal_error_rate,
    fit_calibration,
    logistic4,
    threshold_at_fmr,
)
from models.errors import ConfigError


@pytest.fixture(scope="module")
def separated():
    """Genuine similarities all above 0.9, impostors all below 0.9: every sane threshold lies in the gap."""
    rng = np.random.default_rng(1)
    genuine = rng.uniform(0.92, 0.99, 300)
    impostor = rng.uniform(0.70, 0.88, 3000)
    return genuine, impostor


@pytest.fixture(scope="module")
def overlapping():
    """Equal-size Gaussian classes with equal spread: the best threshold is their midpoint, 0.90."""
    rng = np.random.default_rng(2)
    return rng.normal(0.95, 0.02, 6000), rng.normal(0.85, 0.02, 6000)


def test_best_accuracy_threshold_lies_in_the_gap(separated):
    genuine, impostor = separated
    t, acc = best_accuracy_threshold(genuine, impostor)
    assert acc == 1.0
    assert impostor.max() < t < genuine.min()
    # the middle of the widest perfect stretch, not the edge of it
    assert abs(t - (impostor.max() + genuine.min()) / 2) < 1e-9


def test_best_accuracy_threshold_recovers_known_midpoint(overlapping):
    t, acc = best_accuracy_threshold(*overlapping)
    assert abs(t - 0.90) < 0.005
    assert 0.98 < acc < 0.995  # Phi(2.5) = 0.9938


def test_threshold_at_fmr_accepts_at_most_the_allowed_impostors():
    impostor = np.linspace(0.0, 0.999, 1000)
    for fmr in (0.0, 0.001, 0.01, 0.1):
        t = threshold_at_fmr(impostor, fmr)
        accepted = int((impostor >= t).sum())
        assert accepted <= round(fmr * 1000)
        assert accepted == round(fmr * 1000)  # and not stricter than needed
    with pytest.raises(ConfigError):
        threshold_at_fmr(impostor, 1.5)


def test_equal_error_rate_of_symmetric_classes(overlapping):
    eer, t = equal_error_rate(*overlapping)
    assert abs(eer - 0.0062) < 0.002  # 1 - Phi(2.5)
    assert abs(t - 0.90) < 0.005
    eer_sep, _ = equal_error_rate(np.array([0.9, 0.95]), np.array([0.1, 0.2]))
    assert eer_sep == 0.0


def test_histogram_has_400_bins_over_the_observed_distances(separated):
    genuine, impostor = separated
    centres, ratio = cscore_histogram(1 - genuine, 1 - impostor)
    assert len(centres) <= 400 and len(centres) > 100
    assert ((ratio >= 0) & (ratio <= 1)).all()
    # genuine pairs sit at small distances: ratio 1 there, 0 at large distances
    assert ratio[0] == 1.0 and ratio[-1] == 0.0


def test_cscore_fit_and_range(overlapping):
    genuine, impostor = overlapping
    cal = fit_calibration(genuine, impostor, model="synthetic", fitted_on="synthetic Gaussians")
    assert abs(cal.threshold - 0.90) < 0.005
    p = cal.cscore
    # the fitted sigmoid falls from about 1 to about 0 and crosses 0.5 near the threshold distance
    assert abs(p["d0"] - (1 - cal.threshold)) < 0.01
    assert float(cal.c_curve(0.0)) > 0.95 and float(cal.c_curve(0.3)) < 0.05
    sims = np.linspace(0.6, 1.0, 401)
    c = np.array([cal.cscore_value(s) for s in sims])
    assert ((c >= 0.5) & (c <= 1.0)).all()
    # monotone: confidence grows as the similarity moves away from the threshold, on both sides
    above = c[sims >= cal.threshold]
    below = c[sims < cal.threshold]
    assert np.all(np.diff(above) >= -1e-12) and np.all(np.diff(below) <= 1e-12)
    assert c[0] > 0.99 and c[-1] > 0.99
    near = cal.cscore_value(cal.threshold + 1e-4)
    assert near < 0.7  # at the threshold the model is about as often right as wrong


def test_pic_score_is_a_probability_of_being_right(overlapping):
    genuine, impostor = overlapping
    cal = fit_calibration(genuine[:1000], impostor[:1000], model="synthetic", fitted_on="synthetic")
    assert cal.pic_score(0.99, "match") > 0.99
    assert cal.pic_score(0.80, "non-match") > 0.99
    assert cal.pic_score(0.99, "non-match") < 0.01
    mid = cal.genuine_probability(0.90)
    assert 0.3 < mid < 0.7
    probs = [cal.genuine_probability(s) for s in np.linspace(0.8, 1.0, 41)]
    assert np.all(np.diff(probs) >= -1e-9)  # monotone for these well-behaved classes
    assert all(0.0 <= p <= 1.0 for p in probs)
    # far outside the calibration range the value stays that of the range's edge, not a tail artefact
    edge = min(cal.impostor_scores)
    assert cal.genuine_probability(-1.0) == cal.genuine_probability(edge)


def test_fmr_rule_and_save_load_roundtrip(tmp_path, separated):
    genuine, impostor = separated
    cal = fit_calibration(genuine, impostor, model="synthetic", fitted_on="synthetic", fmr=0.01, rule="fmr",
                          provenance={"source": "test"})
    assert cal.threshold == cal.threshold_at_fmr
    assert "false-match rate" in cal.threshold_rule
    path = cal.save(tmp_path / "cal.json")
    data = json.loads(path.read_text())
    for key in ("model", "threshold", "fitted_on", "n_genuine", "n_impostor", "accuracy", "eer", "cscore",
                "genuine_scores", "impostor_scores", "created", "provenance"):
        assert key in data
    loaded = Calibration.load(path)
    assert loaded.threshold == cal.threshold
    assert loaded.n_genuine == 300 and loaded.n_impostor == 3000
    assert abs(loaded.cscore_value(0.95) - cal.cscore_value(0.95)) < 1e-9
    assert abs(loaded.pic_score(0.95, "match") - cal.pic_score(0.95, "match")) < 1e-6
    summary = loaded.summary()
    assert set(summary) == {"name", "fitted_on", "n_genuine", "n_impostor", "accuracy", "eer", "threshold_rule",
                            "cllr", "cllr_min", "warnings"}
    assert summary["cllr"] == loaded.evaluation["cllr"] and summary["warnings"] == []


def test_bad_calibration_input_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="genuine"):
        fit_calibration([], [0.1, 0.2], model="m", fitted_on="x")
    with pytest.raises(ConfigError, match="not found"):
        Calibration.load(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="cannot be read"):
        Calibration.load(tmp_path / "bad.json")


def test_logistic_has_the_xface_form():
    d = np.array([0.0, 0.5, 1.0])
    np.testing.assert_allclose(logistic4(d, 1.0, 0.5, 10.0, 0.0), 1 / (1 + np.exp(-10 * (d - 0.5))))


def test_separated_classes_give_a_graded_curve_inside_the_gap(separated):
    """Non-overlapping classes leave the steepness unidentified; C must still fall to 0.5 at the threshold."""
    genuine, impostor = separated
    cal = fit_calibration(genuine, impostor, model="synthetic", fitted_on="synthetic")
    assert cal.cscore["separated"] is True
    assert cal.cscore_value(cal.threshold) < 0.6
    assert cal.cscore_value(float(genuine.min())) > 0.9
    assert cal.cscore_value(float(impostor.max())) > 0.9
    assert cal.cscore_value(1.0) > 0.99 and cal.cscore_value(0.5) > 0.99
