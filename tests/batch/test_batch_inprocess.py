"""explain-batch in this process: one folder per pair, index.csv, failures recorded, resume, atomic folders."""

from __future__ import annotations

import csv
import json

import pytest

from explain_engine.batch import (
    INDEX_COLUMNS,
    read_batch_pairs,
    run_batch,
    settings_fingerprint,
    write_pair_folder,
)
from explain_engine.distributed import LocalExecutor, Outcome
from explain_engine.engine import EngineConfig
from models.errors import FaceXError

CONFIG = EngineConfig(methods=("s0",))


def read_index(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


class CountingExecutor(LocalExecutor):
    """The in-process executor, counting the pairs it is asked to compute."""

    def __init__(self, factory):
        super().__init__(factory)
        self.seen = []

    def imap_unordered(self, items):
        items = list(items)
        self.seen += [p.key for p in items]
        yield from super().imap_unordered(items)


@pytest.fixture(scope="module")
def first_run(pairs_csv, tmp_path_factory):
    from explain_engine.batch import ExplainerFactory

    out = tmp_path_factory.mktemp("batch_out")
    pairs = read_batch_pairs(pairs_csv)
    executor = LocalExecutor(ExplainerFactory(CONFIG))
    result = run_batch(pairs, out, CONFIG, executor=executor, progress=False)
    return pairs, out, result, executor


def test_index_has_every_pair_once_with_its_outcome(first_run):
    pairs, out, result, _ = first_run
    rows = read_index(out / "index.csv")
    assert tuple(rows[0]) == INDEX_COLUMNS
    assert [r["pair"] for r in rows] == [p.key for p in pairs]
    broken = [r for r in rows if r["img_b"].endswith("broken.jpg")]
    assert len(broken) == 1 and broken[0]["status"] == "failed" and broken[0]["error"]
    good = [r for r in rows if r is not broken[0]]
    assert all(r["status"] == "ok" and not r["error"] for r in good)
    for r in good:
        record = json.loads((out / r["folder"] / "explanation.json").read_text())
        assert r["decision"] == record["decision"] in ("match", "non-match")
        assert float(r["similarity"]) == pytest.approx(record["similarity"], abs=1e-12)
        # a CSV cell has no null: a record without a leading region (none clears the noise floor) shows ""
        assert r["most_important_region"] == (record["most_important_region"] or "")
        assert (out / r["folder"] / "table.csv").stat().st_size > 0
        lr = (record.get("evidence") or {}).get("lr")
        assert (r["lr"] == "") == (lr is None)
    assert result.computed == len(pairs) and result.cached == 0
    assert result.counts == {"ok": len(pairs) - 1, "failed": 1}


def test_rerun_computes_nothing_and_keeps_failures(first_run):
    from explain_engine.batch import ExplainerFactory

    pairs, out, _, _ = first_run
    before = (out / "index.csv").read_text()
    executor = CountingExecutor(ExplainerFactory(CONFIG))
    result = run_batch(pairs, out, CONFIG, executor=executor, progress=False)
    assert executor.seen == [] and result.computed == 0 and result.cached == len(pairs)
    assert (out / "index.csv").read_text() == before


def test_retry_failed_and_interrupted_pairs_are_recomputed_once(first_run, tmp_path):
    """A folder lost with a killed run (and a half-written temporary one) is recomputed; nothing else is."""
    import shutil

    from explain_engine.batch import ExplainerFactory

    pairs, out, _, first_executor = first_run
    work = tmp_path / "out"
    shutil.copytree(out, work)
    lost = pairs[1].key
    shutil.rmtree(work / "pairs" / lost)
    (work / "pairs" / f".tmp-{lost}-deadbeef").mkdir()  # what a kill during the write leaves
    executor = CountingExecutor(ExplainerFactory(CONFIG))
    executor._fn = first_executor._fn  # the models loaded by the first run
    result = run_batch(pairs, work, CONFIG, executor=executor, progress=False, retry_failed=True)
    broken = next(p.key for p in pairs if p.img_b.endswith("broken.jpg"))
    assert sorted(executor.seen) == sorted([lost, broken]) and result.cached == len(pairs) - 2
    assert not list((work / "pairs").glob(".tmp-*"))
    rows = read_index(work / "index.csv")
    assert [r["pair"] for r in rows] == [p.key for p in pairs]


def test_other_settings_recompute(first_run, tmp_path):
    other = EngineConfig(methods=("s0", "s0_black"))
    assert settings_fingerprint(other) != settings_fingerprint(CONFIG)

    class Refuse(LocalExecutor):
        def imap_unordered(self, items):
            for item in items:
                yield Outcome(item, error="not computed in this test")

    pairs, out, _, _ = first_run
    import shutil

    work = tmp_path / "out"
    shutil.copytree(out, work)
    result = run_batch(pairs, work, other, executor=Refuse(None), progress=False)
    assert result.computed == len(pairs) and {r["status"] for r in result.rows} == {"error"}
    assert all(r["error"] == "not computed in this test" for r in read_index(work / "index.csv"))


def test_folder_write_is_one_rename(tmp_path):
    folder = tmp_path / "pairs" / "0000-x"
    folder.parent.mkdir()
    write_pair_folder(folder, {"a.txt": b"1"}, {"status": "ok"})
    write_pair_folder(folder, {"b.txt": b"2"}, {"status": "ok"})  # replaces the old folder as a whole
    assert sorted(p.name for p in folder.iterdir()) == ["b.txt", "status.json"]
    assert [p.name for p in folder.parent.iterdir()] == ["0000-x"]


def test_pair_list_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\nx,y\n")
    with pytest.raises(FaceXError, match="img_a, img_b"):
        read_batch_pairs(bad)
    bad.write_text("img_a,img_b,label\nx,y,2\n")
    with pytest.raises(FaceXError, match="label must be 0 or 1"):
        read_batch_pairs(bad)
    with pytest.raises(FaceXError, match="not found"):
        read_batch_pairs(tmp_path / "none.csv")
    ok = tmp_path / "ok.csv"
    ok.write_text("img_a,img_b\nx.jpg,y.jpg\n")
    (pair,) = read_batch_pairs(ok, tmp_path / "root")
    assert pair.label is None and pair.image_a == tmp_path / "root" / "x.jpg" and pair.img_a == "x.jpg"


def test_cli_bad_list_exits_2(tmp_path, capsys):
    from explain_engine.__main__ import main

    assert main(["explain-batch", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o")]) == 2
    assert "not found" in capsys.readouterr().err


def test_cli_output_that_is_a_file_exits_2(pairs_csv, tmp_path, capsys):
    from explain_engine.__main__ import main

    blocker = tmp_path / "out"
    blocker.write_text("a file, not a folder")
    assert main(["explain-batch", str(pairs_csv), "--out", str(blocker)]) == 2
    assert "a file with that name exists" in capsys.readouterr().err


def test_index_fields_take_the_lr_from_the_evidence_section():
    from explain_engine.batch import index_fields

    record = {"decision": "match", "similarity": 0.95, "threshold": 0.92, "most_important_region": "eyes"}
    assert index_fields(record)["lr"] is None and index_fields(record)["log10_lr"] is None
    with_evidence = {**record, "evidence": {"lr": 125.0, "log10_lr": 2.097, "verbal": "moderate_support_same"}}
    fields = index_fields(with_evidence)
    assert (fields["lr"], fields["log10_lr"], fields["most_important_region"]) == (125.0, 2.097, "eyes")
