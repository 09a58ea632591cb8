"""Pairs per minute of explain-batch: the in-process loop, and Ray with 1 and 2 workers, on the same pairs in one run.

    .venv/bin/python benchmarks/bench_batch.py [--pairs ../shared/faces/pairs.csv] [--n 8] [--methods KEYS]
                                               [--workers 1,2] [--cpus 2]

Each mode explains the same N pairs into its own fresh temporary folder (never the repository). "start" is the time
until every worker has loaded its models and explained one warm-up pair outside the set (for Ray: starting the
actors, not Ray itself); "pairs/min" counts the pairs over the computing time after that, "end to end" over both. Peak memory is each worker's peak resident
set (ru_maxrss): for the loop, this whole process. Targets (issue #15): Ray with 1 worker within 10% of the loop,
2 workers at least 1.7x the loop. Other programs on the machine skew the figures: the load average is printed.
The CPU seconds per pair (all workers' processes, user + system) hardly depend on the load; the sizing table
(LFW's 6,000 pairs) is computed from them and the peak memory per worker, assuming one core per worker.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def run_mode(name, executor, pairs, config, warmup) -> dict:
    from explain_engine.batch import run_batch
    from explain_engine.distributed import cpu_seconds

    with tempfile.TemporaryDirectory(prefix="facex-bench-batch-") as out:
        t0 = time.perf_counter()
        # every worker loads its models and explains one pair outside the measured set (lazily loaded parts:
        # landmarks, parser, inpainter), so the figures compare steady states
        n = int(getattr(executor, "workers", 1) or 1)
        for outcome in executor.imap_unordered([warmup] * n):
            assert outcome.error is None and outcome.result["status"] == "ok", outcome.error or outcome.result
        start_s = time.perf_counter() - t0
        cpu0 = sum(s["cpu_s"] for s in executor.worker_stats())
        own0 = cpu_seconds()
        result = run_batch(pairs, out, config, executor=executor, progress=False)
        own = cpu_seconds() - own0  # this process: for Ray, receiving the results and writing the folders
        stats = executor.worker_stats()
        cpu = sum(s["cpu_s"] for s in stats) - cpu0
    ok = result.counts.get("ok", 0)
    row = {"mode": name, "workers": result.workers, "pairs": len(pairs), "ok": ok, "start_s": start_s,
           "compute_s": result.seconds, "rate": 60 * len(pairs) / result.seconds,
           "rate_e2e": 60 * len(pairs) / (start_s + result.seconds),
           "peak_mib": [round(s.get("peak_rss_mib", float("nan"))) for s in stats], "cpu_per_pair": cpu / len(pairs),
           "own_cpu_per_pair": own / len(pairs)}
    print(f"{name:<14} workers {row['workers']}  start {start_s:5.1f} s  compute {result.seconds:6.1f} s  "
          f"{row['rate']:5.2f} pairs/min ({row['rate_e2e']:5.2f} end to end)  ok {ok}/{len(pairs)}  "
          f"CPU {row['cpu_per_pair']:.2f} s per pair (this process {row['own_cpu_per_pair']:.2f} s)  "
          f"peak memory per worker {row['peak_mib']} MiB  load {load()}", flush=True)
    return row


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--pairs", default=str(REPO.parent / "shared" / "faces" / "pairs.csv"))
    p.add_argument("--root", help="folder the photo paths are relative to (default: the CSV's folder)")
    p.add_argument("--n", type=int, default=8, help="pairs (the first n/2 genuine and n/2 different-person)")
    p.add_argument("--methods", help="comma-separated method keys (default: the engine's default methods)")
    p.add_argument("--workers", default="1,2", help="Ray worker counts to measure")
    p.add_argument("--cpus", type=int, default=os.cpu_count(), help="CPUs of the local Ray instance")
    p.add_argument("--no-loop", action="store_true", help="skip the in-process loop")
    p.add_argument("--loop-last", action="store_true",
                   help="measure the loop after Ray (run both orders on a busy machine: load drifts)")
    args = p.parse_args()
    if not Path(args.pairs).exists():
        print(f"no pair list at {args.pairs}; pass --pairs")
        return 1
    from explain_engine.batch import ExplainerFactory, read_batch_pairs
    from explain_engine.distributed import LocalExecutor, RayExecutor, init_ray
    from explain_engine.engine import EngineConfig

    listed = read_batch_pairs(args.pairs, args.root)
    genuine = [q for q in listed if q.label == 1][: (args.n + 1) // 2]
    other = [q for q in listed if q.label != 1][: args.n - len(genuine)]
    pairs = sorted(genuine + other, key=lambda q: q.index)
    warmup = next(q for q in listed if q.label == 1 and q not in pairs)
    config = EngineConfig(methods=args.methods) if args.methods else EngineConfig()
    print(f"{len(pairs)} pairs ({len(genuine)} genuine), methods {','.join(config.methods)}, {os.cpu_count()} cores, "
          f"load average {load()}", flush=True)
    rows = []

    def loop() -> None:
        if not args.no_loop:
            rows.insert(0, run_mode("in-process", LocalExecutor(ExplainerFactory(config)), pairs, config, warmup))

    if not args.loop_last:
        loop()
    t0 = time.perf_counter()
    init_ray("local", num_cpus=args.cpus)
    print(f"ray start {time.perf_counter() - t0:.1f} s", flush=True)
    import ray

    try:
        counts = [int(x) for x in args.workers.split(",")]
        for k in counts[::-1] if args.loop_last else counts:
            with RayExecutor(ExplainerFactory(config), workers=k) as executor:
                rows.append(run_mode(f"ray {k} worker{'s' if k > 1 else ''}", executor, pairs, config, warmup))
    finally:
        ray.shutdown()
    if args.loop_last:
        loop()

    loop = next((r for r in rows if r["mode"] == "in-process"), None)
    if loop:
        for r in sorted((r for r in rows if r is not loop), key=lambda r: r["workers"]):
            ratio = r["rate"] / loop["rate"]
            target = "at least 0.9x the loop" if r["workers"] == 1 else "at least 1.7x the loop" if r["workers"] == 2 else ""
            met = (ratio >= 0.9) if r["workers"] == 1 else (ratio >= 1.7) if r["workers"] == 2 else None
            print(f"{r['mode']}: {ratio:.2f}x the loop" + (f" (target {target}: {'met' if met else 'NOT met'})"
                                                             if target else ""))
    # sizing: the CPU seconds a pair costs a worker (load-independent, unlike the wall-clock rates above), and
    # the peak memory of one worker
    per_pair = max(r["cpu_per_pair"] for r in rows)
    mem = max(m for r in rows if r["mode"] != "in-process" or len(rows) == 1 for m in r["peak_mib"])
    print(f"\ncost per pair {per_pair:.1f} CPU seconds (the largest of the modes); memory per worker {mem} MiB")
    print("| workers (one core each) | LFW 6,000 pairs | memory for the workers |")
    print("|---|---|---|")
    for n in (1, 2, 8, 16, 32, 64, 128):
        minutes = 6000 * per_pair / n / 60
        took = f"{minutes / 60:.1f} h" if minutes >= 90 else f"{minutes:.0f} min"
        print(f"| {n} | {took} | {n * mem / 1024:.1f} GiB |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
