"""Per-pair evaluation with the engine, and the resumable loop over a pair set.

Genuine pairs get the ablation (S0 / S1 with inpaint and black fills, the xFace occlusion baseline, the pixel maps
FGGB and CorrRISE, a random order), their Deletion / Insertion similarity curves and the S0 stability over
seeds/jitters; different-person pairs get S0 and the region-swap test. Both kinds get every map's hiding-game curve
(DFV, paper 002: the least important pixels blurred first) and the seconds each map took. Each finished pair is written to OUT/pairs/<key>.json together with a fingerprint of the
options, so an interrupted run picks up where it stopped and a run with other options recomputes.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from models.errors import FaceXError

from ..attribution.corrrise import DEFAULT_MASKS, corrrise_maps
from ..attribution.fggb import FAST_CHANNELS, FAST_PRECISION, fggb_maps, supports_gradients
from ..attribution.greedy import greedy_inpaint
from ..attribution.occlusion import occlusion_map
from ..attribution.single import single_inpaint
from ..attribution.stability import stability
from ..heatmaps import region_heatmap
from ..scoring import PairScorer
from . import hiding_game, metrics
from .montage import save_montage
from .region_swap import region_swap_test
from .statistics import mean_pairwise_spearman

# "<method>/<perturbation>" keys of the ablation, in report order.
METHOD_KEYS = ("s0/inpaint", "s0/black", "s1/inpaint", "s1/black", "xface/occlusion", "fggb", "fggb_fast", "corrrise",
               "random")
PIXEL_MAPS = ("fggb", "fggb_fast", "corrrise")
CACHE_VERSION = 3  # 2: TELEA/NS fills no longer read the hidden pixels at the crop border; 3: pixel maps, hiding game
SWAP_VERSION = 2  # different-person records: 2 adds the matched-mask base of union pastes


@dataclass
class EvaluationOptions:
    removal: str = "blur"  # the Deletion/Insertion removal operation: blur | black
    steps: int = 11  # fractions 0, 0.1, ..., 1
    samples: int = 1  # S0 runs averaged (seeds / jitters) in the region-swap test
    seeds: int = 3  # S0 runs compared for the stability measure
    blend: str = "alpha"  # region-swap pasting: alpha | seamless | none (Poisson washes thin regions out)
    swap_extent: str = "union"  # region-swap paste mask: all of R in A or in B ("union") or R as located in A ("a")
    occlusion_patches: tuple[int, ...] = (14, 28)  # xFace patch sizes (px on the 150 px crop)
    occlusion_stride: int = 14
    s1_min_change: float = 1e-4
    tie_seed: int = 0  # the fixed permutation that orders pixels of equal importance
    pixel_maps: tuple[str, ...] = PIXEL_MAPS  # FGGB (needs a face model with gradients) and CorrRISE
    corrrise_masks: int = DEFAULT_MASKS

    def fingerprint(self, label: int | None = None) -> str:
        """A hash of the options that change the record of a genuine (label 1) or different-person (0) pair, so
        that e.g. another blend recomputes only the swap test."""
        opts = asdict(self)
        if label is not None:
            swap_only = ("samples", "blend", "swap_extent")
            both = ("pixel_maps", "corrrise_masks", "occlusion_patches", "occlusion_stride", "steps",
                    "s1_min_change", "tie_seed")  # every pair's maps and hiding game (always blur) use these
            opts = {k: v for k, v in opts.items() if k in both or (k in swap_only) == (int(label) != 1)}
            if int(label) != 1:
                opts["swap_version"] = SWAP_VERSION
        text = json.dumps({"v": CACHE_VERSION, **opts}, sort_keys=True, default=list)
        return hashlib.sha1(text.encode()).hexdigest()[:12]


@dataclass
class Pair:
    index: int
    image_a: Path
    image_b: Path
    label: int  # 1 = same person

    @property
    def key(self) -> str:
        digest = hashlib.sha1(f"{self.image_a}|{self.image_b}|{self.label}".encode()).hexdigest()[:10]
        return f"{self.index:04d}-{digest}"


class EmbeddingMemo:
    """An embed callable that remembers embeddings by image content: the Deletion/Insertion end points (the
    original and the fully removed crop) are shared by every method and embedded once."""

    def __init__(self, embed: Callable[[np.ndarray], np.ndarray]) -> None:
        self.embed = embed
        self.cache: dict[bytes, np.ndarray] = {}
        self.calls = 0  # images actually embedded

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        batch = np.asarray(batch)
        keys = [hashlib.sha1(np.ascontiguousarray(im).tobytes()).digest() for im in batch]
        todo = [i for i, k in enumerate(keys) if k not in self.cache]
        todo_unique = list({keys[i]: i for i in todo}.values())
        if todo_unique:
            emb = np.asarray(self.embed(batch[todo_unique]), dtype=np.float64)
            self.calls += len(todo_unique)
            for i, e in zip(todo_unique, emb):
                self.cache[keys[i]] = e
        return np.stack([self.cache[k] for k in keys])


def _jsonable(deltas: dict) -> dict:
    return {k: float(v) for k, v in deltas.items()}


def _union(masks: dict[str, np.ndarray]) -> np.ndarray:
    out = np.zeros(next(iter(masks.values())).shape, dtype=bool)
    for m in masks.values():
        out |= m
    return out


class PairEvaluator:
    """Evaluates one pair with an :class:`~explain_engine.engine.Engine` (models loaded once)."""

    def __init__(self, engine, options: EvaluationOptions, *, example_dir: str | Path | None = None,
                 examples: int = 1) -> None:
        self.engine = engine
        self.options = options
        self.fractions = metrics.step_fractions(options.steps)
        self.example_dir = Path(example_dir) if example_dir else None
        self._examples_left = {0: examples, 1: examples}  # picture sheets still to draw, per pair kind

    def _example(self, label: int, name: str, rows, title: str) -> None:
        """Save a sheet of the fills / pastes of this pair (into OUT, never the repository)."""
        if self.example_dir is None or self._examples_left[int(label == 1)] <= 0:
            return
        self._examples_left[int(label == 1)] -= 1
        save_montage(self.example_dir / name, rows, title)

    def __call__(self, pair: Pair) -> dict:
        t0 = time.perf_counter()
        record = {"key": pair.key, "index": pair.index, "img_a": str(pair.image_a), "img_b": str(pair.image_b),
                  "label": int(pair.label), "threshold": float(self.engine.threshold)}
        try:
            face_a, face_b, _ = self.engine.prepare_pair(pair.image_a, pair.image_b, regions=True)
        except FaceXError as exc:  # an unusable photo: recorded (and cached) as skipped; retried once a missing
            missing = [str(p) for p in (pair.image_a, pair.image_b) if not p.exists()]  # photo appears
            return {**record, "status": "skipped", "reason": str(exc), "missing": missing,
                    "seconds": time.perf_counter() - t0}
        t1 = time.perf_counter()
        ma, mb = face_a.regions.masks, face_b.regions.masks
        regions = [r for r in face_a.regions.names if r in mb]
        embed = EmbeddingMemo(self.engine.pipeline.embed)
        fill = self.engine.make_fill(source_mask=_union(ma) | _union(mb))
        record.update(status="ok", regions=regions, fill=fill.name,
                      areas={r: float(ma[r].mean()) for r in regions})
        if pair.label == 1:
            record.update(self._genuine(face_a.crop, face_b.crop, ma, mb, regions, embed, fill, pair.index))
        else:
            record.update(self._impostor(face_a.crop, face_b.crop, ma, mb, regions, embed, fill, pair.index))
        t2 = time.perf_counter()
        if pair.label != 1:
            self._swap_example(pair, face_a.crop, face_b.crop, ma, mb, regions)
        record.update(embeddings=embed.calls, seconds=t2 - t0, timings={"prepare": t1 - t0, "evaluate": t2 - t1})
        return record

    # ---------------------------------------------------------------------------------------------------------
    def _maps(self, crop_a, crop_b, ma, mb, regions, scorer, fill) -> tuple[dict, dict, dict]:
        """Every evaluated map of one pair on its crops: ({method key: (map_a, map_b)}, {key: seconds},
        {name: attribution result}). Region maps give each region's pixels its normalised contribution."""
        opts = self.options
        black = self.engine.make_fill("black")
        seconds: dict[str, float] = {}
        res: dict = {}

        def timed(key, fn):
            t = time.perf_counter()
            out = fn()
            seconds[key] = time.perf_counter() - t
            return out

        res["s0"] = timed("s0/inpaint", lambda: single_inpaint(None, None, ma, mb, scorer, fill, regions=regions))
        res["s0_black"] = timed("s0/black", lambda: single_inpaint(None, None, ma, mb, scorer, black,
                                                                   regions=regions, method="s0_black"))
        res["s1"] = timed("s1/inpaint", lambda: greedy_inpaint(
            None, None, ma, mb, scorer, fill, s0_fills=res["s0"]["both"].details["fills"],
            min_change=opts.s1_min_change))
        res["s1_black"] = timed("s1/black", lambda: greedy_inpaint(
            None, None, ma, mb, scorer, black, s0_fills=res["s0_black"]["both"].details["fills"],
            min_change=opts.s1_min_change))
        res["occ"] = timed("xface/occlusion", lambda: occlusion_map(
            None, None, scorer, patch_sizes=tuple(opts.occlusion_patches), stride=opts.occlusion_stride))
        shape = crop_a.shape[:2]
        maps = {}
        for key, r in (("s0/inpaint", res["s0"]["both"]), ("s0/black", res["s0_black"]["both"]),
                       ("s1/inpaint", res["s1"]), ("s1/black", res["s1_black"])):
            maps[key] = (region_heatmap(ma, r.normalised, shape), region_heatmap(mb, r.normalised, shape))
        maps["xface/occlusion"] = (res["occ"].map_a, res["occ"].map_b)
        model = self.engine.pipeline.embedder
        fggb_options = {"fggb": {}, "fggb_fast": {"channels": FAST_CHANNELS, "precision": FAST_PRECISION}}
        for key in [k for k in fggb_options if k in opts.pixel_maps]:
            if supports_gradients(model):  # ONNX / callables: no gradients, no FGGB
                res[key] = timed(key, lambda key=key: fggb_maps(
                    crop_a, crop_b, model, threshold=self.engine.threshold, masks_a=ma, masks_b=mb, method=key,
                    **fggb_options[key]))
                maps[key] = (res[key].signed_a, res[key].signed_b)
        if "corrrise" in opts.pixel_maps:
            res["corrrise"] = timed("corrrise", lambda: corrrise_maps(
                None, None, scorer, threshold=self.engine.threshold, n_masks=opts.corrrise_masks, masks_a=ma,
                masks_b=mb))
            maps["corrrise"] = (res["corrrise"].signed_a, res["corrrise"].signed_b)
        zero = np.zeros(shape, dtype=np.float32)
        maps["random"] = (zero, zero)  # all ties: the fixed random permutation alone decides the order
        seconds["random"] = 0.0
        return maps, seconds, res

    def _hiding(self, crop_a, crop_b, maps, scorer, pair_index: int) -> dict:
        """DFV's hiding game for every map: (2, S) similarities as the least important pixels are blurred."""
        blur_a = metrics.removal_image(crop_a, "blur")
        blur_b = metrics.removal_image(crop_b, "blur")
        out = {}
        for key, (map_a, map_b) in maps.items():
            seed = self.options.tie_seed + (1000 + 2 * pair_index if key == "random" else 0)
            out[key] = hiding_game.hiding_curves(crop_a, crop_b, map_a, map_b, scorer.score_pairs,
                                                 blurred_a=blur_a, blurred_b=blur_b, fractions=self.fractions,
                                                 seed=seed).tolist()
        return out

    def _genuine(self, crop_a, crop_b, ma, mb, regions, embed, fill, pair_index: int) -> dict:
        opts = self.options
        scorer = PairScorer(embed, crop_a, crop_b)
        maps, seconds, res = self._maps(crop_a, crop_b, ma, mb, regions, scorer, fill)
        s0, s0_black, s1, s1_black, occ = res["s0"], res["s0_black"], res["s1"], res["s1_black"], res["occ"]
        show = [r for r in ("eyes", "nose", "mouth", "cheeks", "forehead") if r in regions]
        self._example(1, f"fills_{pair_index:04d}.png", [
            [("A", crop_a)] + [(f"{r}: {fill.name}", s0["both"].details["fills"].images_a[r]) for r in show],
            [("A", crop_a)] + [(f"{r}: black", s0_black["both"].details["fills"].images_a[r]) for r in show],
            [("B", crop_b)] + [(f"{r}: {fill.name}", s0["both"].details["fills"].images_b[r]) for r in show],
        ], "Fills used to make the S0 maps (inpaint vs black)")

        removed_a = metrics.removal_image(crop_a, opts.removal)
        removed_b = metrics.removal_image(crop_b, opts.removal)
        curves = {}
        for key, (map_a, map_b) in maps.items():
            # random gets its own permutation per pair; the region maps share the fixed tie-break permutation
            seed = opts.tie_seed + (1000 + 2 * pair_index if key == "random" else 0)
            c = metrics.deletion_insertion_curves(crop_a, crop_b, map_a, map_b, scorer.score_pairs,
                                                  removed_a=removed_a, removed_b=removed_b,
                                                  fractions=self.fractions, seed=seed)
            curves[key] = {k: v.tolist() for k, v in c.items()}

        stab = stability(crop_a, crop_b, ma, mb, embed, fill, samples=opts.seeds, regions=regions)
        rankings = [s0["both"].normalised] + list(stab.runs)
        return {
            "similarity": scorer.reference,
            "fractions": self.fractions.tolist(),
            "s0": {v: _jsonable(r.deltas) for v, r in s0.items()},
            "s0_normalised": _jsonable(s0["both"].normalised),
            "s0_black": _jsonable(s0_black["both"].deltas),
            "s1": _jsonable(s1.deltas),
            "s1_black": _jsonable(s1_black.deltas),
            "occlusion_regions": {r: float(occ.map_a[ma[r]].mean()) for r in regions},
            "pixel_map_columns": {k: res[k].column for k in PIXEL_MAPS if k in res},
            "curves": curves,
            "hiding": self._hiding(crop_a, crop_b, maps, scorer, pair_index),
            "method_seconds": seconds,
            "stability": {"mode": stab.mode, "runs": [_jsonable(r) for r in stab.runs],
                          "spearman": mean_pairwise_spearman(rankings),
                          "top_region_kept": stab.top_region_kept},
        }

    def _swap_example(self, pair: Pair, crop_a, crop_b, ma, mb, regions) -> None:
        from .region_swap import paste_region, swap_region_masks

        show = [r for r in ("eyes", "nose", "mouth", "eyebrows", "chin") if r in regions]
        rows = []
        for blend in ("alpha", "seamless"):
            row = [("A", crop_a) if blend == "alpha" else ("B", crop_b)]
            for r in show:
                paste, _ = swap_region_masks(ma, mb, r, extent=self.options.swap_extent)
                row.append((f"A + B's {r} ({blend})", paste_region(crop_a, crop_b, paste, blend=blend)))
            rows.append(row)
        self._example(0, f"swaps_{pair.index:04d}.png", rows, "Region swap: B's region pasted into A")

    def _impostor(self, crop_a, crop_b, ma, mb, regions, embed, fill, pair_index: int = 0) -> dict:
        swap = region_swap_test(crop_a, crop_b, ma, mb, embed, fill, regions=regions, blend=self.options.blend,
                                samples=self.options.samples, extent=self.options.swap_extent)
        base = swap["base"]["both"]
        from ..attribution import normalise

        scorer = PairScorer(embed, crop_a, crop_b)
        maps, seconds, res = self._maps(crop_a, crop_b, ma, mb, regions, scorer, fill)
        return {"hiding": self._hiding(crop_a, crop_b, maps, scorer, pair_index), "method_seconds": seconds,
                "fractions": self.fractions.tolist(),
                "pixel_map_columns": {k: res[k].column for k in PIXEL_MAPS if k in res},
                "similarity": swap["reference"], "s0": {v: _jsonable(d) for v, d in swap["base"].items()},
                "s0_normalised": _jsonable(normalise(base)),
                "swap": {"blend": swap["blend"], "extent": swap["extent"],
                         "swaps": {r: {"similarity": float(s["similarity"]),
                                       **{k: {v: _jsonable(d) for v, d in s[k].items()}
                                          for k in ("deltas", "base") if k in s}}
                                   for r, s in swap["swaps"].items()}}}


