"""CallableEmbedder: any images -> embeddings function as a face embedder."""

from __future__ import annotations

import numpy as np
import pytest

from models.base import FaceEmbedder
from models.embedding.callable import CallableEmbedder, EmbeddingOutputError
from models.errors import ConfigError, ImageError


def colour_stats(images: np.ndarray) -> np.ndarray:
    """A stand-in model: per-channel means and standard deviations (6-d)."""
    x = images.astype(np.float32)
    return np.concatenate([x.mean(axis=(1, 2)), x.std(axis=(1, 2))], axis=1)


def test_wraps_a_function_batched():
    seen = []

    def fn(images):
        seen.append(len(images))
        return colour_stats(images)

    emb = CallableEmbedder(fn, template="arcface112", input_size=112, threshold=0.5, name="stats", batch_size=4)
    assert isinstance(emb, FaceEmbedder)
    crops = np.random.default_rng(0).integers(0, 256, (10, 112, 112, 3), dtype=np.uint8)
    out = emb.embed(crops)
    assert out.shape == (10, 6) and out.dtype == np.float32
    np.testing.assert_allclose(out, colour_stats(crops), rtol=1e-6)
    assert seen == [4, 4, 2]
    assert (emb.name, emb.template, emb.input_size, emb.threshold) == ("stats", "arcface112", 112, 0.5)


def test_accepts_torch_tensors():
    import torch

    emb = CallableEmbedder(lambda x: torch.from_numpy(colour_stats(x)), input_size=32)
    assert emb.embed(np.zeros((2, 32, 32, 3), np.uint8)).shape == (2, 6)


@pytest.mark.parametrize(
    "fn, match",
    [
        (lambda x: np.zeros((len(x) + 1, 4)), "returned shape"),
        (lambda x: np.zeros((len(x), 4, 2)), "returned shape"),
        (lambda x: np.full((len(x), 4), np.nan), "NaN"),
        (lambda x: "nope", "not an array"),
    ],
)
def test_bad_function_output(fn, match):
    emb = CallableEmbedder(fn, input_size=32)
    with pytest.raises(EmbeddingOutputError, match=match):
        emb.embed(np.zeros((2, 32, 32, 3), np.uint8))


def test_dimension_must_stay_fixed():
    dims = iter([4, 5])
    emb = CallableEmbedder(lambda x: np.ones((len(x), next(dims))), input_size=8)
    emb.embed(np.zeros((1, 8, 8, 3), np.uint8))
    with pytest.raises(EmbeddingOutputError, match="changed its dimension"):
        emb.embed(np.zeros((1, 8, 8, 3), np.uint8))


def test_bad_input_and_config():
    emb = CallableEmbedder(colour_stats, input_size=112)
    with pytest.raises(ImageError):
        emb.embed(np.zeros((1, 150, 150, 3), np.uint8))
    with pytest.raises(ConfigError):
        CallableEmbedder("not callable")
