"""Feed-forward inpainting networks exported to ONNX (LaMa, MI-GAN), loaded from a file path.

Expected graph: two inputs, an image and a mask, and the filled image as the first output. The adapter reads
layouts and sizes from the graph instead of assuming them:

- the mask input is the one whose name contains "mask", else the one with a single channel;
- layout: NCHW when the channel axis (3 for the image, 1 for the mask) is axis 1, NHWC when it is the last axis,
  (N, H, W) for a 3-d mask;
- size: a graph with a fixed H x W gets the image resized to it (and the fill resized back); a graph with dynamic
  H x W gets the image reflect-padded to a multiple of ``pad_multiple`` (LaMa downsamples by 8) and cropped back;
- value ranges: uint8 inputs get 0..255, float inputs ``input_range`` (default "0-1"); a uint8 output is taken
  as is, a float output is read as ``output_range`` ("auto": above 1.5 -> 0..255, below -0.05 -> -1..1, else 0..1).
- mask values: ``mask_convention="hole"`` writes 1 (255 for uint8) on pixels to fill, "known" writes it on pixels
  to keep. Defaults: "hole" for ``lama`` (the common LaMa export: image float [0,1] 1x3x512x512, mask float
  1x1x512x512 with 1 = hole), "known" for ``migan`` (MI-GAN's pipeline export: uint8 image 1x3xHxW and uint8 mask
  1x1xHxW with 255 = known, uint8 output).

Hole pixels are zeroed before the network sees them, so the fill never peeks at what it replaces; known pixels
are pasted back afterwards by the base class.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from models.base import ModelInfo
from models.config import ModelConfig
from models.errors import ConfigError, ModelNotFoundError, ModelUnavailableError
from models.inpainting.common import BaseInpainter, resize_image, resize_mask, to_uint8
from models.runtime import onnx_session, resolve_model_path

_RANGES = {"0-1": (0.0, 1.0), "0-255": (0.0, 255.0), "-1-1": (-1.0, 1.0)}
_DEFAULT_FILES = {"lama": "lama.onnx", "migan": "migan.onnx"}
_DEFAULT_MASK = {"lama": "hole", "migan": "known"}
# the widely used LaMa export on the Hugging Face hub (fetched only when downloads are allowed)
_LAMA_HUB = ("Carve/LaMa-ONNX", "lama_fp32.onnx")


def _is_int(v) -> bool:
    return isinstance(v, (int, np.integer)) and v > 0


class _Port:
    """One graph input or output: name, dtype, layout and (when fixed) spatial size."""

    def __init__(self, node, channels: int) -> None:
        self.name = node.name
        self.uint8 = "uint8" in node.type
        if not (self.uint8 or "float" in node.type):
            raise ConfigError(f"ONNX input/output {node.name!r} has type {node.type}; expected uint8 or float")
        shape = list(node.shape)
        self.float16 = "float16" in node.type
        if len(shape) == 4 and shape[1] == channels:
            self.layout = "NCHW"
            hw = shape[2:]
        elif len(shape) == 4 and shape[3] == channels:
            self.layout = "NHWC"
            hw = shape[1:3]
        elif len(shape) == 4:  # dynamic channel axis: the usual PyTorch export is NCHW
            self.layout = "NCHW"
            hw = shape[2:]
        elif len(shape) == 3 and channels == 1:
            self.layout = "NHW"
            hw = shape[1:]
        else:
            raise ConfigError(f"ONNX tensor {node.name!r} has shape {shape}; expected a 4-d image (or 3-d mask)")
        self.size = (int(hw[1]), int(hw[0])) if all(_is_int(v) for v in hw) else None  # (width, height)

    def pack(self, array: np.ndarray) -> np.ndarray:
        """(H, W, C) -> the port's 4-d (or 3-d) batch of one, in its dtype (uint8, float16 or float32)."""
        if self.layout == "NCHW":
            out = array.transpose(2, 0, 1)[None]
        elif self.layout == "NHWC":
            out = array[None]
        else:
            out = array[None, :, :, 0]
        if self.uint8:
            return np.ascontiguousarray(out.astype(np.uint8))
        return np.ascontiguousarray(out.astype(np.float16 if self.float16 else np.float32))

    def unpack(self, array: np.ndarray) -> np.ndarray:
        """The port's batch of one -> (H, W, C) (or (H, W) for a 3-d port)."""
        array = np.asarray(array)[0]
        return array.transpose(1, 2, 0) if self.layout == "NCHW" else array


