"""How stable S0 is: repeat it over K seeds of a stochastic fill or, for a deterministic fill, over K small
alignment jitters (shifts of the crops and their masks by 1-2 px), and report mean ± sd per region and how often
the top region stays on top."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from .single import single_inpaint

JITTERS = ((1, 0), (-1, 0), (0, 1), (0, -1), (2, 0), (-2, 0), (0, 2), (0, -2), (1, 1), (-1, -1), (1, -1), (-1, 1),
           (2, 2), (-2, -2), (2, -2), (-2, 2))


@dataclass
class StabilityResult:
    samples: int
    mode: str  # "seeds" | "jitter"
    per_region: dict[str, dict[str, float]]  # {region: {"mean", "sd"}} of the normalised S0 contribution
    top_region: str | None  # the reference top region (from ``base`` or the most frequent top)
    top_region_kept: float  # share of samples whose top region is top_region
    n_embeddings: int = 0
    runs: list[dict[str, float]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"samples": self.samples, "mode": self.mode, "per_region": self.per_region,
                "top_region": self.top_region, "top_region_kept": self.top_region_kept}


def shift_image(image: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Translate by (dx, dy) px, replicating the border (what a slightly different alignment would show)."""
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image, m, (image.shape[1], image.shape[0]), flags=cv2.INTER_NEAREST,
                          borderMode=cv2.BORDER_REPLICATE)


def shift_mask(mask: np.ndarray, dx: int, dy: int) -> np.ndarray:
    m = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(mask.astype(np.uint8), m, (mask.shape[1], mask.shape[0]), flags=cv2.INTER_NEAREST,
                          borderValue=0).astype(bool)


def stability(crop_a: np.ndarray, crop_b: np.ndarray, masks_a: dict[str, np.ndarray], masks_b: dict[str, np.ndarray],
              embed: Callable, fill, *, samples: int = 5, base: dict[str, float] | None = None,
              regions: list[str] | None = None, variant: str = "both", mode: str | None = None,
              first_seed: int = 0, progress: Callable[[float], None] | None = None) -> StabilityResult:
    """Run S0 ``samples`` times. ``mode``: "seeds" (fill.with_seed(k), default for non-deterministic fills) or
    "jitter" (default for deterministic fills: both crops and masks shifted by JITTERS[k], opposite directions for A
    and B so the pair's relative alignment changes). ``base``: the normalised S0 of the main run, whose top region is
    the one whose persistence is counted."""
    if samples < 1:
        raise ValueError("samples must be >= 1")
    mode = mode or ("jitter" if getattr(fill, "deterministic", True) else "seeds")
    regions = list(regions if regions is not None else [r for r in masks_a if r in masks_b])
    runs, used = [], 0
    for k in range(samples):
        if mode == "seeds":
            f = fill.with_seed(first_seed + k) if hasattr(fill, "with_seed") else fill
            a, b, ma, mb = crop_a, crop_b, masks_a, masks_b
        else:
            dx, dy = JITTERS[k % len(JITTERS)]
            f = fill
            a, b = shift_image(crop_a, dx, dy), shift_image(crop_b, -dx, -dy)
            ma = {r: shift_mask(masks_a[r], dx, dy) for r in regions}
            mb = {r: shift_mask(masks_b[r], -dx, -dy) for r in regions}
        res = single_inpaint(a, b, ma, mb, embed, f, variants=(variant,), regions=regions)[variant]
        used += res.n_embeddings
        runs.append(res.normalised)
        if progress:
            progress((k + 1) / samples)
    tops = [max(r, key=r.get) if r else None for r in runs]
    if base:
        top = max(base, key=base.get)
    else:
        top = max(set(tops), key=tops.count) if tops else None
    per_region = {r: {"mean": float(np.mean([run[r] for run in runs])),
                      "sd": float(np.std([run[r] for run in runs], ddof=1)) if len(runs) > 1 else 0.0}
                  for r in regions}
    kept = float(np.mean([t == top for t in tops])) if tops else 0.0
    return StabilityResult(samples=samples, mode=mode, per_region=per_region, top_region=top, top_region_kept=kept,
                           n_embeddings=used, runs=runs)
