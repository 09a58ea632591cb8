"""Reading photos into the project's one image convention: RGB ``uint8`` arrays of shape (H, W, 3).

Handles what real photos bring: EXIF orientation, grayscale, palette, RGBA (composited on white), 16-bit,
and very large images (downscaled with area interpolation). Anything unusable raises :class:`ImageError`
with a message that names the file and the problem.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from models.errors import ImageError

ImageSource = str | Path | bytes | bytearray | io.IOBase | np.ndarray

MAX_FILE_BYTES = 50 * 1024 * 1024  # refuse larger files before decoding them
MAX_PIXELS = 100_000_000  # decompression-bomb guard, checked from the header before decoding
MAX_SIDE = 2048  # longer side after loading; larger photos are downscaled (faces stay far above tiny)


def _describe(source: ImageSource) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    if isinstance(source, np.ndarray):
        return "array"
    return getattr(source, "name", None) or "uploaded data"


def _to_uint8_values(a: np.ndarray, what: str) -> np.ndarray:
    """Scale any supported dtype to uint8 values, keeping the shape (16-bit and int32 by their range, floats from
    [0, 1] or [0, 255], bools to 0/255, other integers clipped)."""
    if a.dtype == np.uint16 or a.dtype == np.int32 or a.dtype == np.uint32:
        return (a.astype(np.float64) / (65535.0 if a.max() > 255 else 255.0) * 255.0 + 0.5).astype(np.uint8)
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise ImageError(f"{what}: image contains NaN or infinite values")
        scale = 255.0 if a.max() <= 1.0 else 1.0
        return np.clip(a * scale + 0.5, 0, 255).astype(np.uint8)
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if a.dtype != np.uint8:
        return np.clip(a, 0, 255).astype(np.uint8)
    return a


def _to_three_channels(a: np.ndarray, what: str) -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 2) gray + alpha, (H, W, 3) or (H, W, 4) uint8 -> (H, W, 3); alpha composited on
    white so transparent backgrounds do not turn black."""
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    channels = a.shape[2]
    if channels == 1:
        return np.repeat(a, 3, axis=2)
    if channels == 2:  # gray + alpha
        gray, alpha = a[..., :1].astype(np.float32), a[..., 1:2].astype(np.float32) / 255.0
        return np.repeat((gray * alpha + 255.0 * (1 - alpha) + 0.5).astype(np.uint8), 3, axis=2)
    if channels == 4:  # composite on white so transparent backgrounds do not turn black
        rgb, alpha = a[..., :3].astype(np.float32), a[..., 3:4].astype(np.float32) / 255.0
        return (rgb * alpha + 255.0 * (1 - alpha) + 0.5).astype(np.uint8)
    if channels != 3:
        raise ImageError(f"{what}: unsupported number of channels {channels}")
    return a


def to_rgb_uint8(array: np.ndarray, what: str = "array") -> np.ndarray:
    """Convert a decoded array (gray, gray+alpha, RGB, RGBA; uint8, uint16 or float in [0, 1]) to RGB uint8.

    Args:
        array: (H, W) or (H, W, C) with C in 1-4; dtype uint8, uint16, int32/uint32 (16-bit range), float (values
            in [0, 1], or [0, 255] when the maximum is above 1), bool, or another integer type (clipped to 0-255).
        what: how error messages name the input (a file name, "array").

    Returns:
        (H, W, 3) RGB uint8, C-contiguous. Alpha is composited on white.

    Raises:
        ImageError: empty, not 2-d or 3-d, NaN or infinite float values, or a channel count other than 1-4.
    """
    a = np.asarray(array)
    if a.size == 0 or a.ndim not in (2, 3):
        raise ImageError(f"{what}: expected an image array of shape (H, W) or (H, W, C), got shape {a.shape}")
    return np.ascontiguousarray(_to_three_channels(_to_uint8_values(a, what), what))


def downscale(image: np.ndarray, max_side: int = MAX_SIDE) -> tuple[np.ndarray, float]:
    """Shrink so the longer side is at most ``max_side`` (area interpolation).

    Args:
        image: (H, W[, C]) array.
        max_side: the longest side allowed, in pixels.

    Returns:
        ``(image, scale)``: the (possibly) shrunk image and output pixels per input pixel (1.0 when unchanged).
    """
    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return image, 1.0
    import cv2

    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


