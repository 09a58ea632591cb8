"""The model zoo: backend names per capability, created by name from a :class:`ModelConfig`.

Adapters are imported lazily so that asking for the text models does not import mediapipe, and the reverse.
Every adapter class implements two class methods:

- ``from_config(config, **options)`` builds the adapter (raises ``ModelNotFoundError`` / ``ModelUnavailableError``);
- ``describe(config) -> ModelInfo`` says, without loading weights, whether it is available and where from.
"""

from __future__ import annotations

import importlib
from typing import Any

from models.base import ModelInfo
from models.config import CAPABILITIES, ModelConfig
from models.errors import ConfigError, FaceXError

# capability -> backend name -> "module:Class"
BACKENDS: dict[str, dict[str, str]] = {
    "detector": {
        "mediapipe": "models.detection:MediaPipeDetector",
        "mediapipe-short": "models.detection:MediaPipeDetector",
        "mediapipe-full": "models.detection:MediaPipeDetector",
        "dlib-hog": "models.detection:DlibHogDetector",
    },
    "embedder": {
        "dlib-torch": "models.embedding.dlib_torch:DlibTorchEmbedder",
        "dlib": "models.embedding.dlib_native:DlibNativeEmbedder",
        "arcface": "models.embedding.onnx:ArcFaceEmbedder",
        "onnx": "models.embedding.onnx:OnnxEmbedder",
    },
    "landmarks": {
        "mediapipe": "models.landmarks:FaceMeshLandmarks",
    },
    "parser": {
        "approx": "models.parsing.approx:ApproximateParser",
        "bisenet": "models.parsing.bisenet:BiSeNetParser",
    },
    "inpainter": {
        "telea": "models.inpainting.classical:OpenCVInpainter",
        "ns": "models.inpainting.classical:OpenCVInpainter",
        "patchmatch": "models.inpainting.patchmatch:PatchMatchInpainter",
        "repaint": "models.inpainting.diffusion:RePaintInpainter",
        "sd-inpaint": "models.inpainting.diffusion:StableDiffusionInpainter",
        "lama": "models.inpainting.onnx:OnnxInpainter",
        "migan": "models.inpainting.onnx:OnnxInpainter",
    },
    "sentence": {
        "minilm": "models.sentence:SentenceTransformerEmbedder",
        "mpnet": "models.sentence:SentenceTransformerEmbedder",
    },
    "qa": {
        "hf": "models.qa:HFQuestionAnswerer",
    },
    "quality": {
        "ofiq": "models.ofiq:OfiqQuality",
    },
}


def _check(capability: str, name: str | None) -> str:
    if capability not in BACKENDS:
        raise ConfigError(f"unknown capability {capability!r}; choose one of {', '.join(CAPABILITIES)}")
    if name not in BACKENDS[capability]:
        raise ConfigError(
            f"unknown {capability} backend {name!r}; choose one of {', '.join(BACKENDS[capability])}"
        )
    return BACKENDS[capability][name]


def backend_class(capability: str, name: str) -> type:
    """The adapter class registered for a backend, imported on demand.

    Args:
        capability: one of ``CAPABILITIES`` (``"detector"``, ``"embedder"``, ...).
        name: a backend name in ``BACKENDS[capability]``.

    Returns:
        The class (with ``from_config`` and ``describe`` class methods).

    Raises:
        ConfigError: an unknown capability or backend name.
        ImportError: the adapter's module cannot be imported (a missing optional package).
    """
    target = _check(capability, name)
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)


def create(capability: str, config: ModelConfig | None = None, name: str | None = None, **options: Any):
    """Build the backend ``name`` (default: the one ``config`` names) for ``capability``.

    The backend receives ``name`` as the ``backend`` option, so one class can serve several names
    (``telea`` / ``ns``, ``minilm`` / ``mpnet``).

    Args:
        capability: one of ``CAPABILITIES``.
        config: the configuration (default: :meth:`ModelConfig.from_env`).
        name: backend name; default ``getattr(config, capability)``.
        **options: keyword options for the backend, over ``config.options_for(capability)``.

    Returns:
        The adapter, implementing the capability's protocol in :mod:`models.base`.

    Raises:
        ConfigError: an unknown capability, backend or option, or no backend configured (e.g. ``qa``).
        ModelNotFoundError: the backend's model files are missing and downloads are not allowed.
        ModelUnavailableError: the backend cannot run here (missing package, unreadable model file).
    """
    config = config or ModelConfig.from_env()
    name = name or getattr(config, capability)
    if name is None:
        raise ConfigError(f"no {capability} backend is configured")
    cls = backend_class(capability, name)
    merged = {**config.options_for(capability), **options}
    return cls.from_config(config, backend=name, **merged)


def describe_all(config: ModelConfig | None = None) -> list[ModelInfo]:
    """One :class:`ModelInfo` per registered backend, without loading any weights.

    Args:
        config: the configuration (default: :meth:`ModelConfig.from_env`).

    Returns:
        The infos in ``BACKENDS`` order; the configured ones have ``extra['selected'] = True``. A backend whose
        description fails (a FaceXError or a missing package) is listed as unavailable with the reason in
        ``detail``.
    """
    config = config or ModelConfig.from_env()
    infos: list[ModelInfo] = []
    for capability, names in BACKENDS.items():
        for name in names:
            try:
                info = backend_class(capability, name).describe(config, backend=name)
            except FaceXError as exc:
                info = ModelInfo(capability, name, False, "", detail=str(exc))
            except ImportError as exc:
                info = ModelInfo(capability, name, False, "", detail=f"missing package: {exc.name or exc}")
            info.extra["selected"] = getattr(config, capability) == name
            infos.append(info)
    return infos
