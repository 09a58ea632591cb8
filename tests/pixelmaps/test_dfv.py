"""DFV's decomposition (paper 002, Algorithm 1) and the region shares / table column built on it."""

from __future__ import annotations

import numpy as np
import pytest

from explain_engine.attribution.dfv import (
    channel_weights,
    decompose,
    pixel_maps,
    rebalanced_weights,
    region_mass,
    table_column,
)


def test_channel_weights_sum_to_the_cosine():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=64), rng.normal(size=64)
    cos = a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    assert channel_weights(a, b).sum() == pytest.approx(cos)
    # FGGB's re-balance: sum (w_k - t/N) = s - t; DFV's literal line subtracts t from every channel
    assert rebalanced_weights(a, b, 0.4).sum() == pytest.approx(cos - 0.4)
    assert rebalanced_weights(a, b, 0.4, rule="dfv").sum() == pytest.approx(cos - 64 * 0.4)
    with pytest.raises(ValueError, match="rule"):
        rebalanced_weights(a, b, 0.4, rule="other")
    with pytest.raises(ValueError, match="zeros"):
        channel_weights(np.zeros(3), np.ones(3))


def test_decomposition_splits_by_the_sign_of_the_weights():
    maps = np.zeros((2, 4, 4), np.float32)
    maps[0, :2] = 1.0  # channel 0 lives in the top half
    maps[1, 2:] = 0.5  # channel 1 in the bottom half
    out = decompose(maps, np.array([0.2, -0.4]))
    np.testing.assert_allclose(out["similarity"][:2], 0.2)
    np.testing.assert_allclose(out["similarity"][2:], 0.0)
    np.testing.assert_allclose(out["dissimilarity"][2:], 0.2)
    np.testing.assert_allclose(out["dissimilarity"][:2], 0.0)
    np.testing.assert_allclose(out["discriminative"], out["similarity"] + out["dissimilarity"])
    np.testing.assert_allclose(out["signed"], out["similarity"] - out["dissimilarity"])
    with pytest.raises(ValueError, match="weights"):
        decompose(maps, np.ones(3))


def test_region_mass_and_table_column(masks):
    signed = np.zeros((40, 40), np.float32)
    signed[masks["r1"]] = 1.0
    signed[masks["r2"]] = -0.5
    mass = region_mass(np.maximum(signed, 0), masks)
    assert mass["r1"] == pytest.approx(1.0) and mass["r0"] == 0.0
    col = table_column(signed, signed, masks, masks)
    assert col["r1"] == pytest.approx(1.0) and col["r2"] == pytest.approx(-0.5) and col["r0"] == 0.0
    assert table_column(np.zeros((40, 40)), np.zeros((40, 40)), masks, masks) == {r: 0.0 for r in masks}
    res = pixel_maps("x", signed, -signed, reference=0.7, threshold=0.5, masks_a=masks, masks_b=masks)
    assert res.regions_a["r1"] == {"similarity": 1.0, "dissimilarity": 0.0}
    assert res.regions_b["r1"] == {"similarity": 0.0, "dissimilarity": 1.0}  # -signed: r1 is all of S-
    assert res.regions_b["r2"] == {"similarity": 1.0, "dissimilarity": 0.0}
    assert np.all(res.similarity_a >= 0) and np.all(res.dissimilarity_b >= 0)
    assert res.to_dict()["column"] == res.column
    with pytest.raises(ValueError, match="shape"):
        region_mass(np.ones((4, 4)), {"r": np.ones((5, 5), bool)})
