"""S0 Single Inpaint (thesis §3.2.2.1): perturb one region at a time, in both photos, and measure the score drop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..scoring import PairScorer
from . import AttributionResult, normalise


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
    """Fill each region once in each photo and embed all 2R images in batches."""
    regions = list(regions if regions is not None else [r for r in masks_a if r in masks_b])
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


def single_inpaint(crop_a: np.ndarray | None, crop_b: np.ndarray | None, masks_a: dict[str, np.ndarray],
                   masks_b: dict[str, np.ndarray], embed_or_scorer, fill: Callable, *,
                   variants: tuple[str, ...] = ("both", "a", "b"), regions: list[str] | None = None,
                   fills: S0Fills | None = None, method: str = "s0",
                   progress: Callable[[float], None] | None = None) -> dict[str, AttributionResult]:
    """S0 for every region present in both mask dicts (or ``regions``).

    ``embed_or_scorer``: an embed callable ((N,H,W,3) uint8 -> (N,D)) or a PairScorer already built on the pair
    (then ``crop_a``/``crop_b`` may be None). Each region is filled ONCE per photo; variant "both" scores
    (A_i, B_i), "a" scores (A_i, B) and "b" (A, B_i) against the cached reference embeddings, so all three variants
    cost 2R + 2 embeddings. Returns {variant: AttributionResult}; details hold "scores" (S_i), "fills" (S0Fills,
    for S1's first step) and "fill".
    """
    if isinstance(embed_or_scorer, PairScorer):
        scorer, before = embed_or_scorer, embed_or_scorer.n_embeddings
    else:  # built here: its two reference embeddings belong to this result
        scorer, before = PairScorer(embed_or_scorer, crop_a, crop_b), 0
    if fills is None:
        fills = compute_fills(scorer, masks_a, masks_b, fill, regions, progress)
    used = scorer.n_embeddings - before
    out: dict[str, AttributionResult] = {}
    for variant in variants:
        if not fills.regions:
            scores = np.zeros(0)
        elif variant == "both":
            scores = scorer.score_embeddings(fills.emb_a, fills.emb_b)
        elif variant == "a":
            scores = scorer.score_embeddings(fills.emb_a, None)
        elif variant == "b":
            scores = scorer.score_embeddings(None, fills.emb_b)
        else:
            raise ValueError(f"unknown S0 variant {variant!r} (use 'both', 'a' or 'b')")
        deltas = {r: float(scorer.reference - s) for r, s in zip(fills.regions, scores)}
        out[variant] = AttributionResult(
            method=method, variant=variant, deltas=deltas, normalised=normalise(deltas), reference=scorer.reference,
            n_embeddings=used if variant == variants[0] else 0,
            details={"scores": {r: float(s) for r, s in zip(fills.regions, scores)}, "fills": fills,
                     "fill": fills.fill_name},
        )
    return out
