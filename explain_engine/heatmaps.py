"""Heatmaps of region contributions: region-wise maps, a diverging colour scale, overlays and xFace's HLS blend.

Colour convention: matplotlib "RdBu_r" over [-vmax, +vmax]. RED = the region makes the faces more alike (hiding it
lowers the similarity), BLUE = it makes them less alike (hiding it raises the similarity), white = no effect.

Two scales (``SCALES``):
- "absolute" (default of the record since #13): the map holds the raw change of the cosine similarity ΔS_i =
  S_ref - S_perturbed (thesis eq. 3.1) and the colour range ±vmax is FIXED PER FACE MODEL by
  :func:`model_scale` — never stretched per pair, so a pair whose regions barely move the score looks pale;
- "normalised": the thesis' eq. 3.4 maps ΔS_i / max_j |ΔS_j| over [-1, 1] (every pair reaches full colour), kept
  as an option for comparison with the thesis figures.

Region edges are feathered (:func:`soften`) so that rectangular regions (forehead, hair) do not show hard edges.
"""

from __future__ import annotations

import cv2
import numpy as np
from matplotlib import colormaps
from matplotlib.colors import Normalize

CMAP_NAME = "RdBu_r"
SCALES = ("absolute", "normalised")
# Used when the face model has no calibration with score lists: a cosine change of 0.15, close to the dlib-torch
# value below, flagged as rule "default_range" so the reader knows it is not the model's own.
DEFAULT_RANGE = 0.15
FEATHER_FRACTION = 1 / 40  # Gaussian sigma of the feathered region edges, as a fraction of the crop's side
DIRECT_BLUR_SIGMA = 4.0  # larger blurs run on a reduced copy (soften): same picture, far less work on big photos


def model_scale(calibration: dict | None) -> dict:
    """The fixed colour range of a face model's absolute maps, in cosine-similarity units.

    Rule "genuine_impostor_median_gap": vmax = median(genuine scores) - median(impostor scores) of the model's
    calibration set, i.e. full colour means hiding one region moves the score as far as going from a typical
    same-person pair to a typical different-person pair. For dlib-torch (explain_engine/calibrations/dlib-torch.json,
    37 genuine / 398 impostor pairs) that is 0.9632 - 0.8171 = 0.146. An explicit ``attribution_range`` key in the
    calibration overrides it (rule "calibration_attribution_range"); without score lists, ``DEFAULT_RANGE`` (rule
    "default_range").

    Args:
        calibration: the calibration dict (explain_engine.calibration JSON layout) or None.

    Returns:
        {"vmax": float > 0, "unit": "cosine similarity change", "rule": code, "source": calibration name or None}.
    """
    cal = calibration or {}
    source = cal.get("name") or cal.get("model")
    explicit = cal.get("attribution_range")
    if explicit is not None and np.isfinite(float(explicit)) and float(explicit) > 0:
        return {"vmax": float(explicit), "unit": "cosine similarity change", "rule": "calibration_attribution_range",
                "source": source}
    gen, imp = cal.get("genuine_scores"), cal.get("impostor_scores")
    if gen and imp:
        gap = float(np.median(np.asarray(gen, dtype=float)) - np.median(np.asarray(imp, dtype=float)))
        if np.isfinite(gap) and gap > 0:
            return {"vmax": gap, "unit": "cosine similarity change", "rule": "genuine_impostor_median_gap",
                    "source": source}
    return {"vmax": DEFAULT_RANGE, "unit": "cosine similarity change", "rule": "default_range", "source": None}


