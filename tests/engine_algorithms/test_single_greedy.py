"""S0 Single Inpaint and S1 Greedy Inpaint on synthetic data with closed-form answers."""

from __future__ import annotations

import numpy as np
import pytest

from explain_engine.attribution import normalise
from explain_engine.attribution.greedy import greedy_inpaint
from explain_engine.attribution.single import single_inpaint
from explain_engine.perturbation import make_fill
from explain_engine.scoring import PairScorer, cosine


def one_region_pair(masks, seed=0, size=40):
    """A, B: different noise images sharing the pixels of band r2; the embedding is a fixed random projection of
    band r2's pixels plus a constant, so ONLY r2 can change the score."""
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    b = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
    key = masks["r2"]
    b[key] = a[key]
    proj = rng.normal(size=(int(key.sum()) * 3, 16))

    def embed(batch):
        x = batch[:, key].reshape(len(batch), -1).astype(np.float64) - 128
        return np.hstack([x @ proj / 100.0, np.full((len(batch), 1), 50.0)])

    return a, b, masks, embed


def test_s0_ranks_the_only_region_the_embedding_sees_first(bands):
    a, b, masks, embed = one_region_pair(bands)
    res = single_inpaint(a, b, masks, masks, embed, make_fill("inpaint"))
    s0 = res["both"]
    assert s0.reference == pytest.approx(1.0)
    assert s0.ranking()[0] == "r2"
    assert s0.deltas["r2"] > 0.01
    for r in ("r0", "r1", "r3"):
        assert s0.deltas[r] == pytest.approx(0.0, abs=1e-9)
    assert max(abs(v) for v in s0.normalised.values()) == 1.0
    assert s0.normalised["r2"] == 1.0


def test_normalisation_is_eq_3_4_and_keeps_signs():
    n = normalise({"x": 0.02, "y": -0.04, "z": 0.01})
    assert n == {"x": 0.5, "y": -1.0, "z": 0.25}
    assert normalise({"x": 1e-9, "y": -2e-9}) == {"x": 0.0, "y": 0.0}  # rounding noise is not blown up to ±1


def test_s0_both_and_one_sided_cost_2r_plus_2_embeddings_and_one_fill_per_region(bands, additive_pair, helpers):
    a, b, embed, _, _ = additive_pair
    counted = helpers.CountingEmbed(embed)
    fill = helpers.CountingFill()
    scorer = PairScorer(counted, a, b)
    res = single_inpaint(None, None, bands, bands, scorer, fill, variants=("both", "a", "b"))
    r = len(bands)
    assert counted.images == scorer.n_embeddings == 2 * r + 2
    assert fill.calls == 2 * r
    assert counted.calls <= 2  # references + one batch of perturbed crops
    # one-sided variants compare against the cached unperturbed embedding of the other photo
    ea, eb = embed(np.stack([a, b]))
    for name, mask in bands.items():
        fa = fill(a, mask)
        fb = fill(b, mask)
        s_a = cosine(embed(fa[None])[0], eb)
        s_b = cosine(ea, embed(fb[None])[0])
        assert res["a"].deltas[name] == pytest.approx(res["a"].reference - s_a, abs=1e-12)
        assert res["b"].deltas[name] == pytest.approx(res["b"].reference - s_b, abs=1e-12)
    assert {v.variant for v in res.values()} == {"both", "a", "b"}


def test_s0_matches_closed_form(bands, additive_pair, helpers):
    a, b, embed, cos_after, _ = additive_pair
    res = single_inpaint(a, b, bands, bands, embed, helpers.CountingFill(), variants=("both",))["both"]
    assert res.reference == pytest.approx(cos_after(set()))
    for i in range(4):
        assert res.deltas[f"r{i}"] == pytest.approx(cos_after(set()) - cos_after({i}), rel=1e-9)
    assert res.ranking() == ["r0", "r1", "r2", "r3"]


