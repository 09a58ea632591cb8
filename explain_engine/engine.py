"""The engine: verify a pair of photos, and explain the decision region by region.

``Engine`` owns one :class:`~explain_engine.pipeline.FacePipeline` (models loaded once) and one calibration.
``verify`` gives the decision with both confidence scores; ``explain`` adds the region attributions (S0, S1, AVG
and contrasts) computed on the aligned crops: perturbed crops are embedded directly, never re-detected.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from explain_engine import methods as registry
from explain_engine.calibration import (
    CONFIDENCE_MEANING,
    PIC_MEANING,
    Calibration,
    default_calibration_path,
)
from explain_engine.pipeline import FacePipeline, PreparedFace, source_name
from explain_engine.quality import QualityError
from explain_engine.scoring import cosine
from models.config import ModelConfig
from models.errors import ConfigError, FaceXError
from models.images import ImageSource

PERTURBATIONS = ("inpaint", "black", "blur", "mean")
# Face models that compute the same embeddings as another one share its calibration: dlib's native network and its
# torch port agree to about 5e-7 per descriptor value.
CALIBRATION_ALIASES = {"dlib": "dlib-torch"}
Progress = Callable[[str, float], None]


@dataclass
class EngineConfig:
    """What the engine runs with. ``models`` picks the backends (detector, face model, inpainter, ...)."""

    models: ModelConfig = field(default_factory=ModelConfig.from_env)
    perturbation: str = "inpaint"  # inpaint (the configured inpainter) | black | blur | mean
    methods: tuple[str, ...] = registry.DEFAULT_METHODS  # keys of explain_engine.methods
    region_set: str = "coarse"  # coarse (9 regions) | fine (12, left/right split)
    samples: int = 1  # >1: repeat with K seeds / alignment jitters and report mean ± sd per region
    max_steps: int | None = None  # S1: at most this many greedy steps per run (None: all regions)
    min_change: float = 1e-4  # S1: stop a run when the best step changes the similarity by no more than this
    seed: int = 0
    calibration: str | Path | None = None  # calibration JSON; None: the shipped one for the face model
    threshold: float | None = None  # an explicit decision threshold overrides the calibration's
    min_face_pixels: int = 32
    small_face_pixels: int = 80
    robustness: bool = True  # S0 again under other fills and re-alignments (explain_engine.robustness)

    def __post_init__(self) -> None:
        if self.perturbation not in PERTURBATIONS:
            raise ConfigError(f"perturbation must be one of {', '.join(PERTURBATIONS)}, not {self.perturbation!r}")
        if self.region_set not in ("coarse", "fine"):
            raise ConfigError(f"region set must be 'coarse' or 'fine', not {self.region_set!r}")
        if isinstance(self.methods, str):
            self.methods = tuple(m.strip() for m in self.methods.split(",") if m.strip())
        self.methods = tuple(str(m).lower() for m in self.methods)
        if not self.methods:
            raise ConfigError("at least one attribution method is needed, e.g. s0")
        registry.plan(self.methods)  # an unknown method fails here, before any work
        if int(self.samples) < 1:
            raise ConfigError(f"samples must be at least 1, not {self.samples}")
        self.samples = int(self.samples)
        if self.max_steps is not None and int(self.max_steps) < 1:
            raise ConfigError(f"max_steps must be at least 1, not {self.max_steps}")
        if self.threshold is not None and not -1.0 <= float(self.threshold) <= 1.0:  # also refuses NaN
            raise ConfigError(f"threshold must be a cosine similarity in [-1, 1], not {self.threshold}")
        if not float(self.min_change) >= 0.0:  # also refuses NaN
            raise ConfigError(f"min_change must be 0 or more, not {self.min_change}")

    def to_dict(self) -> dict:
        d = asdict(self)
        d["models"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in d["models"].items()}
        d["calibration"] = str(self.calibration) if self.calibration else None
        return d


@dataclass
class Verification:
    """The decision on one pair, with both confidence scores and where they came from."""

    decision: str  # "match" | "non-match"
    similarity: float  # cosine similarity of the two embeddings
    distance: float  # 1 - similarity
    threshold: float  # match iff similarity >= threshold
    margin: float  # similarity - threshold
    confidence: float | None  # xFace C-score, [0.5, 1]
    pic_score: float | None  # probability the decision is right, [0, 1]
    faces_found: dict[str, int]
    model: str
    model_description: str
    calibration: dict | None
    confidence_meaning: str = CONFIDENCE_MEANING
    pic_meaning: str = PIC_MEANING
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    quality: dict | None = None  # {"a": ..., "b": ...}: explain_engine.quality.PhotoQuality.to_dict() per photo
    outside_calibration: bool = False  # a photo's quality outcome is warn: no confidence may be worded as certain
    evidence: dict | None = None  # the LR, its verbal equivalent, error rates, conclusiveness (explain_engine.evidence)

    @property
    def is_match(self) -> bool:
        return self.decision == "match"

    def to_dict(self) -> dict:
        return asdict(self)

    def statement(self) -> str:
        """The LR statement first (propositions' form), then the decision at the threshold with honest scores."""
        from explain_engine.evidence import decision_lines

        return "\n".join(decision_lines(self.to_dict()))


def _fingerprint(image: np.ndarray) -> str:
    return hashlib.sha1(np.ascontiguousarray(image).tobytes() + str(image.shape).encode()).hexdigest()


def _same_file(a: ImageSource, b: ImageSource) -> bool:
    if isinstance(a, (str, Path)) and isinstance(b, (str, Path)):
        try:
            return Path(a).resolve() == Path(b).resolve()
        except OSError:
            return False
    return False


class Engine:
    """Verification and explanation of face pairs. Loads its models once; safe to reuse for many pairs."""

    def __init__(self, config: EngineConfig | None = None, *, pipeline: FacePipeline | None = None) -> None:
        self.config = config or EngineConfig()
        self.pipeline = pipeline or FacePipeline(
            self.config.models,
            region_set=self.config.region_set,
            min_face_pixels=self.config.min_face_pixels,
            small_face_pixels=self.config.small_face_pixels,
        )
        self.calibration, self.calibration_warning = self._load_calibration()
        for key in registry.plan(self.config.methods):  # e.g. FGGB with an ONNX face model: refuse up front
            if registry.get_method(key).needs_gradients:
                from explain_engine.attribution.fggb import require_gradients

                require_gradients(self.pipeline.embedder, registry.get_method(key).column)
        self._inpainter = None

    # ---------------------------------------------------------------------------------------------------------
    def _load_calibration(self) -> tuple[Calibration | None, str | None]:
        model = self.pipeline.model_name
        if self.config.calibration:
            cal = Calibration.load(self.config.calibration)
            if cal.model != model:
                raise ConfigError(
                    f"calibration {self.config.calibration} was fitted for face model {cal.model!r}, "
                    f"but the engine uses {model!r}"
                )
            return cal, None
        for candidate in (model, CALIBRATION_ALIASES.get(model)):
            path = default_calibration_path(candidate) if candidate else None
            if path is not None and path.exists():
                return Calibration.load(path), None
        return None, (
            f"no calibration for face model {model!r}: the model's default threshold is used and no confidence "
            "scores are given; run `python -m explain_engine calibrate` to fit one"
        )

    @property
    def threshold(self) -> float:
        if self.config.threshold is not None:
            return float(self.config.threshold)
        if self.calibration is not None:
            return float(self.calibration.threshold)
        return float(self.pipeline.embedder.threshold)

    @property
    def model_name(self) -> str:
        return self.pipeline.model_name

    @property
    def inpainter(self):
        if self._inpainter is None:
            from models import registry

            self._inpainter = registry.create("inpainter", self.config.models)
        return self._inpainter

    @property
    def perturbation_name(self) -> str:
        if self.config.perturbation == "inpaint":
            return f"inpaint:{getattr(self.inpainter, 'name', self.config.models.inpainter)}"
        return self.config.perturbation

    # ---------------------------------------------------------------------------------------------------------
    def prepare_pair(
        self, image_a: ImageSource, image_b: ImageSource, *, regions: bool, names: Sequence[str] | None = None
    ) -> tuple[PreparedFace, PreparedFace, list[str]]:
        names = list(names) if names else [source_name(image_a, "image A"), source_name(image_b, "image B")]
        if names[0] == names[1]:
            names = [f"{names[0]} (A)", f"{names[1]} (B)"]
        region_set = self.config.region_set
        face_a = None
        try:
            face_a = self.pipeline.prepare(image_a, names[0], regions=regions, region_set=region_set)
            face_b = self.pipeline.prepare(image_b, names[1], regions=regions, region_set=region_set)
        except QualityError as exc:  # which photo of the pair, for the refusal record (explain_engine.record)
            exc.side = "a" if face_a is None else "b"
            exc.names = {"a": names[0], "b": names[1]}
            exc.other = face_a.quality if face_a is not None else None
            raise
        warnings = list(face_a.warnings) + list(face_b.warnings)
        if _same_file(image_a, image_b) or _fingerprint(face_a.image) == _fingerprint(face_b.image):
            warnings.append(
                "the two images are identical: the similarity is 1 by construction and says nothing about identity"
            )
        if self.calibration_warning:
            warnings.append(self.calibration_warning)
        return face_a, face_b, warnings

    def decide(self, similarity: float) -> tuple[str, float | None, float | None]:
        """(decision, C-score, PIC-score) for a similarity under this engine's threshold and calibration."""
        t = self.threshold
        decision = "match" if similarity >= t else "non-match"
        if self.calibration is None:
            return decision, None, None
        return decision, self.calibration.cscore_value(similarity, t), self.calibration.pic_score(similarity, decision)

    def verification_from(
        self, face_a: PreparedFace, face_b: PreparedFace, embeddings: np.ndarray, warnings: list[str], timings: dict
    ) -> Verification:
        from explain_engine.evidence import compute_evidence, similarity_jitter
        from explain_engine.quality import pair_record

        similarity = cosine(embeddings[0], embeddings[1])
        decision, confidence, pic = self.decide(similarity)
        t = self.threshold
        quality, outside = pair_record(face_a.quality, face_b.quality)
        t_jitter = time.perf_counter()
        jitter = similarity_jitter(face_a.crop, face_b.crop, self.pipeline.embed)
        t_evidence = time.perf_counter()
        evidence = compute_evidence(
            similarity, t, self.calibration, decision=decision, case_specific=bool(self.config.calibration),
            identical_inputs=any("images are identical" in w for w in warnings), score_sd=jitter["sd"],
            quality=quality,
        )
        evidence["jitter"] = jitter
        timings = {**timings, "jitter": t_evidence - t_jitter, "evidence": time.perf_counter() - t_evidence}
        return Verification(
            decision=decision,
            similarity=similarity,
            distance=1.0 - similarity,
            threshold=t,
            margin=similarity - t,
            confidence=confidence,
            pic_score=pic,
            faces_found={"a": face_a.faces_found, "b": face_b.faces_found},
            model=self.model_name,
            model_description=self.pipeline.model_description,
            calibration=self.calibration_summary(),
            warnings=list(warnings),
            timings=dict(timings),
            quality=quality,
            outside_calibration=outside,
            evidence=evidence,
        )

    def calibration_summary(self) -> dict | None:
        if self.calibration is None:
            return None
        summary = self.calibration.summary()
        if self.config.threshold is not None:
            summary["threshold_rule"] = f"explicit threshold {self.config.threshold:g} (calibration not used for it)"
        return summary

    def verify(self, image_a: ImageSource, image_b: ImageSource) -> Verification:
        """Detect, align and embed both photos; compare. Raises FaceXError subclasses for unusable input."""
        t0 = time.perf_counter()
        face_a, face_b, warnings = self.prepare_pair(image_a, image_b, regions=False)
        t1 = time.perf_counter()
        embeddings = self.pipeline.embed([face_a.crop, face_b.crop])
        t2 = time.perf_counter()
        return self.verification_from(
            face_a, face_b, embeddings, warnings, {"prepare": t1 - t0, "embed": t2 - t1, "total": t2 - t0}
        )

    # ---------------------------------------------------------------------------------------------------------
    def make_fill(self, strategy: str | None = None, seed: int | None = None, source_mask: np.ndarray | None = None):
        """The configured perturbation. ``source_mask`` (crop coordinates): where fills may copy pixels from."""
        from explain_engine import perturbation

        strategy = strategy or self.config.perturbation
        inpainter = self.inpainter if strategy == "inpaint" else None
        return perturbation.make_fill(
            strategy, inpainter, seed=self.config.seed if seed is None else seed, source_mask=source_mask
        )

    def explain(
        self,
        image_a: ImageSource,
        image_b: ImageSource,
        progress: Progress | None = None,
        *,
        names: Sequence[str] | None = None,
    ):
        """Verify and explain the pair: region attributions for every configured method. -> Explanation."""
        from explain_engine.explain import explain_arrays
        from explain_engine.explanation import Explanation

        def report(stage: str, fraction: float) -> None:
            if progress is not None:
                progress(stage, float(min(1.0, max(0.0, fraction))))

        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        report("preparing faces", 0.0)
        face_a, face_b, warnings = self.prepare_pair(image_a, image_b, regions=True, names=names)
        t1 = time.perf_counter()
        timings["prepare"] = t1 - t0
        for key in ("detect", "landmarks", "align", "parse", "regions"):
            timings[key] = face_a.timings.get(key, 0.0) + face_b.timings.get(key, 0.0)
        report("preparing faces", 0.05)

        embeddings = self.pipeline.embed([face_a.crop, face_b.crop])
        verification = self.verification_from(face_a, face_b, embeddings, warnings, {})
        t2 = time.perf_counter()
        timings["verify"] = t2 - t1

        if not set(face_a.regions.masks) & set(face_b.regions.masks):
            raise FaceXError(
                f"no face region is visible in both {face_a.name} and {face_b.name}, so nothing can be compared "
                "region by region"
            )
        # Fills copy from the face only (PatchMatch would otherwise pull background into it): both crops are on
        # the same template, so the union of their region masks marks the face in either one.
        face_area = _union_mask(face_a.regions) | _union_mask(face_b.regions)
        fill = self.make_fill(source_mask=face_area)

        # explain_arrays reports each stage's own fraction; weigh the stages by their rough cost for one bar
        weights = {m.key: m.cost for m in registry.METHODS}
        weights["stability"] = float(self.config.samples)
        weights["robustness"] = 3.0
        stages = [m for m in registry.plan(self.config.methods) if weights[m] > 0]
        stages += ["stability"] if self.config.samples > 1 else []
        stages += ["robustness"] if self.config.robustness else []
        total = sum(weights[s] for s in stages)

        def attribution_progress(stage: str, fraction: float) -> None:
            done = sum(weights[s] for s in stages[: stages.index(stage)]) if stage in stages else 0.0
            overall = (done + weights.get(stage, 0.0) * fraction) / total
            report(stage, 0.05 + 0.95 * overall)

        arrays = explain_arrays(
            face_a.crop,
            face_b.crop,
            face_a.regions,
            face_b.regions,
            _reuse_reference(self.pipeline.embed, np.stack([face_a.crop, face_b.crop]), embeddings),
            fill,
            methods=self.config.methods,
            threshold=self.threshold,
            samples=self.config.samples,
            progress=attribution_progress,
            **self._explain_options(explain_arrays),
        )
        t3 = time.perf_counter()
        timings["attribution"] = t3 - t2
        timings["total"] = t3 - t0
        report("done", 1.0)
        return Explanation(
            verification=verification,
            arrays=arrays,
            face_a=face_a,
            face_b=face_b,
            perturbation=self.perturbation_name,
            region_set=self.config.region_set,
            timings=timings,
            warnings=warnings,
            config=self.config,
            heatmap_scale=self.heatmap_scale(),
        )

    def heatmap_scale(self) -> dict:
        """The face model's fixed colour range for absolute heatmaps (heatmaps.model_scale over its calibration)."""
        from explain_engine.heatmaps import model_scale

        cal = self.calibration
        data = None
        if cal is not None:
            data = {"name": getattr(cal, "name", None) or self.model_name, "model": self.model_name,
                    "genuine_scores": list(cal.genuine_scores), "impostor_scores": list(cal.impostor_scores),
                    "attribution_range": getattr(cal, "attribution_range", None)}
        return model_scale(data)

    def _explain_options(self, explain_arrays) -> dict:
        """Optional keyword options that this version of ``explain_arrays`` accepts (max steps, seeds, ...)."""
        import inspect

        params = inspect.signature(explain_arrays).parameters
        wanted = {
            "max_steps": self.config.max_steps,
            "min_change": self.config.min_change,
            "seed": self.config.seed,
            "make_fill": self.make_fill,
            "model": self.pipeline.embedder,  # gradient methods (FGGB) need the model itself
            "robustness": self.config.robustness,
        }
        return {k: v for k, v in wanted.items() if k in params and v is not None}


def _reuse_reference(embed, crops: np.ndarray, embeddings: np.ndarray):
    """``embed`` that answers the unperturbed pair from the verification's embeddings instead of recomputing them."""

    def cached(batch: np.ndarray) -> np.ndarray:
        if batch.shape == crops.shape and np.array_equal(batch, crops):
            return embeddings.copy()
        return embed(batch)

    return cached


def _union_mask(regions) -> np.ndarray:
    masks = list(regions.masks.values())
    out = np.zeros(masks[0].shape, dtype=bool)
    for m in masks:
        out |= m
    return out


__all__ = ["Engine", "EngineConfig", "FaceXError", "Verification"]
