"""Perturbation strategies behind one interface: a Fill replaces the pixels of a mask and keeps every other pixel.

``make_fill("inpaint")`` delegates to an inpainter adapter (models.base.Inpainter), by default OpenCV's TELEA
(deterministic, a few ms on a 150 px crop). ``black``/``blur``/``mean`` are the
classical occlusions kept for contrast (xFace and most perturbation baselines occlude with black).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from models.errors import ConfigError

STRATEGIES = ("inpaint", "black", "blur", "mean")


class Fill:
    """A callable ``fill(image, mask) -> image``: pixels where ``mask`` is True are replaced, the rest kept exactly.

    Attributes: ``name`` (e.g. "inpaint:telea", "black"), ``strategy``, ``deterministic`` (same input -> same
    output), ``seed``. :meth:`with_seed` returns the same fill drawing with another seed (stability runs);
    :meth:`batch` fills several (image, mask) pairs, through the adapter's batch call when there is one.
    """

    def __init__(self, strategy: str, inpainter=None, *, seed: int | None = None, source_mask: np.ndarray | None = None,
                 radius: int = 3, blur_sigma: float | None = None):
        if strategy not in STRATEGIES:
            raise ConfigError(f"unknown perturbation {strategy!r}; choose one of {', '.join(STRATEGIES)}")
        if strategy == "inpaint" and inpainter is None:
            from models.inpainting.classical import OpenCVInpainter

            inpainter = OpenCVInpainter("telea", radius=radius)
        self.strategy = strategy
        self.inpainter = inpainter
        self.seed = seed
        self.source_mask = None if source_mask is None else np.asarray(source_mask, dtype=bool)
        self.blur_sigma = blur_sigma
        if strategy == "inpaint":
            self.name = f"inpaint:{getattr(inpainter, 'name', 'inpainter')}"
            self.deterministic = bool(getattr(inpainter, "deterministic", True))
        else:
            self.name = strategy
            self.deterministic = True

    def with_seed(self, seed: int | None) -> Fill:
        return Fill(self.strategy, self.inpainter, seed=seed, source_mask=self.source_mask,
                    blur_sigma=self.blur_sigma)

    def __repr__(self) -> str:
        return f"Fill({self.name!r}, seed={self.seed})"

    def __call__(self, image: np.ndarray, mask: np.ndarray) -> np.ndarray:
        image = np.asarray(image)
        mask = np.asarray(mask, dtype=bool)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise ValueError("fill expects an RGB uint8 image (H, W, 3)")
        if mask.shape != image.shape[:2]:
            raise ValueError(f"mask shape {mask.shape} does not match image {image.shape[:2]}")
        if not mask.any():
            return image.copy()
        if self.strategy == "inpaint":
            out = np.asarray(self.inpainter.inpaint(image, mask, seed=self.seed, **self._source_kwargs(mask)))
        elif self.strategy == "black":
            out = np.zeros_like(image)
        elif self.strategy == "blur":
            sigma = self.blur_sigma or max(2.0, image.shape[0] / 25.0)
            out = cv2.GaussianBlur(image, (0, 0), sigmaX=sigma, sigmaY=sigma, borderType=cv2.BORDER_REFLECT)
        else:  # mean colour of the source pixels (the face, when given), never of the filled region itself
            src = self.source_mask if self.source_mask is not None and self.source_mask.shape == mask.shape else None
            src = (src & ~mask) if src is not None else ~mask
            if not src.any():
                src = np.ones_like(mask)
            colour = image[src].mean(axis=0)
            out = np.empty_like(image)
            out[:] = np.round(colour).astype(np.uint8)
        # Guarantee the contract whatever the backend did (learned inpainters may re-render the whole frame).
        result = image.copy()
        result[mask] = out[mask]
        return result

    def _source_kwargs(self, mask: np.ndarray) -> dict:
        """``source_mask`` for inpainters that copy texture (PatchMatch): only the face, never the background."""
        src = self.source_mask
        if (src is None or not getattr(self.inpainter, "accepts_source_mask", False) or src.shape != mask.shape
                or not (src & ~mask).any()):
            return {}
        return {"source_mask": src}

    def batch(self, images: Sequence[np.ndarray], masks: Sequence[np.ndarray]) -> list[np.ndarray]:
        if self.strategy == "inpaint" and hasattr(self.inpainter, "inpaint_batch") and len(images) > 1:
            bool_masks = [np.asarray(m, dtype=bool) for m in masks]
            sources = [self._source_kwargs(m).get("source_mask") for m in bool_masks]
            # per-item source masks: the adapter takes a list as one value per image
            extra = {"source_mask": sources} if any(s is not None for s in sources) else {}
            outs = self.inpainter.inpaint_batch(list(images), bool_masks, seed=self.seed, **extra)
            res = []
            for img, m, o in zip(images, bool_masks, outs):
                r = np.array(img, copy=True)
                r[m] = np.asarray(o)[m]
                res.append(r)
            return res
        return [self(img, m) for img, m in zip(images, masks)]


def make_fill(strategy: str = "inpaint", inpainter=None, *, seed: int | None = None,
              source_mask: np.ndarray | None = None, **options) -> Fill:
    """Build a :class:`Fill`. ``strategy``: "inpaint" (``inpainter`` adapter, or OpenCV TELEA when None), "black",
    "blur" (Gaussian, sigma ~ crop/25) or "mean" (mean colour of ``source_mask`` pixels, e.g. the face).
    ``options``: ``radius`` (TELEA radius, default 3), ``blur_sigma``."""
    return Fill(strategy, inpainter, seed=seed, source_mask=source_mask, **options)
