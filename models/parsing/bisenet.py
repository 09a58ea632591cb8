"""The ``bisenet`` parser backend: a thin adapter over the face-parsing.PyTorch BiSeNet (reference parser).

The network lives in :mod:`models.parsing.bisenet_net`, finding and loading its weights in
:mod:`models.parsing.bisenet_loader`; this adapter only preprocesses (PIL bilinear to 512 px, ImageNet
normalisation, as face-parsing.PyTorch's own evaluation does), runs it and turns class scores into labels.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from models.base import ModelInfo, ParsingResult
from models.config import ModelConfig
from models.errors import ConfigError, ModelNotFoundError, ModelUnavailableError
from models.parsing.bisenet_loader import (
    BISENET_FILE,
    BISENET_INPUT,
    BISENET_SUBDIR,
    bisenet_path,
    find_bisenet_file,
    load_onnx,
    load_torch,
)
from models.parsing.common import CELEBAMASK_CLASSES, check_image

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
# face-parsing.PyTorch's code is MIT; its weights are trained on CelebAMask-HQ, whose images and masks are
# for non-commercial research and education only.
BISENET_LICENCE = "code MIT (face-parsing.PyTorch); weights trained on CelebAMask-HQ: non-commercial research only"


class BiSeNetParser:
    """The reference parser: BiSeNet trained on CelebAMask-HQ, from a ``.pth`` state dict or an ``.onnx`` export.

    Args:
        path: the weight file (``.onnx`` is run by onnxruntime, anything else is read as a torch state dict).
        config: device and thread choices (default: ``ModelConfig()``).

    Raises:
        ModelUnavailableError: the file cannot be loaded as a 19-class BiSeNet.
    """

    name = "bisenet"
    approximate = False

    def __init__(self, path: str | Path, config: ModelConfig | None = None):
        self.config = config or ModelConfig()
        self.path = Path(path)
        self.input_size = BISENET_INPUT
        self._lock = threading.Lock()
        self._session = None
        self._net = None
        if self.path.suffix.lower() == ".onnx":
            self._session = load_onnx(self.path, self.config)
            self._input_name = self._session.get_inputs()[0].name
        else:
            self._net, self._device = load_torch(self.path, self.config)

    @classmethod
    def from_config(
        cls,
        config: ModelConfig,
        backend: str = "bisenet",
        *,
        path: str | Path | None = None,
        repo_id: str | None = None,
        filename: str = BISENET_FILE,
        **options: Any,
    ) -> BiSeNetParser:
        """Build from configuration (``path`` option, else ``FACEX_PARSER_PATH``, else the model folder).

        Args:
            config: the model configuration (model folder, downloads, device, threads).
            backend: the registered name (``bisenet``).
            path: the ``.pth``/``.onnx`` file, its folder, or a hub repository ``owner/name``.
            repo_id: the hub repository to download from when downloads are allowed.
            filename: the weight file's name (default ``79999_iter.pth``).
            **options: none are accepted.

        Returns:
            The parser with its weights loaded.

        Raises:
            ConfigError: unknown options.
            ModelNotFoundError: see :func:`~models.parsing.bisenet_loader.bisenet_path`.
            ModelUnavailableError: the file cannot be loaded as a 19-class BiSeNet.
        """
        if options:
            raise ConfigError(f"unknown options for the bisenet parser: {sorted(options)}")
        return cls(bisenet_path(config, path, repo_id, filename), config)

    @classmethod
    def describe(cls, config: ModelConfig, backend: str = "bisenet") -> ModelInfo:
        """Whether the weights are in place, without loading them.

        Args:
            config: the model configuration (``FACEX_PARSER_PATH`` or the model folder).
            backend: the registered name.

        Returns:
            :class:`ModelInfo`.
        """
        explicit = config.path_for("parser")
        where = Path(explicit).expanduser() if explicit else config.model_dir / BISENET_SUBDIR / BISENET_FILE
        try:
            where = find_bisenet_file(where) if where.exists() else where
            available = where.is_file()
        except ModelNotFoundError:
            available = False
        detail = "BiSeNet (ResNet-18) face parsing, CelebAMask-HQ 19 classes, 512x512 input"
        if not available:
            detail += f"; not found: put {BISENET_FILE} (or an ONNX export) at {where}"
        return ModelInfo("parser", backend, available, str(where), licence=BISENET_LICENCE, detail=detail)

    def logits(self, image: np.ndarray) -> np.ndarray:
        """Class scores of one photo.

        Args:
            image: (H, W, 3) RGB uint8.

        Returns:
            (19, 512, 512) float32 class scores for ``image`` resized to the network's input (PIL bilinear,
            ImageNet normalisation, as face-parsing.PyTorch's own evaluation).

        Raises:
            ImageError: not an RGB uint8 image, or smaller than 8 x 8 pixels.
            ModelUnavailableError: an ONNX export with the wrong output.
        """
        from PIL import Image

        image = check_image(image)
        # PIL's bilinear resize, as in face-parsing.PyTorch's own evaluation (it antialiases when shrinking)
        resized = np.asarray(Image.fromarray(image).resize((self.input_size, self.input_size), Image.BILINEAR))
        x = ((resized.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).transpose(2, 0, 1)[None]
        x = np.ascontiguousarray(x)
        if self._session is not None:
            with self._lock:
                out = self._session.run(None, {self._input_name: x})[0]
            if out.ndim != 4 or out.shape[1] != len(CELEBAMASK_CLASSES):
                raise ModelUnavailableError(
                    f"{self.path} returns an output of shape {out.shape}; a BiSeNet export must return "
                    "(1, 19, H, W) class scores for a (1, 3, 512, 512) ImageNet-normalised input"
                )
            return out[0]
        import torch

        with torch.inference_mode():
            out = self._net(torch.from_numpy(x).to(self._device))
        return out[0].float().cpu().numpy()

    def parse(self, image: np.ndarray, landmarks: np.ndarray | None = None) -> ParsingResult:
        """Labels at ``image``'s own size.

        Args:
            image: (H, W, 3) RGB uint8.
            landmarks: accepted for the protocol and ignored.

        Returns:
            ParsingResult with (H, W) uint8 labels indexing ``CELEBAMASK_CLASSES`` (argmax of :meth:`logits`, resized
            by nearest neighbour), ``approximate=False``.

        Raises:
            ImageError: not an RGB uint8 image, or smaller than 8 x 8 pixels.
            ModelUnavailableError: an ONNX export with the wrong output.
        """
        image = check_image(image)
        labels = self.logits(image).argmax(0).astype(np.uint8)
        h, w = image.shape[:2]
        if (h, w) != labels.shape:
            labels = cv2.resize(labels, (w, h), interpolation=cv2.INTER_NEAREST)
        return ParsingResult(labels, CELEBAMASK_CLASSES, False, f"bisenet:{self.path.name}")
