"""Shared fixtures: the one licence-clean face photo, and the labelled development photos when present.

The photos in ../shared/faces must never be copied into the repository; tests that need them skip cleanly
when the folder is absent (set FACEX_FACES_DIR to use another copy).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
FACES_DIR = Path(os.environ.get("FACEX_FACES_DIR", REPO.parent / "shared" / "faces"))


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """skimage's public-domain NASA portrait (512x512 RGB): one face."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut())


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    if not (FACES_DIR / "pairs.csv").exists():
        pytest.skip(f"development photos not found at {FACES_DIR} (set FACEX_FACES_DIR)")
    return FACES_DIR


@pytest.fixture(scope="session")
def face_pairs(faces_dir) -> list[tuple[Path, Path, int]]:
    """(path_a, path_b, label) for every row of pairs.csv; label 1 = same person."""
    with open(faces_dir / "pairs.csv", newline="") as fh:
        return [(faces_dir / r["img_a"], faces_dir / r["img_b"], int(r["label"])) for r in csv.DictReader(fh)]
