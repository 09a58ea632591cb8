"""Robustness of the leading region (explain_engine.robustness, rule leading_robust_v2)."""

from __future__ import annotations

import numpy as np
import pytest

from explain_engine import robustness as rb
from explain_engine.perturbation import make_fill

MAIN = {"eyes": 0.05, "nose": 0.02, "mouth": 0.01, "chin": -0.01}


def _runs(leaders: list[str]) -> dict:
    runs = []
    for lead in leaders:
        run = {r: v * 0.9 for r, v in MAIN.items()}
        run[lead] = 0.06
        runs.append(run)
    return {"runs": runs, "reference_sd": 0.0005}


def test_leading_region_is_robust_when_every_check_holds():
    sec = rb.robustness_section(MAIN, "match", fills={"blur": {**MAIN, "eyes": 0.045}},
                                jitter=_runs(["eyes"] * 5),
                                methods={"s0": MAIN, "s1": {**MAIN, "eyes": 0.2}, "avg": MAIN, "s0_black": MAIN},
                                main_fill="inpaint:telea")
    assert sec["leading_robust"] is True and sec["leading_region"] == "eyes"
    assert sec["checks"] == {"supports": True, "fill": True, "jitter": True, "margin": True, "methods": True}
    assert sec["rule"] == rb.ROBUST_RULE
    eyes = sec["per_region"]["eyes"]
    assert eyes["by_fill"] == {"inpaint:telea": 0.05, "blur": 0.045}
    assert eyes["sd_fill"] == pytest.approx(np.std([0.05, 0.045], ddof=1))
    assert eyes["sd_jitter"] == pytest.approx(0.0) and sec["jitter"]["leading_share"] == 1.0
    assert sec["noise_floor"] == pytest.approx(0.002)  # 2 x 0.0005 is under the default floor
    # AVG is built from S0 and S1: never compared with them
    pairs = {(p["a"], p["b"]) for p in sec["method_agreement"]["pairs"]}
    assert ("s0", "s1") in pairs and not {("s0", "avg"), ("s1", "avg")} & pairs
    assert sec["method_agreement"]["counted"] == ["s0_black"]


OTHER = {"eyes": 0.01, "nose": 0.03, "mouth": 0.04, "chin": -0.01}  # a map that puts the mouth in the lead


def _robust_apart_from_methods(methods: dict) -> dict:
    return rb.robustness_section(MAIN, "match", fills={"blur": MAIN}, jitter=_runs(["eyes"] * 5), methods=methods)


def test_s0_and_s1_alone_do_not_confirm_the_leading_region_when_pixel_methods_name_another():
    # the finding: S0 and S1 name the eyes, FGGB and CorrRISE the mouth; v1 counted 2 of 4 = half and said robust
    sec = _robust_apart_from_methods({"s0": MAIN, "s1": MAIN, "fggb": OTHER, "corrrise": OTHER})
    agreement = sec["method_agreement"]
    assert agreement["leading_regions"] == {"s0": "eyes", "s1": "eyes", "fggb": "mouth", "corrrise": "mouth"}
    assert agreement["counted"] == ["fggb", "corrrise"] and agreement["leading_share"] == 0.0
    assert sec["checks"]["methods"] is False
    assert sec["leading_robust"] is False and sec["leading_region"] is None
    text = rb.statement(sec)
    assert text.startswith("No region leads robustly") and "The eyes leads robustly" not in text
    assert "only 0 of 2 methods independent of S0's ranking (FGGB, CorrRISE)" in text


def test_s0_black_and_corrrise_agreeing_with_s0_make_it_robust():
    sec = _robust_apart_from_methods({"s0": MAIN, "s1": OTHER, "s0_black": MAIN, "corrrise": MAIN, "fggb": OTHER,
                                      "avg": OTHER})
    assert sec["method_agreement"]["counted"] == ["s0_black", "corrrise", "fggb"]
    assert sec["method_agreement"]["leading_share"] == pytest.approx(2 / 3)
    assert sec["checks"]["methods"] is True and sec["leading_robust"] is True and sec["leading_region"] == "eyes"
    text = rb.statement(sec)
    assert text.startswith("The eyes leads robustly") and "2 of 3 methods independent of S0's ranking (S0 black, CorrRISE, FGGB)" in text


def test_only_s0_and_s1_run_leaves_the_methods_check_unmeasured():
    sec = _robust_apart_from_methods({"s0": MAIN, "s1": MAIN, "avg": MAIN})
    assert sec["checks"]["methods"] is None and "methods" in sec["not_measured"]
    assert "Not checked: methods independent of S0's ranking" in rb.statement(sec)


