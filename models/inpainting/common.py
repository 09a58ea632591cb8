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
    """The image itself when it is an (H, W, 3) uint8 array.

    Args:
        image: the array to check.
        what: how messages name it.

    Returns:
        ``image`` unchanged.

    Raises:
        ImageError: not a numpy array, not uint8, not (H, W, 3), or empty; the message says which.
    """
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
    """A bool (H, W) mask matching ``shape``; integer 0/1 (or 0/255) masks are accepted and turned into bool.

    Args:
        mask: (H, W) or (H, W, 1) bool or integer array (nonzero = True).
        shape: the image's shape (H, W[, C]).
        what: how messages name it.

    Returns:
        (H, W) bool mask.

    Raises:
        ImageError: not an array, another size than the image, or a float/other dtype.
    """
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
    """``filled`` inside ``mask``, ``original`` everywhere else (bit-exact).

    Args:
        original: (H, W, 3) uint8 image.
        filled: (H, W, 3) the backend's fill (cast to uint8).
        mask: (H, W) bool, True where ``filled`` is taken.

    Returns:
        (H, W, 3) uint8.

    Raises:
        RuntimeError: ``filled`` has another shape (a backend bug).
    """
    if filled.shape != original.shape:
        raise RuntimeError(f"inpainting returned shape {filled.shape} for an image of shape {original.shape}")
    return np.where(mask[..., None], filled.astype(np.uint8, copy=False), original)


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an RGB uint8 image: area filter when shrinking, cubic when growing.

    Args:
        image: (H, W, 3) uint8.
        size: (width, height) in pixels.

    Returns:
        (height, width, 3) uint8 (``image`` itself when the size already matches).
    """
    w, h = size
    if (image.shape[1], image.shape[0]) == (w, h):
        return image
    shrink = w * h < image.shape[0] * image.shape[1]
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a bool mask so that every output pixel touching a hole stays a hole (never shrinks the hole).

    Args:
        mask: (H, W) bool.
        size: (width, height) in pixels.

    Returns:
        (height, width) bool (``mask`` itself when the size already matches).
    """
    w, h = size
    if (mask.shape[1], mask.shape[0]) == (w, h):
        return mask
    return cv2.resize(mask.astype(np.float32), (w, h), interpolation=cv2.INTER_AREA) > 0


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Round and clip float pixel values to 0-255 uint8.

    Args:
        values: array of pixel values on the 0-255 scale.

    Returns:
        uint8 array of the same shape.
    """
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def is_hub_id(value: str) -> bool:
    """Whether ``value`` looks like a Hugging Face hub id (``owner/name``) and is not an existing local path.

    Args:
        value: a path or hub id.
    """
    return bool(_HUB_ID.match(value)) and not Path(value).expanduser().exists()


def resolve_pretrained(
    config: ModelConfig,
    *,
    hub_id: str,
    explicit: str | Path | None,
    default_subdir: str,
) -> Path:
    """A local folder holding a Hugging Face model: ``explicit`` path, ``model_dir/default_subdir``, or a download.

    Args:
        config: model folder and download permission.
        hub_id: the model's hub id, downloaded only when ``config.allow_downloads``.
        explicit: a local folder, or itself a hub id (then ``model_dir/<its name>`` is looked at first).
        default_subdir: the folder under ``config.model_dir``.

    Returns:
        The folder.

    Raises:
        ModelNotFoundError: not found locally and downloads are not allowed (the message names
            ``FACEX_INPAINTER_PATH``).
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
    """(available, source, detail) for ``describe()`` without loading anything.

    Args:
        config: model folder and download permission.
        hub_id: the default model's hub id.
        explicit: a configured local folder or hub id, or None.
        default_subdir: the folder under ``config.model_dir``.

    Returns:
        ``(available, source, detail)``: whether it can be loaded (locally, or by download when allowed), the
        folder or hub id, and a note ("" when nothing to add).
    """
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
        """Fill the pixels where ``mask`` is True; every pixel outside the mask is returned unchanged.

        Args:
            image: (H, W, 3) RGB uint8.
            mask: (H, W) bool (or integer 0/1) mask, True where pixels are to be filled.
            seed: random seed for sampled backends (None: the backend's default or fresh randomness).
            **kwargs: backend options per call (e.g. PatchMatch's ``source_mask``).

        Returns:
            (H, W, 3) uint8: the fill inside the mask, ``image`` bit-exact outside (a copy when the mask is empty).

        Raises:
            ImageError: a bad image or mask, or a mask over the whole image for a backend that needs known pixels
                (``allows_full_mask`` False).
            ConfigError: keyword arguments the backend does not take.
        """
        image, mask = self._check(image, mask)
        if not mask.any():
            return image.copy()
        filled = self._fill(image, mask, seed, **kwargs)
        return paste_back(image, filled, mask)

    def inpaint_batch(
        self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray], *, seed: int | None = None, **kwargs
    ) -> list[np.ndarray]:
        """``[inpaint(i, m, seed=seed) for i, m in ...]``; batched inside the backend where it can be.

        Args:
            images: N (H, W, 3) RGB uint8 images (sizes may differ).
            masks: N masks, one per image.
            seed: as for :meth:`inpaint`.
            **kwargs: a list/tuple holds one value per image; anything else is shared by all.

        Returns:
            N filled (H, W, 3) uint8 images, in order.

        Raises:
            ImageError: different numbers of images and masks, or a bad image or mask.
            ConfigError: a per-image option list of the wrong length, or options the backend does not take.
        """
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

