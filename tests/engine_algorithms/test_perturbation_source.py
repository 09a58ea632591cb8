"""Fills hand the face mask to inpainters that copy texture from a source region (PatchMatch)."""

from __future__ import annotations

import numpy as np
import pytest

from explain_engine.perturbation import make_fill
from models.config import ModelConfig
from models.registry import create


def test_patchmatch_fill_copies_only_from_the_source_mask():
    # Left half red, right half blue; the hole sits in the red half, but only blue pixels are allowed as source.
    pytest.importorskip("patchmatch")
    image = np.zeros((64, 64, 3), np.uint8)
    image[:, :32] = (255, 0, 0)
    image[:, 32:] = (0, 0, 255)
    hole = np.zeros((64, 64), bool)
    hole[24:40, 8:24] = True
    source = np.zeros((64, 64), bool)
    source[:, 40:] = True
    inpainter = create("inpainter", ModelConfig(inpainter="patchmatch"))
    restricted = make_fill("inpaint", inpainter, seed=0, source_mask=source)(image, hole)
    free = make_fill("inpaint", inpainter, seed=0)(image, hole)
    assert (restricted[hole][:, 2] > 200).mean() > 0.9  # blue, copied from the allowed side
    assert (free[hole][:, 0] > 200).mean() > 0.9  # unrestricted: the surrounding red
    assert np.array_equal(restricted[~hole], image[~hole])
    # The batch path restricts the same way, in one batched call to the adapter.
    calls = []
    batch_call = inpainter.inpaint_batch
    inpainter.inpaint_batch = lambda *a, **k: calls.append(k) or batch_call(*a, **k)
    batch = make_fill("inpaint", inpainter, seed=0, source_mask=source).batch([image, image], [hole, hole])
    assert all((b[hole][:, 2] > 200).mean() > 0.9 for b in batch)
    assert len(calls) == 1 and len(calls[0]["source_mask"]) == 2
    assert all(np.array_equal(b, restricted) for b in batch)
