"""dlib's own face-recognition inference: the cross-check for the torch port.

dlib-bin is built without BLAS here: about 92 ms per 150 px chip, no gain from batching, and it holds the
interpreter lock. Use it to verify ``dlib-torch``, not inside explanations.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from models.base import ModelInfo
from models.config import ModelConfig
from models.embedding import check_crops, configured_path
from models.embedding.dlib_torch import DEFAULT_COSINE_THRESHOLD, LICENCE, resolve_dlib_model_path
from models.errors import ConfigError, ModelNotFoundError, ModelUnavailableError

DESCRIPTION = "dlib ResNet-34 face recognition (128-d), dlib's own inference"


def _dlib():
    try:
        import dlib
    except ImportError as exc:
        raise ModelUnavailableError("the dlib embedder needs dlib; pip install dlib-bin") from exc
    return dlib


class DlibNativeEmbedder:
    """``dlib.face_recognition_model_v1(path).compute_face_descriptor`` on 150x150 chips."""

    name = "dlib"
    template = "dlib150"
    input_size = 150
    description = DESCRIPTION
    embedding_dim = 128

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        config: ModelConfig | None = None,
        threshold: float = DEFAULT_COSINE_THRESHOLD,
        batch_size: int = 32,
    ):
        dlib = _dlib()
        self.config = config or ModelConfig()
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, not {batch_size}")
        self.model_path = resolve_dlib_model_path(self.config, model_path)
        self.threshold = float(threshold)
        self.batch_size = int(batch_size)
        self.model = dlib.face_recognition_model_v1(str(self.model_path))
        self._lock = threading.Lock()  # one dlib net object is not safe to run from two threads at once

    @classmethod
    def from_config(cls, config: ModelConfig, backend: str = "dlib", **options) -> DlibNativeEmbedder:
        path = configured_path(config, backend, options)
        unknown = set(options) - {"threshold", "batch_size"}
        if unknown:
            raise ConfigError(f"unknown options for the {backend} embedder: {sorted(unknown)}")
        return cls(path, config=config, **options)

    @classmethod
    def describe(cls, config: ModelConfig, backend: str = "dlib") -> ModelInfo:
        try:
            path = resolve_dlib_model_path(config, configured_path(config, backend))
        except ModelNotFoundError as exc:
            return ModelInfo("embedder", backend, False, "", LICENCE, str(exc))
        try:
            _dlib()
        except ModelUnavailableError as exc:
            return ModelInfo("embedder", backend, False, str(path), LICENCE, str(exc))
        return ModelInfo("embedder", backend, True, str(path), LICENCE, DESCRIPTION,
                         {"template": cls.template, "input_size": cls.input_size, "dim": 128, "device": "cpu"})

    def embed(self, crops: np.ndarray) -> np.ndarray:
        crops = check_crops(crops, self.input_size, self.name)
        out = np.empty((len(crops), self.embedding_dim), dtype=np.float32)
        with self._lock:
            for start in range(0, len(crops), self.batch_size):
                batch = [np.ascontiguousarray(c) for c in crops[start : start + self.batch_size]]
                out[start : start + len(batch)] = np.asarray(
                    [np.asarray(v) for v in self.model.compute_face_descriptor(batch)], dtype=np.float32
                )
        return out
