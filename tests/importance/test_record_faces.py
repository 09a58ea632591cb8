"""On real development photos: the record's decision-relative importance, robustness and absolute-scale maps.
Skips without /work/shared/faces (the photos are never in the repository)."""

from __future__ import annotations

import json

import numpy as np
import pytest


@pytest.fixture(scope="module")
def engine():
    from explain_engine import Engine, EngineConfig

    return Engine(EngineConfig(methods=("s0", "s1", "s0_black")))


@pytest.fixture(scope="module")
def explained(engine, faces_dir, tmp_path_factory):
    out = {}
    for label, (a, b) in {"match": ("obama/1.jpg", "obama/2.jpg"), "non-match": ("obama/1.jpg", "biden/1.jpg")}.items():
        exp = engine.explain(faces_dir / a, faces_dir / b)
        folder = exp.save(tmp_path_factory.mktemp(label.replace("-", "")))
        out[label] = (exp, json.loads((folder / "explanation.json").read_text()), folder)
    return out


@pytest.mark.parametrize("decision", ["match", "non-match"])
def test_most_important_region_moved_the_score_towards_the_decision(explained, decision):
    _, record, _ = explained[decision]
    assert record["decision"] == decision
    top = record["most_important_region"]
    primary = record["importance_by"]
    deltas = {r["name"]: r["methods"][primary]["delta"] for r in record["regions"] if r["present"]}
    toward = {r: (d if decision == "match" else -d) for r, d in deltas.items()}
    assert top == max(toward, key=toward.get)  # hiding it lowered (match) / raised (non-match) the score most
    row = next(r for r in record["regions"] if r["name"] == top)
    assert row["methods"][primary]["role"] == "supports" and row["methods"][primary]["importance"] == 1
    for r in record["regions"]:
        if r["present"]:
            for v in r["methods"].values():
                assert v["abs_change"] == pytest.approx(abs(v["delta"]))
                if v["abs_change"] <= record["noise_floor"]:
                    assert v["role"] == "neutral" and v["importance"] == 5
    assert record["importance_rule"] == "decision_relative_v1"


def test_robustness_section_is_in_the_record(explained):
    for _, record, folder in explained.values():
        rob = record["robustness"]
        assert rob["rule"] == "leading_robust_v2"
        agreement = rob["method_agreement"]
        assert "s0" in agreement["leading_regions"] and "s1" in agreement["leading_regions"]
        # S0 cannot confirm itself and S1 starts from S0's top region: neither counts for the methods check
        assert "s0" not in agreement["counted"] and "s1" not in agreement["counted"]
        if agreement["counted"]:
            share = np.mean([agreement["leading_regions"][m] == rob["candidate_region"] for m in agreement["counted"]])
            assert agreement["leading_share"] == pytest.approx(share)
        assert set(rob["checks"]) == {"supports", "fill", "jitter", "margin", "methods"}
        assert rob["leading_robust"] == (rob["leading_region"] is not None)
        for row in rob["per_region"].values():
            assert row["sd_fill"] is not None and row["sd_fill"] >= 0
            assert row["sd_jitter"] is not None and row["sd_jitter"] >= 0
            assert len(row["by_fill"]) == 3  # TELEA + NS + blur
        pairs = {(p["a"], p["b"]) for p in rob["method_agreement"]["pairs"]}
        assert not any("avg" in p for p in pairs)  # never AVG against its own parts
        assert not any("avg" in k for k in record["agreement"])
        table = (folder / "table.csv").read_text().splitlines()
        assert "S0 role" in table[0] and "S0 change" in table[0] and "decision_relative_v1" in table[1]


def test_absolute_maps_use_the_models_fixed_range(explained):
    from explain_engine.heatmaps import model_scale

    exp, record, _ = explained["match"]
    assert record["heatmap_scale"]["rule"] == "genuine_impostor_median_gap"
    assert 0.14 < record["heatmap_scale"]["vmax"] < 0.15
    absolute, _ = exp.heatmaps_on("absolute")
    normalised, _ = exp.heatmaps_on("normalised")
    largest = max(abs(v) for v in exp.arrays.results["s0"].deltas.values())
    assert largest < record["heatmap_scale"]["vmax"]
    # a map whose largest change is below the model's range is paler than its per-map normalised version
    sat = lambda img: float(np.asarray(img, float).std(axis=2).max())
    assert sat(absolute["s0"]["a"]) < sat(normalised["s0"]["a"])
    assert {"s0_a_only", "s0_b_only"} <= set(absolute)
    assert model_scale(None)["rule"] == "default_range"
