"""Seconds per pair for the whole faithfulness evaluation (ablation + stability for genuine pairs, S0 + region swap
for different-person pairs), on the development photos.

    .venv/bin/python benchmarks/bench_evaluation.py [--pairs ../shared/faces/pairs.csv] [--genuine 2] [--impostors 2]

Writes into a fresh temporary folder (never the repository) and prints one line per figure.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--pairs", default=str(REPO.parent / "shared" / "faces" / "pairs.csv"))
    p.add_argument("--genuine", type=int, default=2)
    p.add_argument("--impostors", type=int, default=2)
    args = p.parse_args()
    if not Path(args.pairs).exists():
        print(f"no pair list at {args.pairs}; pass --pairs")
        return 1
    from explain_engine.evaluation.cli import main as evaluate

    with tempfile.TemporaryDirectory(prefix="facex-bench-eval-") as out:
        code = evaluate([args.pairs, "--out", out, "--limit", str(args.genuine), "--impostors", str(args.impostors),
                         "--quiet"])
        if code:
            return code
        s = json.loads((Path(out) / "summary.json").read_text())
    print(f"evaluation: {s['seconds_per_genuine_pair']:.1f} s per genuine pair, "
          f"{s['seconds_per_impostor_pair']:.1f} s per different-person pair, "
          f"{s['seconds_per_pair']:.1f} s per pair overall ({s['pairs']} pairs, model load {s['load_seconds']:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
