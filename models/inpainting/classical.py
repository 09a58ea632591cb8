"""OpenCV's classical fills: TELEA (fast marching) and Navier-Stokes. Deterministic, a few milliseconds."""

from __future__ import annotations

import cv2
import numpy as np

from models.base import ModelInfo
from models.config import ModelConfig
from models.errors import ConfigError
from models.inpainting.common import BaseInpainter

_METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}


class OpenCVInpainter(BaseInpainter):
    """``cv2.inpaint`` with the TELEA or NS method; deterministic, a few milliseconds, no weights.

    Sources: Telea, "An Image Inpainting Technique Based on the Fast Marching Method", J. Graphics Tools 9(1),
    2004; Bertalmio, Bertozzi and Sapiro, "Navier-Stokes, Fluid Dynamics, and Image and Video Inpainting", CVPR
    2001.

    Args:
        method: ``"telea"`` or ``"ns"``.
        radius: the neighbourhood each filled pixel looks at, in pixels (positive).

    Raises:
        ConfigError: an unknown method or a radius that is not positive.
    """

    deterministic = True

    def __init__(self, method: str = "telea", radius: float = 3.0) -> None:
        if method not in _METHODS:
            raise ConfigError(f"unknown OpenCV inpainting method {method!r}; choose one of {', '.join(_METHODS)}")
        if not radius > 0:
            raise ConfigError(f"inpainting radius must be positive, not {radius}")
        self.method = method
        self.radius = float(radius)
        self.name = method

    @classmethod
    def from_config(cls, config: ModelConfig, backend: str = "telea", **options) -> OpenCVInpainter:
        """Build from configuration (the registry's entry point).

        Args:
            config: the model configuration (unused: no weights).
            backend: ``"telea"`` or ``"ns"``.
            **options: ``radius``.

        Returns:
            The inpainter.

        Raises:
            ConfigError: an unknown option, method, or a radius that is not positive.
        """
        unknown = set(options) - {"radius"}
        if unknown:
            raise ConfigError(f"unknown options for the {backend} inpainter: {sorted(unknown)}")
        return cls(method=backend, radius=options.get("radius", 3.0))

    @classmethod
    def describe(cls, config: ModelConfig, backend: str = "telea") -> ModelInfo:
        """Whether this backend can run here and where it loads from, without loading it.

        Args:
            config: the model configuration (unused).
            backend: the registered name (``telea`` or ``ns``).

        Returns:
            :class:`ModelInfo` for ``python -m models``.
        """
        label = {"telea": "Telea fast-marching", "ns": "Navier-Stokes"}.get(backend, backend)
        return ModelInfo(
            "inpainter", backend, True, f"opencv {cv2.__version__}", licence="Apache-2.0 (OpenCV)",
            detail=f"cv2.inpaint, {label}; deterministic, milliseconds; no weights",
        )

    def _fill(self, image: np.ndarray, mask: np.ndarray, seed: int | None, **kwargs) -> np.ndarray:
        if kwargs:
            raise ConfigError(f"unexpected arguments for the {self.name} inpainter: {sorted(kwargs)}")
        # cv2.inpaint reads hidden pixels where the hole touches the image border (up to ~10 px in), so a fill of
        # e.g. the hair at the top of a crop would carry the hair it hides: put the mean known colour there first
        work = np.array(image, copy=True)
        known = ~mask
        work[mask] = np.round(image[known].mean(axis=0)) if known.any() else 127
        # cv2.inpaint treats the three channels alike, so RGB needs no conversion
        return cv2.inpaint(work, mask.astype(np.uint8), self.radius, _METHODS[self.method])