def test_a_v1_section_is_judged_again_by_the_current_rule():
    old = _robust_apart_from_methods({"s0": MAIN, "s1": MAIN, "fggb": OTHER, "corrrise": OTHER})
    # what rule v1 wrote for it: S0 and S1 were counted, 2 of 4 = half, robust
    old.update(rule="leading_robust_v1", leading_robust=True, leading_region="eyes",
               checks={**old["checks"], "methods": True}, not_measured=[])
    old["method_agreement"] = {k: v for k, v in old["method_agreement"].items() if k != "counted"}
    old["method_agreement"]["leading_share"] = 0.5
    now = rb.current(old)
    assert now["leading_robust"] is False and now["leading_region"] is None and now["checks"]["methods"] is False
    assert now["rule"] == rb.ROBUST_RULE and old["rule"] == "leading_robust_v1"  # the input is not changed
    assert rb.statement(old).startswith("No region leads robustly")
    # a v1 section the current rule agrees with keeps its verdict; a current section is returned as it is
    agreed = {**old, "method_agreement": {**old["method_agreement"],
                                          "leading_regions": {"s0": "eyes", "s1": "eyes", "s0_black": "eyes"}}}
    assert rb.current(agreed)["leading_robust"] is True
    fresh = _robust_apart_from_methods({"s0": MAIN, "s0_black": MAIN})
    assert rb.current(fresh) is fresh


def test_another_fill_with_another_leader_means_no_region_leads_robustly():
    sec = rb.robustness_section(MAIN, "match", fills={"blur": {**MAIN, "nose": 0.09}}, jitter=_runs(["eyes"] * 5))
    assert sec["candidate_region"] == "eyes"
    assert sec["leading_region"] is None and sec["leading_robust"] is False
    assert sec["checks"]["fill"] is False and sec["fills"]["blur"]["leading_region"] == "nose"


def test_jitter_that_moves_the_lead_breaks_robustness():
    sec = rb.robustness_section(MAIN, "match", jitter=_runs(["eyes", "eyes", "eyes", "nose", "nose"]))
    assert sec["jitter"]["leading_share"] == pytest.approx(0.6)
    assert sec["checks"]["jitter"] is False and sec["leading_region"] is None
    assert sec["checks"]["fill"] is None and "fill" in sec["not_measured"]


def test_lead_within_the_measurement_spread_is_not_robust():
    main = {"eyes": 0.050, "nose": 0.048, "mouth": 0.0}
    sec = rb.robustness_section(main, "match", fills={"blur": {"eyes": 0.051, "nose": 0.040, "mouth": 0.0},
                                                      "inpaint:ns": {"eyes": 0.060, "nose": 0.030, "mouth": 0.0}})
    assert sec["checks"]["fill"] is True
    assert sec["checks"]["margin"] is False  # gap 0.002 < 2 x sd over fills
    assert sec["leading_robust"] is False


def test_non_match_leader_is_the_region_that_set_the_faces_apart_and_nothing_below_the_floor_leads():
    sec = rb.robustness_section({"eyes": -0.06, "chin": 0.01}, "non-match")
    assert sec["candidate_region"] == "eyes" and sec["leading_robust"] is True  # nothing measured against it
    assert set(sec["not_measured"]) == {"fill", "jitter", "margin", "methods"}
    flat = rb.robustness_section({"eyes": 0.001, "chin": -0.001}, "match")
    assert flat["candidate_region"] is None and flat["leading_robust"] is False
    assert flat["checks"]["supports"] is False


def test_methods_that_name_other_leaders_break_robustness_and_derived_maps_never_vote():
    other = {"eyes": 0.0, "nose": 0.01, "mouth": 0.05, "chin": 0.0}
    sec = rb.robustness_section(MAIN, "match", methods={"s0": MAIN, "s1": other, "s0_black": other, "avg": MAIN,
                                                        "s0_a_only": MAIN, "s0_b_only": MAIN})
    assert sec["method_agreement"]["leading_regions"] == {"s0": "eyes", "s1": "mouth", "s0_black": "mouth"}
    assert sec["checks"]["methods"] is False
    pairs = {(p["a"], p["b"]) for p in sec["method_agreement"]["pairs"]}
    assert ("s0", "avg") not in pairs and ("s1", "avg") not in pairs and ("s0", "s0_a_only") not in pairs
    assert ("s0", "s1") in pairs and ("s1", "s0_black") in pairs


def test_independent_pairs_skip_maps_built_from_each_other():
    pairs = rb.independent_pairs(["s0", "s1", "avg", "s0_black", "s0_a_only"])
    assert ("s0", "avg") not in pairs and ("s1", "avg") not in pairs and ("s0", "s0_a_only") not in pairs
    assert ("avg", "s0_a_only") not in pairs
    assert ("avg", "s0_black") in pairs and ("s0", "s0_black") in pairs