# -------------------------------------------------------------------------------------------------------------
class PairCache:
    """One JSON file per pair under ``folder``; a file counts only if its fingerprint matches the options.
    ``fingerprint``: one string for every pair, or a function of the pair."""

    def __init__(self, folder: str | Path, fingerprint: str | Callable[[Pair], str]) -> None:
        self.folder = Path(folder)
        self._fingerprint = fingerprint
        self.folder.mkdir(parents=True, exist_ok=True)

    def fingerprint(self, pair: Pair) -> str:
        return self._fingerprint(pair) if callable(self._fingerprint) else str(self._fingerprint)

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def load(self, pair: Pair) -> dict | None:
        p = self.path(pair.key)
        if not p.exists():
            return None
        try:
            record = json.loads(p.read_text())
        except (OSError, json.JSONDecodeError):
            return None  # a half-written file from a killed run: recompute
        return record if record.get("fingerprint") == self.fingerprint(pair) else None

    def save(self, pair: Pair, record: dict) -> None:
        tmp = self.path(pair.key).with_suffix(".json.tmp")
        tmp.write_text(json.dumps({**record, "fingerprint": self.fingerprint(pair)}, indent=1))
        os.replace(tmp, self.path(pair.key))  # atomic: an interrupted write never leaves a truncated record


