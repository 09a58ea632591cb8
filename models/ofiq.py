"""OFIQ (Open Source Face Image Quality, the reference implementation of ISO/IEC 29794-5) as an optional quality
backend, through the ``python-ofiq`` bindings (``pip install python-ofiq``; Linux x86_64 / macOS arm64 wheels).

OFIQ's learned models and configuration (about 400 MB: ADNet landmarks, BiSeNet face parsing, head pose, the
unified-quality model, ``ofiq_config.jaxn``) are a separate download from the EU-LISA / BSI servers. They are looked
for in ``FACEX_QUALITY_PATH``, then ``OFIQ_DATA_DIR``, then ``<FACEX_MODEL_DIR>/ofiq``, then ``~/.ofiq/data``: a
folder holding ``ofiq_config.jaxn`` and ``models/``. Without them the backend reports "not found" like the other
reference models; with ``FACEX_ALLOW_DOWNLOADS=1`` it runs ``ofiq.setup()`` into ``<FACEX_MODEL_DIR>/ofiq``.

A model file that OFIQ loads but that fails on a photo (the wrong input size, a missing output) is a one-line
ModelUnavailableError with OFIQ's reason; a photo in which OFIQ's detector finds no face gives an empty vector.

Select it with ``FACEX_QUALITY=ofiq``. Its measures (OFIQ's own scalar 0-100 scores and raw values) are recorded
beside this project's quality components as reference figures (``quality.<photo>.reference``); the pass / warn /
refuse policy stays the project's own, whose thresholds were measured for its offline measures.
"""

from __future__ import annotations

import importlib.util
import os
import threading
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from models.base import ModelInfo
from models.config import ModelConfig
from models.errors import ConfigError, ImageError, ModelNotFoundError, ModelUnavailableError

OFIQ_LICENCE = "MIT (OFIQ and python-ofiq); OFIQ's models: see the OFIQ-Project README (BSI / EU-LISA)"
CONFIG_FILE = "ofiq_config.jaxn"
# OFIQ 1.1.2 fails inside OpenCV (cv::remap: sizes < SHRT_MAX) from 32767 px a side on; measured with python-ofiq 0.3.1
MAX_SIDE = 32767


def _candidates(config: ModelConfig) -> list[Path]:
    out: list[Path] = []
    if explicit := config.path_for("quality"):
        out.append(Path(explicit).expanduser())
    if env := os.environ.get("OFIQ_DATA_DIR"):
        out.append(Path(env).expanduser())
    out += [config.model_dir / "ofiq", Path("~/.ofiq/data").expanduser()]
    return out


def find_data_dir(config: ModelConfig) -> Path | None:
    """The first candidate folder that holds OFIQ's configuration and models, or None."""
    for path in _candidates(config):
        if (path / CONFIG_FILE).is_file() and (path / "models").is_dir():
            return path
    return None


