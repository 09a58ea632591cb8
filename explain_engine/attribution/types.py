"""Shared types of the attribution methods: the one result type, the contribution normalisation and the noise floor.

Sign convention everywhere: a positive contribution means the region SUPPORTS the similarity (hiding it lowers the
score), a negative one means it works against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NOISE_FLOOR = 1e-6  # cosine changes below this are float32 rounding, not evidence


def normalise(deltas: dict[str, float], *, floor: float = NOISE_FLOOR) -> dict[str, float]:
    """Scale region contributions into [-1, 1] (thesis eq. 3.4: ΔS'_i = ΔS_i / max_j |ΔS_j|).

    Args:
        deltas: {region: ΔS_i}, score changes in cosine-similarity units.
        floor: when even the largest |ΔS| is at or under it (e.g. an identical pair, where every change is rounding
            noise), every contribution is 0 rather than noise blown up to ±1.

    Returns:
        {region: ΔS'_i} in [-1, 1], same keys and order as ``deltas``.
    """
    if not deltas:
        return {}
    peak = max(abs(float(v)) for v in deltas.values())
    if not np.isfinite(peak) or peak <= floor:
        return {k: 0.0 for k in deltas}
    return {k: float(v) / peak for k, v in deltas.items()}


@dataclass
class AttributionResult:
    """One attribution map over regions, the return type of every :class:`~explain_engine.attribution.base.Attribution`.

    Attributes:
        method: the method key of :mod:`explain_engine.methods` ("s0", "s1", "avg", "s0_black", "occlusion", ...).
        variant: which photo was perturbed: "both" | "a" | "b".
        deltas: {region: raw score change S_ref - S_perturbed} in cosine units (for S1 the greedy sum H_neg - H_pos).
        normalised: deltas / max|deltas| (thesis eq. 3.4), in [-1, 1], positive = supports the similarity.
        reference: cosine similarity of the unperturbed pair.
        n_embeddings: images embedded for this result alone (0 when it reused another's work).
        details: method-specific extras (scores, greedy paths, fill name, ...).
        variants: further results computed by the same run (S0's one-sided "a" / "b" variants), keyed by variant.
        maps: pixel-level maps in the aligned crops, {"a" | "b": {map name: (H, W) float array}}, for methods that
            have them (the xFace occlusion X-map, gradient and RISE maps); empty for region-only methods.
    """

    method: str
    variant: str
    deltas: dict[str, float]
    normalised: dict[str, float]
    reference: float
    n_embeddings: int = 0
    details: dict = field(default_factory=dict)
    variants: dict[str, AttributionResult] = field(default_factory=dict)
    maps: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def regions(self) -> list[str]:
        return list(self.deltas)

    def ranking(self) -> list[str]:
        """Regions by normalised contribution, most supportive first."""
        return sorted(self.normalised, key=lambda r: -self.normalised[r])


def region_result(method: str, deltas: dict[str, float], reference: float, *, variant: str = "both",
                  n_embeddings: int = 0, details: dict | None = None, **extra) -> AttributionResult:
    """Build an :class:`AttributionResult` from raw region deltas, normalising them with eq. 3.4."""
    return AttributionResult(method=method, variant=variant, deltas=dict(deltas), normalised=normalise(deltas),
                             reference=float(reference), n_embeddings=int(n_embeddings), details=dict(details or {}),
                             **extra)
