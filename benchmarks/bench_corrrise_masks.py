"""CorrRISE: map stability against cost, to choose the number of masks.

    .venv/bin/python benchmarks/bench_corrrise_masks.py [--counts 50,100,200,400,800] [--pairs 2]

For each pair (development photos when present, else the astronaut against its mirrored copy), two independent
mask draws (seeds 0 and 1) of the largest count are scored once; the maps for a smaller count N use the first N
masks of each draw. Stability at N is the agreement of the two draws' maps (they should be the same map, up to
sampling noise): the pixel-wise Pearson correlation of the signed maps (mean of photos A and B), and the Spearman
correlation of the region columns of the explainability table. Cost is 2N embeddings per pair, timed here.
Prints one line per (pair, N) and the medians per N.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

PAIRS = [("obama/1.jpg", "obama/2.jpg"), ("mark/2.jpg", "jack/1.jpg"), ("elon/1.jpg", "elon/2.jpg"),
         ("biden/2.jpg", "clapton/1.jpg")]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="50,100,200,400,800")
    ap.add_argument("--pairs", type=int, default=2)
    args = ap.parse_args(argv)
    counts = sorted(int(c) for c in args.counts.split(","))

    from bench_engine import FACES_DIR, astronaut_pair
    from scipy.stats import spearmanr

    from explain_engine.attribution.corrrise import DEFAULT_CELLS, apply_mask, pearson_map, random_masks
    from explain_engine.attribution.dfv import table_column
    from explain_engine.engine import Engine, EngineConfig
    from explain_engine.scoring import PairScorer

    engine = Engine(EngineConfig(methods=("s0",)))
    if (FACES_DIR / "pairs.csv").exists():
        pairs = [(a, FACES_DIR / a, b, FACES_DIR / b) for a, b in PAIRS[: args.pairs]]
    else:
        pairs = astronaut_pair()
    t = time.perf_counter()
    probe = np.zeros((32, 150, 150, 3), np.uint8)
    engine.pipeline.embed(probe)
    t = time.perf_counter()
    engine.pipeline.embed(probe)
    print(f"embedding: {(time.perf_counter() - t) / 32 * 1000:.1f} ms per crop (batch 32); "
          f"model {engine.model_name}, cells {DEFAULT_CELLS}")
    nmax = counts[-1]
    rows: dict[int, list[tuple[float, float, float]]] = {n: [] for n in counts}
    for name_a, src_a, name_b, src_b in pairs:
        fa = engine.pipeline.prepare(src_a, str(name_a))
        fb = engine.pipeline.prepare(src_b, str(name_b))
        scorer = PairScorer(engine.pipeline.embed, fa.crop, fb.crop, batch_size=64)
        draws = []
        for seed in (0, 1):
            per_side = []
            for side, crop in enumerate((fa.crop, fb.crop)):
                masks = random_masks(nmax, crop.shape[:2], rng=10 * seed + side)
                t = time.perf_counter()
                scores = np.empty(nmax)
                for start in range(0, nmax, 64):
                    chunk = [apply_mask(crop, m) for m in masks[start:start + 64]]
                    nones = [None] * len(chunk)
                    scores[start:start + len(chunk)] = (scorer.score_pairs(chunk, nones) if side == 0
                                                        else scorer.score_pairs(nones, chunk))
                per_side.append((masks, scores, (time.perf_counter() - t) / nmax))
            draws.append(per_side)
        per_image_s = statistics.mean(d[2] for draw in draws for d in draw)
        for n in counts:
            maps = [[pearson_map(m[:n], s[:n]) for m, s, _ in draw] for draw in draws]
            pix = float(np.mean([np.corrcoef(maps[0][k].ravel(), maps[1][k].ravel())[0, 1] for k in (0, 1)]))
            cols = [table_column(mp[0], mp[1], fa.regions.masks, fb.regions.masks) for mp in maps]
            regs = [r for r in cols[0] if r in cols[1]]
            rho = float(spearmanr([cols[0][r] for r in regs], [cols[1][r] for r in regs]).statistic)
            cost = 2 * n * per_image_s
            rows[n].append((pix, rho, cost))
            print(f"{name_a} vs {name_b} (sim {scorer.reference:.3f}): N={n:5d}  map r={pix:.3f}  "
                  f"region-column rho={rho:.3f}  cost {2 * n} embeddings ~ {cost:.2f} s", flush=True)
    print("\nmedian over pairs:")
    for n in counts:
        pix, rho, cost = (statistics.median(v[i] for v in rows[n]) for i in range(3))
        print(f"  N={n:5d}: map r={pix:.3f}, region-column rho={rho:.3f}, {2 * n} embeddings ~ {cost:.2f} s per pair")
    return 0


if __name__ == "__main__":
    sys.exit(main())