def soften(heatmap: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Feather the edges of a region map: Gaussian blur with ``sigma`` px (default FEATHER_FRACTION of the shorter
    side). Values inside large regions keep their level; only the borders blend. Returns float32 (H, W).

    A large ``sigma`` (above :data:`DIRECT_BLUR_SIGMA`) is applied to a copy reduced so that sigma becomes
    DIRECT_BLUR_SIGMA, then enlarged back: the blurred map is smooth at that scale, so this differs from the direct
    blur by under 1% of the map's range, at a fraction of the cost on multi-megapixel photos."""
    heat = np.asarray(heatmap, dtype=np.float32)
    if sigma is None:
        sigma = max(1.0, min(heat.shape[:2]) * FEATHER_FRACTION)
    if sigma <= 0 or heat.size == 0:
        return heat
    h, w = heat.shape[:2]
    factor = float(sigma) / DIRECT_BLUR_SIGMA
    if factor <= 1.5 or min(h, w) / factor < 8:
        return cv2.GaussianBlur(heat, (0, 0), sigmaX=float(sigma), sigmaY=float(sigma),
                                borderType=cv2.BORDER_REPLICATE)
    small = cv2.resize(heat, (max(1, round(w / factor)), max(1, round(h / factor))), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigmaX=DIRECT_BLUR_SIGMA, sigmaY=DIRECT_BLUR_SIGMA,
                             borderType=cv2.BORDER_REPLICATE)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def feather_mask(mask: np.ndarray, sigma: float | None = None) -> np.ndarray:
    """Soft-edged weight in [0, 1] that fades to 0 INSIDE the mask's border (eroded by 2 sigma, then blurred, then
    cut by the mask): pixels outside the mask keep weight 0, so the photo there stays exactly as it was. The erosion
    by a disc is a threshold of the Euclidean distance to the mask's outside (linear time, whatever the radius)."""
    m = np.asarray(mask, dtype=np.float32)
    if sigma is None:
        sigma = max(1.0, min(m.shape[:2]) * FEATHER_FRACTION)
    r = max(1, round(2 * sigma))
    inside = (m > 0.5).astype(np.uint8)
    core = (cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE) > r).astype(np.float32)
    return np.clip(soften(core, sigma), 0.0, 1.0) * inside


def region_heatmap(masks: dict[str, np.ndarray], contributions: dict[str, float | None],
                   shape: tuple[int, int], *, vmax: float = 1.0) -> np.ndarray:
    """(H, W) float32 map in [-vmax, vmax]: every pixel of region r holds contributions[r]; elsewhere 0 (masks don't
    overlap; regions without a contribution stay 0). ``vmax`` = 1 for normalised contributions (eq. 3.4), the
    model's range (:func:`model_scale`) for raw changes ΔS_i in cosine units."""
    heat = np.zeros(tuple(shape[:2]), dtype=np.float32)
    for name, mask in masks.items():
        v = contributions.get(name)
        if v is None or not np.isfinite(v):
            continue
        heat[np.asarray(mask, dtype=bool)] = float(v)
    return np.clip(heat, -float(vmax), float(vmax))


def pixel_heatmap(values: np.ndarray, *, normalise: bool = True) -> np.ndarray:
    """A per-pixel map (e.g. the occlusion baseline) as float32 in [-1, 1], divided by its max |value| when asked."""
    heat = np.nan_to_num(np.asarray(values, dtype=np.float32))
    if normalise:
        peak = float(np.abs(heat).max()) if heat.size else 0.0
        if peak > 0:
            heat = heat / peak
    return np.clip(heat, -1.0, 1.0)


def colorize(heatmap: np.ndarray, vmax: float = 1.0) -> np.ndarray:
    """RGB uint8 of a [-vmax, vmax] map with the diverging scale (red positive, blue negative, white 0)."""
    if not vmax > 0:
        raise ValueError(f"vmax must be > 0, got {vmax!r}")
    norm = Normalize(vmin=-float(vmax), vmax=float(vmax), clip=True)
    rgba = colormaps[CMAP_NAME](norm(np.asarray(heatmap, dtype=np.float32)))
    return (rgba[..., :3] * 255 + 0.5).astype(np.uint8)


def mask_weight(mask: np.ndarray, shape: tuple[int, int], feather: float | None = None) -> np.ndarray:
    """The blending weight in [0, 1] of ``mask`` on an image of ``shape``, as :func:`overlay` uses it: the mask resized
    to the image, then feathered (``feather``: sigma in px; None = FEATHER_FRACTION of the side; 0 = hard edges).
    Compute it once when several maps are drawn over the same photo and region mask, and pass it as ``weight``."""
    m = (_resize(np.asarray(mask, dtype=np.float32), tuple(shape[:2])) > 0.5).astype(np.float32)
    sigma = None if feather is None else float(feather)
    return feather_mask(m, sigma) if sigma is None or sigma > 0 else m


