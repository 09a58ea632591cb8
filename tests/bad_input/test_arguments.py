"""Every numeric argument is checked (finite, in range) before any model loads or anything is written."""

from __future__ import annotations

import argparse

import pytest

from explain_engine.__main__ import main
from explain_engine.cli_args import COUNT_1, THRESHOLD, real, whole


@pytest.mark.parametrize(
    "command, extra, message",
    [
        ("verify", ["--threshold", "2.0"], "--threshold: 2.0 is out of range"),
        ("verify", ["--threshold", "nan"], "--threshold: nan is not a finite number"),
        ("verify", ["--threshold=-inf"], "not a finite number"),
        ("verify", ["--threshold", "abc"], "'abc' is not a number"),
        ("explain", ["--threshold", "nan"], "--threshold: nan"),
        ("explain", ["--samples=-1"], "--samples: -1 is out of range"),
        ("explain", ["--samples", "0"], "--samples: 0 is out of range"),
        ("explain", ["--samples", "2.5"], "not a whole number"),
        ("explain", ["--max-steps", "0"], "--max-steps"),
        ("explain", ["--min-change", "nan"], "--min-change"),
        ("explain", ["--min-change=-0.1"], "--min-change"),
        ("explain", ["--seed=-3"], "--seed"),
    ],
)
def test_bad_numbers_exit_2_before_any_work(command, extra, message, photo_files, tmp_path, capsys, no_models, one_line):
    out = tmp_path / "out"
    argv = [command, str(photo_files["a"]), str(photo_files["b"]), *extra]
    if command == "explain":
        argv += ["--out", str(out)]
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    line = one_line(capsys.readouterr().err)
    assert message in line
    assert not out.exists() and list(tmp_path.iterdir()) == []  # nothing written


@pytest.mark.parametrize("extra", [["--fmr", "0"], ["--fmr", "1.5"], ["--fmr", "nan"]])
def test_calibrate_rate_checked(extra, tmp_path, capsys, no_models, one_line):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("img_a,img_b,label\na.png,b.png,1\n")
    with pytest.raises(SystemExit) as exc:
        main(["calibrate", str(pairs), *extra])
    assert exc.value.code == 2 and "--fmr" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--limit=-1"], "--limit"),
        (["--steps", "1"], "--steps: 1 is out of range"),
        (["--samples", "0"], "--samples"),
        (["--seeds", "nan"], "--seeds"),
        (["--occlusion-stride", "0"], "--occlusion-stride"),
    ],
)
def test_evaluate_numbers_checked(extra, message, tmp_path, capsys, one_line):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("img_a,img_b,label\na.png,b.png,1\n")
    with pytest.raises(SystemExit) as exc:
        main(["evaluate", str(pairs), "--out", str(tmp_path / "ev"), *extra])
    assert exc.value.code == 2 and message in one_line(capsys.readouterr().err)
    assert not (tmp_path / "ev").exists()


def test_validators_accept_the_whole_valid_range():
    assert [THRESHOLD(t) for t in ("-1", "0.5", "1")] == [-1.0, 0.5, 1.0]
    assert COUNT_1("3") == 3
    assert real(0, 1, lo_open=True)("1e-9") == 1e-9
    assert whole(2)("2") == 2
    for bad in ("1.0000001", "-1.5", "nan", "inf", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            THRESHOLD(bad)
    with pytest.raises(argparse.ArgumentTypeError):
        real(0, 1, lo_open=True)("0")


@pytest.mark.parametrize("field, value", [("threshold", float("nan")), ("threshold", 2.0), ("threshold", -1.5),
                                          ("min_change", float("nan")), ("min_change", -0.1)])
def test_engine_config_refuses_the_same_numbers(field, value):
    from explain_engine.engine import EngineConfig
    from models.config import ModelConfig
    from models.errors import ConfigError

    with pytest.raises(ConfigError, match=field):
        EngineConfig(models=ModelConfig(device="cpu"), **{field: value})
