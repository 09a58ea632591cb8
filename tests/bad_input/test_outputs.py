"""--out is checked before any work, and a failure leaves nothing half-written."""

from __future__ import annotations

import tempfile

import pytest

import explain_engine.__main__ as cli
from explain_engine.cli_args import OutputError, check_output_file, check_output_folder, staged_folder


def test_explain_out_is_an_existing_file(photo_files, tmp_path, capsys, no_models, one_line):
    target = tmp_path / "result"
    target.write_text("keep me")
    rc = cli.main(["explain", str(photo_files["a"]), str(photo_files["b"]), "--out", str(target), "--quiet"])
    assert rc == 2 and "a file with that name exists" in one_line(capsys.readouterr().err)
    assert target.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result"]


def test_explain_out_under_a_file(photo_files, tmp_path, capsys, no_models, one_line):
    (tmp_path / "f").write_text("x")
    rc = cli.main(["explain", str(photo_files["a"]), str(photo_files["b"]), "--out", str(tmp_path / "f" / "sub")])
    assert rc == 2 and "is a file" in one_line(capsys.readouterr().err)


def test_explain_out_in_a_read_only_place(photo_files, tmp_path, capsys, monkeypatch, no_models, one_line):
    # tests run as root, who may write anywhere: the refusal is simulated where the folder is made
    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    out = tmp_path / "new" / "deeper"
    rc = cli.main(["explain", str(photo_files["a"]), str(photo_files["b"]), "--out", str(out)])
    line = one_line(capsys.readouterr().err)
    assert rc == 2 and "cannot write there (Permission denied)" in line
    assert list(tmp_path.iterdir()) == []  # the parents made for the check are gone again


class Failing:
    """An explanation whose save dies after writing one file (a full disk, a killed writer)."""

    def save(self, folder):
        (folder / "explanation.json").write_text("{")
        raise OSError(28, "No space left on device")


@pytest.mark.parametrize("existing", [False, True])
def test_a_failing_save_leaves_nothing_half_written(photo_files, tmp_path, capsys, monkeypatch, existing, one_line):
    out = tmp_path / "out"
    if existing:
        out.mkdir()
        (out / "explanation.json").write_text('{"old": true}')
    monkeypatch.setattr(cli, "_compute_explanation", lambda args, tqdm: Failing())
    rc = cli.main(["explain", str(photo_files["a"]), str(photo_files["b"]), "--out", str(out), "--quiet"])
    line = one_line(capsys.readouterr().err)
    assert rc == 2 and "writing failed (No space left on device); nothing was written" in line
    if existing:
        assert (out / "explanation.json").read_text() == '{"old": true}'  # the earlier result is untouched
    else:
        assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == (["out"] if existing else [])  # no staging folder left


def test_staged_folder_moves_files_in_on_success(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "old.txt").write_text("old")
    (out / "a.png").write_text("previous")
    with staged_folder(out) as stage:
        (stage / "a.png").write_text("new")
        (stage / "b.csv").write_text("b")
        assert not (out / "b.csv").exists()  # nothing appears before the end
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.csv", "old.txt"]
    assert (out / "a.png").read_text() == "new"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_calibrate_out_checked_before_models_load(tmp_path, capsys, no_models, one_line):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("img_a,img_b,label\na.png,b.png,1\n")
    taken = tmp_path / "notes.txt"  # --out is a folder or a .json file; an existing other file is refused up front
    taken.write_text("keep me")
    rc = cli.main(["calibrate", str(pairs), "--out", str(taken)])
    assert rc == 2 and "not a folder" in one_line(capsys.readouterr().err)
    assert taken.read_text() == "keep me"


def test_evaluate_out_checked_first(tmp_path, capsys, one_line):
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("img_a,img_b,label\na.png,b.png,1\n")
    (tmp_path / "ev").write_text("a file")
    rc = cli.main(["evaluate", str(pairs), "--out", str(tmp_path / "ev")])
    assert rc == 2 and "a file with that name exists" in one_line(capsys.readouterr().err)


def test_check_helpers(tmp_path):
    assert check_output_folder(tmp_path / "x" / "y") == tmp_path / "x" / "y"
    assert not (tmp_path / "x").exists()
    assert check_output_file(tmp_path / "cal.json") == tmp_path / "cal.json"
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(OutputError):
        check_output_file(tmp_path)


def test_staged_file_replaces_only_on_success(tmp_path):
    from explain_engine.cli_args import staged_file

    out = tmp_path / "cal.json"
    out.write_text("old")
    with pytest.raises(RuntimeError), staged_file(out) as partial:
        partial.write_text("half")
        raise RuntimeError("fit failed")
    assert out.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["cal.json"]
    with staged_file(out) as partial:
        partial.write_text("new")
    assert out.read_text() == "new" and [p.name for p in tmp_path.iterdir()] == ["cal.json"]