@dataclass
class RunStats:
    computed: int = 0
    cached: int = 0
    skipped: list[str] = field(default_factory=list)


def may_retry(record: dict, retry_skipped: bool = False) -> bool:
    """Whether a cached skipped record should be evaluated again: always with ``retry_skipped``, else when it was
    skipped for a missing photo that exists now (records from before ``missing`` was kept: "file not found" in
    the reason and both photos present)."""
    if record.get("status") != "skipped":
        return False
    if retry_skipped:
        return True
    missing = record.get("missing")
    if missing is None and "file not found" in str(record.get("reason", "")):
        missing = [record.get("img_a", ""), record.get("img_b", "")]
    return bool(missing) and all(Path(p).exists() for p in missing)


def run_pairs(pairs: Sequence[Pair], evaluate: Callable[[Pair], dict] | None, cache: PairCache, *,
              progress: bool = True, retry_skipped: bool = False, executor=None) -> tuple[list[dict], RunStats]:
    """Evaluate every pair not already cached; returns (records in pair order, stats).

    A cached skipped pair is evaluated again when :func:`may_retry` says its cause may have gone (a missing
    photo now exists), or for every skipped pair with ``retry_skipped``.

    ``executor``: where the pairs run (an :mod:`explain_engine.distributed` executor, e.g. Ray actors each holding
    its own evaluator); default: ``evaluate`` in this process. Each finished pair is cached as it arrives, so an
    interrupted run resumes. A pair whose evaluation raised (not bad input: that is recorded as skipped) is not
    cached; the other pairs still run, and a RuntimeError naming the failed ones ends the run.
    """
    import sys

    from tqdm import tqdm

    from ..distributed import LocalExecutor

    if executor is None:
        if evaluate is None:
            raise ValueError("run_pairs needs an evaluate callable or an executor")
        executor = LocalExecutor(lambda: evaluate)
    stats = RunStats()
    records: dict[str, dict] = {}
    todo = []
    for pair in pairs:
        record = cache.load(pair)
        if record is None or may_retry(record, retry_skipped):
            todo.append(pair)
        else:
            records[pair.key] = record
    stats.cached = len(records)
    errors = []
    with tqdm(total=len(pairs), initial=stats.cached, disable=not progress, file=sys.stderr, unit="pair",
              desc="evaluating") as bar:
        for outcome in executor.imap_unordered(todo):
            pair = outcome.item
            if outcome.error is not None:
                errors.append(f"{pair.image_a.name} / {pair.image_b.name}: {outcome.error}")
            else:
                cache.save(pair, outcome.result)
                records[pair.key] = outcome.result
                stats.computed += 1
            bar.set_postfix_str(f"{'genuine' if pair.label else 'impostor'} {pair.key}"
                                + (f", {len(errors)} failed" if errors else ""), refresh=False)
            bar.update(1)
    if errors:
        raise RuntimeError(f"{len(errors)} pair(s) failed (the {stats.computed + stats.cached} others are cached; "
                           "rerun to retry them): " + "; ".join(errors))
    ordered = [records[p.key] for p in pairs]
    for pair, record in zip(pairs, ordered):
        if record.get("status") != "ok":
            stats.skipped.append(f"{pair.image_a.name} / {pair.image_b.name}: {record.get('reason')}")
    return ordered, stats


