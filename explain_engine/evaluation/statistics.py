"""Rank statistics over region attributions."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence

import numpy as np
from scipy import stats


def spearman(a: dict[str, float], b: dict[str, float]) -> float:
    """Spearman rank correlation of two region maps over their common regions (NaN when undefined: fewer than 3
    regions, or a constant map)."""
    common = [r for r in a if r in b]
    if len(common) < 3:
        return float("nan")
    x = np.array([a[r] for r in common], dtype=float)
    y = np.array([b[r] for r in common], dtype=float)
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.spearmanr(x, y).statistic)


def mean_pairwise_spearman(maps: Sequence[dict[str, float]]) -> float:
    """Mean Spearman correlation over all pairs of maps (NaN pairs left out; NaN if none is defined)."""
    values = [spearman(p, q) for p, q in itertools.combinations(maps, 2)]
    values = [v for v in values if np.isfinite(v)]
    return float(np.mean(values)) if values else float("nan")
