"""Resume: cached pairs are never recomputed; other options or a broken file recompute; the memo embeds once."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from explain_engine.evaluation.runner import EmbeddingMemo, EvaluationOptions, Pair, PairCache, run_pairs, select_pairs


def make_pairs(n: int = 4) -> list[Pair]:
    return [Pair(i, Path(f"/x/p{i}_a.jpg"), Path(f"/x/p{i}_b.jpg"), i % 2) for i in range(n)]


class CountingEvaluate:
    """Stands in for the engine evaluation: this test is about the caching loop only."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, pair: Pair) -> dict:
        self.calls.append(pair.key)
        return {"key": pair.key, "label": pair.label, "status": "ok", "value": pair.index * 2}


def test_second_run_recomputes_nothing(tmp_path):
    pairs = make_pairs()
    first = CountingEvaluate()
    records, stats = run_pairs(pairs, first, PairCache(tmp_path, "fp1"), progress=False)
    assert len(first.calls) == 4 and stats.computed == 4 and stats.cached == 0
    second = CountingEvaluate()
    again, stats2 = run_pairs(pairs, second, PairCache(tmp_path, "fp1"), progress=False)
    assert second.calls == [] and stats2.cached == 4
    assert [r["value"] for r in again] == [r["value"] for r in records]


def test_interrupted_run_resumes_where_it_stopped(tmp_path):
    pairs = make_pairs(5)
    ev = CountingEvaluate()

    def dies_on_third(pair):
        if pair.index == 2:
            raise KeyboardInterrupt
        return ev(pair)

    try:
        run_pairs(pairs, dies_on_third, PairCache(tmp_path, "fp"), progress=False)
    except KeyboardInterrupt:
        pass
    assert len(ev.calls) == 2
    resumed = CountingEvaluate()
    records, stats = run_pairs(pairs, resumed, PairCache(tmp_path, "fp"), progress=False)
    assert [k[:4] for k in resumed.calls] == ["0002", "0003", "0004"]
    assert stats.cached == 2 and len(records) == 5


def test_other_options_or_broken_files_recompute(tmp_path):
    pairs = make_pairs(3)
    run_pairs(pairs, CountingEvaluate(), PairCache(tmp_path, "fp1"), progress=False)
    (tmp_path / f"{pairs[0].key}.json").write_text('{"key": "trunc')  # a write cut short
    ev = CountingEvaluate()
    run_pairs(pairs, ev, PairCache(tmp_path, "fp1"), progress=False)
    assert ev.calls == [pairs[0].key]
    ev2 = CountingEvaluate()
    run_pairs(pairs, ev2, PairCache(tmp_path, lambda p: "fp2" if p.label == 1 else "fp1"), progress=False)
    assert ev2.calls == [p.key for p in pairs if p.label == 1]
    assert json.loads((tmp_path / f"{pairs[1].key}.json").read_text())["fingerprint"] == "fp2"


def test_fingerprints_split_by_pair_kind():
    base = EvaluationOptions()
    blend = EvaluationOptions(blend="seamless")
    removal = EvaluationOptions(removal="black")
    assert base.fingerprint(1) == blend.fingerprint(1) and base.fingerprint(0) != blend.fingerprint(0)
    assert base.fingerprint(0) == removal.fingerprint(0) and base.fingerprint(1) != removal.fingerprint(1)


def test_embedding_memo_embeds_each_image_once():
    seen = []

    def embed(batch):
        seen.append(len(batch))
        return np.asarray(batch, dtype=float).reshape(len(batch), -1)[:, :4]

    memo = EmbeddingMemo(embed)
    rng = np.random.default_rng(0)
    a, b = (rng.integers(0, 255, (4, 4, 3)).astype(np.uint8) for _ in range(2))
    out = memo(np.stack([a, b, a]))
    assert memo.calls == 2 and seen == [2]
    np.testing.assert_array_equal(out[0], out[2])
    memo(np.stack([b, a]))
    assert memo.calls == 2 and seen == [2]


def test_select_pairs():
    rows = [(Path(f"a{i}"), Path(f"b{i}"), 1 if i < 3 else 0) for i in range(10)]
    picked = select_pairs(rows, limit=2, impostors=3)
    assert [p.label for p in picked].count(1) == 2 and [p.label for p in picked].count(0) == 3
    assert picked == sorted(picked, key=lambda p: p.index)
    assert all(p.label == 1 for p in select_pairs(rows, genuine_only=True))
    assert select_pairs(rows, limit=2, impostors=3) == picked  # a fixed draw
