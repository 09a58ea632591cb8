"""Heatmaps of region contributions: region-wise maps, a diverging colour scale, overlays and xFace's HLS blend.

Colour convention (fixed, never rescaled per image): matplotlib "RdBu_r" over [-1, 1]. RED = the region supports
the match (hiding it lowers the similarity), BLUE = it works against the match, white = no effect.
"""

from __future__ import annotations

import cv2
import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize

CMAP_NAME = "RdBu_r"


def region_heatmap(masks: dict[str, np.ndarray], contributions: dict[str, float | None],
                   shape: tuple[int, int]) -> np.ndarray:
    """(H, W) float32 map in [-1, 1]: every pixel of region r holds contributions[r]; elsewhere 0 (masks don't
    overlap; regions without a contribution stay 0)."""
    heat = np.zeros(tuple(shape[:2]), dtype=np.float32)
    for name, mask in masks.items():
        v = contributions.get(name)
        if v is None or not np.isfinite(v):
            continue
        heat[np.asarray(mask, dtype=bool)] = float(v)
    return np.clip(heat, -1.0, 1.0)


def pixel_heatmap(values: np.ndarray, *, normalise: bool = True) -> np.ndarray:
    """A per-pixel map (e.g. the occlusion baseline) as float32 in [-1, 1], divided by its max |value| when asked."""
    heat = np.nan_to_num(np.asarray(values, dtype=np.float32))
    if normalise:
        peak = float(np.abs(heat).max()) if heat.size else 0.0
        if peak > 0:
            heat = heat / peak
    return np.clip(heat, -1.0, 1.0)


def colorize(heatmap: np.ndarray) -> np.ndarray:
    """RGB uint8 of a [-1, 1] map with the fixed diverging scale (red positive, blue negative)."""
    rgba = colormaps[CMAP_NAME](Normalize(vmin=-1.0, vmax=1.0, clip=True)(np.asarray(heatmap, dtype=np.float32)))
    return (rgba[..., :3] * 255 + 0.5).astype(np.uint8)


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.5, *, mask: np.ndarray | None = None) -> np.ndarray:
    """Blend the coloured map over the photo with weight ``alpha``; where ``mask`` is False (e.g. outside every
    region) the photo shows unchanged. The map is resized to the image when the shapes differ."""
    image = np.asarray(image, dtype=np.uint8)
    heat = _resize(heatmap, image.shape[:2])
    colour = colorize(heat).astype(np.float32)
    out = (1 - alpha) * image.astype(np.float32) + alpha * colour
    if mask is not None:
        m = _resize(np.asarray(mask, dtype=np.float32), image.shape[:2]) > 0.5
        out[~m] = image[~m]
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def hls_blend(image: np.ndarray, heatmap: np.ndarray) -> np.ndarray:
    """xFace Algorithm 2: lightness from the photo (RGB->HLS), hue from the coloured map (RGB->HLS), saturation from
    the coloured map in HSV (RGB->HSV), recombined with HLS->RGB. Keeps the photo's shading, takes the map's colour;
    where the map is white (no effect) the saturation is 0 and the photo shows in grey."""
    image = np.asarray(image, dtype=np.uint8)
    colour = colorize(_resize(heatmap, image.shape[:2]))
    img_hls = cv2.cvtColor(image, cv2.COLOR_RGB2HLS_FULL)
    map_hls = cv2.cvtColor(colour, cv2.COLOR_RGB2HLS_FULL)
    map_hsv = cv2.cvtColor(colour, cv2.COLOR_RGB2HSV_FULL)
    blended = np.stack([map_hls[..., 0], img_hls[..., 1], map_hsv[..., 1]], axis=-1)
    return cv2.cvtColor(blended, cv2.COLOR_HLS2RGB_FULL)


def legend_image(width: int = 560, height: int = 70, *, labels: tuple[str, str] | None = None) -> np.ndarray:
    """RGB colour bar from -1 (blue, left) to +1 (red, right) with the two meanings written under its ends and
    -1 / 0 / +1 ticks. ``labels``: (supports, against); default: prompts/statements.yaml ``heatmap.legend``."""
    if labels is None:
        from prompts.render import legend_labels

        labels = legend_labels()
    width, height = int(width), int(height)
    bar_h = max(8, height // 2)
    img = np.full((height, width, 3), 255, dtype=np.uint8)
    ramp = np.linspace(-1, 1, width, dtype=np.float32)[None, :].repeat(bar_h, axis=0)
    img[:bar_h] = colorize(ramp)
    scale = max(0.3, min(0.5, height / 120))
    font = cv2.FONT_HERSHEY_SIMPLEX
    y = min(height - 3, bar_h + int(22 * scale * 2))
    against, supports = labels[1], labels[0]
    cv2.putText(img, against, (2, y), font, scale, (40, 60, 160), 1, cv2.LINE_AA)
    (tw, _), _ = cv2.getTextSize(supports, font, scale, 1)
    cv2.putText(img, supports, (max(0, width - tw - 2), y), font, scale, (170, 30, 30), 1, cv2.LINE_AA)
    for frac, text in ((0.0, "-1"), (0.5, "0"), (1.0, "+1")):
        x = int(frac * (width - 1))
        cv2.line(img, (x, bar_h - 4), (x, bar_h - 1), (0, 0, 0), 1)
        (tw, _th), _ = cv2.getTextSize(text, font, scale * 0.8, 1)
        cv2.putText(img, text, (min(max(0, x - tw // 2), width - tw), bar_h - 6), font, scale * 0.8, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return img


def _resize(arr: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    arr = np.asarray(arr, dtype=np.float32)
    if arr.shape[:2] == tuple(shape):
        return arr
    return cv2.resize(arr, (shape[1], shape[0]), interpolation=cv2.INTER_NEAREST)
