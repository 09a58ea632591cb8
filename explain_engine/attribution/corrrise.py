"""CorrRISE: Correlation-based Randomized Input Sampling for Explanation (Lu, Xu & Ebrahimi, "Towards visual
saliency explanations of face verification", 2023; reviewed in the thesis, paper 000, §2.4.5 and Fig. 2.10).

Black-box: only the embed callable is used, so it works with every face model (torch, ONNX, callables).

For photo A (thesis §2.4.5): N random masks M_i "containing small square patches with random values between 0 and
1" are applied to the image (I_A (.) M_i), each masked image is compared with the untouched partner B, giving the
cosine scores SC = {SC_i}; the saliency map is the pixel-wise Pearson correlation between SC and the mask values::

    C_A(p) = corr_i(M_i(p), SC_i)
    S_A+ = ReLU(C_A)  (keeping p raises the similarity: similar),  S_A- = ReLU(-C_A)  (dissimilar)

and symmetrically for B (B masked, A untouched). Masks are drawn as in RISE (Petsiuk et al. 2018, which CorrRISE
builds on): a ``cells`` x ``cells`` grid of uniform [0, 1] values, bilinearly upsampled to one cell larger than the
crop and cropped at a random shift, so patch edges fall anywhere. Cost: 2N embeddings per pair.

The number of masks is a trade-off between map stability and cost, measured by ``benchmarks/bench_corrrise_masks.py``
(README, "Speed"); :data:`DEFAULT_MASKS` is the point chosen there.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import cv2
import numpy as np

from ..scoring import PairScorer
from .base import Attribution, Progress, common_regions
from .dfv import PixelMaps, pixel_maps, pixel_result

DEFAULT_MASKS = 800  # per photo; benchmarks/bench_corrrise_masks.py: two draws agree to r = 0.85 here (README, Speed)
DEFAULT_CELLS = 8  # grid cells per side: about 19 px patches on dlib's 150 px crop


def random_masks(n: int, shape: tuple[int, int], *, cells: int = DEFAULT_CELLS,
                 rng: np.random.Generator | int | None = 0) -> np.ndarray:
    """RISE-style soft masks with values in [0, 1].

    Args:
        n: number of masks; shape: (H, W) of the crop; cells: grid cells per side (patch ~ H / cells px);
        rng: a Generator or a seed (the same seed gives the same masks).
    Returns:
        (n, H, W) float32 masks in [0, 1].
    Raises:
        ValueError: n < 1 or cells < 1.
    """
    if int(n) < 1 or int(cells) < 1:
        raise ValueError(f"need at least one mask and one cell, got n={n}, cells={cells}")
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    h, w = int(shape[0]), int(shape[1])
    ch, cw = int(np.ceil(h / cells)), int(np.ceil(w / cells))
    up_h, up_w = (cells + 1) * ch, (cells + 1) * cw
    out = np.empty((int(n), h, w), dtype=np.float32)
    grids = rng.random((int(n), cells + 1, cells + 1), dtype=np.float32)
    shifts = np.stack([rng.integers(0, ch, int(n)), rng.integers(0, cw, int(n))], axis=1)
    for i in range(int(n)):
        up = cv2.resize(grids[i], (up_w, up_h), interpolation=cv2.INTER_LINEAR)
        dy, dx = shifts[i]
        out[i] = up[dy:dy + h, dx:dx + w]
    return np.clip(out, 0.0, 1.0)


def pearson_map(masks: np.ndarray, scores: np.ndarray, *, floor: float = 1e-12) -> np.ndarray:
    """Pixel-wise Pearson correlation between mask values and scores (thesis §2.4.5: corr(SC, M)).

    Args:
        masks: (N, H, W) mask values; scores: (N,) similarities, one per mask.
        floor: a standard deviation at or below it (constant scores or pixel) gives correlation 0.
    Returns:
        (H, W) float32 in [-1, 1].
    """
    m = np.asarray(masks, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64).ravel()
    if m.shape[0] != s.size:
        raise ValueError(f"{m.shape[0]} masks but {s.size} scores")
    flat = m.reshape(m.shape[0], -1)
    mc = flat - flat.mean(axis=0)
    sc = s - s.mean()
    cov = sc @ mc / s.size
    sd_m = np.sqrt((mc ** 2).mean(axis=0))
    sd_s = float(np.sqrt((sc ** 2).mean()))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where((sd_m > floor) & (sd_s > floor), cov / (sd_m * sd_s), 0.0)
    return np.clip(r, -1.0, 1.0).reshape(m.shape[1:]).astype(np.float32)


def apply_mask(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """I (.) M: the image scaled pixel-wise by a [0, 1] mask (towards black), as uint8."""
    return (np.asarray(image, dtype=np.float32) * mask[..., None] + 0.5).astype(np.uint8)


def corrrise_maps(crop_a: np.ndarray | None, crop_b: np.ndarray | None, embed_or_scorer, *,
                  threshold: float | None = None, n_masks: int = DEFAULT_MASKS, cells: int = DEFAULT_CELLS,
                  seed: int = 0, masks_a: dict[str, np.ndarray] | None = None,
                  masks_b: dict[str, np.ndarray] | None = None, batch_size: int = 64,
                  progress: Callable[[float], None] | None = None) -> PixelMaps:
    """CorrRISE similarity and dissimilarity maps of both photos (thesis §2.4.5, Fig. 2.10).

    Args:
        crop_a, crop_b: (H, W, 3) uint8 aligned crops (None when a PairScorer is passed).
        embed_or_scorer: embed callable ((N, H, W, 3) uint8 -> (N, D)) or a :class:`PairScorer` on the pair.
        threshold: the decision threshold (recorded only: correlation needs none).
        n_masks: masks per photo (2 x n_masks embeddings); cells: grid cells per side; seed: mask draw (A uses
            ``seed``, B ``seed + 1``; the same seed gives the same maps).
        masks_a, masks_b: region masks for the region shares and the table column.
        batch_size: images per embed call; progress: called with the fraction done.
    Returns:
        :class:`PixelMaps` with method "corrrise": signed maps are correlations in [-1, 1].
    Raises:
        ValueError: bad ``n_masks`` / ``cells`` or crops of different shapes.
    """
    t0 = time.perf_counter()
    if int(n_masks) < 3:
        raise ValueError(f"CorrRISE needs at least 3 masks for a correlation, not {n_masks}")
    if isinstance(embed_or_scorer, PairScorer):
        scorer, before = embed_or_scorer, embed_or_scorer.n_embeddings
    else:
        scorer, before = PairScorer(embed_or_scorer, crop_a, crop_b, batch_size=batch_size), 0
    img_a, img_b = scorer.image_a, scorer.image_b
    signed = []
    for side, image in enumerate((img_a, img_b)):
        masks = random_masks(n_masks, image.shape[:2], cells=cells, rng=seed + side)
        scores = np.empty(len(masks))
        for start in range(0, len(masks), batch_size):
            chunk = [apply_mask(image, m) for m in masks[start:start + batch_size]]
            nones = [None] * len(chunk)
            s = scorer.score_pairs(chunk, nones) if side == 0 else scorer.score_pairs(nones, chunk)
            scores[start:start + len(chunk)] = s
            if progress:
                progress((side * len(masks) + start + len(chunk)) / (2 * len(masks)))
        signed.append(pearson_map(masks, scores))
    details = {"n_masks": int(n_masks), "cells": int(cells), "seed": int(seed), "perturbation": "multiply (black)",
               "source": "Lu, Xu & Ebrahimi, CorrRISE (thesis, paper 000, section 2.4.5)"}
    return pixel_maps("corrrise", signed[0], signed[1], reference=scorer.reference, threshold=threshold,
                      masks_a=masks_a, masks_b=masks_b, n_embeddings=scorer.n_embeddings - before,
                      seconds=time.perf_counter() - t0, details=details)


class CorrRISE(Attribution):
    """CorrRISE under the attribution interface (thesis §2.4.5): black-box similarity / dissimilarity maps of both
    photos and their region shares. Needs no fill.

    Args:
        embed_or_scorer: a PairScorer on the pair, or an embed callable with ``crop_a`` / ``crop_b``.
        threshold: the decision threshold (recorded only).
    """

    method = "corrrise"
    needs_fill = False

    def __init__(self, embed_or_scorer, *, threshold: float | None = None, crop_a: np.ndarray | None = None,
                 crop_b: np.ndarray | None = None, batch_size: int = 64):
        super().__init__(embed_or_scorer, None, crop_a=crop_a, crop_b=crop_b, batch_size=batch_size)
        self.threshold = threshold

    def attribute(self, masks_a: dict[str, np.ndarray], masks_b: dict[str, np.ndarray], *,
                  regions: list[str] | None = None, progress: Progress | None = None,
                  n_masks: int = DEFAULT_MASKS, cells: int = DEFAULT_CELLS, seed: int = 0, **options):
        """Compute :func:`corrrise_maps` with this scorer and reduce it to regions.

        Returns:
            AttributionResult ("corrrise"): ``deltas`` = net share of the correlation map's mass per region,
            ``normalised`` by eq. 3.4, ``maps`` = {"a" | "b": {"signed", "similarity", "dissimilarity"}} in [-1, 1].
        """
        regions = common_regions(masks_a, masks_b, regions)
        pm = corrrise_maps(None, None, self.scorer, threshold=self.threshold, n_masks=n_masks, cells=cells,
                           seed=seed, masks_a=masks_a, masks_b=masks_b, progress=progress)
        return pixel_result(pm, masks_a, masks_b, regions)
