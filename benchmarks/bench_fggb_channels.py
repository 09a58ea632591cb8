"""FGGB: map fidelity against cost, to choose how many embedding channels (and which precision) the default uses.

    .venv/bin/python benchmarks/bench_fggb_channels.py [--counts 16,24,32,48,64,96,128] [--pairs 5]

FGGB (paper 004) needs one backward pass per embedding channel and photo (N = 128 for dlib-torch). Keeping only the
K channels with the largest |w_k - t/N| changes the map by at most the sum of the dropped |w_k - t/N| at any pixel
(every normalised gradient lies in [0, 1]). For each pair (development photos when present, else the astronaut
against its mirrored copy), the full float32 map (all N channels) is the reference; for each K and precision
(float32, bfloat16) the script times ``fggb_maps`` for both photos and compares its maps with the reference:
the pixel-wise Pearson correlation of the signed maps (mean of photos A and B), the Spearman correlation of the
region columns of the explainability table, whether the leading region (largest region value in the direction of
the decision) is the same, and the error bound relative to the reference map's peak |S|.
Prints one line per (pair, K, precision) and the medians per (K, precision).
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


def leading(column: dict[str, float], match: bool) -> str:
    return max(column, key=lambda r: column[r] if match else -column[r])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--counts", default="16,24,32,48,64,96,128")
    ap.add_argument("--pairs", type=int, default=5)
    ap.add_argument("--precisions", default="float32,bfloat16")
    args = ap.parse_args(argv)
    counts = sorted(int(c) for c in args.counts.split(","))
    precisions = args.precisions.split(",")

    from bench_engine import load_pairs
    from scipy.stats import spearmanr

    from explain_engine.attribution.fggb import fggb_maps
    from explain_engine.engine import Engine, EngineConfig

    engine = Engine(EngineConfig(methods=("s0",)))
    model = engine.pipeline.embedder
    print(f"model {engine.model_name}, threshold {engine.threshold:.4f}")
    rows: dict[tuple[int, str], list[tuple[float, float, float, float, float]]] = {}
    for name_a, src_a, name_b, src_b in load_pairs(args.pairs):
        fa = engine.pipeline.prepare(src_a, str(name_a))
        fb = engine.pipeline.prepare(src_b, str(name_b))
        kw = {"threshold": engine.threshold, "masks_a": fa.regions.masks, "masks_b": fb.regions.masks}
        for precision in precisions:  # warm-up (oneDNN kernels for each precision)
            fggb_maps(fa.crop, fb.crop, model, channels=8, precision=precision, **kw)
        ref = fggb_maps(fa.crop, fb.crop, model, **kw)
        match = ref.reference >= engine.threshold
        peak = max(float(np.abs(ref.signed_a).max()), float(np.abs(ref.signed_b).max()))
        for k in counts:
            for precision in precisions:
                t = time.perf_counter()
                pm = fggb_maps(fa.crop, fb.crop, model, channels=k, precision=precision, **kw)
                seconds = time.perf_counter() - t
                pix = float(np.mean([np.corrcoef(x.ravel(), y.ravel())[0, 1]
                                     for x, y in ((pm.signed_a, ref.signed_a), (pm.signed_b, ref.signed_b))]))
                regs = [r for r in ref.column if r in pm.column]
                rho = float(spearmanr([ref.column[r] for r in regs], [pm.column[r] for r in regs]).statistic)
                same = float(leading(ref.column, match) == leading(pm.column, match))
                bound = pm.details["max_abs_error"] / peak if peak > 0 else float("nan")
                rows.setdefault((k, precision), []).append((seconds, pix, rho, same, bound))
                print(f"{name_a} vs {name_b} (sim {ref.reference:.3f}): K={k:4d} {precision:<8}  {seconds:5.2f} s  "
                      f"map r={pix:.3f}  region rho={rho:.3f}  same leading region {bool(same)}  "
                      f"bound/peak {bound:.2f}", flush=True)
    print("\nmedian over pairs (reference: all channels, float32):")
    for (k, precision), v in sorted(rows.items()):
        sec, pix, rho, _, bound = (statistics.median(x[i] for x in v) for i in range(5))
        same = sum(x[3] for x in v)
        print(f"  K={k:4d} {precision:<8}: {sec:5.2f} s for both photos, map r={pix:.3f}, region rho={rho:.3f}, "
              f"same leading region {same:.0f}/{len(v)}, bound/peak {bound:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