class OfiqQuality:
    """OFIQ's quality vector of a photo: ``measure(image) -> {measure: {"scalar": 0-100, "raw": float} | None}``.

    Not thread-safe in OFIQ itself; a lock serialises calls so that one instance can be shared.
    """

    name = "ofiq"

    def __init__(self, data_dir: str | Path):
        if importlib.util.find_spec("ofiq") is None:
            raise ModelUnavailableError("OFIQ needs the python-ofiq package: pip install python-ofiq")
        import ofiq

        self.data_dir = Path(data_dir)
        try:
            self._ofiq = ofiq.OFIQ(str(self.data_dir))
        except ofiq.OFIQError as exc:
            raise ModelUnavailableError(f"OFIQ could not start from {self.data_dir}: {_one_line(exc)}") from None
        self.version = str(getattr(ofiq, "__ofiq_version__", ""))
        self._no_face = ofiq.FaceDetectionError
        self._errors = ofiq.OFIQError
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, config: ModelConfig, backend: str = "ofiq", **options: Any) -> OfiqQuality:
        if backend != "ofiq":
            raise ConfigError(f"unknown quality backend {backend!r}")
        if options:
            raise ConfigError(f"the ofiq quality backend takes no options, got {sorted(options)}")
        if importlib.util.find_spec("ofiq") is None:
            raise ModelUnavailableError("OFIQ needs the python-ofiq package: pip install python-ofiq")
        path = find_data_dir(config)
        if path is None and config.allow_downloads:
            path = _download(config.model_dir / "ofiq")
        if path is None:
            where = ", ".join(str(p) for p in _candidates(config))
            raise ModelNotFoundError(
                f"model OFIQ not found (looked for {CONFIG_FILE} and models/ in {where}); set FACEX_QUALITY_PATH "
                "to OFIQ's data folder or allow downloads with FACEX_ALLOW_DOWNLOADS=1"
            )
        return cls(path)

    @classmethod
    def describe(cls, config: ModelConfig, backend: str = "ofiq") -> ModelInfo:
        installed = importlib.util.find_spec("ofiq") is not None
        path = find_data_dir(config)
        if not installed:
            detail = "python-ofiq is not installed (pip install python-ofiq)"
        elif path is None:
            detail = f"not found: OFIQ's data folder ({CONFIG_FILE} + models/) is a separate download"
        else:
            detail = "ISO/IEC 29794-5 reference quality measures (recorded as reference figures)"
        return ModelInfo("quality", backend, installed and path is not None,
                         str(path or _candidates(config)[0]), licence=OFIQ_LICENCE, detail=detail)

    def measure(self, image: np.ndarray) -> dict[str, dict | None]:
        """OFIQ's quality vector of one photo (OFIQ's ``vectorQuality``).

        Args:
            image: RGB uint8 (H, W, 3) photo, the whole photo (OFIQ detects and aligns the face itself).

        Returns:
            ``{measure: {"scalar": 0-100, "raw": float} | None}`` keyed by OFIQ's own measure names (the
            sub-measures of compound ones, e.g. ``LuminanceMean``, ``HeadPoseYaw``); None for a measure OFIQ could
            not assess; an empty dict when OFIQ's detector finds no face.

        Raises:
            ImageError: not an (H, W, 3) uint8 array, or a side of MAX_SIDE pixels or more.
            ModelUnavailableError: one of OFIQ's models failed on the photo (a model file of the wrong shape or
                kind, e.g. a segmentation model whose input is not the size OFIQ feeds): one line, OFIQ's reason.
        """
        image = np.ascontiguousarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ImageError(f"OFIQ needs an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
        if max(image.shape[:2]) >= MAX_SIDE:
            raise ImageError(f"OFIQ measures photos under {MAX_SIDE} pixels a side (OpenCV's warp limit in OFIQ's "
                             f"alignment), this one is {image.shape[1]}x{image.shape[0]}")
        with self._lock:
            try:
                out = self._ofiq.vector_quality(image, True)
            except self._no_face:
                return {}
            except self._errors as exc:  # landmarks, segmentation, head pose: a model, not the photo, failed
                raise ModelUnavailableError(
                    f"OFIQ's models in {self.data_dir} failed on the photo: {_one_line(exc)}"
                ) from None
        return {str(k): (None if v is None else {"scalar": float(v["scalar"]), "raw": float(v["raw"])})
                for k, v in out.items()}


def _one_line(exc: BaseException) -> str:
    """OFIQ's message on one line (ONNX Runtime's shape errors span several)."""
    return " ".join(str(exc).split())


def _download(target: Path) -> Path | None:
    """``ofiq.setup()`` into ``target`` (OFIQ's configuration and models, about 400 MB).

    Raises:
        ModelNotFoundError: the download failed (no network, a server error, a full disk): one line naming why.
    """
    import ofiq

    target.mkdir(parents=True, exist_ok=True)
    old = os.environ.get("OFIQ_DATA_DIR")
    os.environ["OFIQ_DATA_DIR"] = str(target)
    try:
        return Path(ofiq.setup())
    except (OSError, zipfile.BadZipFile) as exc:  # urllib's URLError/HTTPError are OSErrors
        raise ModelNotFoundError(
            f"model OFIQ not found, and downloading its data into {target} failed ({exc}); download it where there "
            "is network access (python-ofiq setup) and set FACEX_QUALITY_PATH to the folder"
        ) from None
    finally:
        if old is None:
            os.environ.pop("OFIQ_DATA_DIR", None)
        else:
            os.environ["OFIQ_DATA_DIR"] = old
