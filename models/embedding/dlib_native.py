"""dlib's own face-recognition inference: the cross-check for the torch port.

dlib-bin is built without BLAS here: about 92 ms per 150 px chip, no gain from batching, and it holds the
interpreter lock. Use it to verify ``dlib-torch``, not inside explanations.
"""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from models.config import ModelConfig
from models.embedding import check_crops
from models.embedding.dlib_torch import DEFAULT_COSINE_THRESHOLD, DlibWeightsEmbedder
from models.errors import ModelUnavailableError, load_dlib_file

DESCRIPTION = "dlib ResNet-34 face recognition (128-d), dlib's own inference"


def _dlib():
    try:
        import dlib
    except ImportError as exc:
        raise ModelUnavailableError("the dlib embedder needs dlib; pip install dlib-bin") from exc
    return dlib


class DlibNativeEmbedder(DlibWeightsEmbedder):
    """``dlib.face_recognition_model_v1(path).compute_face_descriptor`` on 150x150 chips: the cross-check.

    Args:
        model_path: the ``.dat`` file or its folder (default: the face_recognition_models package's copy).
        config: model folder (default ``ModelConfig()``).
        threshold: default cosine-similarity threshold (``DEFAULT_COSINE_THRESHOLD``, 0.92).
        batch_size: chips per dlib call.

    Raises:
        ModelUnavailableError: dlib is not installed.
        ModelNotFoundError: no ``.dat`` file found.
        ModelFileError: dlib cannot read the file.
        ConfigError: ``batch_size`` under 1.
    """

    name = "dlib"
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
        self._setup(model_path, config, threshold, batch_size)
        self.model = load_dlib_file(dlib.face_recognition_model_v1, self.model_path,
                                    "dlib face-recognition network",
                                    "; replace it or set FACEX_EMBEDDER_PATH to a good copy")
        self._lock = threading.Lock()  # one dlib net object is not safe to run from two threads at once

    @classmethod
    def runtime_problem(cls, config: ModelConfig) -> str | None:
        """Why dlib's own inference cannot run here (dlib not installed), or None.

        Args:
            config: the model configuration (unused).
        """
        try:
            _dlib()
        except ModelUnavailableError as exc:
            return str(exc)
        return None

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """Descriptors of aligned crops.

        Args:
            crops: (N, 150, 150, 3) uint8 RGB crops aligned on ``dlib150`` (one (150, 150, 3) crop counts as N=1).

        Returns:
            (N, 128) float32 descriptors (dlib's ``compute_face_descriptor``; not unit-norm).

        Raises:
            ImageError: crops of another shape or dtype (never converted silently).
        """
        crops = check_crops(crops, self.input_size, self.name)
        out = np.empty((len(crops), self.embedding_dim), dtype=np.float32)
        with self._lock:
            for start in range(0, len(crops), self.batch_size):
                batch = [np.ascontiguousarray(c) for c in crops[start : start + self.batch_size]]
                out[start : start + len(batch)] = np.asarray(
                    [np.asarray(v) for v in self.model.compute_face_descriptor(batch)], dtype=np.float32
                )
        return out
