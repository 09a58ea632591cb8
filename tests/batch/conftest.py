"""Fixtures for the batch tests: a few pairs (development photos when present, else the astronaut and its flipped
and shifted copies), one unreadable photo, and a small local Ray instance shut down after the module."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
FACES_DIR = Path(os.environ.get("FACEX_FACES_DIR", REPO.parent / "shared" / "faces"))


def _write_pairs(path: Path, rows: list[tuple[str, str, int]]) -> Path:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["img_a", "img_b", "label"])
        w.writerows(rows)
    return path


@pytest.fixture(scope="session")
def photo_root(tmp_path_factory) -> Path:
    """Folder for generated photos (astronaut copies when the development photos are absent) and broken.jpg."""
    root = tmp_path_factory.mktemp("batch_photos")
    (root / "broken.jpg").write_bytes(b"this is not an image")
    return root


@pytest.fixture(scope="session")
def pairs_csv(photo_root) -> Path:
    """Three good pairs and one with an unreadable photo."""
    if (FACES_DIR / "pairs.csv").exists():
        with open(FACES_DIR / "pairs.csv", newline="") as fh:
            listed = list(csv.DictReader(fh))
        genuine = [r for r in listed if r["label"] == "1"][:2]
        impostor = [r for r in listed if r["label"] == "0"][:1]
        rows = [(str(FACES_DIR / r["img_a"]), str(FACES_DIR / r["img_b"]), int(r["label"]))
                for r in genuine + impostor]
    else:
        from PIL import Image
        from skimage import data

        face = np.ascontiguousarray(data.astronaut())
        Image.fromarray(face).save(photo_root / "a.png")
        Image.fromarray(np.ascontiguousarray(face[:, ::-1])).save(photo_root / "b.png")
        Image.fromarray(np.roll(face, (12, -9), axis=(0, 1))).save(photo_root / "c.png")
        rows = [("a.png", "b.png", 1), ("a.png", "c.png", 1), ("b.png", "c.png", 1)]
    first = rows[0][0]
    rows.insert(2, (first, "broken.jpg", 1))
    return _write_pairs(photo_root / "pairs.csv", rows)


@pytest.fixture(scope="module")
def ray_local():
    """A private local Ray instance on 2 CPUs (no dashboard, a small object store), shut down after the module."""
    ray = pytest.importorskip("ray")
    from explain_engine.distributed import init_ray

    started = init_ray("local", num_cpus=2, object_store_memory=150 * 1024 * 1024)
    yield ray
    if started:
        ray.shutdown()
