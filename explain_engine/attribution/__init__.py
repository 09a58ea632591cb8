"""Region attributions for a face pair: S0 Single Inpaint, S1 Greedy Inpaint (thesis ch. 3), the xFace occlusion
baseline, their average, and stability over seeds/jitters.

Every method is an :class:`~explain_engine.attribution.base.Attribution` built from a pair scorer (and a fill where it
hides regions) whose ``attribute(masks_a, masks_b, ...)`` returns one
:class:`~explain_engine.attribution.types.AttributionResult`; each has a functional form for one-off use. Shared
types live in :mod:`.types`. Sign convention everywhere: a positive contribution means the region SUPPORTS the
similarity (hiding it lowers the score), a negative one means it works against it.
"""

from __future__ import annotations

from .average import average_results
from .base import Attribution, as_scorer
from .greedy import GreedyInpaint, GreedyPath, greedy_inpaint
from .occlusion import Occlusion, OcclusionResult, occlusion_map
from .single import S0Fills, SingleInpaint, single_inpaint
from .stability import StabilityResult, stability
from .types import NOISE_FLOOR, AttributionResult, normalise

__all__ = [
    "NOISE_FLOOR",
    "Attribution",
    "AttributionResult",
    "GreedyInpaint",
    "GreedyPath",
    "Occlusion",
    "OcclusionResult",
    "S0Fills",
    "SingleInpaint",
    "StabilityResult",
    "as_scorer",
    "average_results",
    "greedy_inpaint",
    "normalise",
    "occlusion_map",
    "single_inpaint",
    "stability",
]