def overlay(image: np.ndarray, heatmap: np.ndarray, alpha: float = 0.5, *, mask: np.ndarray | None = None,
            vmax: float = 1.0, feather: float | None = None, weight: np.ndarray | None = None) -> np.ndarray:
    """Blend the coloured map over the photo with weight ``alpha``; where ``mask`` is False (e.g. outside every
    region) the photo shows unchanged. The map is resized to the image when the shapes differ. ``feather``: sigma in
    px of the soft edge of the mask and the map (None = FEATHER_FRACTION of the image side; 0 = hard edges).
    ``weight``: the mask's :func:`mask_weight` (same ``feather``), computed once for many maps; replaces ``mask``."""
    image = np.asarray(image, dtype=np.uint8)
    heat = _resize(heatmap, image.shape[:2])
    sigma = None if feather is None else float(feather)
    if sigma is None or sigma > 0:
        heat = soften(heat, sigma)
    colour = colorize(heat, vmax).astype(np.float32)
    if weight is None and mask is not None:
        weight = mask_weight(mask, image.shape[:2], feather)
    if weight is None:
        weight = np.full(image.shape[:2], float(alpha), dtype=np.float32)
    else:
        weight = float(alpha) * np.asarray(weight, dtype=np.float32)
    out = (1 - weight[..., None]) * image.astype(np.float32) + weight[..., None] * colour
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def hls_blend(image: np.ndarray, heatmap: np.ndarray, vmax: float = 1.0) -> np.ndarray:
    """xFace Algorithm 2: lightness from the photo (RGB->HLS), hue from the coloured map (RGB->HLS), saturation from
    the coloured map in HSV (RGB->HSV), recombined with HLS->RGB. Keeps the photo's shading, takes the map's colour;
    where the map is white (no effect) the saturation is 0 and the photo shows in grey."""
    image = np.asarray(image, dtype=np.uint8)
    colour = colorize(_resize(heatmap, image.shape[:2]), vmax)
    img_hls = cv2.cvtColor(image, cv2.COLOR_RGB2HLS_FULL)
    map_hls = cv2.cvtColor(colour, cv2.COLOR_RGB2HLS_FULL)
    map_hsv = cv2.cvtColor(colour, cv2.COLOR_RGB2HSV_FULL)
    blended = np.stack([map_hls[..., 0], img_hls[..., 1], map_hsv[..., 1]], axis=-1)
    return cv2.cvtColor(blended, cv2.COLOR_HLS2RGB_FULL)


