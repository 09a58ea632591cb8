"""The hiding game (DFV, paper 002 §IV-B): blurring the least important pixels first keeps the decision when the
map is right, and loses it at once when the map is upside down."""

from __future__ import annotations

import numpy as np
import pytest

from explain_engine.evaluation import metrics
from explain_engine.evaluation.hiding_game import hiding_auc, hiding_curves, hiding_images, hiding_importance
from explain_engine.scoring import PairScorer

from .conftest import BAND


def band_pixels_embed(batch: np.ndarray) -> np.ndarray:
    """Black-box embed: the raw pixels of rows 8-15 (a blur changes them), plus a constant."""
    batch = np.asarray(batch, dtype=np.float64)
    band = batch[:, BAND].reshape(len(batch), -1) / 255.0
    return np.concatenate([band, np.full((len(batch), 1), 5.0)], axis=1)


def test_least_important_pixels_are_hidden_first(masks):
    img = np.full((40, 40, 3), 200, np.uint8)
    blurred = np.zeros_like(img)
    saliency = np.where(masks["r1"], -1.0, 0.01)  # strongly negative = important (|S|)
    out = hiding_images(img, blurred, saliency, [0.0, 0.5, 0.8, 1.0])
    assert np.array_equal(out[0], img) and not out[-1].any()
    assert np.all(out[2][masks["r1"]] == 200)  # 80% hidden: the band (20% of pixels) is all that is left
    assert not out[2][~masks["r1"]].any()
    assert np.array_equal(hiding_importance(np.array([-2.0, np.nan, 1.0])), [2.0, 0.0, 1.0])


def test_a_right_map_beats_an_upside_down_one(pair, masks):
    a, b = pair
    scorer = PairScorer(band_pixels_embed, a, b)
    fr = metrics.step_fractions(11)
    blur_a, blur_b = metrics.removal_image(a), metrics.removal_image(b)
    right = masks["r1"].astype(float)
    wrong = 1.0 - right
    sims = {}
    for name, m in (("right", right), ("wrong", wrong)):
        sims[name] = hiding_curves(a, b, m, m, scorer.score_pairs, blurred_a=blur_a, blurred_b=blur_b, fractions=fr)
        assert sims[name].shape == (2, 11)
    # the right map keeps the band until 80% is hidden, so the similarity stays at the reference
    assert sims["right"][:, :9] == pytest.approx(scorer.reference, abs=1e-9)
    threshold = scorer.reference - 1e-4
    acc = {k: metrics.accuracy_curve(v, [1, 1], threshold) for k, v in sims.items()}
    assert acc["right"][:9] == pytest.approx(1.0) and acc["wrong"][2] == 0.0  # the band is gone at 20%
    assert hiding_auc(fr, acc["right"]) > 80 and hiding_auc(fr, acc["wrong"]) < 20
