"""Decision-relative importance (explain_engine.table.decision_relative, rule decision_relative_v1)."""

from __future__ import annotations

import pytest

from explain_engine.table import (
    DECISION_RULE,
    decision_relative,
    explainability_table,
    importance_levels,
    most_important,
    strongest_against,
)


def test_match_most_important_is_the_region_whose_hiding_lowered_the_score_most():
    # ΔS = S_ref - S_perturbed: positive = hiding lowered the similarity
    deltas = {"eyes": 0.030, "nose": 0.010, "mouth": -0.020, "chin": 0.0005}
    rel = decision_relative(deltas, "match", noise_floor=0.002)
    assert most_important(rel) == "eyes"
    assert rel["eyes"] == {"level": 1, "role": "supports", "abs_change": pytest.approx(0.030),
                           "toward_decision": pytest.approx(0.030)}
    assert rel["mouth"]["role"] == "against"
    assert rel["chin"]["role"] == "neutral" and rel["chin"]["level"] == 5
    assert strongest_against(rel) == "mouth"


def test_non_match_most_important_is_the_region_whose_hiding_raised_the_score_most():
    # the case: hiding the eyes RAISED the similarity by 0.065 (they set the faces apart); the chin's
    # 0.012 went the other way
    deltas = {"eyes": -0.065, "nose": -0.020, "chin": 0.012, "mouth": 0.001}
    rel = decision_relative(deltas, "non-match", noise_floor=0.002)
    assert most_important(rel) == "eyes"
    assert rel["eyes"]["level"] == 1 and rel["eyes"]["role"] == "supports"
    assert rel["chin"]["role"] == "against" and rel["chin"]["level"] == 5  # 0.012 is small next to 0.065
    assert rel["mouth"]["role"] == "neutral"
    # the paper's signed rule got this exactly the wrong way round
    assert importance_levels({k: v / 0.065 for k, v in deltas.items()})["eyes"] == 5


def test_near_zero_effect_never_gets_level_one_because_another_region_is_strongly_negative():
    deltas = {"chin": 0.0004, "forehead": 0.0001, "eyes": -0.06, "nose": -0.05}
    # the old signed rule: the near-zero chin sits at the top of the observed range -> level 1
    assert importance_levels({k: v / 0.06 for k, v in deltas.items()})["chin"] == 1
    for decision in ("match", "non-match"):
        rel = decision_relative(deltas, decision, noise_floor=0.002)
        assert rel["chin"]["level"] == 5 and rel["chin"]["role"] == "neutral"
        assert rel["forehead"]["level"] == 5
    assert most_important(decision_relative(deltas, "match")) is None  # nothing supports a match here
    assert most_important(decision_relative(deltas, "non-match")) == "eyes"


def test_everything_below_the_noise_floor_is_neutral_and_nothing_leads():
    rel = decision_relative({"a": 0.001, "b": -0.0015, "c": 0.0}, "match", noise_floor=0.002)
    assert {d["role"] for d in rel.values()} == {"neutral"}
    assert {d["level"] for d in rel.values()} == {5}
    assert most_important(rel) is None


def test_levels_are_five_equal_intervals_of_the_size_of_the_effect():
    deltas = {"a": 0.10, "b": 0.081, "c": -0.079, "d": 0.05, "e": 0.02, "f": 0.0199}
    rel = decision_relative(deltas, "match", noise_floor=0.0)
    assert {k: v["level"] for k, v in rel.items()} == {"a": 1, "b": 1, "c": 2, "d": 3, "e": 5, "f": 5}
    assert rel["c"]["role"] == "against"


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="decision"):
        decision_relative({"a": 0.1}, "maybe")
    with pytest.raises(ValueError, match="noise_floor"):
        decision_relative({"a": 0.1}, "match", noise_floor=-1)
    assert decision_relative({"a": float("nan"), "b": None}, "match") == {}


def test_table_says_how_levels_were_assigned_and_shows_the_change():
    deltas = {"S0": {"eyes": -0.065, "chin": 0.012, "mouth": 0.0004},
              "S1": {"eyes": -0.08, "chin": 0.03, "mouth": -0.001}}
    normalised = {c: {r: v / max(abs(x) for x in d.values()) for r, v in d.items()} for c, d in deltas.items()}
    df = explainability_table(normalised, by="decision", deltas=deltas, decision="non-match", noise_floor=0.002)
    row = df.set_index("region")
    assert row.loc["eyes", "S0"] == 1 and row.loc["eyes", "S0 role"] == "supports"
    assert row.loc["eyes", "S0 change"] == pytest.approx(0.065)
    assert row.loc["chin", "S0 role"] == "against" and row.loc["mouth", "S0 role"] == "neutral"
    assert row.loc["eyes", "Ratio of 1s"] == 1.0
    assert row.loc["chin", "Ratio of 1s"] == 0.0  # S1 gives the chin level 3 at most, and it argues against
    assert set(df["Level rule"]) == {DECISION_RULE} and df.attrs["rule"] == DECISION_RULE
    assert "S0 role" in df.to_csv(index=False).splitlines()[0]
    with pytest.raises(ValueError, match="deltas"):
        explainability_table(normalised, by="decision")


def test_rule_codes_have_words_in_prompts():
    import prompts

    words = prompts.read_data_file(prompts.PROMPTS_DIR / "importance.yaml")
    assert DECISION_RULE in words["rules"]
    assert set(words["roles"]) == {"supports", "against", "neutral"}
