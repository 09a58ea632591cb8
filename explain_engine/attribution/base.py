"""The one attribution interface (in the style of captum's ``Attribution.attribute``).

Every method is built from a pair scorer (:class:`~explain_engine.scoring.PairScorer`, or an embed callable plus
the two crops) and, where it perturbs regions, a fill; ``attribute(masks_a, masks_b, ...)`` returns one
:class:`~explain_engine.attribution.types.AttributionResult`. Algorithms stay pure functions over arrays: no model
objects, no file I/O.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..scoring import PairScorer
from .types import AttributionResult

Progress = Callable[[float], None]


def as_scorer(embed_or_scorer, crop_a: np.ndarray | None = None, crop_b: np.ndarray | None = None, *,
              batch_size: int = 32) -> tuple[PairScorer, int]:
    """The scorer to attribute with, and its embedding count before this method ran.

    Args:
        embed_or_scorer: a :class:`PairScorer` already built on the pair, or an embed callable
            ((N, H, W, 3) uint8 -> (N, D) float).
        crop_a, crop_b: the aligned crops (H, W, 3) uint8; needed only with an embed callable.
        batch_size: images per embed call for a scorer built here.

    Returns:
        (scorer, n_embeddings before): a scorer built here starts at 0, so its two reference embeddings count for the
        method that built it.

    Raises:
        ValueError: an embed callable was given without both crops.
    """
    if isinstance(embed_or_scorer, PairScorer):
        return embed_or_scorer, embed_or_scorer.n_embeddings
    if crop_a is None or crop_b is None:
        raise ValueError("an embed callable needs both aligned crops (crop_a, crop_b)")
    return PairScorer(embed_or_scorer, crop_a, crop_b, batch_size=batch_size), 0


class Attribution:
    """Base of the attribution methods: one method, one ``attribute`` call, one result type.

    Subclasses set ``method`` (the key in :mod:`explain_engine.methods`) and implement :meth:`attribute`.

    Args:
        embed_or_scorer: see :func:`as_scorer`.
        fill: a perturbation fill ((H, W, 3) uint8 image, (H, W) bool mask) -> image, optionally with ``batch``
            (see :class:`explain_engine.perturbation.Fill`); None for methods that do not fill regions.
        crop_a, crop_b: the aligned crops, only when ``embed_or_scorer`` is an embed callable.
    """

    method: str = ""
    needs_fill: bool = True

    def __init__(self, embed_or_scorer, fill: Callable | None = None, *, crop_a: np.ndarray | None = None,
                 crop_b: np.ndarray | None = None, batch_size: int = 32):
        if self.needs_fill and fill is None:
            raise ValueError(f"{type(self).__name__} needs a fill (the perturbation that hides a region)")
        self.scorer, self._before = as_scorer(embed_or_scorer, crop_a, crop_b, batch_size=batch_size)
        self.fill = fill

    @property
    def used(self) -> int:
        """Images embedded since this method was built (its share of the scorer's count)."""
        return self.scorer.n_embeddings - self._before

    def attribute(self, masks_a: dict[str, np.ndarray], masks_b: dict[str, np.ndarray], *,
                  regions: list[str] | None = None, progress: Progress | None = None,
                  **options) -> AttributionResult:
        """Attribute the pair's similarity to its regions.

        Args:
            masks_a, masks_b: {region: (H, W) bool mask} on the aligned crops.
            regions: regions to attribute, in order (default: those present in both mask dicts).
            progress: called with the fraction of the work done, in [0, 1].
            **options: method-specific options.

        Returns:
            The :class:`AttributionResult` of this method.
        """
        raise NotImplementedError


def common_regions(masks_a: dict, masks_b: dict, regions: list[str] | None = None) -> list[str]:
    """``regions`` if given, else the regions present in both mask dicts, in A's order."""
    return list(regions if regions is not None else [r for r in masks_a if r in masks_b])
