"""Synthetic fixtures for the algorithm tests: small images, band-shaped regions and embed functions whose
behaviour is known exactly, so attributions can be checked against closed-form expectations."""

from __future__ import annotations

import numpy as np
import pytest


class CountingEmbed:
    """Wraps an embed callable and counts the images it was given (the cost the algorithms must keep low)."""

    def __init__(self, fn):
        self.fn = fn
        self.calls = 0
        self.images = 0

    def __call__(self, batch):
        batch = np.asarray(batch)
        assert batch.ndim == 4 and batch.dtype == np.uint8
        self.calls += 1
        self.images += len(batch)
        return self.fn(batch)


class CountingFill:
    """A fill that records every (image, mask) call; sets pixels to a constant grey."""

    name = "grey"
    deterministic = True

    def __init__(self, value: int = 128):
        self.value = value
        self.calls = 0

    def __call__(self, image, mask):
        self.calls += 1
        out = image.copy()
        out[mask] = self.value
        return out


def band_masks(size: int = 40, bands: int = 4, band_h: int = 8) -> dict[str, np.ndarray]:
    """Horizontal bands r0..r{bands-1} of ``band_h`` rows; the rows below the last band belong to no region."""
    masks = {}
    for i in range(bands):
        m = np.zeros((size, size), dtype=bool)
        m[i * band_h:(i + 1) * band_h] = True
        masks[f"r{i}"] = m
    return masks


@pytest.fixture
def bands():
    return band_masks()


@pytest.fixture
def additive_pair(bands):
    """Images whose embedding is [c, offset of band 0..3, offset of the strip]: bands carry the same offsets v in
    A and B (shared identity), the strip below carries +u in A and -u in B (a difference). Hiding band k with grey
    (offset 0) in both photos removes v_k^2 from the shared part, so the cosine drops by a known amount, largest
    for the largest v."""
    v = np.array([60.0, 40.0, 20.0, 5.0])
    u, c = 30.0, 40.0
    size = 40
    a = np.full((size, size, 3), 128, dtype=np.uint8)
    for i, vi in enumerate(v):
        a[i * 8:(i + 1) * 8] = 128 + vi
    b = a.copy()
    a[32:] = 128 + u
    b[32:] = 128 - u

    def embed(batch):
        x = batch.astype(np.float64).mean(axis=3) - 128.0
        feats = [np.full(len(batch), c)]
        feats += [x[:, i * 8:(i + 1) * 8].mean(axis=(1, 2)) for i in range(4)]
        feats.append(x[:, 32:].mean(axis=(1, 2)))
        return np.stack(feats, axis=1)

    def cos_after(hidden):
        k = c * c + sum(vi * vi for i, vi in enumerate(v) if i not in hidden)
        return (k - u * u) / (k + u * u)

    return a, b, embed, cos_after, v


@pytest.fixture(scope="session")
def helpers():
    """The helper classes above, for test modules (importlib mode cannot import conftest by name)."""
    from types import SimpleNamespace

    return SimpleNamespace(CountingEmbed=CountingEmbed, CountingFill=CountingFill, band_masks=band_masks)