class OnnxInpainter(BaseInpainter):
    """A feed-forward inpainting network exported to ONNX (LaMa, MI-GAN): image + mask -> image.

    Layouts, sizes and value ranges are read from the graph (module docstring); the seed is ignored.
    Sources: Suvorov et al., "Resolution-robust Large Mask Inpainting with Fourier Convolutions" (LaMa), WACV
    2022; Sargsyan et al., "MI-GAN: A Simple Baseline for Image Inpainting on Mobile Devices", ICCV 2023.

    Args:
        session: an onnxruntime session with two inputs (image, mask) and the filled image as first output.
        name: the backend name.
        mask_convention: ``"hole"`` (1 on pixels to fill) or ``"known"`` (1 on pixels to keep).
        input_range: float image input range: ``"0-1"``, ``"0-255"`` or ``"-1-1"``.
        output_range: float output range, or ``"auto"`` (judged from the values).
        pad_multiple: dynamic-size graphs get the image reflect-padded to a multiple of this (pixels).
        source: the file, for the record.

    Raises:
        ConfigError: an invalid option, or a graph whose inputs are not an image and a mask.
    """

    deterministic = True  # a feed-forward network: the seed is ignored

    def __init__(
        self,
        session,
        *,
        name: str = "lama",
        mask_convention: str = "hole",
        input_range: str = "0-1",
        output_range: str = "auto",
        pad_multiple: int = 8,
        source: str = "",
    ) -> None:
        if mask_convention not in ("hole", "known"):
            raise ConfigError(f"mask_convention must be 'hole' or 'known', not {mask_convention!r}")
        if input_range not in _RANGES:
            raise ConfigError(f"input_range must be one of {sorted(_RANGES)}, not {input_range!r}")
        if output_range not in (*_RANGES, "auto"):
            raise ConfigError(f"output_range must be 'auto' or one of {sorted(_RANGES)}, not {output_range!r}")
        if int(pad_multiple) < 1:
            raise ConfigError(f"pad_multiple must be at least 1, not {pad_multiple}")
        self.session = session
        self.name = name
        self.mask_convention = mask_convention
        self.input_range = input_range
        self.output_range = output_range
        self.pad_multiple = int(pad_multiple)
        self.source = source
        inputs = session.get_inputs()
        if len(inputs) != 2:
            raise ConfigError(
                f"an ONNX inpainter needs exactly two inputs (image, mask); {source or 'the model'} has "
                f"{[i.name for i in inputs]}"
            )
        by_name = [i for i in inputs if "mask" in i.name.lower()]
        if len(by_name) == 1:
            mask_node = by_name[0]
        else:  # fall back to the single-channel input
            ones = [i for i in inputs if len(i.shape) == 3 or (len(i.shape) == 4 and 1 in (i.shape[1], i.shape[3]))]
            if len(ones) != 1:
                raise ConfigError(f"cannot tell the mask input from the image input among {[i.name for i in inputs]}")
            mask_node = ones[0]
        image_node = next(i for i in inputs if i is not mask_node)
        self.image_port = _Port(image_node, 3)
        self.mask_port = _Port(mask_node, 1)
        self.output_port = _Port(session.get_outputs()[0], 3)

    @classmethod
    def from_config(cls, config: ModelConfig, backend: str = "lama", **options) -> OnnxInpainter:
        """Build from configuration (the registry's entry point).

        Args:
            config: model folder, downloads, device and threads (``FACEX_INPAINTER_PATH``: the ``.onnx`` file or a
                folder holding one).
            backend: ``"lama"`` or ``"migan"`` (sets the default ``mask_convention``).
            **options: ``model_path``, ``mask_convention``, ``input_range``, ``output_range``, ``pad_multiple``.

        Returns:
            The inpainter.

        Raises:
            ConfigError: an unknown option or value, or an unsuitable graph.
            ModelNotFoundError: no file found (LaMa is downloaded only when allowed), or not a loadable ONNX file.
            ModelUnavailableError: onnxruntime is not installed.
        """
        allowed = {"model_path", "mask_convention", "input_range", "output_range", "pad_multiple"}
        unknown = set(options) - allowed
        if unknown:
            raise ConfigError(f"unknown options for the {backend} inpainter: {sorted(unknown)}; use {sorted(allowed)}")
        path = cls._resolve(config, backend, options.pop("model_path", None))
        try:
            session = onnx_session(path, config)
        except ImportError as exc:
            raise ModelUnavailableError("ONNX inpainting needs onnxruntime: pip install onnxruntime") from exc
        except Exception as exc:  # onnxruntime raises its own types for unreadable / invalid graphs
            raise ModelNotFoundError(f"model {backend} at {path} is not a loadable ONNX file: {exc}") from exc
        options.setdefault("mask_convention", _DEFAULT_MASK.get(backend, "hole"))
        return cls(session, name=backend, source=str(path), **options)

    @classmethod
    def _resolve(cls, config: ModelConfig, backend: str, explicit: str | None) -> Path:
        explicit = explicit or config.path_for("inpainter")
        download = None
        if backend == "lama":
            def download(target: Path) -> Path:
                from huggingface_hub import hf_hub_download

                return Path(hf_hub_download(_LAMA_HUB[0], _LAMA_HUB[1], local_dir=str(target.parent)))
        path = resolve_model_path(
            backend, config, explicit=explicit, default_subdir=_DEFAULT_FILES.get(backend, f"{backend}.onnx"),
            download=download, capability="inpainter",
        )
        if path.is_dir():
            found = sorted(path.glob("*.onnx"))
            if len(found) != 1:
                raise ModelNotFoundError(f"model {backend} not found: {path} holds {len(found)} .onnx files, expected one")
            path = found[0]
        return path

    @classmethod
    def describe(cls, config: ModelConfig, backend: str = "lama") -> ModelInfo:
        """Whether this backend can run here and where it loads from, without loading it.

        Args:
            config: the model configuration.
            backend: the registered name (``lama`` or ``migan``).

        Returns:
            :class:`ModelInfo` for ``python -m models``.
        """
        explicit = config.options_for("inpainter").get("model_path") or config.path_for("inpainter")
        path = Path(explicit).expanduser() if explicit else config.model_dir / _DEFAULT_FILES.get(backend, "")
        licence = {"lama": "Apache-2.0 (LaMa)", "migan": "MIT (MI-GAN)"}.get(backend, "")
        available = path.exists() or (backend == "lama" and config.allow_downloads and not explicit)
        detail = "ONNX image+mask -> image; layout and ranges read from the graph"
        if not available:
            detail = f"no ONNX file at {path}; set FACEX_INPAINTER_PATH to the .onnx file"
        return ModelInfo("inpainter", backend, available, str(path), licence=licence, detail=detail)

    def _fill(self, image: np.ndarray, mask: np.ndarray, seed: int | None, **kwargs) -> np.ndarray:
        if kwargs:
            raise ConfigError(f"unexpected arguments for the {self.name} inpainter: {sorted(kwargs)}")
        h, w = image.shape[:2]
        size = self.image_port.size or self.mask_port.size
        if size is not None:
            work_image, work_mask = resize_image(image, size), resize_mask(mask, size)
        else:
            m = self.pad_multiple
            pad = ((0, -h % m), (0, -w % m))
            work_image = np.pad(image, (*pad, (0, 0)), mode="reflect" if min(h, w) > 1 else "edge")
            work_mask = np.pad(mask, pad, mode="edge")
        work_image = np.where(work_mask[..., None], 0, work_image).astype(np.uint8)  # never show the hole's content
        hole = work_mask if self.mask_convention == "hole" else ~work_mask

        if self.image_port.uint8:
            image_in = work_image
        else:
            lo, hi = _RANGES[self.input_range]
            image_in = work_image.astype(np.float32) / 255.0 * (hi - lo) + lo
        mask_in = hole[..., None].astype(np.float32) * (255.0 if self.mask_port.uint8 else 1.0)
        feeds = {self.image_port.name: self.image_port.pack(image_in), self.mask_port.name: self.mask_port.pack(mask_in)}
        result = self.output_port.unpack(self.session.run([self.output_port.name], feeds)[0])
        if result.ndim != 3 or result.shape[2] != 3:
            raise RuntimeError(f"{self.name} returned an output of shape {result.shape}; expected 3 channels")

        if result.dtype != np.uint8:
            result = result.astype(np.float32)
            kind = self.output_range
            if kind == "auto":
                kind = "0-255" if result.max() > 1.5 else "-1-1" if result.min() < -0.05 else "0-1"
            lo, hi = _RANGES[kind]
            result = to_uint8((result - lo) / (hi - lo) * 255.0)
        if size is not None:
            result = resize_image(np.ascontiguousarray(result), (w, h))
        else:
            result = np.ascontiguousarray(result[:h, :w])
        if result.shape[:2] != (h, w):  # a network that changes the size on its own
            result = cv2.resize(result, (w, h), interpolation=cv2.INTER_CUBIC)
        return result
