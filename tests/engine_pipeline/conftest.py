"""Fixtures for the engine tests: one Engine (models loaded once per session) shared with the CLI."""

from __future__ import annotations

import cv2
import numpy as np
import pytest


@pytest.fixture(scope="session")
def engine():
    """The default engine, registered in the CLI's cache so that in-process CLI calls reuse its loaded models."""
    from explain_engine.__main__ import _engine
    from explain_engine.engine import EngineConfig

    return _engine(EngineConfig(methods=("s0",)))


@pytest.fixture(scope="session")
def astronaut_variant(astronaut) -> np.ndarray:
    """The astronaut mirrored and shifted by a few pixels: the same person in a slightly different photo."""
    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    shift = np.float32([[1, 0, 6], [0, 1, -4]])
    return cv2.warpAffine(flipped, shift, (flipped.shape[1], flipped.shape[0]), borderMode=cv2.BORDER_REFLECT)


@pytest.fixture(scope="session")
def image_files(tmp_path_factory, astronaut, astronaut_variant):
    """PNG files of the licence-clean astronaut and its variant, plus bad inputs, in a temporary folder."""
    from PIL import Image
    from skimage import data

    root = tmp_path_factory.mktemp("engine_images")
    files = {}
    for name, image in {
        "astronaut": astronaut,
        "variant": astronaut_variant,
        "coffee": np.ascontiguousarray(data.coffee()),
        # the face is about 24 px across: found, but too small to compare
        "tiny": cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA),
    }.items():
        files[name] = root / f"{name}.png"
        Image.fromarray(image).save(files[name])
    two = np.full((512, 900, 3), 128, np.uint8)
    two[:, :512] = astronaut
    two[100:400, 560:860] = cv2.resize(astronaut, (300, 300), interpolation=cv2.INTER_AREA)
    files["two_faces"] = root / "two_faces.png"
    Image.fromarray(two).save(files["two_faces"])
    files["garbage"] = root / "garbage.jpg"
    files["garbage"].write_bytes(b"this is not a JPEG file at all" * 10)
    return files
