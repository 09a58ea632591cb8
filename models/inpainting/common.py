"""What every inpainting backend shares: input checks, the paste-back of known pixels, resizing, model lookup.

Backends subclass :class:`BaseInpainter` and implement only ``_fill`` (and ``_fill_batch`` where the library
batches). The base class validates the inputs, returns a copy for an empty mask, and pastes the original back
outside the mask, so *every* backend keeps known pixels bit-exact, whatever its network does to them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from models.config import ModelConfig
from models.errors import ConfigError, ImageError
from models.runtime import resolve_model_path

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.\-]*/[\w.\-]+$")


def check_image(image: np.ndarray, what: str = "image") -> np.ndarray:
    """An (H, W, 3) uint8 array, or ImageError saying what is wrong."""
    if not isinstance(image, np.ndarray):
        raise ImageError(f"{what} must be a numpy array, not {type(image).__name__}")
    if image.dtype != np.uint8:
        raise ImageError(f"{what} must be uint8 RGB, not {image.dtype}")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ImageError(f"{what} must have shape (H, W, 3), not {image.shape}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ImageError(f"{what} is empty: shape {image.shape}")
    return image


def check_mask(mask: np.ndarray, shape: tuple[int, ...], what: str = "mask") -> np.ndarray:
    """A bool (H, W) mask matching ``shape``; integer 0/1 (or 0/255) masks are accepted and turned into bool."""
    if not isinstance(mask, np.ndarray):
        raise ImageError(f"{what} must be a numpy array, not {type(mask).__name__}")
    if mask.ndim == 3 and mask.shape[2] == 1:
        mask = mask[..., 0]
    if mask.ndim != 2:
        raise ImageError(f"{what} must have shape (H, W), not {mask.shape}")
    if mask.shape != tuple(shape[:2]):
        raise ImageError(f"{what} shape {mask.shape} does not match the image size {tuple(shape[:2])}")
    if mask.dtype == np.bool_:
        return mask
    if np.issubdtype(mask.dtype, np.integer):
        return mask != 0
    raise ImageError(f"{what} must be a bool (or integer 0/1) array, not {mask.dtype}")


def paste_back(original: np.ndarray, filled: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``filled`` inside ``mask``, ``original`` everywhere else (bit-exact)."""
    if filled.shape != original.shape:
        raise RuntimeError(f"inpainting returned shape {filled.shape} for an image of shape {original.shape}")
    return np.where(mask[..., None], filled.astype(np.uint8, copy=False), original)


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an RGB uint8 image to ``size`` = (width, height): area filter when shrinking, cubic when growing."""
    w, h = size
    if (image.shape[1], image.shape[0]) == (w, h):
        return image
    shrink = w * h < image.shape[0] * image.shape[1]
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a bool mask so that every output pixel touching a hole stays a hole (never shrinks the hole)."""
    w, h = size
    if (mask.shape[1], mask.shape[0]) == (w, h):
        return mask
    return cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0


def to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def is_hub_id(value: str) -> bool:
    return bool(_HUB_ID.match(value)) and not Path(value).expanduser().exists()


def resolve_pretrained(
    config: ModelConfig,
    *,
    hub_id: str,
    explicit: str | Path | None,
    default_subdir: str,
) -> Path:
    """A local folder holding a Hugging Face model: ``explicit`` path, ``model_dir/default_subdir``, or a download.

    ``explicit`` may itself be a hub id; it is downloaded only when ``config.allow_downloads``.
    """
    if explicit is not None and is_hub_id(str(explicit)):
        hub_id, explicit = str(explicit), None
        default_subdir = hub_id.split("/")[-1]

    def download(target: Path) -> Path:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(hub_id, local_dir=str(target)))

    return resolve_model_path(hub_id, config, explicit=explicit, default_subdir=default_subdir, download=download,
                              capability="inpainter")


