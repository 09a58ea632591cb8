"""Shared fixtures for the quality tests: one pipeline (models loaded once), the astronaut's landmarks."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def pipeline():
    from explain_engine.pipeline import FacePipeline

    return FacePipeline()


@pytest.fixture(scope="session")
def astro_face(pipeline, astronaut):
    return pipeline.prepare(astronaut, "astronaut")


@pytest.fixture(scope="session")
def astro_landmarks(astro_face) -> np.ndarray:
    return astro_face.landmarks


@pytest.fixture(scope="session")
def dev_photo(faces_dir):
    """Load one development photo by its relative path (tests that use it skip without the photos)."""
    from models.images import load_image

    return lambda rel: load_image(faces_dir / rel)


def refusal(pipeline, image, name="photo"):
    """The error the pipeline raises for ``image`` (QualityError, or NoFaceError when no face is found), or None."""
    from models.errors import FaceXError

    try:
        pipeline.prepare(image, name)
    except FaceXError as exc:
        return exc
    return None