@dataclass
class EvaluatorFactory:
    """Builds the engine and a :class:`PairEvaluator` inside each worker (models loaded once per worker).
    Picklable, for Ray actors."""

    models: object  # ModelConfig
    options: EvaluationOptions
    calibration: str | None = None
    example_dir: str | None = None

    def __call__(self) -> PairEvaluator:
        from ..engine import Engine, EngineConfig

        engine = Engine(EngineConfig(models=self.models, perturbation="inpaint", calibration=self.calibration))
        return PairEvaluator(engine, self.options, example_dir=self.example_dir)


def select_pairs(rows: Sequence[tuple[Path, Path, int]], *, limit: int | None = None, genuine_only: bool = False,
                 impostors: int | None = None, seed: int = 0) -> list[Pair]:
    """Genuine pairs (the first ``limit``) and different-person pairs (``impostors``, default ``limit``; spread
    over the list by a fixed random draw so the sample is not one person's photos)."""
    pairs = [Pair(i, Path(a), Path(b), int(lab)) for i, (a, b, lab) in enumerate(rows)]
    genuine = [p for p in pairs if p.label == 1]
    impostor = [p for p in pairs if p.label != 1]
    if limit is not None:
        genuine = genuine[:limit]
    n_imp = 0 if genuine_only else (impostors if impostors is not None else (limit if limit is not None else len(impostor)))
    if n_imp < len(impostor):
        pick = np.sort(np.random.default_rng(seed).choice(len(impostor), size=max(0, n_imp), replace=False))
        impostor = [impostor[i] for i in pick]
    return sorted(genuine + impostor, key=lambda p: p.index)
