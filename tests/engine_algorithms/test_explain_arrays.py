"""explain_arrays on the synthetic additive pair, where every score is known in closed form."""

from __future__ import annotations

import pytest

from explain_engine.explain import explain_arrays
from explain_engine.table import explainability_table, method_agreement
from prompts import render


def test_explain_arrays_results_counterfactual_and_strength(additive_pair, bands, helpers):
    a, b, embed, cos_after, _ = additive_pair
    counted = helpers.CountingEmbed(embed)
    stages = []
    ex = explain_arrays(a, b, bands, bands, counted, helpers.CountingFill(), threshold=0.5,
                        progress=lambda stage, f: stages.append((stage, f)))
    ref = cos_after(set())
    assert ex.reference == pytest.approx(ref) and ex.decision == "match"
    assert set(ex.results) == {"s0", "s0_a_only", "s0_b_only", "s1", "avg", "s0_black"}
    assert ex.methods == ["s0", "s1", "avg", "s0_black"]
    assert ex.regions == ["r0", "r1", "r2", "r3"]
    for r in ex.regions:  # AVG is the mean of the normalised S0 and S1 maps
        assert ex.results["avg"].normalised[r] == pytest.approx(
            (ex.results["s0"].normalised[r] + ex.results["s1"].normalised[r]) / 2)
    # hiding r0 alone keeps the match (0.60 > 0.5); r0 then r1 flips it (0.38)
    cf = ex.counterfactual
    assert cf["flips"] and cf["regions"] == ["r0", "r1"] and cf["source"] == "s1"
    assert cf["score_after"] == pytest.approx(cos_after({0, 1}))
    st = ex.strength
    assert st["margin"] == pytest.approx(ref - 0.5)
    assert st["largest_single_region"] == "r0"
    assert st["largest_single_change"] == pytest.approx(ref - cos_after({0}))
    assert st["s1_cumulative_change"] >= st["largest_single_change"]
    assert st["weak"] is False and st["level"] == "strong" and "0.5" in render.strength_sentence(st)
    assert counted.images == ex.n_embeddings == sum(ex.n_embeddings_by_method.values())
    assert ex.n_embeddings_by_method["s0"] == 2 * 4 + 2
    assert {s for s, _ in stages} >= {"s0", "s1", "s0_black"} and all(0 <= f <= 1 for _, f in stages)
    assert set(ex.timings) >= {"s0", "s1", "s0_black"}
    assert ex.most_important_region == "r0" and ex.least_important_region == "r3"
    table = explainability_table(ex.table_columns())
    assert list(table.columns[:7]) == ["region", "S0", "S1", "AVG", "S0 black", "S0 (A only)", "S0 (B only)"]
    assert table.set_index("region").loc["r0", "S0"] == 1
    assert set(method_agreement({k: v.normalised for k, v in ex.results.items()})) >= {"s0~s1"}


def test_single_region_flip_weak_evidence_and_non_match(additive_pair, bands, helpers):
    a, b, embed, cos_after, _ = additive_pair
    ref = cos_after(set())
    near = explain_arrays(a, b, bands, bands, embed, helpers.CountingFill(), threshold=0.7, methods=("s0", "s1"))
    assert near.counterfactual["regions"] == ["r0"] and near.counterfactual["source"] == "s0"
    far = explain_arrays(a, b, bands, bands, embed, helpers.CountingFill(), threshold=0.3, methods=("s0",))
    assert far.strength["weak"] is True and far.strength["level"] == "weak"
    assert "weak evidence" in render.strength_sentence(far.strength)
    assert any("Weak evidence" in w for w in far.warnings)
    assert "s1" not in far.results and far.strength["s1_cumulative_change"] is None
    assert not far.counterfactual["flips"] and "S1 was not run" in render.counterfactual_sentence(far.counterfactual)
    nm = explain_arrays(a, b, bands, bands, embed, helpers.CountingFill(), threshold=0.9, methods=("s0", "s1"))
    assert nm.decision == "non-match" and nm.margin == pytest.approx(ref - 0.9)
    # every region only lowers the score, so nothing moves it towards a match
    assert nm.counterfactual["flips"] is False and "No set of regions" in render.counterfactual_sentence(nm.counterfactual)
    # r0 moves the score by 0.18, more than the 0.12 margin, but away from a match: it explains nothing here
    assert nm.strength["largest_abs_region"] == "r0" and nm.strength["largest_single_region"] is None
    assert nm.strength["level"] == "weak" and "away from the threshold" in render.strength_sentence(nm.strength)
    # different people: the user is pointed at the one-sided columns, and only then
    assert any("S0 (A only)" in w for w in nm.warnings)
    assert not any("S0 (A only)" in w for w in near.warnings + far.warnings)
    one = explain_arrays(a, b, bands, bands, embed, helpers.CountingFill(), threshold=0.9, methods=("s0",),
                         one_sided=False)
    assert not any("S0 (A only)" in w for w in one.warnings)  # no such columns to read
    mid = explain_arrays(a, b, bands, bands, embed, helpers.CountingFill(), threshold=0.45, methods=("s0",))
    # margin 0.33: r0's 0.18 is over half of it, and no single region flips the decision (S1 not run)
    assert mid.strength["level"] == "moderate" and mid.strength["weak"] is False


def test_regions_missing_in_one_photo_are_reported_absent(additive_pair, bands, helpers):
    a, b, embed, _, _ = additive_pair
    only_a = dict(bands)
    only_b = {k: v for k, v in bands.items() if k != "r3"}
    ex = explain_arrays(a, b, only_a, only_b, embed, helpers.CountingFill(), threshold=0.5, methods=("s0",),
                        one_sided=False, samples=2)
    assert "r3" not in ex.regions and "photo B" in ex.absent["r3"]
    assert set(ex.results) == {"s0"}
    assert ex.stability is not None and ex.stability["samples"] == 2
    assert set(ex.stability["per_region"]) == {"r0", "r1", "r2"}


def test_bad_inputs_get_clear_errors(additive_pair, bands, helpers):
    from models.errors import ConfigError, FaceXError

    a, b, embed, _, _ = additive_pair
    fill = helpers.CountingFill()
    with pytest.raises(ValueError, match="has shape"):
        explain_arrays(a, b, bands, {"r0": bands["r0"][:10]}, embed, fill, threshold=0.5)
    with pytest.raises(FaceXError, match="both photos"):
        explain_arrays(a, b, {"r0": bands["r0"]}, {"r1": bands["r1"]}, embed, fill, threshold=0.5)
    with pytest.raises(ConfigError, match="unknown method"):
        explain_arrays(a, b, bands, bands, embed, fill, threshold=0.5, methods=("s0", "lime"))
    with pytest.raises(ValueError, match="uint8"):
        explain_arrays(a.astype(float), b, bands, bands, embed, fill, threshold=0.5)


def test_strength_is_never_weak_and_strong_at_once():
    """A set of regions that flips the decision makes the map strong evidence even when no single region moves the
    score by half the margin; the record must not then also say weak (the CLI warned "Weak evidence" beside "strong")."""
    from explain_engine.attribution.types import region_result
    from explain_engine.explain import assess_strength

    s0 = region_result("s0", {"nose": -0.02, "eyes": -0.01}, reference=0.82)  # non-match: both raise the score
    flipped = assess_strength(s0, None, reference=0.82, threshold=0.92, flips=True)
    assert flipped["level"] == "strong" and flipped["weak"] is False
    alone = assess_strength(s0, None, reference=0.82, threshold=0.92, flips=False)
    assert alone["level"] == "weak" and alone["weak"] is True
