"""The hiding game (Castanon & Byrne 2018, as changed by DFV: Xu, Lu & Ebrahimi, paper 002, §IV-B and Table II).

The saliency map's pixels are sorted in ascending order of importance and the LEAST important fraction k is hidden
by a Gaussian blur (DFV's change: blurring represents missing information without the distribution shift of
masking); the face model then verifies the obscured pair at its threshold. The more accurate the map, the longer
accuracy holds up as k grows, because the pixels kept are the ones the model needs. Accuracy over a set of pairs
(same-person and different-person) against k gives the curve; its area (0-100) is the score: higher is better.

Importance is the discriminative map |S| (DFV Algorithm 1: S = abs(H)): for signed maps (S0/S1 region maps, the
xFace occlusion map, FGGB, CorrRISE) both what supports and what works against the decision count as important.

One-sided, like this package's Deletion/Insertion (:mod:`.metrics`): photo A is obscured and compared with the
untouched B, then B with the untouched A (two trials per pair). DFV does not say whether one or both photos are
obscured; obscuring both is degenerate for a face model (two fully blurred crops look alike and "match" again).

Pure functions over arrays and a similarity callable; nothing loads a model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from . import metrics


def hiding_importance(saliency: np.ndarray) -> np.ndarray:
    """|saliency| as float64 (NaN -> 0): DFV's discriminative map, what the hiding game ranks pixels by."""
    return np.abs(np.nan_to_num(np.asarray(saliency, dtype=np.float64)))


def hiding_images(image: np.ndarray, blurred: np.ndarray, saliency: np.ndarray, fractions: Sequence[float], *,
                  seed: int = 0) -> list[np.ndarray]:
    """One image per fraction k: the least important round(k H W) pixels taken from ``blurred``, the rest kept.

    Args:
        image: (H, W, 3) uint8 crop; blurred: its fully blurred version (:func:`metrics.removal_image`);
        saliency: (H, W) map (signed or not); fractions: hidden shares in [0, 1]; seed: tie-break permutation.
    Returns:
        list of (H, W, 3) uint8 images, one per fraction.
    """
    # "delete the top of the order" with importance -|S| = hide the least important first
    hidden, _ = metrics.step_images(image, blurred, -hiding_importance(saliency), fractions, seed=seed)
    return hidden


def hiding_curves(image_a: np.ndarray, image_b: np.ndarray, map_a: np.ndarray, map_b: np.ndarray,
                  score: metrics.PairScore, *, blurred_a: np.ndarray, blurred_b: np.ndarray,
                  fractions: Sequence[float], seed: int = 0) -> np.ndarray:
    """Similarity of the pair as the least important pixels of one photo are blurred (DFV §IV-B).

    Args:
        image_a, image_b: (H, W, 3) uint8 crops; map_a, map_b: (H, W) saliency of each;
        score: ``score(list_a, list_b) -> (N,)`` similarities, None = the untouched photo (:data:`metrics.PairScore`);
        blurred_a, blurred_b: fully blurred crops; fractions: S hidden shares; seed: tie-break permutation.
    Returns:
        (2, S) similarities: row 0 hides pixels of A (B untouched), row 1 of B (A untouched).
    """
    fractions = list(fractions)
    hid_a = hiding_images(image_a, blurred_a, map_a, fractions, seed=seed)
    hid_b = hiding_images(image_b, blurred_b, map_b, fractions, seed=seed + 1)
    s = len(fractions)
    sims = np.asarray(score(hid_a + [None] * s, [None] * s + hid_b), dtype=np.float64)
    return np.stack([sims[:s], sims[s:]])


def hiding_auc(fractions: Sequence[float], accuracy: Sequence[float]) -> float:
    """Area under accuracy(hidden share), 0-100 (DFV Table II reports this AUC; higher = more accurate map)."""
    return metrics.auc(fractions, accuracy)
