"""The real evaluation on two development pairs through `python -m explain_engine evaluate` (skips without photos)."""

from __future__ import annotations

import csv
import json

import pytest

REQUIRED = ("deletion", "insertion", "region_swap_top1", "region_swap_top3", "region_swap_gain", "seed_stability",
            "pairs")
METHODS = ("s0/inpaint", "s0/black", "s1/inpaint", "s1/black", "xface/occlusion", "fggb", "fggb_fast", "corrrise",
           "random")


@pytest.fixture(scope="module")
def two_pairs(face_pairs, tmp_path_factory):
    genuine = next(p for p in face_pairs if p[2] == 1)
    impostor = next(p for p in face_pairs if p[2] == 0)
    path = tmp_path_factory.mktemp("pairs") / "pairs.csv"
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["img_a", "img_b", "label"])
        for a, b, label in (genuine, impostor):
            w.writerow([str(a), str(b), label])  # absolute paths: --root does not matter
    return path


def test_cli_writes_summary_and_resumes(two_pairs, tmp_path):
    from explain_engine.__main__ import main

    out = tmp_path / "eval"
    argv = ["evaluate", str(two_pairs), "--out", str(out), "--steps", "3", "--seeds", "1", "--occlusion-stride", "40",
            "--corrrise-masks", "30", "--quiet"]
    assert main(argv) == 0
    summary = json.loads((out / "summary.json").read_text())
    for key in REQUIRED:
        assert key in summary
    assert set(summary["deletion"]) == set(METHODS) == set(summary["insertion"])
    for m in METHODS:
        assert 0.0 <= summary["deletion"][m] <= 100.0 and 0.0 <= summary["insertion"][m] <= 100.0
    assert summary["pairs"] == 2 and summary["computed_pairs"] == 2
    for key in ("region_swap_top1", "region_swap_top3", "region_swap_gain"):
        assert 0.0 <= summary[key] <= 1.0
    assert -1.0 <= summary["seed_stability"] <= 1.0
    # the hiding game (DFV) covers every map, over both pairs; every map has its cost
    assert set(summary["hiding_auc"]) == set(METHODS) == set(summary["method_seconds"])
    assert all(0.0 <= v <= 100.0 for v in summary["hiding_auc"].values())
    assert summary["method_seconds"]["fggb"] > 0 and summary["method_seconds"]["corrrise"] > 0
    assert "| FGGB |" in (out / "report.md").read_text() and "| FGGB fast |" in (out / "report.md").read_text()
    assert (out / "hiding_game.png").stat().st_size > 0
    for name in ("report.md", "ablation.csv", "curves.csv", "region_swap.csv", "region_statistics.csv",
                 "deletion_insertion.png", "region_importance.png", "region_swap.png"):
        assert (out / name).stat().st_size > 0, name
    assert "| S0 inpainting |" in (out / "report.md").read_text()
    assert len(list((out / "pairs").glob("*.json"))) == 2

    # second run: everything comes from the cache
    assert main(argv) == 0
    again = json.loads((out / "summary.json").read_text())
    assert again["computed_pairs"] == 0 and again["cached_pairs"] == 2
    assert again["deletion"] == summary["deletion"]


def test_cli_bad_input(tmp_path, capsys):
    from explain_engine.evaluation.cli import main

    assert main([str(tmp_path / "missing.csv"), "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err
