"""``python -m explain_engine calibrate``: the LR model, figures and plots; bad pairs files and too-small sets."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from explain_engine.__main__ import main
from explain_engine.calibration import Calibration
from explain_engine.pairs import read_pairs
from models.errors import FaceXError

SHIPPED = "explain_engine/calibrations/dlib-torch.json"


def test_binary_file_as_pairs_csv_exits_2_with_one_line(tmp_path, capsys):
    bad = tmp_path / "pairs.csv"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    out = tmp_path / "out"
    assert main(["calibrate", str(bad), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "not a readable CSV text file" in err[0]
    assert not out.exists()


def test_spreadsheet_csv_with_byte_order_mark_reads(tmp_path):
    p = tmp_path / "pairs.csv"
    p.write_bytes("img_a,img_b,label\r\na/1.jpg,a/2.jpg,1\r\na/1.jpg,b/1.jpg,0\r\n".encode("utf-8-sig"))
    rows = read_pairs(p, tmp_path)
    assert rows == [(tmp_path / "a/1.jpg", tmp_path / "a/2.jpg", 1), (tmp_path / "a/1.jpg", tmp_path / "b/1.jpg", 0)]


def test_bad_label_names_the_line(tmp_path):
    p = tmp_path / "pairs.csv"
    p.write_text("img_a,img_b,label\na,b,1\na,c,yes\n")
    with pytest.raises(FaceXError, match="label must be 0 or 1, not 'yes'"):
        read_pairs(p, tmp_path)


def _write_pairs(path, rows):
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["img_a", "img_b", "label"])
        w.writerows(rows)


def test_one_genuine_and_one_impostor_pair_are_refused(engine, faces_dir, tmp_path, capsys):
    pairs = tmp_path / "pairs.csv"
    _write_pairs(pairs, [("obama/1.jpg", "obama/2.jpg", 1), ("obama/1.jpg", "biden/1.jpg", 0)])
    out = tmp_path / "cal"
    assert main(["calibrate", str(pairs), "--root", str(faces_dir), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "too few calibration pairs: 1 genuine and 1 impostor" in err
    assert not out.exists() or not any(out.iterdir())  # nothing written that a later verify would choke on


def test_out_pointing_at_a_file_fails_before_any_work(tmp_path, faces_dir, capsys):
    taken = tmp_path / "taken"
    taken.write_text("x")
    assert main(["calibrate", str(faces_dir / "pairs.csv"), "--root", str(faces_dir), "--out", str(taken),
                 "--quiet"]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err and taken.read_text() == "x"


@pytest.fixture(scope="module")
def calibrated(engine, faces_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("calibration")
    return out, main(["calibrate", str(faces_dir / "pairs.csv"), "--root", str(faces_dir), "--out", str(out),
                      "--quiet", "--name", "development photos"])


def test_calibrate_writes_lr_model_figures_and_plots(calibrated, capsys):
    out, rc = calibrated
    assert rc == 0
    data = json.loads((out / "calibration.json").read_text())
    assert data["schema"] == "facex-calibration/2" and data["n_genuine"] == 37 and data["n_impostor"] == 398
    assert data["lr"]["calibrator"] in ("logistic", "kde") and "cross-validated Cllr" in data["lr"]["selection"]
    ev = data["evaluation"]
    for key in ("cllr", "cllr_min", "cllr_cal", "eer", "fmr", "fnmr"):
        assert key in ev
    assert ev["fmr"]["n"] == 398 and ev["fnmr"]["n"] == 37 and ev["fnmr"]["ci95"][1] > 0.05  # 37 pairs: wide
    for kind in ("tippett", "ece", "det", "lr_curve"):
        assert (out / ev["plots"][kind]).read_bytes()[:4] == b"\x89PNG"
    assert any("small calibration set" in w for w in data["warnings"])
    Calibration.load(out / "calibration.json").check_usable()


def test_shipped_calibration_is_the_refit_on_the_development_pairs(calibrated):
    """The shipped default was fitted on pairs.csv with the offline default model: a refit here agrees."""
    out, _ = calibrated
    fresh, shipped = Calibration.load(out / "calibration.json"), Calibration.load(SHIPPED)
    assert (fresh.n_genuine, fresh.n_impostor) == (shipped.n_genuine, shipped.n_impostor) == (37, 398)
    assert np.allclose(sorted(fresh.genuine_scores), sorted(shipped.genuine_scores), atol=2e-3)
    assert np.allclose(sorted(fresh.impostor_scores), sorted(shipped.impostor_scores), atol=2e-3)
    assert fresh.lr["calibrator"] == shipped.lr["calibrator"]
    assert shipped.evaluation["cllr"] == pytest.approx(fresh.evaluation["cllr"], abs=0.01)
    for s in (0.85, 0.92, 0.95):
        assert shipped.log10_lr(s)[0] == pytest.approx(fresh.log10_lr(s)[0], abs=0.1)
    assert "cllr" in shipped.summary() and shipped.warnings  # the shipped file names its own limits
    assert "/work" not in json.dumps(shipped.to_dict())  # no paths of the machine it was fitted on