def legend_image(width: int = 560, height: int = 70, *, labels: tuple[str, str] | None = None,
                 vmax: float = 1.0, unit: str | None = None) -> np.ndarray:
    """RGB colour bar from -vmax (blue, left) to +vmax (red, right) with the two meanings written under its ends and
    -vmax / 0 / +vmax ticks (e.g. "-0.146 / 0 / +0.146" for an absolute map; "-1 / 0 / +1" when vmax = 1), and
    ``unit`` (e.g. "change of similarity") written under the middle tick. ``labels``: (positive, negative);
    default: prompts/statements.yaml ``heatmap.legend``."""
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
    if unit:
        (tw, _), _ = cv2.getTextSize(unit, font, scale * 0.8, 1)
        cv2.putText(img, unit, (max(0, (width - tw) // 2), min(height - 3, y + int(18 * scale * 2))), font,
                    scale * 0.8, (0, 0, 0), 1, cv2.LINE_AA)
    tick = "1" if vmax == 1.0 else f"{vmax:.3f}"
    for frac, text in ((0.0, f"-{tick}"), (0.5, "0"), (1.0, f"+{tick}")):
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


def outline_regions(image: np.ndarray, masks: dict[str, np.ndarray], *, colour: tuple[int, int, int] = (20, 20, 20),
                    halo: tuple[int, int, int] = (255, 255, 255), thickness: int | None = None) -> np.ndarray:
    """RGB copy of ``image`` with the outline of every mask drawn on it (a dark line on a light halo, readable over
    red and blue alike). ``masks`` must have the image's (H, W); thickness defaults to ~1/150 of the image side.
    Used by the chat to mark the region an answer names on the heatmap panel's own overlay."""
    out = np.ascontiguousarray(np.asarray(image, dtype=np.uint8).copy())
    t = thickness or max(1, round(min(out.shape[:2]) / 150))
    for mask in masks.values():
        m = np.asarray(mask, dtype=np.uint8)
        if m.shape != out.shape[:2]:
            m = cv2.resize(m, (out.shape[1], out.shape[0]), interpolation=cv2.INTER_NEAREST)
        contours, _ = cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, halo, t + 2, lineType=cv2.LINE_AA)
        cv2.drawContours(out, contours, -1, colour, t, lineType=cv2.LINE_AA)
    return out


def scale_text(info: dict | None, scale: str = "absolute") -> str:
    """The sentence for a colour scale (prompts/importance.yaml ``scales``): the model's range rule for the absolute
    maps, or the normalised maps' own sentence."""
    from .table import importance_words

    scales = importance_words().get("scales", {})
    if scale == "normalised":
        return scales.get("normalised", "")
    info = info or model_scale(None)
    template = scales.get(info.get("rule"), "")
    return template.format(vmax=float(info.get("vmax", DEFAULT_RANGE)))


def scale_reading(info: dict | None, largest: float | None, scale: str = "absolute",
                  normalised_label: str = "normalised") -> str:
    """How to read the colours of this pair's maps (prompts/importance.yaml ``scales.reading_*``), with its numbers.

    Args:
        info: the record's ``heatmap_scale`` ({"vmax", "rule", ...}; None: :func:`model_scale`'s default).
        largest: the largest |ΔS_i| (cosine units) among the maps shown on the absolute scale, or None when none is.
        scale: "absolute" or "normalised" (the scale on screen).
        normalised_label: what the page calls the normalised scale (named when the maps are pale).

    Returns:
        The sentences; :func:`scale_text` alone when ``largest`` is None. On the absolute scale a largest change
        below ``pale_below`` of full colour adds ``reading_pale``: pale maps show small changes, not a display fault.
    """
    from .table import importance_words

    info = info or model_scale(None)
    if largest is None or not np.isfinite(largest):
        return scale_text(info, scale)
    scales = importance_words().get("scales", {})
    vmax = float(info.get("vmax", DEFAULT_RANGE))
    share = abs(float(largest)) / vmax
    fields = {"vmax": vmax, "largest": abs(float(largest)), "share": f"{share:.0%}"}  # over 100%: drawn clipped
    if scale == "normalised":
        return scales["reading_normalised"].format(**fields)
    text = scales["reading_absolute"].format(**fields)
    if share < float(scales.get("pale_below", 0.5)):
        text += " " + scales["reading_pale"].format(normalised=normalised_label)
    return text


def short_region_label(name: str) -> str:
    """Compact on-image label: "left_eye" -> "L eye" (the PERSON's left; the caption says so), "nose" -> "nose"."""
    for side, mark in (("left", "L"), ("right", "R")):
        if name.startswith(side + "_"):
            return f"{mark} {name[len(side) + 1:].replace('_', ' ')}"
    return name.replace("_", " ")


def outlined_regions(image: np.ndarray, regions) -> np.ndarray:
    """The crop with each region's outline in its colour (regions.outline_image) and compact labels placed so that
    they do not overlap: each label starts at the region pixel nearest its centroid and, when it would cover an
    earlier label, moves up or down by whole label heights to the nearest free place inside the image."""
    from .regions import outline_image, region_colour

    out = outline_image(image, regions, labels=False)
    h, w = out.shape[:2]
    if not regions.masks:
        return out
    masks = {n: cv2.resize(np.asarray(m, np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
             for n, m in regions.masks.items()}
    cols = np.nonzero(np.any(np.stack(list(masks.values())), axis=(0, 1)))[0]
    face_w = float(cols.max() - cols.min() + 1) if cols.size else float(min(h, w))
    scale = max(0.35, face_w / 650)
    thick = max(1, round(scale * 1.5))
    font = cv2.FONT_HERSHEY_SIMPLEX
    placed: list[tuple[int, int, int, int]] = []
    names = [n for n in regions.names if n in masks and masks[n].any()]
    for name in sorted(names, key=lambda n: -int(masks[n].sum())):  # big regions first: small ones move
        ys, xs = np.nonzero(masks[name])
        cy, cx = ys.mean(), xs.mean()
        i = int(np.argmin((ys - cy) ** 2 + (xs - cx) ** 2))
        text = short_region_label(name)
        (tw, th), base = cv2.getTextSize(text, font, scale, thick + 1)
        x = int(np.clip(xs[i] - tw // 2, 0, max(0, w - tw)))
        y0 = int(np.clip(ys[i] + th // 2, th, h - 1))
        step = th + base + 2
        best = y0
        for k in (0, 1, -1, 2, -2, 3, -3, 4, -4):
            y = y0 + k * step
            if y - th < 0 or y + base > h:
                continue
            box = (x - 1, y - th - 1, x + tw + 1, y + base + 1)
            if not any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
                best = y
                break
        placed.append((x - 1, best - th - 1, x + tw + 1, best + base + 1))
        cv2.putText(out, text, (x, best), font, scale, (0, 0, 0), thick + 2, cv2.LINE_AA)
        cv2.putText(out, text, (x, best), font, scale, region_colour(name), thick, cv2.LINE_AA)
    return out
