"""Face embedders: aligned face crops -> descriptors (``models.base.FaceEmbedder``).

Backends (names as in ``models.registry``):

- ``dlib-torch`` (default): dlib's ResNet face-recognition network rebuilt in torch from dlib's own ``.dat``
  weights (:mod:`models.embedding.dlib_torch`); descriptors equal dlib's to about 1e-6, ~25x faster, and
  differentiable;
- ``dlib``: dlib's own inference (:mod:`models.embedding.dlib_native`), the cross-check;
- ``arcface``: insightface ArcFace ONNX model packs (buffalo_l, antelopev2...) from a local folder, or downloaded
  when allowed (:mod:`models.embedding.onnx`);
- ``onnx``: any ONNX embedding model given by path;
- :class:`models.embedding.callable.CallableEmbedder`: any Python callable ``images -> embeddings``.

Every ``embed`` takes (N, size, size, 3) uint8 RGB crops aligned on the backend's ``template`` and returns
(N, D) float32 embeddings; compare them with :func:`cosine_similarity`.
"""

from __future__ import annotations

import numpy as np

from models.errors import ImageError


def check_crops(crops, size: int, who: str = "embedder") -> np.ndarray:
    """Validate aligned crops: (N, size, size, 3) uint8 (one (size, size, 3) crop is taken as N=1).

    Never converts silently, since a float image in [0, 1] or a BGR/RGBA crop would give plausible-looking but
    wrong embeddings.

    Args:
        crops: an array, or a list/tuple of (size, size, 3) arrays (stacked).
        size: the embedder's crop side in pixels.
        who: the embedder's name, for messages.

    Returns:
        (N, size, size, 3) uint8 array (N may be 0).

    Raises:
        ImageError: not numpy arrays, not uint8, or another shape; the message says what was expected.
    """
    if isinstance(crops, (list, tuple)):
        if not all(isinstance(c, np.ndarray) for c in crops):
            raise ImageError(f"{who} expects numpy uint8 crops, got a {type(crops).__name__} of other objects")
        crops = np.stack(crops) if len(crops) else np.zeros((0, size, size, 3), np.uint8)
    if not isinstance(crops, np.ndarray):
        raise ImageError(f"{who} expects a numpy array of crops, got {type(crops).__name__}")
    if crops.ndim == 3:
        crops = crops[None]
    if crops.dtype != np.uint8:
        raise ImageError(f"{who} expects uint8 RGB crops (0-255), got dtype {crops.dtype}")
    if crops.ndim != 4 or crops.shape[1:] != (size, size, 3):
        raise ImageError(
            f"{who} expects aligned crops of shape (N, {size}, {size}, 3), got {tuple(crops.shape)}; "
            "align faces with the embedder's template first"
        )
    return crops


def configured_path(config, backend: str, options: dict | None = None) -> str | None:
    """The model path for ``backend``.

    An explicit ``model_path``/``path`` option wins; else the configured embedder path (``FACEX_EMBEDDER_PATH``)
    only when ``backend`` is the configured embedder, since that one path belongs to whichever backend the
    configuration selects.

    Args:
        config: the model configuration.
        backend: the embedder backend name.
        options: the backend's options; ``model_path`` and ``path`` are removed from it (mutated in place).

    Returns:
        The path as a string, or None.
    """
    options = options if options is not None else {}
    explicit = options.pop("model_path", None) or options.pop("path", None)
    if explicit:
        return str(explicit)
    return config.path_for("embedder") if config.embedder == backend else None


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Row-wise cosine similarity of embeddings.

    Args:
        a: (N, D) or (D,) embeddings.
        b: (N, D) or (D,) embeddings (broadcast against ``a``).

    Returns:
        (N,) float64 cosines in [-1, 1] (norms floored at 1e-12, so a zero vector gives 0).
    """
    a = np.atleast_2d(np.asarray(a, dtype=np.float64))
    b = np.atleast_2d(np.asarray(b, dtype=np.float64))
    num = (a * b).sum(axis=1)
    den = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return num / np.maximum(den, 1e-12)


__all__ = ["check_crops", "configured_path", "cosine_similarity"]
