"""The feathered overlay edges: the linear-time erosion and the reduced-copy blur give the picture of the direct
computation (an elliptical erosion and a full-size Gaussian blur), and keep their promises (0 outside the mask)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from explain_engine import heatmaps as hm


def _direct_feather(m: np.ndarray, sigma: float) -> np.ndarray:
    r = max(1, round(2 * sigma))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1))
    core = cv2.erode(m, kernel, borderType=cv2.BORDER_REPLICATE)
    blurred = cv2.GaussianBlur(core, (0, 0), sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)
    return np.clip(blurred, 0, 1) * (m > 0.5)


@pytest.mark.parametrize("side", [150, 700, 1600])
def test_feather_and_soften_match_the_direct_computation(side):
    m = np.zeros((side, side + 37), np.float32)
    cv2.ellipse(m, (side // 2, side // 2), (side // 3, side // 4), 15, 0, 360, 1, -1)
    sigma = max(1.0, side * hm.FEATHER_FRACTION)
    weight = hm.feather_mask(m)
    assert weight.dtype == np.float32 and weight.shape == m.shape
    assert weight.min() >= 0 and weight.max() <= 1 and np.all(weight[m == 0] == 0)
    assert np.abs(weight - _direct_feather(m, sigma)).max() < 0.05  # one ring of pixels of the disc's outline
    heat = np.where(np.arange(side)[:, None] < side // 2, 1.0, -0.5) * np.ones((1, side + 37))
    direct = cv2.GaussianBlur(heat.astype(np.float32), (0, 0), sigma, sigmaY=sigma, borderType=cv2.BORDER_REPLICATE)
    assert np.abs(hm.soften(heat) - direct).max() < 0.01 * 1.5  # under 1% of the map's range (1.5)


def test_small_blurs_are_direct():
    heat = np.random.default_rng(0).random((60, 80)).astype(np.float32)
    direct = cv2.GaussianBlur(heat, (0, 0), 3.0, sigmaY=3.0, borderType=cv2.BORDER_REPLICATE)
    np.testing.assert_array_equal(hm.soften(heat, 3.0), direct)
    assert hm.soften(heat, 0) is not None and np.array_equal(hm.soften(heat, 0), heat)
