"""Spreadsheet CSVs with a byte-order mark, and `evaluate` retrying pairs skipped for a missing photo."""

from __future__ import annotations

from pathlib import Path

from explain_engine.evaluation.runner import EvaluationOptions, Pair, PairCache, PairEvaluator, may_retry, run_pairs
from explain_engine.pairs import read_pairs
from models.errors import ImageError, NoFaceError


def test_bom_csv_is_read(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_bytes("img_a,img_b,label\r\na.jpg,b.jpg,1\r\nc.jpg,d.jpg,0\r\n".encode("utf-8-sig"))
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    rows = read_pairs(path, tmp_path)
    assert rows == [(tmp_path / "a.jpg", tmp_path / "b.jpg", 1), (tmp_path / "c.jpg", tmp_path / "d.jpg", 0)]


class PhotoEngine:
    """Just enough of an Engine for the skip path: prepare_pair refuses a missing photo as the real one does,
    and reports a face-less photo; every call is counted."""

    threshold = 0.5

    def __init__(self, no_face: set[str]) -> None:
        self.no_face = no_face
        self.calls = 0

    def prepare_pair(self, a: Path, b: Path, regions: bool):
        self.calls += 1
        for p in (a, b):
            if not p.exists():
                raise ImageError(f"{p}: file not found")
            if p.name in self.no_face:
                raise NoFaceError(f"{p.name}: no face found")
        raise ImageError("prepared")  # stops here: this test is about which pairs are tried, not their results


def test_missing_photo_is_retried_once_it_appears(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "c.jpg").write_bytes(b"x")
    (tmp_path / "d.jpg").write_bytes(b"x")
    pairs = [Pair(0, tmp_path / "a.jpg", tmp_path / "b.jpg", 1), Pair(1, tmp_path / "c.jpg", tmp_path / "d.jpg", 0)]
    engine = PhotoEngine(no_face={"d.jpg"})
    evaluator = PairEvaluator(engine, EvaluationOptions())
    cache = PairCache(tmp_path / "cache", "fp")
    records, stats = run_pairs(pairs, evaluator, cache, progress=False)
    assert [r["status"] for r in records] == ["skipped", "skipped"]
    assert records[0]["missing"] == [str(tmp_path / "b.jpg")] and records[1]["missing"] == []
    assert engine.calls == 2

    run_pairs(pairs, evaluator, cache, progress=False)  # nothing changed: nothing is tried again
    assert engine.calls == 2

    (tmp_path / "b.jpg").write_bytes(b"x")  # the photo appears
    records, stats = run_pairs(pairs, evaluator, cache, progress=False)
    assert engine.calls == 3 and stats.computed == 1 and stats.cached == 1
    assert "missing" not in records[0]["reason"] and records[0]["missing"] == []

    run_pairs(pairs, evaluator, cache, progress=False, retry_skipped=True)  # the switch: every skipped pair
    assert engine.calls == 5


def test_may_retry_reads_older_records(tmp_path):
    (tmp_path / "a.jpg").write_bytes(b"x")
    (tmp_path / "b.jpg").write_bytes(b"x")
    old = {"status": "skipped", "reason": f"{tmp_path / 'b.jpg'}: file not found",
           "img_a": str(tmp_path / "a.jpg"), "img_b": str(tmp_path / "b.jpg")}
    assert may_retry(old)
    assert not may_retry({**old, "reason": "b.jpg: no face found"})
    assert may_retry({**old, "reason": "b.jpg: no face found"}, retry_skipped=True)
    assert not may_retry({"status": "ok"}, retry_skipped=True)


def test_evaluate_help_says_how(capsys):
    import pytest

    from explain_engine.evaluation.cli import main

    with pytest.raises(SystemExit):
        main(["--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--retry-skipped" in text and "tried again once the photo exists" in text