def describe_source(config: ModelConfig, *, hub_id: str, explicit: str | None, default_subdir: str) -> tuple[bool, str, str]:
    """(available, source, detail) for ``describe()`` without loading anything."""
    if explicit and not is_hub_id(str(explicit)):
        path = Path(explicit).expanduser()
        if path.is_dir():
            return True, str(path), ""
        return False, str(path), "explicit path is not a model folder" if path.exists() else "explicit path does not exist"
    if explicit:
        hub_id = str(explicit)
        default_subdir = hub_id.split("/")[-1]
    local = config.model_dir / default_subdir
    if local.exists():
        return True, str(local), ""
    if config.allow_downloads:
        return True, hub_id, f"downloaded into {local} on first use"
    return False, str(local), f"not found; place {hub_id} there, pass a model path, or allow downloads"


class BaseInpainter:
    """Validation, empty-mask shortcut and paste-back around a backend's ``_fill``.

    ``allows_full_mask``: generative backends can fill a fully masked image from nothing; classical ones need
    known pixels to copy from and refuse it with a clear error.
    """

    name: str = "inpainter"
    deterministic: bool = True
    allows_full_mask: bool = False
    accepts_source_mask: bool = False  # True where inpaint() takes source_mask= (pixels the fill may copy from)

    # --- backend hooks -------------------------------------------------------------------------------------
    def _fill(self, image: np.ndarray, mask: np.ndarray, seed: int | None, **kwargs) -> np.ndarray:
        raise NotImplementedError

    def _fill_batch(
        self, images: list[np.ndarray], masks: list[np.ndarray], seed: int | None, item_kwargs: list[dict]
    ) -> list[np.ndarray]:
        return [self._fill(im, m, seed, **kw) for im, m, kw in zip(images, masks, item_kwargs)]

    # --- public API ----------------------------------------------------------------------------------------
    def _check(self, image: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        image = check_image(image)
        mask = check_mask(mask, image.shape)
        if mask.all() and not self.allows_full_mask:
            raise ImageError(
                f"the mask covers the whole {image.shape[1]}x{image.shape[0]} image: {self.name} fills holes from "
                "known pixels and has none to copy from"
            )
        return image, mask

    def inpaint(self, image: np.ndarray, mask: np.ndarray, *, seed: int | None = None, **kwargs) -> np.ndarray:
        """Fill the pixels where ``mask`` is True; every pixel outside the mask is returned unchanged."""
        image, mask = self._check(image, mask)
        if not mask.any():
            return image.copy()
        filled = self._fill(image, mask, seed, **kwargs)
        return paste_back(image, filled, mask)

    def inpaint_batch(
        self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray], *, seed: int | None = None, **kwargs
    ) -> list[np.ndarray]:
        """``[inpaint(i, m, seed=seed) for i, m in ...]``; batched inside the backend where it can be."""
        images, masks = list(images), list(masks)
        if len(images) != len(masks):
            raise ImageError(f"got {len(images)} images but {len(masks)} masks")
        # keyword options given as a list/tuple hold one value per image; anything else is shared
        item_kwargs = [{} for _ in images]
        for key, value in kwargs.items():
            if isinstance(value, (list, tuple)):
                if len(value) != len(images):
                    raise ConfigError(f"{key} has {len(value)} entries for {len(images)} images")
                for kw, v in zip(item_kwargs, value):
                    kw[key] = v
            else:
                for kw in item_kwargs:
                    kw[key] = value
        checked = [self._check(im, m) for im, m in zip(images, masks)]
        out: list[np.ndarray | None] = [im.copy() if not m.any() else None for im, m in checked]
        todo = [i for i, o in enumerate(out) if o is None]
        if todo:
            filled = self._fill_batch(
                [checked[i][0] for i in todo], [checked[i][1] for i in todo], seed, [item_kwargs[i] for i in todo]
            )
            for i, f in zip(todo, filled):
                out[i] = paste_back(checked[i][0], f, checked[i][1])
        return out  # type: ignore[return-value]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"

