"""Fills keep every pixel outside the mask; the xFace occlusion baseline; stability over jitters and seeds."""

from __future__ import annotations

import numpy as np
import pytest

from explain_engine.attribution.occlusion import occlusion_map, patch_positions
from explain_engine.attribution.stability import stability
from explain_engine.perturbation import make_fill
from models.errors import ConfigError


@pytest.mark.parametrize("strategy", ["inpaint", "black", "blur", "mean"])
def test_fills_change_only_the_mask(strategy):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    mask = np.zeros((48, 48), bool)
    mask[10:30, 12:20] = True
    fill = make_fill(strategy, source_mask=np.ones((48, 48), bool))
    out = fill(img, mask)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert (out[~mask] == img[~mask]).all()
    assert (out[mask] != img[mask]).any()
    assert fill.name == ("inpaint:telea" if strategy == "inpaint" else strategy)
    assert (fill(img, np.zeros_like(mask)) == img).all()


def test_fill_uses_an_inpainter_adapter_and_forces_the_contract():
    class Scribbler:  # a stochastic "inpainter" that (wrongly) touches every pixel
        name = "scribble"
        deterministic = False

        def inpaint(self, image, mask, *, seed=None):
            return np.full_like(image, 0 if seed is None else seed)

    img = np.full((8, 8, 3), 200, np.uint8)
    mask = np.zeros((8, 8), bool)
    mask[2:4, 2:4] = True
    fill = make_fill("inpaint", Scribbler(), seed=7)
    out = fill(img, mask)
    assert fill.name == "inpaint:scribble" and not fill.deterministic
    assert (out[mask] == 7).all() and (out[~mask] == 200).all()
    assert (fill.with_seed(9)(img, mask)[mask] == 9).all()
    with pytest.raises(ConfigError):
        make_fill("smudge")


def test_occlusion_map_marks_shared_content_similar_and_differences_dissimilar():
    size = 40
    a = np.full((size, size, 3), 128, np.uint8)
    key = np.zeros((size, size), bool)
    key[6:20, 12:28] = True  # the same bright patch in both photos: shared identity
    strip = np.zeros((size, size), bool)
    strip[32:, :] = True  # brighter in A, darker in B: a difference
    a[key] = 188
    b = a.copy()
    a[strip], b[strip] = 158, 98
    calls = []

    def embed(batch):
        calls.append(len(batch))
        x = batch.astype(np.float64).mean(axis=3) - 128
        return np.stack([np.full(len(batch), 20.0), x[:, key].mean(1), x[:, strip].mean(1)], axis=1)

    masks = {"key": key, "strip": strip, "rest": ~(key | strip)}
    res = occlusion_map(a, b, embed, patch_sizes=(7, 14), stride=5, colour=128, masks_a=masks, masks_b=masks)
    n_loc = sum(len(patch_positions(size, p, 5)) ** 2 for p in (7, 14))
    assert res.n_embeddings == sum(calls) == 2 * n_loc + 2
    assert max(calls) > 2  # batched
    assert np.abs(res.map_a).max() == pytest.approx(1.0)
    assert res.regions_a["key"] > 0.3 > res.regions_a["rest"] > res.regions_a["strip"]
    assert res.regions_a["strip"] < 0
    y, x = np.unravel_index(np.argmax(res.map_a), res.map_a.shape)
    assert key[y, x]
    # co-located occlusion of identical photos changes nothing: no noise blown up to +-1
    same = occlusion_map(a, a.copy(), embed, patch_sizes=(14,), stride=5, colour=0)
    assert np.abs(same.map_a).max() == 0.0


def test_stability_over_jitters_keeps_a_dominant_region_on_top(helpers, additive_pair, bands):
    a, b, embed, _, _ = additive_pair
    st = stability(a, b, bands, bands, embed, helpers.CountingFill(), samples=3,
                   base={"r0": 1.0, "r1": 0.5, "r2": 0.1, "r3": 0.0})
    assert st.mode == "jitter" and st.samples == 3
    assert st.top_region == "r0" and st.top_region_kept == 1.0
    assert set(st.per_region) == set(bands)
    assert st.per_region["r0"]["mean"] == pytest.approx(1.0)
    assert all(v["sd"] >= 0 for v in st.per_region.values())


def test_stability_uses_seeds_for_stochastic_fills(additive_pair, bands):
    a, b, embed, _, _ = additive_pair

    class Noisy:
        name, deterministic = "noisy", False

        def inpaint(self, image, mask, *, seed=None):
            return np.random.default_rng(seed).integers(0, 256, image.shape, dtype=np.uint8)

    st = stability(a, b, bands, bands, embed, make_fill("inpaint", Noisy()), samples=4)
    assert st.mode == "seeds" and len(st.runs) == 4
    assert len({tuple(sorted(r.items())) for r in st.runs}) > 1  # different seeds, different fills


def test_fill_batch_goes_through_the_adapters_batch_call():
    class Batched:
        name, deterministic = "batched", True
        batches = 0

        def inpaint(self, image, mask, *, seed=None):
            return np.zeros_like(image)

        def inpaint_batch(self, images, masks, *, seed=None):
            Batched.batches += 1
            return [np.full_like(im, 50) for im in images]

    img = np.full((6, 6, 3), 200, np.uint8)
    masks = [np.eye(6, dtype=bool), np.fliplr(np.eye(6, dtype=bool))]
    out = make_fill("inpaint", Batched()).batch([img, img], masks)
    assert Batched.batches == 1
    for o, m in zip(out, masks):
        assert (o[m] == 50).all() and (o[~m] == 200).all()
