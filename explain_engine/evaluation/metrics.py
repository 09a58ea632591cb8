"""Deletion and Insertion (Petsiuk et al., RISE; thesis §4.3) adapted to face verification.

For an importance map over the pixels of an aligned crop, the pixels are ordered most important first (ties broken
by a fixed random permutation, so region-wise maps, whose pixels share one value, get a reproducible order). At each
step a fraction k of the pixels is *removed* from the original (Deletion) or *restored* onto a fully removed crop
(Insertion); "removed" means replaced by one fixed operation for every method (a strong blur by default, or black),
so that methods are compared on equal terms. The verification decision of every step is recorded; accuracy over a
pair set at the calibrated threshold, plotted against k, gives the curves; their areas (normalised to 0-100) are the
scores: lower Deletion and higher Insertion mean the map found what the model uses.

The perturbation is one-sided: photo A is changed and compared with the untouched photo B, and then B with the
untouched A (two trials per pair). Removing the same pixels from both photos at once is degenerate for a face model:
two fully blurred (or black) crops look alike, so the "empty" pair matches again (measured with dlib: two blurred
genuine crops score 0.98, above the 0.92 threshold, while a blurred crop against its untouched partner scores 0.88).

Everything here is a pure function over arrays and a similarity callable; nothing loads a model.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

# score(images_a, images_b) -> (N,) similarities; a None entry stands for the unperturbed photo of that side.
PairScore = Callable[[Sequence[np.ndarray | None], Sequence[np.ndarray | None]], np.ndarray]

REMOVALS = ("blur", "black")


def step_fractions(steps: int = 21) -> np.ndarray:
    """``steps`` evenly spaced fractions from 0 to 1 inclusive (21 -> 0, 0.05, ..., 1)."""
    if steps < 2:
        raise ValueError("at least 2 steps (0% and 100%) are needed")
    return np.linspace(0.0, 1.0, int(steps))


def removal_image(image: np.ndarray, removal: str = "blur", *, sigma: float | None = None) -> np.ndarray:
    """The fully removed version of ``image``: a strong Gaussian blur (sigma = width / 10 unless given: features
    gone, average colours kept) or black."""
    image = np.asarray(image)
    if removal == "black":
        return np.zeros_like(image)
    if removal == "blur":
        s = float(sigma) if sigma else max(2.0, image.shape[1] / 10.0)
        return cv2.GaussianBlur(image, (0, 0), sigmaX=s, sigmaY=s, borderType=cv2.BORDER_REFLECT)
    raise ValueError(f"removal must be one of {', '.join(REMOVALS)}, not {removal!r}")


def removal_order(importance: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """Flat pixel indices, most important first. Equal values are ordered by a fixed random permutation drawn from
    ``seed`` (so an all-zero map gives a random order: the random baseline)."""
    values = np.nan_to_num(np.asarray(importance, dtype=np.float64).ravel(), nan=0.0)
    tiebreak = np.random.default_rng(seed).permutation(values.size)
    return np.lexsort((tiebreak, -values))  # last key is the primary one: value, descending


def top_fraction_mask(order: np.ndarray, shape: tuple[int, int], fraction: float) -> np.ndarray:
    """Bool (H, W) mask of the first round(fraction * H * W) pixels of ``order``."""
    n = round(float(np.clip(fraction, 0.0, 1.0)) * order.size)
    mask = np.zeros(order.size, dtype=bool)
    mask[order[:n]] = True
    return mask.reshape(shape)


def compose(original: np.ndarray, removed: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``removed`` where ``mask`` is True, ``original`` elsewhere."""
    return np.where(np.asarray(mask, dtype=bool)[..., None], removed, original).astype(original.dtype, copy=False)


def step_images(image: np.ndarray, removed: np.ndarray, importance: np.ndarray, fractions: Sequence[float], *,
                seed: int = 0) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(deletion images, insertion images), one per fraction: Deletion removes the top-k pixels from ``image``;
    Insertion restores them onto ``removed``."""
    image = np.asarray(image)
    if importance.shape != image.shape[:2]:
        raise ValueError(f"importance map {importance.shape} does not match image {image.shape[:2]}")
    order = removal_order(importance, seed=seed)
    deletion, insertion = [], []
    for f in fractions:
        m = top_fraction_mask(order, image.shape[:2], f)
        deletion.append(compose(image, removed, m))
        insertion.append(compose(removed, image, m))
    return deletion, insertion


def deletion_insertion_curves(image_a: np.ndarray, image_b: np.ndarray, map_a: np.ndarray, map_b: np.ndarray,
                              score: PairScore, *, removed_a: np.ndarray, removed_b: np.ndarray,
                              fractions: Sequence[float], seed: int = 0) -> dict[str, np.ndarray]:
    """Similarity after each step, one-sided: row 0 perturbs A (against the untouched B), row 1 perturbs B.

    map_a / map_b: importance over each crop's pixels (higher = more supporting); ``score`` as in :data:`PairScore`.
    Returns {"deletion": (2, S), "insertion": (2, S)} similarities, S = len(fractions).
    """
    fractions = list(fractions)
    del_a, ins_a = step_images(image_a, removed_a, map_a, fractions, seed=seed)
    del_b, ins_b = step_images(image_b, removed_b, map_b, fractions, seed=seed + 1)
    s = len(fractions)
    list_a = del_a + ins_a + [None] * (2 * s)
    list_b = [None] * (2 * s) + del_b + ins_b
    sims = np.asarray(score(list_a, list_b), dtype=np.float64)
    return {
        "deletion": np.stack([sims[:s], sims[2 * s:3 * s]]),
        "insertion": np.stack([sims[s:2 * s], sims[3 * s:]]),
    }


def accuracy_curve(similarities: np.ndarray, labels: Sequence[int], threshold: float) -> np.ndarray:
    """Share of correct decisions at each step. similarities: (N, S) (one row per trial); labels: (N,) 1 = same
    person (correct iff similarity >= threshold), 0 = different (correct iff below)."""
    sims = np.atleast_2d(np.asarray(similarities, dtype=np.float64))
    labels = np.asarray(labels).astype(bool).reshape(-1, 1)
    if sims.shape[0] != labels.shape[0]:
        raise ValueError(f"{sims.shape[0]} rows of similarities but {labels.shape[0]} labels")
    match = sims >= float(threshold)
    return np.mean(match == labels, axis=0)


def auc(fractions: Sequence[float], values: Sequence[float]) -> float:
    """Area under values(fraction) by the trapezoid rule, divided by the fraction range and scaled to 0-100
    (values are accuracies in [0, 1])."""
    x = np.asarray(fractions, dtype=np.float64)
    y = np.asarray(values, dtype=np.float64)
    if x.shape != y.shape or x.size < 2:
        raise ValueError("auc needs matching fractions and values, at least two of each")
    span = float(x[-1] - x[0])
    if span <= 0:
        raise ValueError("fractions must increase")
    return float(100.0 * np.trapezoid(y, x) / span)
