"""Region-swap pasting and scoring on synthetic crops; rank statistics."""

from __future__ import annotations

import numpy as np
import pytest

from explain_engine.evaluation.region_swap import (
    paste_region,
    ranks,
    region_swap_test,
    swap_outcomes,
    swap_region_masks,
)
from explain_engine.evaluation.statistics import mean_pairwise_spearman, spearman
from explain_engine.perturbation import make_fill


def quadrants(size: int = 40) -> dict[str, np.ndarray]:
    h = size // 2
    masks = {}
    for name, (ys, xs) in {"tl": (slice(0, h), slice(0, h)), "tr": (slice(0, h), slice(h, size)),
                           "bl": (slice(h, size), slice(0, h)), "br": (slice(h, size), slice(h, size))}.items():
        m = np.zeros((size, size), dtype=bool)
        m[ys, xs] = True
        m[ys, xs][:1, :] = m[ys, xs][:, :1] = False  # a 1 px gap, so regions don't touch
        masks[name] = m
    return masks


@pytest.mark.parametrize("blend", ["seamless", "alpha", "none"])
def test_paste_keeps_pixels_outside_the_region(blend):
    yy, xx = np.mgrid[0:64, 0:64]
    dst = np.stack([np.cos(yy / 5.0), np.sin(xx / 7.0), np.cos((xx - yy) / 6.0)], axis=-1) * 50 + 120
    dst = dst.astype(np.uint8)  # smooth, like skin
    src = (np.sin(xx / 3.0) * 60 + np.cos(yy / 4.0) * 60 + 128)[..., None].repeat(3, axis=2).astype(np.uint8)
    mask = (yy - 30) ** 2 + (xx - 34) ** 2 < 12 ** 2
    out = paste_region(dst, src, mask, blend=blend)
    np.testing.assert_array_equal(out[~mask], dst[~mask])
    # inside, the pasted pattern is src's (at the same place), not dst's
    inner = (yy - 30) ** 2 + (xx - 34) ** 2 < 8 ** 2
    # inside, the pasted detail is src's at the same place (Poisson blending keeps src's Laplacian, not its level)
    import cv2

    lap = lambda im: cv2.Laplacian(im.astype(np.float64), cv2.CV_64F)[inner].ravel()
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-2, -1, 0, 1, 2)]
    fit = {s: np.corrcoef(lap(out), lap(np.roll(src, s, axis=(0, 1))))[0, 1] for s in shifts}
    assert max(fit, key=fit.get) == (0, 0) and fit[(0, 0)] > 0.5  # pasted where it came from, not shifted
    if blend == "none":
        np.testing.assert_array_equal(out[mask], src[mask])


def test_paste_at_the_border_and_errors():
    dst = np.full((32, 32, 3), 50, np.uint8)
    src = np.random.default_rng(0).integers(60, 200, (32, 32, 3)).astype(np.uint8)  # textured
    mask = np.zeros((32, 32), bool)
    mask[:10, :10] = True  # touches two image borders
    out = paste_region(dst, src, mask)
    np.testing.assert_array_equal(out[~mask], dst[~mask])
    assert out[mask].std() > 5  # src's texture arrived (a flat src would only copy dst's level)
    with pytest.raises(ValueError):
        paste_region(dst, src[:16], mask)
    with pytest.raises(ValueError):
        paste_region(dst, src, mask, blend="magic")


def test_swap_masks_take_the_union():
    ma, mb = quadrants(), quadrants()
    mb["tl"] = np.roll(mb["tl"], 2, axis=1)
    paste, new = swap_region_masks(ma, mb, "tl", extent="a")
    np.testing.assert_array_equal(paste, ma["tl"])  # R as located in A: A's masks kept
    assert all(np.array_equal(new[r], ma[r]) for r in ma)
    paste, new = swap_region_masks(ma, mb, "tl", extent="union", dilate=0)
    np.testing.assert_array_equal(paste, ma["tl"] | mb["tl"])
    np.testing.assert_array_equal(new["tl"], paste)
    assert not (new["tr"] & paste).any()


def block_embed(batch: np.ndarray) -> np.ndarray:
    """A synthetic face model: the mean colour of each quadrant, centred."""
    batch = np.asarray(batch, dtype=np.float64)
    h = batch.shape[1] // 2
    parts = [batch[:, :h, :h], batch[:, :h, h:], batch[:, h:, :h], batch[:, h:, h:]]
    return np.concatenate([p.mean(axis=(1, 2)) - 127.5 for p in parts], axis=1)


def test_swapped_region_comes_out_on_top():
    """Pasting B's quadrant into A makes it the part that matches: S0 should mostly find it (top-1 chance: 1/4)."""
    rows = []
    masks = quadrants()
    for seed in range(4):
        rng = np.random.default_rng(seed)
        a = np.zeros((40, 40, 3), np.uint8)
        b = np.zeros((40, 40, 3), np.uint8)
        for m in masks.values():
            a[m] = rng.integers(0, 256, 3)
            b[m] = rng.integers(0, 256, 3)
        result = region_swap_test(a, b, masks, masks, block_embed, make_fill("mean"), blend="none")
        assert {r["variant"] for r in swap_outcomes(result)} == {"both", "a", "b", "ab"}
        rows += [r for r in swap_outcomes(result) if r["variant"] == "both"]
    assert len(rows) == 16
    assert np.mean([r["top1"] for r in rows]) >= 0.6
    assert np.mean([r["gain"] for r in rows]) >= 0.8


def test_ranks_and_spearman():
    assert ranks({"x": 0.3, "y": 0.1, "z": 0.3}) == {"x": 1, "y": 3, "z": 1}
    a = {"x": 1.0, "y": 0.5, "z": 0.1, "w": -0.2}
    assert spearman(a, a) == pytest.approx(1.0)
    assert spearman(a, {k: -v for k, v in a.items()}) == pytest.approx(-1.0)
    assert np.isnan(spearman(a, {k: 0.0 for k in a}))
    assert np.isnan(spearman({"x": 1, "y": 2}, {"x": 1, "y": 2}))
    assert mean_pairwise_spearman([a, a, {k: -v for k, v in a.items()}]) == pytest.approx(-1 / 3)


def test_union_swap_is_compared_with_the_same_masks():
    """A union paste widens R in A'; the "before" explanation must use those masks too, so a gain is not just R's
    larger mask. With a deterministic fill, A and A' differ only inside R, so R's fills are the same image and R's
    change grows exactly when the paste raised the similarity (what the report says about the gain)."""
    ma, mb = quadrants(), quadrants()
    mb["tl"] = np.roll(mb["tl"], 3, axis=1)  # B's region sits elsewhere: the union is larger than A's
    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (40, 40, 3)).astype(np.uint8)
    b = rng.integers(0, 256, (40, 40, 3)).astype(np.uint8)
    result = region_swap_test(a, b, ma, mb, block_embed, make_fill("inpaint"), blend="none", extent="union")
    for region, swap in result["swaps"].items():
        assert set(swap["base"]["both"]) == set(swap["deltas"]["both"])
        if region == "tl":  # the base was recomputed with R widened: different from the plain (A, B) one
            assert swap["base"]["both"]["tl"] != pytest.approx(result["base"]["both"]["tl"])
    rows = swap_outcomes(result)
    for r in rows:
        if r["variant"] in ("both", "a"):
            assert r["gain"] == (r["similarity_after"] > r["similarity_before"])
    assert {"rise_top1", "rank_gain"} <= set(rows[0])
