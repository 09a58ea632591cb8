"""Fixtures for the face-parsing tests: Face Mesh landmarks computed here with mediapipe's own FaceMesh (so the
tests depend on no other part's landmark code) and one shared approximate parser."""

from __future__ import annotations

import threading

import numpy as np
import pytest

WORK_SIDE = 512  # photos are parsed at this size (the parser downsizes internally anyway)


class MeshLandmarks:
    """mediapipe's Face Mesh (refined, 478 points) in image pixel coordinates, or None without a face."""

    def __init__(self):
        import mediapipe as mp

        self._mesh = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True)
        self._lock = threading.Lock()

    def __call__(self, image: np.ndarray) -> np.ndarray | None:
        with self._lock:
            result = self._mesh.process(image)
        if not result.multi_face_landmarks:
            return None
        h, w = image.shape[:2]
        return np.array([(p.x * w, p.y * h) for p in result.multi_face_landmarks[0].landmark], np.float64)


@pytest.fixture(scope="session")
def mesh() -> MeshLandmarks:
    return MeshLandmarks()


@pytest.fixture(scope="session")
def approx_parser():
    from models.parsing import ApproximateParser

    return ApproximateParser()


@pytest.fixture(scope="session")
def astronaut_landmarks(astronaut, mesh) -> np.ndarray:
    points = mesh(astronaut)
    assert points is not None and points.shape == (478, 2)
    return points


@pytest.fixture(scope="session")
def astronaut_parsed(approx_parser, astronaut, astronaut_landmarks):
    return approx_parser.parse(astronaut, astronaut_landmarks)


@pytest.fixture(scope="session")
def load_small():
    """Loads a development photo, downscaled so that its longer side is at most WORK_SIDE."""
    import cv2

    from models.images import load_image

    def load(path) -> np.ndarray:
        image = load_image(path)
        scale = min(1.0, WORK_SIDE / max(image.shape[:2]))
        if scale < 1.0:
            image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(image)

    return load
