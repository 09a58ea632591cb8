"""``python -m explain_engine evaluate PAIRS.csv --root DIR --out DIR [options]``: the faithfulness evaluation.

Exit status: 0 done; 2 bad input or arguments (one line on stderr); 1 a bug.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from dataclasses import asdict
from pathlib import Path

from explain_engine.cli_args import COUNT_0, COUNT_1, EXIT_BAD_INPUT, OneLineParser, check_output_folder, whole
from explain_engine.pairs import read_pairs
from models.errors import ConfigError, FaceXError


def build_parser() -> argparse.ArgumentParser:
    from explain_engine.batch import add_distributed_options

    p = OneLineParser(
        prog="python -m explain_engine evaluate",
        description="Deletion/Insertion ablation, region-swap test, region statistics and stability of the region "
                    "explanations over a labelled pair set. Finished pairs are cached under OUT/pairs/, so an "
                    "interrupted run resumes. A pair skipped because a photo was missing is tried again once the "
                    "photo exists; --retry-skipped tries every skipped pair again.")
    p.add_argument("pairs", help="CSV with columns img_a, img_b, label (1 = same person)")
    p.add_argument("--root", help="folder the image paths are relative to (default: the CSV's folder)")
    p.add_argument("--out", required=True, help="output folder (keep it outside the repository)")
    p.add_argument("--limit", type=COUNT_0, help="at most N genuine pairs and N different-person pairs")
    p.add_argument("--impostors", type=COUNT_0,
                   help="different-person pairs for the swap test (default: --limit or all)")
    p.add_argument("--genuine-only", action="store_true", help="skip different-person pairs (no swap test)")
    p.add_argument("--removal", choices=("blur", "black"), default="blur", help="Deletion/Insertion removal")
    p.add_argument("--steps", type=whole(2, what="a step count"), default=11,
                   help="Deletion/Insertion steps from 0 to 100%% (at least 2; default 11)")
    p.add_argument("--samples", type=COUNT_1, default=1, help="S0 runs averaged (seeds/jitters) in the swap test")
    p.add_argument("--seeds", type=COUNT_1, default=3, help="extra S0 runs for the stability measure")
    p.add_argument("--blend", choices=("alpha", "seamless", "none"), default="alpha",
                   help="swap-test pasting: feathered alpha (default) or Poisson (cv2.seamlessClone)")
    p.add_argument("--swap-extent", choices=("a", "union"), default="union",
                   help="swap-test paste mask: all of R as it lies in A or in B (default), or R as located in A")
    p.add_argument("--swap-variant", choices=("both", "a", "b", "ab"), default="a",
                   help="S0 variant whose swap results go into summary.json: only the pasted photo A' perturbed "
                        "(default), both photos, only B, or the mean of the one-sided two (all are in the report)")
    p.add_argument("--occlusion-stride", type=COUNT_1, default=14, help="xFace baseline stride (px, at least 1)")
    p.add_argument("--pixel-maps", default="fggb,fggb_fast,corrrise",
                   help="pixel-level maps to evaluate besides the region maps, comma-separated from fggb, fggb_fast, "
                        "corrrise (default: all three), or 'none'; FGGB is skipped for face models without gradients "
                        "(ONNX)")
    p.add_argument("--corrrise-masks", type=COUNT_1, default=None, help="CorrRISE masks per photo (default: the "
                   "product's)")
    p.add_argument("--inpainter", help="inpainting backend (default: telea, or FACEX_INPAINTER)")
    p.add_argument("--embedder", help="face model backend (default: dlib-torch)")
    p.add_argument("--calibration", help="calibration JSON (default: the one shipped for the face model)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--retry-skipped", dest="retry_skipped", action="store_true",
                   help="evaluate again every pair an earlier run skipped (pairs skipped for a missing photo are "
                        "retried anyway once the photo exists)")
    p.add_argument("--verbose", action="store_true", help="also show third-party log lines (MediaPipe, TF Lite)")
    add_distributed_options(p)
    return p


def main(argv: list[str] | None = None) -> int:
    from models.quiet import quiet_third_party

    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    with quiet_third_party(verbose=args.verbose):
        try:
            return run(args)
        except FaceXError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT


def run(args: argparse.Namespace) -> int:
    from explain_engine.distributed import make_executor, shutdown_ray
    from explain_engine.engine import Engine, EngineConfig
    from models.config import ModelConfig

    from .report import write_outputs
    from .runner import EvaluationOptions, EvaluatorFactory, PairCache, PairEvaluator, run_pairs, select_pairs

    pairs_path = Path(args.pairs)
    root = Path(args.root) if args.root else pairs_path.parent
    out = check_output_folder(args.out)  # a file there or a read-only place: said before any model loads
    pairs = select_pairs(read_pairs(pairs_path, root), limit=args.limit, genuine_only=args.genuine_only,
                         impostors=args.impostors)
    if not pairs:
        raise FaceXError("no pairs selected: check --limit / --genuine-only and the labels in the CSV")
    if args.corrrise_masks is not None and args.corrrise_masks < 3:
        raise ConfigError("--corrrise-masks must be at least 3 (CorrRISE correlates mask values with scores)")
    options = EvaluationOptions(removal=args.removal, steps=args.steps, samples=args.samples, seeds=args.seeds,
                                blend=args.blend, swap_extent=args.swap_extent,
                                occlusion_stride=args.occlusion_stride, pixel_maps=_pixel_maps(args.pixel_maps),
                                **({"corrrise_masks": args.corrrise_masks} if args.corrrise_masks else {}))
    models = ModelConfig.from_env(inpainter=args.inpainter, embedder=args.embedder)
    t0 = time.perf_counter()
    engine = Engine(EngineConfig(models=models, perturbation="inpaint", calibration=args.calibration))
    load_s = time.perf_counter() - t0
    # the threshold is not part of it: records keep raw similarities, decided at report time with today's threshold
    models_id = f"{engine.model_name}-{models.inpainter}"
    cache = PairCache(out / "pairs", lambda pair: f"{options.fingerprint(pair.label)}-{models_id}")
    t1 = time.perf_counter()
    retry = getattr(args, "retry_skipped", False)
    if args.ray is None and args.workers is None:  # in-process, with the engine loaded above
        records, stats = run_pairs(pairs, PairEvaluator(engine, options, example_dir=out / "examples"), cache,
                                   progress=not args.quiet, retry_skipped=retry)
    else:  # Ray actors, each loading its own engine once
        factory = EvaluatorFactory(models, options, calibration=args.calibration, example_dir=str(out / "examples"))
        executor, started = make_executor(factory, ray_address=args.ray, workers=args.workers)
        try:
            records, stats = run_pairs(pairs, None, cache, progress=not args.quiet, retry_skipped=retry,
                                       executor=executor)
        finally:
            executor.close()
            shutdown_ray(started)
    run_s = time.perf_counter() - t1
    meta = {
        "model": engine.model_name, "threshold": engine.threshold,
        "calibration": (engine.calibration.name if engine.calibration else "none: the model's default threshold"),
        "fill": engine.perturbation_name, "pairs_file": str(pairs_path), "computed_pairs": stats.computed,
        "cached_pairs": stats.cached, "run_seconds": run_s, "load_seconds": load_s,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    summary = write_outputs(records, out, options=asdict(options), meta=meta, swap_variant=args.swap_variant,
                            threshold=engine.threshold)
    for s in stats.skipped:
        print(f"skipped {s}", file=sys.stderr)
    print(text_summary(summary))
    print(f"wrote {out / 'summary.json'}, {out / 'report.md'}, CSVs and {len(summary['plots'])} plots")
    return 0


def _pixel_maps(text: str) -> tuple[str, ...]:
    from .runner import PIXEL_MAPS

    names = tuple(n.strip().lower() for n in text.split(",") if n.strip() and n.strip().lower() != "none")
    unknown = [n for n in names if n not in PIXEL_MAPS]
    if unknown:
        raise ConfigError(f"unknown pixel map(s) {', '.join(unknown)}; choose from {', '.join(PIXEL_MAPS)} or none")
    return names


def text_summary(s: dict) -> str:
    f = lambda x, fmt="{:.2f}": "—" if x is None else fmt.format(x)
    lines = [(f"pairs {s['pairs']} ({s['genuine_pairs']} genuine, {s['impostor_pairs']} impostor; "
             f"{s['computed_pairs']} computed, {s['cached_pairs']} from cache)")]
    for k in dict.fromkeys(list(s["deletion"]) + list(s.get("hiding_auc", {}))):
        d, i, h = s["deletion"].get(k), s["insertion"].get(k), s.get("hiding_auc", {}).get(k)
        sec = s.get("method_seconds", {}).get(k)
        lines.append(f"  {k:<16} deletion {f(d, '{:6.2f}')}   insertion {f(i, '{:6.2f}')}   hiding AUC "
                     f"{f(h, '{:6.2f}')}   {f(sec, '{:.2f}')} s")
    lines.append(f"region swap ({s['region_swap_variant']}): top-1 {f(s['region_swap_top1'])}  "
                 f"top-3 {f(s['region_swap_top3'])}  gain {f(s['region_swap_gain'])}  ({s['region_swaps']} swaps)")
    lines.append(f"seed stability (Spearman): {f(s['seed_stability'], '{:.3f}')}")
    lines.append(f"benchmark: {f(s['seconds_per_pair'], '{:.1f}')} s per pair "
                 f"(genuine {f(s['seconds_per_genuine_pair'], '{:.1f}')}, impostor "
                 f"{f(s['seconds_per_impostor_pair'], '{:.1f}')}), model load {s['load_seconds']:.1f} s")
    return "\n".join(lines)
