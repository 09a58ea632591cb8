"""What every face parser shares: CelebAMask-HQ's 19 classes (face-parsing.PyTorch's order, index 0 =
background) and the input check.

Left/right follow the image: ``l_*`` is the part with the smaller x in an upright face, as for the five
keypoints in :mod:`models.base`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.errors import ImageError

CELEBAMASK_CLASSES: tuple[str, ...] = (
    "background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "l_ear", "r_ear", "ear_r",
    "nose", "mouth", "u_lip", "l_lip", "neck", "neck_l", "cloth", "hair", "hat",
)  # fmt: skip
CLASS_INDEX = {name: i for i, name in enumerate(CELEBAMASK_CLASSES)}


def check_image(image: Any) -> np.ndarray:
    """The RGB uint8 (H, W, 3) array a parser accepts, contiguous; ImageError for anything else.

    Args:
        image: the input to check.

    Returns:
        (H, W, 3) uint8, C-contiguous.

    Raises:
        ImageError: not an RGB uint8 array, or smaller than 8 x 8 pixels.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        got = f"{type(image).__name__} {getattr(image, 'shape', '')} {getattr(image, 'dtype', '')}".strip()
        raise ImageError(f"face parsing needs an RGB uint8 array of shape (H, W, 3), got {got}")
    if image.shape[0] < 8 or image.shape[1] < 8:
        raise ImageError(f"image of {image.shape[1]}x{image.shape[0]} pixels is too small to parse")
    return np.ascontiguousarray(image)
