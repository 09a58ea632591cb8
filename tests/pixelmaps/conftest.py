"""Fixtures for the pixel-level maps: a tiny differentiable embedder whose embedding reads only one band of the
image (so where the signal is, is known exactly), band region masks, and the real dlib-torch model when present."""

from __future__ import annotations

import numpy as np
import pytest

SIZE = 40
BAND = slice(8, 16)  # rows of region "r1": the only pixels the synthetic models read


def band_masks(size: int = SIZE) -> dict[str, np.ndarray]:
    """Four horizontal bands of 8 rows (r0..r3); rows 32-39 belong to no region."""
    masks = {}
    for i in range(4):
        m = np.zeros((size, size), dtype=bool)
        m[i * 8:(i + 1) * 8] = True
        masks[f"r{i}"] = m
    return masks


class BandTorchEmbedder:
    """A DifferentiableEmbedder: a fixed random linear map of the pixels of rows 8-15 only, plus a constant
    channel. Gradients are exactly zero outside the band."""

    name = "band-torch"
    template = "test40"
    input_size = SIZE
    threshold = 0.5

    def __init__(self, dim: int = 12, seed: int = 0):
        import torch

        g = torch.Generator().manual_seed(seed)
        n_in = 3 * (BAND.stop - BAND.start) * SIZE
        self.weight = torch.randn(dim, n_in, generator=g) / np.sqrt(n_in)

    def to_tensor(self, crops):
        import torch

        crops = np.asarray(crops)
        if crops.ndim != 4 or crops.shape[1:] != (SIZE, SIZE, 3):
            from models.errors import ImageError

            raise ImageError(f"expects (N, {SIZE}, {SIZE}, 3) crops, got {crops.shape}")
        return torch.from_numpy(np.ascontiguousarray(crops)).permute(0, 3, 1, 2).float()

    def forward_tensor(self, x):
        import torch

        band = x[:, :, BAND, :].reshape(x.shape[0], -1) / 255.0
        return torch.cat([band @ self.weight.T, torch.ones(x.shape[0], 1)], dim=1)

    def embed(self, crops):
        import torch

        with torch.no_grad():
            return self.forward_tensor(self.to_tensor(crops)).numpy()


def band_mean_embed(batch: np.ndarray) -> np.ndarray:
    """Black-box embed: [mean brightness of rows 8-15 per colour, a constant]; only the band matters."""
    batch = np.asarray(batch, dtype=np.float64)
    band = batch[:, BAND].mean(axis=(1, 2)) / 255.0
    return np.concatenate([band, np.full((len(batch), 1), 0.3)], axis=1)


@pytest.fixture
def masks():
    return band_masks()


@pytest.fixture
def pair():
    rng = np.random.default_rng(3)
    a = rng.integers(60, 200, (SIZE, SIZE, 3), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-30, 30, a.shape), 0, 255).astype(np.uint8)
    return a, b


@pytest.fixture(scope="session")
def dlib_torch():
    try:
        from models.embedding.dlib_torch import DlibTorchEmbedder

        return DlibTorchEmbedder()
    except Exception as exc:  # noqa: BLE001 - the weights are another package: skip when absent
        pytest.skip(f"dlib-torch embedder not available: {exc}")


@pytest.fixture(scope="session")
def dlib_crops(astronaut, dlib_torch):
    """The astronaut aligned on dlib's template, with its coarse regions (mediapipe mesh)."""
    mp = pytest.importorskip("mediapipe")
    from explain_engine.regions import build_regions
    from models.alignment import align, keypoints_from_mesh

    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as fm:
        res = fm.process(astronaut)
    h, w = astronaut.shape[:2]
    pts = np.array([[p.x * w, p.y * h] for p in res.multi_face_landmarks[0].landmark])
    face = align(astronaut, keypoints_from_mesh(pts, "dlib150"), "dlib150")
    regions = build_regions(face.to_crop(pts), face.crop.shape[:2], None, "coarse")
    return face.crop, regions.masks