def test_s1_negative_run_takes_regions_in_decreasing_effect_order_and_stops_under_min_change(bands, additive_pair,
                                                                                           helpers):
    a, b, embed, cos_after, _ = additive_pair
    # the 4th step (band r3, v=5) lowers the score by less than this: the run must stop after 3 steps
    step4 = cos_after({0, 1, 2}) - cos_after({0, 1, 2, 3})
    step3 = cos_after({0, 1}) - cos_after({0, 1, 2})
    min_change = (step3 + step4) / 2
    res = greedy_inpaint(a, b, bands, bands, embed, helpers.CountingFill(), min_change=min_change)
    neg = res.details["paths"]["negative"]
    assert neg.regions == ["r0", "r1", "r2"]
    assert neg.scores == pytest.approx([cos_after({0}), cos_after({0, 1}), cos_after({0, 1, 2})])
    assert "no remaining region" in neg.stopped
    # hiding any band only lowers the score: the positive run accepts nothing
    assert res.details["paths"]["positive"].regions == []
    # H = H_neg - H_pos, the decreases credited to the chosen regions, normalised by eq. 3.4
    assert res.deltas["r0"] == pytest.approx(cos_after(set()) - cos_after({0}))
    assert res.deltas["r1"] == pytest.approx(cos_after({0}) - cos_after({0, 1}))
    assert res.deltas["r3"] == 0.0
    assert max(abs(v) for v in res.normalised.values()) == 1.0
    top = max(res.deltas, key=res.deltas.get)  # a later step can lower the score more than the first
    assert res.normalised[top] == 1.0


def test_s1_max_steps_and_first_step_reuses_s0(bands, additive_pair, helpers):
    a, b, embed, _, _ = additive_pair
    counted = helpers.CountingEmbed(embed)
    fill = helpers.CountingFill()
    scorer = PairScorer(counted, a, b)
    s0 = single_inpaint(None, None, bands, bands, scorer, fill, variants=("both",))["both"]
    fills_before, emb_before = fill.calls, scorer.n_embeddings
    res = greedy_inpaint(None, None, bands, bands, scorer, fill, max_steps=2, min_change=0.0,
                         s0_fills=s0.details["fills"], s0_scores=s0.details["scores"], runs=("negative",))
    neg = res.details["paths"]["negative"]
    assert neg.regions == ["r0", "r1"] and "max_steps" in neg.stopped
    # step 1 is free (S0's fills and scores); step 2 fills and embeds the 3 remaining regions in both photos
    assert fill.calls - fills_before == 2 * 3
    assert scorer.n_embeddings - emb_before == res.n_embeddings == 2 * 3


def test_s1_positive_run_finds_regions_that_raise_the_score(helpers):
    # region "bad" differs between the photos; hiding it in both makes them more alike
    size = 40
    masks = helpers.band_masks(size, bands=2, band_h=10)
    a = np.full((size, size, 3), 128, np.uint8)
    b = a.copy()
    a[0:10] = 200
    b[0:10] = 40
    a[10:20] = 180
    b[10:20] = 180
    a[20:], b[20:] = 160, 160

    def embed(batch):
        x = batch.astype(np.float64).mean(axis=3) - 128
        return np.stack([x[:, 0:10].mean((1, 2)), x[:, 10:20].mean((1, 2)), x[:, 20:].mean((1, 2))], axis=1)

    res = greedy_inpaint(a, b, masks, masks, embed, helpers.CountingFill())
    assert res.details["paths"]["positive"].regions[0] == "r0"
    assert res.deltas["r0"] < 0 and res.normalised["r0"] == -1.0
    assert res.deltas["r1"] > 0  # shared content supports the similarity


def test_identical_pair_has_no_negative_regions(bands):
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    proj = rng.normal(size=(40 * 40 * 3, 32))

    def embed(batch):  # a dense random projection: every pixel matters, like a real network
        return (batch.reshape(len(batch), -1).astype(np.float32) / 255.0) @ proj.astype(np.float32)

    res = single_inpaint(img, img.copy(), bands, bands, embed, make_fill("inpaint"))["both"]
    assert res.reference == pytest.approx(1.0, abs=1e-6)
    assert all(d >= -1e-6 for d in res.deltas.values())
    assert all(v >= 0 for v in res.normalised.values())
