"""Any Python callable ``images -> embeddings`` as a face embedder (model-agnostic plug-in).

    embedder = CallableEmbedder(my_model_fn, template="arcface112", input_size=112, threshold=0.35)

``fn`` receives (N, size, size, 3) uint8 RGB crops aligned on ``template`` and must return N embeddings (a
numpy array, a torch tensor or anything ``numpy.asarray`` understands, shape (N, D)).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from models.base import ModelInfo
from models.config import ModelConfig
from models.embedding import check_crops
from models.errors import ConfigError, FaceXError


class EmbeddingOutputError(FaceXError):
    """A plugged-in embedding function returned something that is not (N, D) finite numbers."""


class CallableEmbedder:
    """Any Python callable ``images -> embeddings`` as a :class:`~models.base.FaceEmbedder`.

    Args:
        fn: called with (n, input_size, input_size, 3) uint8 RGB crops; returns (n, D) numbers (numpy, torch, or
            anything ``numpy.asarray`` reads).
        template: the alignment template its crops use (``"arcface112"`` or ``"dlib150"``).
        input_size: crop side in pixels.
        threshold: default cosine-similarity threshold.
        name: shown in records and messages (default: ``fn``'s name).
        batch_size: at most this many crops per call (None: all at once).
        description: free text for ``python -m models``.

    Raises:
        ConfigError: ``fn`` not callable, ``input_size`` or ``batch_size`` under 1.
    """

    def __init__(
        self,
        fn: Callable[[np.ndarray], Any],
        template: str = "arcface112",
        input_size: int = 112,
        threshold: float = 0.3,
        name: str | None = None,
        batch_size: int | None = None,
        description: str = "",
    ):
        if not callable(fn):
            raise ConfigError(f"CallableEmbedder needs a callable, got {type(fn).__name__}")
        if input_size < 1:
            raise ConfigError(f"input_size must be positive, not {input_size}")
        if batch_size is not None and batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, not {batch_size}")
        self.fn = fn
        self.template = template
        self.input_size = int(input_size)
        self.threshold = float(threshold)
        self.name = name or getattr(fn, "__name__", None) or type(fn).__name__
        self.batch_size = batch_size
        self.description = description or f"custom embedding function {self.name}"
        self.embedding_dim: int | None = None

    @classmethod
    def from_config(cls, config: ModelConfig, backend: str = "callable", **options) -> CallableEmbedder:
        """Build from configuration: ``fn`` must be in the options.

        Args:
            config: the model configuration (unused).
            backend: the name to show.
            **options: ``fn`` and the other constructor options.

        Returns:
            The embedder.

        Raises:
            ConfigError: no ``fn`` option, or an invalid option.
        """
        if "fn" not in options:
            raise ConfigError("a callable embedder needs fn=<images -> embeddings> in its options")
        return cls(options.pop("fn"), **{"name": backend, **options})

    @classmethod
    def describe(cls, config: ModelConfig, backend: str = "callable") -> ModelInfo:
        """Always available (a user-supplied function needs no files).

        Args:
            config: the model configuration (unused).
            backend: the name to show.

        Returns:
            :class:`ModelInfo`.
        """
        return ModelInfo("embedder", backend, True, "python callable", detail="user-supplied function")

    def _call(self, batch: np.ndarray) -> np.ndarray:
        raw = self.fn(batch)
        if hasattr(raw, "detach"):  # torch tensors
            raw = raw.detach().cpu().numpy()
        try:
            out = np.asarray(raw, dtype=np.float32)
        except (TypeError, ValueError) as exc:
            raise EmbeddingOutputError(f"embedding function {self.name} returned {type(raw).__name__}, "
                                       "not an array of numbers") from exc
        if out.ndim == 1 and len(batch) == 1:
            out = out[None]
        if out.ndim != 2 or out.shape[0] != len(batch) or out.shape[1] == 0:
            raise EmbeddingOutputError(
                f"embedding function {self.name} returned shape {out.shape} for {len(batch)} crops; "
                f"expected ({len(batch)}, D)"
            )
        if self.embedding_dim is not None and out.shape[1] != self.embedding_dim:
            raise EmbeddingOutputError(
                f"embedding function {self.name} changed its dimension from {self.embedding_dim} to {out.shape[1]}"
            )
        if not np.all(np.isfinite(out)):
            raise EmbeddingOutputError(f"embedding function {self.name} returned NaN or infinite values")
        self.embedding_dim = out.shape[1]
        return out

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """Descriptors of aligned crops.

        Args:
            crops: (N, input_size, input_size, 3) uint8 RGB crops aligned on ``template`` (one crop of shape
                (input_size, input_size, 3) counts as N=1).

        Returns:
            (N, D) float32 embeddings as ``fn`` returns them.

        Raises:
            ImageError: crops of another shape or dtype (never converted silently).
            EmbeddingOutputError: ``fn`` returned something that is not (n, D) finite numbers, or changed D between
                calls.
        """
        crops = check_crops(crops, self.input_size, self.name)
        if len(crops) == 0:
            return np.zeros((0, self.embedding_dim or 0), dtype=np.float32)
        step = self.batch_size or len(crops)
        return np.concatenate([self._call(crops[i : i + step]) for i in range(0, len(crops), step)])
