"""Region attributions for a face pair: S0 Single Inpaint, S1 Greedy Inpaint (thesis ch. 3), the xFace occlusion
baseline and stability over seeds/jitters. All are pure functions over aligned crops, region masks, a Fill and an
embed callable (or a scoring.PairScorer).

Sign convention everywhere: a positive contribution means the region SUPPORTS the similarity (hiding it lowers the
score), a negative one means it works against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NOISE_FLOOR = 1e-6  # cosine changes below this are float32 rounding, not evidence


def normalise(deltas: dict[str, float], *, floor: float = NOISE_FLOOR) -> dict[str, float]:
    """Thesis eq. 3.4: ΔS'_i = ΔS_i / max_j |ΔS_j|. When even the largest |ΔS| is under ``floor`` (e.g. an identical
    pair, where every change is rounding noise) all contributions are 0 rather than noise blown up to ±1."""
    if not deltas:
        return {}
    peak = max(abs(float(v)) for v in deltas.values())
    if not np.isfinite(peak) or peak <= floor:
        return {k: 0.0 for k in deltas}
    return {k: float(v) / peak for k, v in deltas.items()}


@dataclass
class AttributionResult:
    """One attribution map over regions.

    method: "s0", "s1", "avg", "s0_black", "occlusion"; variant: "both" | "a" | "b" (which photo was perturbed);
    deltas: raw score change per region (S_ref - S_perturbed; for S1 the greedy sum H_neg - H_pos);
    normalised: deltas / max|deltas| (eq. 3.4), in [-1, 1], positive = supports similarity;
    reference: cosine similarity of the unperturbed pair; n_embeddings: images embedded for this result alone
    (0 when it reused another's); details: method-specific extras (scores, greedy paths, fill name, ...).
    """

    method: str
    variant: str
    deltas: dict[str, float]
    normalised: dict[str, float]
    reference: float
    n_embeddings: int = 0
    details: dict = field(default_factory=dict)

    @property
    def regions(self) -> list[str]:
        return list(self.deltas)

    def ranking(self) -> list[str]:
        """Regions by normalised contribution, most supportive first."""
        return sorted(self.normalised, key=lambda r: -self.normalised[r])


from .greedy import GreedyPath, greedy_inpaint
from .occlusion import OcclusionResult, occlusion_map
from .single import S0Fills, single_inpaint
from .stability import StabilityResult, stability

__all__ = [
    "AttributionResult",
    "GreedyPath",
    "OcclusionResult",
    "S0Fills",
    "StabilityResult",
    "greedy_inpaint",
    "normalise",
    "occlusion_map",
    "single_inpaint",
    "stability",
]