def test_noise_floor_follows_the_jitter_spread():
    assert rb.noise_floor(None) == rb.DEFAULT_NOISE_FLOOR
    assert rb.noise_floor(0.005) == pytest.approx(0.010)


def _bands_pair():
    size = 48
    v = [70.0, 40.0, 15.0, 3.0]
    a = np.full((size, size, 3), 128, dtype=np.uint8)
    for i, vi in enumerate(v):
        a[4 + i * 10: 4 + (i + 1) * 10, 4:44] = 128 + vi
    b = a.copy()
    a[44:, 4:44] = 128 + 30  # a strip outside every region that differs between A and B
    b[44:, 4:44] = 128 - 30
    masks = {}
    for i in range(4):
        m = np.zeros((size, size), bool)
        m[4 + i * 10: 4 + (i + 1) * 10, 4:44] = True
        masks[f"r{i}"] = m

    def embed(batch):
        x = batch.astype(np.float64).mean(axis=3) - 128.0
        feats = [np.full(len(batch), 30.0)] + [x[:, 4 + i * 10: 4 + (i + 1) * 10, 4:44].mean(axis=(1, 2))
                                             for i in range(4)]
        feats.append(x[:, 44:, 4:44].mean(axis=(1, 2)))
        return np.stack(feats, axis=1)

    return a, b, masks, embed


def test_assess_measures_fills_and_jitters_with_a_known_embedding():
    a, b, masks, embed = _bands_pair()
    calls = []

    def counting(batch):
        calls.append(len(batch))
        return embed(batch)

    fill = make_fill("mean")
    sec, used = rb.assess(a, b, masks, masks, counting, fill, decision="match",
                          main={"r0": 0.3, "r1": 0.1, "r2": 0.02, "r3": 0.0}, alternative_fills=("black", "blur"),
                          jitter_samples=3)
    assert used == sum(calls)
    assert used == 2 + 2 * 2 * 4 + 3 * (2 + 2 * 4)  # scorer refs + 2 fills x 2R + 3 jitters x (2 + 2R)
    assert set(sec["fills"]) == {"black", "blur"}
    assert sec["fills"]["blur"]["leading_region"] == "r0"  # the band carrying most of the shared identity
    # black (value -128) makes every band MORE alike in this embedding: nothing supports the match under it, and
    # the record says the leader did not survive that fill
    assert sec["fills"]["black"]["leading_region"] is None and sec["checks"]["fill"] is False
    assert sec["jitter"]["samples"] == 3 and sec["jitter"]["leading_regions"] == ["r0"] * 3
    for r in masks:
        assert sec["per_region"][r]["sd_fill"] is not None and sec["per_region"][r]["sd_jitter"] is not None
    assert sec["candidate_region"] == "r0" and sec["leading_region"] is None
    from explain_engine.attribution.single import single_inpaint

    main = single_inpaint(a, b, masks, masks, embed, fill, variants=("both",))["both"].deltas
    sec2, _ = rb.assess(a, b, masks, masks, embed, fill, decision="match", main=main, alternative_fills=(),
                        jitter_samples=4)
    assert sec2["leading_region"] == "r0" and sec2["leading_robust"] is True
    assert sec2["checks"]["margin"] is True and sec2["checks"]["fill"] is None


def test_build_fill_knows_the_offline_fills():
    assert rb.build_fill("inpaint:ns").name == "inpaint:ns"
    assert rb.build_fill("blur").name == "blur"
    from models.errors import ConfigError

    with pytest.raises(ConfigError):
        rb.build_fill("inpaint:lama")


def test_statement_names_the_robust_leader_or_what_failed():
    ok = rb.robustness_section(MAIN, "match", fills={"blur": MAIN}, jitter=_runs(["eyes"] * 5),
                               methods={"s0": MAIN, "s1": MAIN})
    text = rb.statement(ok)
    assert text.startswith("The eyes leads robustly") and "blur" in text and "100% of 5" in text
    bad = rb.robustness_section(MAIN, "match", fills={"blur": {**MAIN, "nose": 0.09}})
    text = rb.statement(bad)
    assert text.startswith("No region leads robustly: the eyes leads this map, but another fill (blur)")
    assert "Not checked: re-aligned faces; methods independent of S0's ranking" in text
    flat = rb.robustness_section({"left_eye": 0.001}, "match")
    assert rb.statement(flat).startswith("No region leads")
    assert rb._region_words("left_eye") == "eye (person's left)"
