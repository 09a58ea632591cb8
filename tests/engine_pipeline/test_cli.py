"""``python -m explain_engine``: explain end to end, verify, calibrate, and one clear line with exit 2 on bad input."""

from __future__ import annotations

import csv
import json

import pandas as pd
import pytest

from explain_engine.__main__ import main


@pytest.fixture(scope="module")
def cli_run(engine, image_files, tmp_path_factory):
    """The astronaut against its mirrored, shifted copy with S0, S1 and black S0, written by the CLI."""
    out = tmp_path_factory.mktemp("cli_out")
    rc = main([
        "explain", str(image_files["astronaut"]), str(image_files["variant"]), "--out", str(out),
        "--methods", "s0,s1,s0_black", "--max-steps", "2", "--quiet",
    ])  # fmt: skip
    return rc, out


def test_explain_writes_json_pngs_and_csv(cli_run, capsys):
    rc, out = cli_run
    assert rc == 0
    d = json.loads((out / "explanation.json").read_text())
    assert d["decision"] == "match"
    assert d["methods"] == ["s0", "s1", "avg", "s0_black"]
    for method, files in d["heatmaps"].items():
        if method == "legend":
            assert (out / files).exists()
            continue
        assert set(files) == {"a", "b", "overlay_a", "overlay_b", "blend_a", "blend_b"}
        for name in files.values():
            assert (out / name).stat().st_size > 0, name
    table = pd.read_csv(out / "table.csv")
    assert {"region", "S0", "S1", "AVG", "S0 black", "Mean", "Ratio of 1s"} <= set(table.columns)
    assert len(table) == sum(r["present"] for r in d["regions"])
    assert set(table["S0"]) <= {1, 2, 3, 4, 5}
    # every map is normalised by its own largest change (thesis eq. 3.4)
    for method in ("s0", "s1", "avg", "s0_black"):
        values = [r["methods"][method]["contribution"] for r in d["regions"] if r["present"]]
        if method != "avg":  # AVG is the mean of two normalised maps, not renormalised
            assert max(abs(v) for v in values) == 1.0
        assert all(-1.0 <= v <= 1.0 for v in values)
    assert d["strength"]["s1_cumulative_change"] is not None
    assert d["timings"]["s0"] > 0 and d["timings"]["s1"] > 0
    assert 0.5 <= d["confidence"] <= 1.0


def test_verify_prints_the_decision(engine, image_files, capsys):
    rc = main(["verify", str(image_files["astronaut"]), str(image_files["variant"]), "--json"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    assert d["decision"] == "match" and d["faces_found"] == {"a": 1, "b": 1}


@pytest.mark.parametrize(
    "key, message",
    [
        ("coffee", "no face found"),
        ("tiny", "the face is only"),
        ("garbage", "not an image file"),
        ("missing", "file not found"),
    ],
)
def test_bad_input_exits_2_with_one_line(engine, image_files, capsys, key, message):
    bad = image_files["astronaut"].with_name("missing.png") if key == "missing" else image_files[key]
    rc = main(["verify", str(bad), str(image_files["astronaut"])])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("error: ") and message in err[0]
    assert "Traceback" not in err[0]


def test_identical_files_warn_not_fail(engine, image_files, capsys):
    rc = main(["verify", str(image_files["astronaut"]), str(image_files["astronaut"])])
    out = capsys.readouterr().out
    assert rc == 0 and "identical" in out


def test_unknown_option_value_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["explain", "a.png", "b.png", "--out", "x", "--perturbation", "paint"])
    assert exc.value.code == 2


def test_calibrate_fits_and_writes(engine, face_pairs, faces_dir, tmp_path, capsys):
    """Calibration from a subset of the development pairs (9 photos: 16 genuine, 20 impostor pairs) through the CLI."""
    subset = {f"obama/{k}.jpg" for k in range(1, 5)} | {f"mark/{k}.jpg" for k in range(1, 6)}
    rows = [(a.relative_to(faces_dir).as_posix(), b.relative_to(faces_dir).as_posix(), label)
            for a, b, label in face_pairs]
    rows = [r for r in rows if r[0] in subset and r[1] in subset]
    pairs = tmp_path / "pairs.csv"
    with open(pairs, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["img_a", "img_b", "label"])
        w.writerows(rows)
    out = tmp_path / "cal.json"
    rc = main(["calibrate", str(pairs), "--root", str(faces_dir), "--out", str(out), "--quiet", "--fmr", "0.01"])
    printed = capsys.readouterr().out
    assert rc == 0
    assert "accuracy" in printed and "EER" in printed and "C-score logistic" in printed
    cal = json.loads(out.read_text())
    n_genuine = sum(1 for r in rows if r[2] == 1)
    assert cal["n_genuine"] == n_genuine and cal["n_impostor"] == len(rows) - n_genuine
    assert min(cal["genuine_scores"]) > cal["threshold"] > max(cal["impostor_scores"])
    assert cal["accuracy"] == 1.0 and cal["fmr_target"] == 0.01
    assert str(pairs) in cal["fitted_on"] and cal["provenance"]["embedder"] == "dlib-torch"


def test_calibrate_with_a_bad_pairs_file_exits_2(tmp_path, capsys):
    bad = tmp_path / "pairs.csv"
    bad.write_text("a,b\n1,2\n")
    assert main(["calibrate", str(bad)]) == 2
    assert "img_a, img_b, label" in capsys.readouterr().err
