"""S0 Single Inpaint (thesis §3.2.2.1): perturb one region at a time, in both photos, and measure the score drop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..scoring import PairScorer
from .base import Attribution, Progress, common_regions
from .types import AttributionResult, normalise


@dataclass
class S0Fills:
    """The perturbed crops and their embeddings, computed once and reused by one-sided variants and S1's first step.

    images_a[r] / images_b[r]: crop with region r filled; emb_a / emb_b: (R, D) embeddings in ``regions`` order.
    """

    regions: list[str]
    images_a: dict[str, np.ndarray]
    images_b: dict[str, np.ndarray]
    emb_a: np.ndarray
    emb_b: np.ndarray
    fill_name: str


def compute_fills(scorer: PairScorer, masks_a: dict[str, np.ndarray], masks_b: dict[str, np.ndarray],
                  fill: Callable, regions: list[str] | None = None,
                  progress: Callable[[float], None] | None = None) -> S0Fills:
    """Fill each region once in each photo and embed all 2R images in batches.

    Args:
        scorer: the pair's scorer (its crops are the images filled).
        masks_a, masks_b: {region: (H, W) bool mask} on the aligned crops.
        fill: (image, mask) -> image, or an object with ``batch(images, masks)``.
        regions: regions to fill (default: those in both mask dicts).
        progress: called with the fraction done.

    Returns:
        :class:`S0Fills` with R filled crops per photo and their (R, D) embeddings.
    """
    regions = common_regions(masks_a, masks_b, regions)
    if hasattr(fill, "batch"):
        filled_a = fill.batch([scorer.image_a] * len(regions), [masks_a[r] for r in regions])
        if progress:
            progress(0.25)
        filled_b = fill.batch([scorer.image_b] * len(regions), [masks_b[r] for r in regions])
    else:
        filled_a = [fill(scorer.image_a, masks_a[r]) for r in regions]
        if progress:
            progress(0.25)
        filled_b = [fill(scorer.image_b, masks_b[r]) for r in regions]
    if progress:
        progress(0.5)
    emb = scorer.embed(filled_a + filled_b) if regions else np.zeros((0, 0))
    if progress:
        progress(1.0)
    n = len(regions)
    return S0Fills(regions, dict(zip(regions, filled_a)), dict(zip(regions, filled_b)), emb[:n], emb[n:],
                   getattr(fill, "name", "custom"))


VARIANTS = ("both", "a", "b")


class SingleInpaint(Attribution):
    """S0 Single Inpaint (thesis §3.2.2.1, eq. 3.1-3.4): hide one region at a time and measure the score change.

    Each region is filled ONCE per photo; variant "both" scores (A_i, B_i), "a" scores (A_i, B) and "b" (A, B_i)
    against the cached reference embeddings, so all three variants cost 2R + 2 embeddings.
    """

    method = "s0"

    def __init__(self, embed_or_scorer, fill: Callable | None = None, *, method: str = "s0", **kwargs):
        super().__init__(embed_or_scorer, fill, **kwargs)
        self.method = method

    def attribute(self, masks_a: dict[str, np.ndarray], masks_b: dict[str, np.ndarray], *,
                  regions: list[str] | None = None, progress: Progress | None = None,
                  variants: tuple[str, ...] = VARIANTS, fills: S0Fills | None = None) -> AttributionResult:
        """S0 for every region present in both mask dicts (or ``regions``).

        Args:
            masks_a, masks_b: {region: (H, W) bool mask} on the aligned crops.
            regions: regions to attribute (default: those in both mask dicts).
            progress: called with the fraction done.
            variants: the variants to score; the first is the returned result, the others are in its ``variants``.
            fills: S0Fills computed before (e.g. by another S0 run) to reuse instead of filling again.

        Returns:
            The first variant's result; ``details`` hold "scores" (S_i), "fills" (S0Fills, for S1's first step) and
            "fill"; ``variants`` holds the other variants' results, keyed by variant.

        Raises:
            ValueError: an unknown variant.
        """
        unknown = [v for v in variants if v not in VARIANTS]
        if unknown or not variants:
            raise ValueError(f"unknown S0 variant {unknown[0] if unknown else None!r} (use 'both', 'a' or 'b')")
        if fills is None:
            fills = compute_fills(self.scorer, masks_a, masks_b, self.fill, regions, progress)
        used = self.used
        out: dict[str, AttributionResult] = {}
        for variant in variants:
            if not fills.regions:
                scores = np.zeros(0)
            else:
                scores = self.scorer.score_embeddings(fills.emb_a if variant in ("both", "a") else None,
                                                      fills.emb_b if variant in ("both", "b") else None)
            deltas = {r: float(self.scorer.reference - s) for r, s in zip(fills.regions, scores)}
            out[variant] = AttributionResult(
                method=self.method, variant=variant, deltas=deltas, normalised=normalise(deltas),
                reference=self.scorer.reference, n_embeddings=used if variant == variants[0] else 0,
                details={"scores": {r: float(s) for r, s in zip(fills.regions, scores)}, "fills": fills,
                         "fill": fills.fill_name},
            )
        first = out[variants[0]]
        first.variants = {v: r for v, r in out.items() if v != variants[0]}
        return first


def single_inpaint(crop_a: np.ndarray | None, crop_b: np.ndarray | None, masks_a: dict[str, np.ndarray],
                   masks_b: dict[str, np.ndarray], embed_or_scorer, fill: Callable, *,
                   variants: tuple[str, ...] = VARIANTS, regions: list[str] | None = None,
                   fills: S0Fills | None = None, method: str = "s0",
                   progress: Callable[[float], None] | None = None) -> dict[str, AttributionResult]:
    """Functional form of :class:`SingleInpaint`: {variant: AttributionResult} for each of ``variants``.

    ``embed_or_scorer``: an embed callable ((N,H,W,3) uint8 -> (N,D)) or a PairScorer already built on the pair
    (then ``crop_a``/``crop_b`` may be None).
    """
    s0 = SingleInpaint(embed_or_scorer, fill, method=method, crop_a=crop_a, crop_b=crop_b)
    first = s0.attribute(masks_a, masks_b, regions=regions, progress=progress, variants=variants, fills=fills)
    return {first.variant: first, **first.variants}
