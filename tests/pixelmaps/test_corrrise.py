"""CorrRISE (thesis §2.4.5): black-box, deterministic under a seed, signal found where it was injected."""

from __future__ import annotations

import numpy as np
import pytest

from explain_engine.attribution.corrrise import apply_mask, corrrise_maps, pearson_map, random_masks
from explain_engine.scoring import PairScorer

from .conftest import band_mean_embed


def test_random_masks_are_soft_and_seeded():
    m = random_masks(20, (40, 30), cells=4, rng=5)
    assert m.shape == (20, 40, 30) and m.dtype == np.float32
    assert m.min() >= 0 and m.max() <= 1 and m.std() > 0.1
    np.testing.assert_array_equal(m, random_masks(20, (40, 30), cells=4, rng=5))
    assert not np.array_equal(m, random_masks(20, (40, 30), cells=4, rng=6))
    with pytest.raises(ValueError):
        random_masks(0, (4, 4))


def test_pearson_map_matches_numpy():
    rng = np.random.default_rng(1)
    masks = rng.random((50, 3, 4))
    scores = masks[:, 1, 2] * 2 + rng.normal(0, 0.1, 50)
    r = pearson_map(masks, scores)
    assert r[1, 2] == pytest.approx(np.corrcoef(masks[:, 1, 2], scores)[0, 1], abs=1e-6)
    assert r[1, 2] > 0.9
    assert np.all(pearson_map(masks, np.ones(50)) == 0)  # constant scores: no correlation, not NaN


def test_band_with_the_signal_gets_the_mass_with_a_positive_sign(pair, masks):
    a = pair[0]
    res = corrrise_maps(a, a.copy(), band_mean_embed, n_masks=300, cells=5, masks_a=masks, masks_b=masks)
    assert res.method == "corrrise" and res.n_embeddings == 2 + 600
    for side in (res.regions_a, res.regions_b):
        # masking the band away from its partner lowers the similarity: the band is "similar"
        assert side["r1"]["similarity"] > 2 * 0.25 * (32 / 40)  # > twice its share of the region pixels
        assert side["r1"]["similarity"] == max(v["similarity"] for v in side.values())
    assert res.column["r1"] == 1.0
    assert np.all(res.similarity_a >= 0) and np.all(res.dissimilarity_a >= 0)
    assert res.signed_a.min() >= -1 and res.signed_a.max() <= 1


def test_deterministic_under_a_seed_and_reuses_a_scorer(pair, masks):
    a, b = pair
    one = corrrise_maps(a, b, band_mean_embed, n_masks=40, seed=7)
    two = corrrise_maps(a, b, band_mean_embed, n_masks=40, seed=7)
    other = corrrise_maps(a, b, band_mean_embed, n_masks=40, seed=8)
    np.testing.assert_array_equal(one.signed_a, two.signed_a)
    np.testing.assert_array_equal(one.signed_b, two.signed_b)
    assert not np.array_equal(one.signed_a, other.signed_a)
    scorer = PairScorer(band_mean_embed, a, b)
    again = corrrise_maps(None, None, scorer, n_masks=40, seed=7)
    np.testing.assert_allclose(again.signed_a, one.signed_a, atol=1e-6)
    assert again.n_embeddings == 80  # the scorer's two reference embeddings were paid before
    with pytest.raises(ValueError, match="at least 3"):
        corrrise_maps(a, b, band_mean_embed, n_masks=2)


def test_apply_mask_scales_towards_black():
    img = np.full((2, 2, 3), 200, np.uint8)
    out = apply_mask(img, np.array([[1.0, 0.5], [0.0, 0.25]], np.float32))
    assert out[0, 0, 0] == 200 and out[0, 1, 0] == 100 and out[1, 0, 0] == 0 and out[1, 1, 0] == 50


def test_works_with_the_real_model(dlib_torch, dlib_crops):
    crop, regions = dlib_crops
    res = corrrise_maps(crop, crop.copy(), dlib_torch.embed, n_masks=60, masks_a=regions, masks_b=regions)
    assert res.shape == crop.shape[:2] and res.reference == pytest.approx(1.0, abs=1e-5)
    assert set(res.column) == set(regions) and max(abs(v) for v in res.column.values()) == 1.0