def _read_path(path: Path, what: str) -> bytes:
    """The bytes of an image file, with the size limit checked before reading."""
    if not path.exists():
        raise ImageError(f"{what}: file not found")
    if path.is_dir():
        raise ImageError(f"{what}: is a folder, not an image file")
    size = path.stat().st_size
    if size == 0:
        raise ImageError(f"{what}: file is empty")
    if size > MAX_FILE_BYTES:
        raise ImageError(f"{what}: file is {size / 2**20:.0f} MiB; the limit is {MAX_FILE_BYTES // 2**20} MiB")
    try:
        return path.read_bytes()
    except PermissionError:
        raise ImageError(f"{what}: permission denied (the file cannot be read by this user)") from None
    except OSError as exc:
        raise ImageError(f"{what}: cannot be read ({exc.strerror or exc})") from None


def _read_encoded(source: ImageSource, what: str) -> bytes:
    """The encoded bytes of a path, bytes or file object; ImageError when empty or over ``MAX_FILE_BYTES``."""
    if isinstance(source, (str, Path)):
        data = _read_path(Path(source), what)
    elif isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    elif hasattr(source, "read"):
        data = source.read()
    else:
        raise ImageError(f"cannot read an image from a {type(source).__name__}")
    if not data:
        raise ImageError(f"{what}: file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise ImageError(f"{what}: file is {len(data) / 2**20:.0f} MiB; the limit is {MAX_FILE_BYTES // 2**20} MiB")
    return data


def _decode(data: bytes, what: str) -> np.ndarray:
    """Decode with PIL (pixel limit and frame count checked from the header), EXIF-rotated; palette and
    CMYK/YCbCr/LAB/HSV modes converted, anything else left for :func:`to_rgb_uint8`."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.width * img.height > MAX_PIXELS:
                raise ImageError(
                    f"{what}: image is {img.width}x{img.height} pixels; the limit is {MAX_PIXELS:,} pixels"
                )
            frames = int(getattr(img, "n_frames", 1) or 1)
            # MPO (camera JPEGs with a preview) holds one photo plus its copies: its first frame is the photo
            if frames > 1 and img.format != "MPO":
                raise ImageError(
                    f"{what}: a {img.format or 'multi-frame'} image with {frames} frames (animated or multi-page); "
                    "which frame shows the face to compare is ambiguous: save that frame as a still PNG or JPEG"
                )
            img = ImageOps.exif_transpose(img)
            if img.mode == "P":
                img = img.convert("RGBA")
            elif img.mode in ("CMYK", "YCbCr", "LAB", "HSV"):
                img = img.convert("RGB")
            return np.array(img)
    except ImageError:
        raise
    except Image.DecompressionBombError:  # PIL refuses > 2x its own pixel limit inside Image.open
        raise ImageError(f"{what}: image is too large to decode safely; the limit is {MAX_PIXELS:,} pixels") from None
    except UnidentifiedImageError:
        raise ImageError(f"{what}: not an image file (or a format that cannot be read)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"{what}: the image is corrupt or truncated ({exc})") from None


def load_image(source: ImageSource, *, max_side: int | None = MAX_SIDE) -> np.ndarray:
    """Load a photo from a path, bytes, a file object or an array as RGB uint8, EXIF-rotated.

    Args:
        source: a path, encoded bytes, a binary file object, or an array (H, W[, C]) (see :func:`to_rgb_uint8`).
        max_side: longer side after loading in pixels (larger photos are shrunk with area interpolation);
            None keeps the size.

    Returns:
        (H, W, 3) RGB uint8 array.

    Raises:
        ImageError: missing, unreadable (permission), empty, corrupt, non-image, oversized (over 50 MiB or
            100 million pixels), under 16 pixels on a side, or multi-frame input (animated GIF/WEBP/PNG,
            multi-page TIFF: refused rather than silently judged on frame 1).
    """
    what = _describe(source)
    if isinstance(source, np.ndarray):
        image = to_rgb_uint8(source, what)
        return downscale(image, max_side)[0] if max_side else image
    array = _decode(_read_encoded(source, what), what)
    if array.dtype == np.int32 and array.ndim == 2:  # PIL's mode "I" (16-bit PNG)
        array = array.astype(np.uint16) if array.max() <= 65535 else array
    image = to_rgb_uint8(array, what)
    if min(image.shape[:2]) < 16:
        raise ImageError(f"{what}: image is only {image.shape[1]}x{image.shape[0]} pixels")
    return downscale(image, max_side)[0] if max_side else image
