"""explain-batch and evaluate on a local Ray instance (2 CPUs): the same per-pair results as in this process, and
a worker killed mid-pair loses nothing and duplicates nothing."""

from __future__ import annotations

import csv
import json
import os
import signal
import threading
import time

import numpy as np
import pytest

from explain_engine.batch import ExplainerFactory, read_batch_pairs, run_batch
from explain_engine.distributed import LocalExecutor, RayExecutor
from explain_engine.engine import EngineConfig

CONFIG = EngineConfig(methods=("s0", "s1"))


def read_index(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def region_contributions(folder) -> dict:
    record = json.loads((folder / "explanation.json").read_text())
    return {(r["name"], m): v.get("contribution") for r in record["regions"] for m, v in r.get("methods", {}).items()}


@pytest.fixture(scope="module")
def in_process(pairs_csv, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch_local")
    pairs = read_batch_pairs(pairs_csv)
    run_batch(pairs, out, CONFIG, executor=LocalExecutor(ExplainerFactory(CONFIG)), progress=False)
    return pairs, out


def test_ray_gives_the_in_process_results(pairs_csv, in_process, ray_local, tmp_path, capsys):
    from explain_engine.__main__ import main

    pairs, local_out = in_process
    code = main(["explain-batch", str(pairs_csv), "--out", str(tmp_path), "--methods", ",".join(CONFIG.methods),
                 "--quiet", "--ray"])
    assert code == 0
    assert f"{len(pairs)} computed now on 2 ray worker(s)" in capsys.readouterr().out
    ours, theirs = read_index(tmp_path / "index.csv"), read_index(local_out / "index.csv")
    assert [r["pair"] for r in ours] == [r["pair"] for r in theirs]
    for a, b in zip(ours, theirs):
        assert (a["status"], a["decision"], a["most_important_region"], a["error"]) == (
            b["status"], b["decision"], b["most_important_region"], b["error"])
        if a["status"] == "ok":
            assert float(a["similarity"]) == pytest.approx(float(b["similarity"]), abs=1e-6)
            ca, cb = region_contributions(tmp_path / a["folder"]), region_contributions(local_out / b["folder"])
            assert ca.keys() == cb.keys() and len(ca) > 0
            for k in ca:
                assert ca[k] == pytest.approx(cb[k], abs=1e-5), k
    assert {r["status"] for r in ours} == {"ok", "failed"}


def test_killed_worker_loses_and_duplicates_nothing(in_process, ray_local, tmp_path):
    pairs, local_out = in_process
    executor = RayExecutor(ExplainerFactory(CONFIG), workers=2, max_restarts=2, max_task_retries=2)
    executor.start()
    killed = {}

    def kill_when_busy():
        deadline = time.time() + 120
        while time.time() < deadline:
            busy = dict(executor.busy)
            if busy:
                time.sleep(0.2)  # inside the pair (each takes a second or more)
                still = [slot for slot, pair in busy.items() if executor.busy.get(slot) is pair]
                if still:
                    pid = executor.worker_pids()[still[0]]
                    os.kill(pid, signal.SIGKILL)
                    killed.update(pid=pid, pair=busy[still[0]].key)
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_when_busy, daemon=True)
    killer.start()
    try:
        result = run_batch(pairs, tmp_path, CONFIG, executor=executor, progress=False)
        stats = executor.worker_stats()
    finally:
        killer.join(timeout=5)
        executor.close()
    assert killed, "no worker was killed"
    assert len(stats) == 2 and all(s["pid"] != os.getpid() and s["peak_rss_mib"] > 50 for s in stats)
    assert killed["pid"] not in {s["pid"] for s in stats}  # the killed one was replaced by a new process
    rows = read_index(tmp_path / "index.csv")
    assert sorted(r["pair"] for r in rows) == sorted(p.key for p in pairs)  # every pair exactly once
    assert [r["status"] for r in rows] == [r["status"] for r in read_index(local_out / "index.csv")]
    assert result.computed == len(pairs)
    status = json.loads((tmp_path / "pairs" / killed["pair"] / "status.json").read_text())
    assert status["status"] in ("ok", "failed") and status["pid"] != killed["pid"]  # redone by a new process
    folders = sorted(p.name for p in (tmp_path / "pairs").iterdir())
    assert folders == sorted(p.key for p in pairs)  # no temporary or duplicate folders left


def test_evaluate_with_ray_matches_in_process(pairs_csv, ray_local, tmp_path):
    from explain_engine.__main__ import main

    with open(pairs_csv, newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if not r["img_b"].endswith("broken.jpg")]
    genuine = next(r for r in rows if r["label"] == "1")
    other = next((r for r in rows if r["label"] == "0"), None) or rows[1]
    small = tmp_path / "pairs.csv"
    with open(small, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["img_a", "img_b", "label"])
        w.writeheader()
        for r in (genuine, other):
            w.writerow({"img_a": str(pairs_csv.parent / r["img_a"]), "img_b": str(pairs_csv.parent / r["img_b"]),
                        "label": r["label"]})
    common = ["--steps", "3", "--seeds", "1", "--occlusion-stride", "40", "--quiet"]
    assert main(["evaluate", str(small), "--out", str(tmp_path / "local"), *common]) == 0
    assert main(["evaluate", str(small), "--out", str(tmp_path / "ray"), *common, "--ray"]) == 0
    local = {p.name: json.loads(p.read_text()) for p in (tmp_path / "local" / "pairs").glob("*.json")}
    remote = {p.name: json.loads(p.read_text()) for p in (tmp_path / "ray" / "pairs").glob("*.json")}
    assert local.keys() == remote.keys() and len(local) == 2
    for name, a in local.items():
        b = remote[name]
        assert a["status"] == b["status"] == "ok"
        assert a["similarity"] == pytest.approx(b["similarity"], abs=1e-6)
        for key in ("s0_normalised", "s1", "s0_black"):
            if key in a:
                assert a[key].keys() == b[key].keys()
                for r in a[key]:
                    assert a[key][r] == pytest.approx(b[key][r], abs=1e-5), (name, key, r)
        if "curves" in a:
            for m, curve in a["curves"].items():
                for k, values in curve.items():
                    np.testing.assert_allclose(np.asarray(values, float), np.asarray(b["curves"][m][k], float),
                                               atol=1e-5, err_msg=f"{name} {m} {k}")
    s_local = json.loads((tmp_path / "local" / "summary.json").read_text())
    s_ray = json.loads((tmp_path / "ray" / "summary.json").read_text())
    for m, v in s_local["deletion"].items():
        assert v == pytest.approx(s_ray["deletion"][m], abs=1e-6)


class DiesOn:
    """A per-item function that ends its own process on one item (as a crash in native code would) and returns
    the others; stands in for the explainer, since this test is about the executor's bookkeeping only."""

    def __init__(self, fatal: int) -> None:
        self.fatal = fatal

    def __call__(self):
        def fn(item: int) -> int:
            if item == self.fatal:
                os._exit(1)
            return item * 10

        return fn


@pytest.mark.parametrize("depth", [1, 2])
def test_executor_gives_up_on_an_item_that_keeps_killing_workers(ray_local, depth):
    """Every item once; the killer gives up after max_attempts deaths of its own, the items queued beside it on the
    dying worker (depth 2) are not blamed and succeed."""
    import sys

    ray_local.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    with RayExecutor(DiesOn(3), workers=2, max_restarts=0, max_task_retries=0, max_attempts=2,
                     depth=depth) as executor:
        outcomes = list(executor.imap_unordered(range(6)))
    assert sorted(o.item for o in outcomes) == list(range(6))  # every item exactly once
    bad = [o for o in outcomes if o.item == 3]
    assert bad[0].result is None and "died 2 times" in bad[0].error and bad[0].attempts == 2
    assert {o.item: o.result for o in outcomes if o.item != 3} == {i: i * 10 for i in range(6) if i != 3}
    # 2 deaths running alone; a first death with another item queued on the same worker is not counted against
    # either (both then run alone), so 3 at most
    assert 2 <= executor.restarts <= 3
