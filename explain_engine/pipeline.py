"""From a photo to an aligned, embedded face with semantic region masks.

``FacePipeline`` loads the detector, Face Mesh, parser and face model once, then ``prepare`` runs, per photo:

load → detect (largest face; count and warnings) → Face Mesh landmarks on that face → similarity alignment from
mesh keypoints onto the face model's template → landmarks in crop coordinates → parsing of the crop → region
masks → quality (``explain_engine.quality``: refuse, warn or pass; regions the pixels do not show become absent).
Perturbed crops are embedded directly with ``embed``: faces are never re-detected after a perturbation.

``prepare`` is the one place every entry point (verify, explain, evaluate, the app) gets a photo from, so all of
them judge a photo's quality the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from models.base import AlignedFace, FaceDetection, ParsingResult
from models.config import ModelConfig
from models.errors import ConfigError, FaceTooSmallError, NoFaceError
from models.images import ImageSource, load_image

MIN_FACE_PIXELS = 32  # shorter side of the face box below which we refuse: too little detail to compare
SMALL_FACE_PIXELS = 80  # below this the result is given with a warning (the face model's crop is 112-150 px)


def source_name(source: ImageSource, default: str) -> str:
    """A short display name for an image source: the file name, or ``default`` for arrays and bytes."""
    if isinstance(source, (str, Path)):
        return Path(source).name
    return getattr(source, "name", None) or default


@dataclass
class PreparedFace:
    """One photo after detection, alignment, parsing and region extraction."""

    name: str
    image: np.ndarray  # the loaded photo, RGB uint8
    detection: FaceDetection  # the face used (the largest)
    faces_found: int
    aligned: AlignedFace  # crop on the face model's template
    landmarks: np.ndarray | None  # Face Mesh points in photo coordinates (None when the mesh failed)
    landmarks_crop: np.ndarray | None  # the same points in crop coordinates
    parsing: ParsingResult | None = None
    regions: Any = None  # explain_engine.regions.Regions (masks in crop coordinates), None when not built
    quality: Any = None  # explain_engine.quality.PhotoQuality, None when the quality stage is off
    warnings: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def crop(self) -> np.ndarray:
        return self.aligned.crop

    def image_record(self) -> dict:
        """The per-image block of explanation.json."""
        x0, y0, x1, y1 = (round(float(v), 1) for v in self.detection.box)
        return {
            "name": self.name,
            "width": int(self.image.shape[1]),
            "height": int(self.image.shape[0]),
            "face_box": [x0, y0, x1, y1],
        }


class FacePipeline:
    """Loads each model once; turns photos into :class:`PreparedFace` and crops into embeddings."""

    def __init__(
        self,
        config: ModelConfig | None = None,
        *,
        region_set: str = "coarse",
        min_face_pixels: int = MIN_FACE_PIXELS,
        small_face_pixels: int = SMALL_FACE_PIXELS,
        quality: bool = True,
        quality_policy: str | Path | None = None,
    ) -> None:
        from models import registry

        self.config = config or ModelConfig.from_env()
        if region_set not in ("coarse", "fine"):
            raise ConfigError(f"region set must be 'coarse' or 'fine', not {region_set!r}")
        self.region_set = region_set
        self.min_face_pixels = min_face_pixels
        self.small_face_pixels = small_face_pixels
        self.quality_enabled = bool(quality)
        self.quality_policy_path = quality_policy
        self._quality_policy = None
        self._quality_detector: Any = None
        self.load_timings: dict[str, float] = {}
        self.detector = self._timed("load_detector", registry.create, "detector", self.config)
        # a reference quality backend (FACEX_QUALITY=ofiq) is created up front, so a missing one fails at once
        self.quality_reference = (
            self._timed("load_quality", registry.create, "quality", self.config)
            if self.quality_enabled and self.config.quality else None
        )
        self.embedder = self._timed("load_embedder", registry.create, "embedder", self.config)
        self._landmarks = None
        self._parser = None

    def _timed(self, stage: str, fn, *args, **kwargs):
        t0 = time.perf_counter()
        out = fn(*args, **kwargs)
        self.load_timings[stage] = time.perf_counter() - t0
        return out

    # lazily: verification alone needs neither Face Mesh nor the parser when the mesh is not wanted
    @property
    def landmark_detector(self):
        if self._landmarks is None:
            from models import registry

            self._landmarks = self._timed("load_landmarks", registry.create, "landmarks", self.config)
        return self._landmarks

    @property
    def parser(self):
        if self._parser is None:
            from models import registry

            self._parser = self._timed("load_parser", registry.create, "parser", self.config)
        return self._parser

    @property
    def quality_policy(self):
        if self._quality_policy is None:
            from explain_engine.quality import load_policy

            self._quality_policy = load_policy(self.quality_policy_path)
        return self._quality_policy

    @property
    def quality_detect(self):
        """The detector the quality stage re-detects aligned crops with: BlazeFace short range, whatever detector
        finds faces in photos (its thresholds were measured with that one); None when MediaPipe is missing."""
        if self._quality_detector is None:
            from models import registry
            from models.errors import FaceXError

            try:
                self._quality_detector = self._timed(
                    "load_quality_detector", registry.create, "detector", self.config, "mediapipe-short", tiles=False
                )
            except (FaceXError, ImportError):
                self._quality_detector = False
        return self._quality_detector.detect if self._quality_detector else None

    @property
    def model_name(self) -> str:
        return str(getattr(self.embedder, "name", self.config.embedder))

    @property
    def model_description(self) -> str:
        return str(getattr(self.embedder, "description", "") or self.model_name)

    # ------------------------------------------------------------------------------------------------------------
    def detect(self, image: np.ndarray, name: str) -> tuple[FaceDetection, int, list[str]]:
        """The largest face, how many faces there are, and warnings; NoFaceError / FaceTooSmallError otherwise."""
        faces = list(self.detector.detect(image))
        if not faces:
            raise NoFaceError(
                f"{name}: no face found ({image.shape[1]}x{image.shape[0]} photo); "
                "use a photo with one clearly visible, roughly frontal face"
            )
        faces.sort(key=lambda f: f.area, reverse=True)
        face = faces[0]
        warnings: list[str] = []
        if len(faces) > 1:
            warnings.append(f"{name}: {len(faces)} faces found; the largest one was used")
        size = face.judged_size  # from the eye distance when the detector's box is inflated (tiny faces)
        if size < self.min_face_pixels:
            raise FaceTooSmallError(
                f"{name}: the face is only {size:.0f} pixels across; at least {self.min_face_pixels} are "
                "needed: use a larger or closer photo of the face"
            )
        if size < self.small_face_pixels:
            warnings.append(
                f"{name}: the face is small ({size:.0f} pixels across); the comparison and the region "
                "maps are less reliable than for a larger face"
            )
        return face, len(faces), warnings

    def prepare(
        self,
        image_source: ImageSource,
        name: str | None = None,
        *,
        regions: bool = True,
        region_set: str | None = None,
    ) -> PreparedFace:
        """Load, detect, align and (when ``regions``) parse one photo. Raises FaceXError subclasses on bad input."""
        from models import alignment

        name = name or source_name(image_source, "image")
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        image = load_image(image_source)
        t1 = time.perf_counter()
        timings["load"] = t1 - t0

        face, count, warnings = self.detect(image, name)
        t2 = time.perf_counter()
        timings["detect"] = t2 - t1

        mesh = self.landmark_detector.landmarks(image, box=face.box)
        t3 = time.perf_counter()
        timings["landmarks"] = t3 - t2
        template = self.embedder.template
        if mesh is not None:
            keypoints = alignment.keypoints_from_mesh(mesh, template)
        else:
            # with the quality stage on, verify and explain refuse alike (face_landmarks) instead of verify deciding
            # on the detector's five points while explain refuses
            if regions and not self.quality_enabled:
                raise NoFaceError(
                    f"{name}: a face was found but its landmarks could not be placed (turned away, covered or "
                    "blurred); the regions cannot be explained: use a clearer, more frontal photo"
                )
            keypoints = alignment.keypoints_from_detection(face, template)
            warnings.append(f"{name}: face landmarks failed; aligned from the detector's five points instead")
        aligned = alignment.align(image, keypoints, template)
        landmarks_crop = aligned.to_crop(mesh) if mesh is not None else None
        t4 = time.perf_counter()
        timings["align"] = t4 - t3

        prepared = PreparedFace(
            name=name,
            image=image,
            detection=face,
            faces_found=count,
            aligned=aligned,
            landmarks=mesh,
            landmarks_crop=landmarks_crop,
            warnings=warnings,
            timings=timings,
        )
        if regions and mesh is not None:
            self.add_regions(prepared, region_set)
        if self.quality_enabled:
            self.check_quality(prepared)
        if regions and mesh is None:  # a policy that lets a photo without landmarks through still has no regions
            raise NoFaceError(f"{name}: face landmarks could not be placed, so the regions cannot be explained")
        return prepared

    def check_quality(self, prepared: PreparedFace) -> PreparedFace:
        """Run the quality stage on a prepared photo: raise QualityError on a refusal; on a warning add the warning;
        drop the regions the pixels do not show (outside the photo, covered) to ``regions.absent``."""
        from explain_engine import quality as q

        t0 = time.perf_counter()
        policy = self.quality_policy
        prepared.quality = q.assess(
            prepared.image, prepared.landmarks, prepared.aligned, name=prepared.name,
            landmarks_crop=prepared.landmarks_crop, parsing=prepared.parsing, regions=prepared.regions,
            detect=self.quality_detect, policy=policy,
        )
        if self.quality_reference is not None:
            prepared.quality.reference = {
                "backend": getattr(self.quality_reference, "name", str(self.config.quality)),
                "version": getattr(self.quality_reference, "version", None),
                "measures": self.quality_reference.measure(prepared.image),
            }
        prepared.timings["quality"] = time.perf_counter() - t0
        q.enforce(prepared.quality, policy)
        text = q.warning_text(prepared.quality, policy)
        if text:
            prepared.warnings.append(text)
        if prepared.regions is not None:
            prepared.regions = q.apply_visibility(prepared.regions, prepared.quality, policy)
        return prepared

    def add_regions(self, prepared: PreparedFace, region_set: str | None = None) -> PreparedFace:
        """Parse the crop and build the region masks (crop coordinates)."""
        from explain_engine import regions as regions_mod

        if prepared.landmarks_crop is None:
            raise NoFaceError(f"{prepared.name}: no face landmarks, so no regions can be built")
        t0 = time.perf_counter()
        prepared.parsing = self.parser.parse(prepared.crop, landmarks=prepared.landmarks_crop)
        t1 = time.perf_counter()
        prepared.regions = regions_mod.build_regions(
            prepared.landmarks_crop, prepared.crop.shape[:2], prepared.parsing, region_set or self.region_set
        )
        prepared.timings["parse"] = t1 - t0
        prepared.timings["regions"] = time.perf_counter() - t1
        return prepared

    def embed(self, crops: np.ndarray | list[np.ndarray]) -> np.ndarray:
        """(N, size, size, 3) aligned crops -> (N, D) float embeddings, in one batch."""
        batch = np.ascontiguousarray(np.stack(list(crops)) if not isinstance(crops, np.ndarray) else crops)
        if batch.ndim == 3:
            batch = batch[None]
        return np.asarray(self.embedder.embed(batch), dtype=np.float64)


