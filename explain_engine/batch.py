"""Explain a whole pair list: ``python -m explain_engine explain-batch PAIRS.csv --root DIR --out DIR``.

One explanation folder per pair (``OUT/pairs/<key>/``: explanation.json, heatmaps, table.csv and ``status.json``;
for a pair whose photo the quality check refused, ``status.json`` and ``refusal.json``)
plus ``OUT/index.csv`` with one row per pair of the list (pair key, photos, label, status, decision, similarity,
threshold, likelihood ratio when the record has one, most important region, error, folder).

- Models load once per worker: in this process, or once per Ray actor with ``--ray`` / ``--workers``
  (:mod:`explain_engine.distributed`).
- Workers return the folder's files; only this process writes them, each pair's folder atomically (written under a
  temporary name, then renamed), so a killed run never leaves a half-written folder and no pair is written twice.
- A rerun with the same settings skips every finished pair (its ``status.json`` names the settings' fingerprint);
  other settings recompute. Pairs that failed on bad input (no face, unreadable photo, ...) are kept as failed
  unless ``--retry-failed``; pairs that hit an unexpected error or a worker that died too often are retried.
- ``index.csv`` is rebuilt from the folders (one row per listed pair, in list order), so it never holds a pair
  twice, and is rewritten atomically as the run goes.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from models.errors import FaceXError

BATCH_VERSION = 1
INDEX_COLUMNS = ("pair", "img_a", "img_b", "label", "status", "decision", "similarity", "threshold", "lr",
                 "log10_lr", "most_important_region", "error", "folder")
STATUS_FILE = "status.json"
DONE = ("ok", "failed")  # statuses a rerun keeps ("error": unexpected failure or lost worker, retried)


@dataclass(frozen=True)
class BatchPair:
    """One row of the pair list. ``img_a``/``img_b``: as listed; ``image_a``/``image_b``: the paths to read."""

    index: int
    img_a: str
    img_b: str
    image_a: Path
    image_b: Path
    label: int | None = None  # 1 same person, 0 different, None not given

    @property
    def key(self) -> str:
        digest = hashlib.sha1(f"{self.img_a}|{self.img_b}".encode()).hexdigest()[:10]
        return f"{self.index:04d}-{digest}"


def read_batch_pairs(path: str | Path, root: str | Path | None = None) -> list[BatchPair]:
    """The pairs of a CSV with columns ``img_a``, ``img_b`` and optionally ``label`` (1 = same person, 0 = not).

    Args:
        path: the CSV file.
        root: folder the image paths are relative to (default: the CSV's folder); absolute paths stay as they are.
    Returns:
        One :class:`BatchPair` per row, in file order.
    Raises:
        FaceXError: missing file or columns, a label other than 0/1, no rows.
    """
    path = Path(path)
    root = (Path(root) if root else path.parent).absolute()  # workers elsewhere get paths that do not need our cwd
    if not path.is_file():
        raise FaceXError(f"{path}: pairs file not found")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"img_a", "img_b"} <= set(reader.fieldnames):
            raise FaceXError(f"{path}: needs the columns img_a, img_b (and optionally label: 1 same person, 0 not)")
        pairs = []
        for i, r in enumerate(reader):
            label = None
            if (r.get("label") or "").strip():
                if r["label"].strip() not in ("0", "1"):
                    raise FaceXError(f"{path}, row {i + 2}: label must be 0 or 1, not {r['label']!r}")
                label = int(r["label"])
            a, b = (r["img_a"] or "").strip(), (r["img_b"] or "").strip()
            if not a or not b:
                raise FaceXError(f"{path}, row {i + 2}: img_a and img_b must both name a photo")
            pairs.append(BatchPair(i, a, b, root / a, root / b, label))
    if not pairs:
        raise FaceXError(f"{path}: no pairs listed")
    return pairs


def settings_fingerprint(config) -> str:
    """A hash of everything in the engine configuration that changes an explanation."""
    text = json.dumps({"v": BATCH_VERSION, **config.to_dict()}, sort_keys=True, default=str)
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def index_fields(record: dict) -> dict:
    """The index columns taken from an explanation record (LR only when the record carries evidence)."""
    evidence = record.get("evidence") or {}
    return {
        "decision": record.get("decision"),
        "similarity": record.get("similarity"),
        "threshold": record.get("threshold"),
        "lr": evidence.get("lr"),
        "log10_lr": evidence.get("log10_lr"),
        "most_important_region": record.get("most_important_region"),
    }


# -------------------------------------------------------------------------------------------------------------
class PairExplainer:
    """Explains one pair with a loaded engine and hands back the folder's files (it writes nothing itself)."""

    def __init__(self, engine) -> None:
        self.engine = engine

    def __call__(self, pair: BatchPair) -> dict:
        t0 = time.perf_counter()
        out = {"pair": pair.key, "pid": os.getpid(), "files": {}}
        try:
            explanation = self.engine.explain(pair.image_a, pair.image_b)
            with tempfile.TemporaryDirectory(prefix="facex-batch-") as tmp:
                explanation.save(tmp)
                files = {p.name: p.read_bytes() for p in sorted(Path(tmp).iterdir()) if p.is_file()}
            record = json.loads(files["explanation.json"])
            out.update(status="ok", error=None, files=files, **index_fields(record))
        except FaceXError as exc:  # bad input: recorded with its reason, the run goes on
            out.update(status="failed", error=str(exc), files=_refusal_files(exc))
        except Exception as exc:  # noqa: BLE001 - anything else: recorded too, and retried by the next run
            out.update(status="error", error=f"unexpected {type(exc).__name__}: {exc}")
        out["seconds"] = time.perf_counter() - t0
        return out


def _refusal_files(exc: FaceXError) -> dict[str, bytes]:
    """{"refusal.json": ...} for a photo the quality check refused (the chat answers why from it), else {}."""
    from explain_engine.quality import QualityError
    from explain_engine.record import REFUSAL_FILE, RefusalRecord

    if not isinstance(exc, QualityError) or exc.quality is None or exc.component is None:
        return {}
    text = json.dumps(RefusalRecord.from_error(exc).to_dict(), indent=2, ensure_ascii=False) + "\n"
    return {REFUSAL_FILE: text.encode("utf-8")}


@dataclass
class ExplainerFactory:
    """Builds a :class:`PairExplainer` (loading the models) inside each worker. Picklable."""

    config: object  # EngineConfig

    def __call__(self) -> PairExplainer:
        from explain_engine.engine import Engine

        return PairExplainer(Engine(self.config))


# -------------------------------------------------------------------------------------------------------------
def write_pair_folder(folder: Path, files: dict[str, bytes], status: dict) -> None:
    """Write ``files`` and ``status.json`` as ``folder`` in one rename (replacing an older folder of that name)."""
    tmp = folder.parent / f".tmp-{folder.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    for name, data in files.items():
        (tmp / Path(name).name).write_bytes(data)
    (tmp / STATUS_FILE).write_text(json.dumps(status, indent=1) + "\n")
    if folder.exists():
        old = folder.parent / f".old-{folder.name}-{uuid.uuid4().hex[:8]}"
        os.rename(folder, old)
        os.rename(tmp, folder)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(tmp, folder)


def load_status(folder: Path, fingerprint: str | None = None) -> dict | None:
    """A pair folder's status, or None when there is none (or it was made with other settings)."""
    try:
        status = json.loads((folder / STATUS_FILE).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    if fingerprint is not None and status.get("fingerprint") != fingerprint:
        return None
    return status


def write_index(path: Path, rows: list[dict]) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with open(tmp, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=INDEX_COLUMNS, extrasaction="ignore")
        w.writeheader()
        for row in rows:
            w.writerow({k: ("" if row.get(k) is None else row.get(k)) for k in INDEX_COLUMNS})
    os.replace(tmp, path)


@dataclass
class BatchResult:
    rows: list[dict]  # one index row per listed pair, in list order
    computed: int = 0
    cached: int = 0
    seconds: float = 0.0  # wall time of the computing part (workers started to last pair written)
    worker_stats: list[dict] = field(default_factory=list)
    executor: str = "in-process"
    workers: int = 1

    @property
    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.rows:
            out[r.get("status") or "missing"] = out.get(r.get("status") or "missing", 0) + 1
        return out


def run_batch(pairs: list[BatchPair], out: str | Path, config, *, executor=None, progress: bool = True,
              retry_failed: bool = False, index_every_s: float = 10.0) -> BatchResult:
    """Explain every listed pair not already done under ``out``; write the folders and ``index.csv``.

    Args:
        pairs: from :func:`read_batch_pairs`.
        out: output folder (created).
        config: the :class:`~explain_engine.engine.EngineConfig` every pair is explained with.
        executor: a :mod:`~explain_engine.distributed` executor built on :class:`ExplainerFactory` (default:
            in-process).
        retry_failed: recompute pairs that failed on bad input in an earlier run.
    Returns:
        A :class:`BatchResult`; the rows are also in ``out/index.csv``.
    """
    from tqdm import tqdm

    from explain_engine.distributed import LocalExecutor

    out = Path(out)
    folders = out / "pairs"
    folders.mkdir(parents=True, exist_ok=True)
    for stale in list(folders.glob(".tmp-*")) + list(folders.glob(".old-*")):  # left by a killed run
        shutil.rmtree(stale, ignore_errors=True)
    fingerprint = settings_fingerprint(config)
    executor = executor or LocalExecutor(ExplainerFactory(config))
    keep = ("ok",) if retry_failed else DONE
    statuses: dict[str, dict] = {}
    todo = []
    for pair in pairs:
        status = load_status(folders / pair.key, fingerprint)
        if status is not None and status.get("status") in keep:
            statuses[pair.key] = status
        else:
            todo.append(pair)
    result = BatchResult(rows=[], cached=len(statuses), executor=executor.name,
                         workers=int(getattr(executor, "workers", 1) or 1))

    def rows() -> list[dict]:
        return [{**(statuses.get(p.key) or {"status": "pending"}), "pair": p.key, "img_a": p.img_a,
                 "img_b": p.img_b, "label": p.label, "folder": f"pairs/{p.key}"} for p in pairs]

    t0 = time.perf_counter()
    last_index = t0
    failures = sum(1 for s in statuses.values() if s.get("status") != "ok")
    with tqdm(total=len(pairs), initial=len(statuses), disable=not progress, file=sys.stderr, unit="pair",
              desc="explaining", dynamic_ncols=True) as bar:
        bar.set_postfix_str(f"failed {failures}")
        for outcome in executor.imap_unordered(todo):
            pair: BatchPair = outcome.item
            got = outcome.result or {"status": "error", "error": outcome.error or "no result", "files": {}}
            files = got.get("files") or {}
            status = {k: v for k, v in got.items() if k != "files"}
            status.update(pair=pair.key, index=pair.index, img_a=pair.img_a, img_b=pair.img_b, label=pair.label,
                          fingerprint=fingerprint, attempts=outcome.attempts)
            write_pair_folder(folders / pair.key, files, status)
            statuses[pair.key] = status
            result.computed += 1
            failures += status["status"] != "ok"
            bar.set_postfix_str(f"failed {failures}")
            bar.update(1)
            if time.perf_counter() - last_index > index_every_s:
                write_index(out / "index.csv", rows())
                last_index = time.perf_counter()
    result.seconds = time.perf_counter() - t0
    result.rows = rows()
    write_index(out / "index.csv", result.rows)
    result.worker_stats = executor.worker_stats() if todo else []
    return result


def add_distributed_options(p) -> None:
    """``--ray [ADDRESS]`` and ``--workers N`` (shared by explain-batch and evaluate)."""
    p.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                   help="run on Ray: alone, a local Ray instance on this machine's cores; with an address "
                        "(e.g. auto, HEAD:6379, ray://HEAD:10001), join that cluster")
    p.add_argument("--workers", type=int,
                   help="Ray workers, each with its own copy of the models (default with --ray: one per "
                        "core; given without --ray, a local Ray instance)")


def run_command(args, config) -> int:
    """``explain-batch``: read the list, run (in-process or on Ray), print a summary."""
    import dataclasses

    from explain_engine.cli_args import check_output_folder
    from explain_engine.distributed import make_executor, shutdown_ray

    pairs = read_batch_pairs(args.pairs, args.root)
    check_output_folder(args.out)  # a file there or a read-only place: said before any model loads
    if config.calibration:
        config = dataclasses.replace(config, calibration=str(Path(config.calibration).absolute()))
    executor, started = make_executor(ExplainerFactory(config), ray_address=args.ray, workers=args.workers)
    try:
        result = run_batch(pairs, args.out, config, executor=executor, progress=not args.quiet,
                           retry_failed=args.retry_failed)
    finally:
        executor.close()
        shutdown_ray(started)
    counts = result.counts
    for row in result.rows:
        if row.get("status") != "ok":
            print(f"{row['status']} {row['pair']} ({row['img_a']} / {row['img_b']}): {row.get('error')}",
                  file=sys.stderr)
    rate = f", {60 * result.computed / result.seconds:.1f} pairs per minute" if result.computed and result.seconds else ""
    print(f"{len(pairs)} pairs: {counts.get('ok', 0)} explained, {counts.get('failed', 0)} failed on their photos, "
          f"{counts.get('error', 0)} errors; {result.computed} computed now on {result.workers} "
          f"{result.executor} worker(s){rate}, {result.cached} kept from an earlier run")
    print(f"wrote {Path(args.out) / 'index.csv'} and one folder per pair under {Path(args.out) / 'pairs'}")
    return 0 if counts.get("error", 0) == 0 else 1


__all__ = ["BatchPair", "BatchResult", "ExplainerFactory", "PairExplainer", "add_distributed_options",
           "index_fields", "load_status", "read_batch_pairs", "run_batch", "run_command", "settings_fingerprint",
           "write_index", "write_pair_folder"]
