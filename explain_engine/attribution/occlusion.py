"""The xFace occlusion X-map (Knoche et al., WACVW 2023, §3.2) as a comparison baseline, with the same embed callable.

Method 3 (co-located occlusion): the same square patch is occluded in both aligned crops; with d = 1 - cosine the
weight of patch i is d_i - d_orig = S_ref - S_i (positive = the patch made the faces similar, same sign convention
as S0). Per patch size p: S_p = sum_i (d_i - d_orig) M_i / N (eq. 9); over sizes: mean of S_p / p^2 (eq. 10);
then a Gaussian blur (s x s kernel, sigma = s) against the stride's raster and normalisation to [-1, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from .base import Attribution, Progress, as_scorer, common_regions
from .types import NOISE_FLOOR, AttributionResult, normalise


@dataclass
class OcclusionResult:
    """map_a / map_b: (H, W) float in [-1, 1] (identical for method 3, one per image for symmetry with the other
    methods); regions_a / regions_b: mean map value inside each region mask; n_embeddings; per_size: raw S_p maps."""

    map_a: np.ndarray
    map_b: np.ndarray
    reference: float
    n_embeddings: int
    regions_a: dict[str, float] = field(default_factory=dict)
    regions_b: dict[str, float] = field(default_factory=dict)
    per_size: dict[int, np.ndarray] = field(default_factory=dict)
    details: dict = field(default_factory=dict)


def patch_positions(size: int, patch: int, stride: int) -> list[int]:
    """Top-left offsets along one axis: N = floor((size - p) / s) per axis, as in xFace eq. 4."""
    n = max(1, (size - patch) // stride)
    return [i * stride for i in range(n)]


def occlusion_map(crop_a: np.ndarray | None, crop_b: np.ndarray | None, embed_or_scorer, *,
                  patch_sizes: tuple[int, ...] = (7, 14, 28), stride: int = 5, colour: int = 0,
                  masks_a: dict[str, np.ndarray] | None = None, masks_b: dict[str, np.ndarray] | None = None,
                  batch_size: int = 64, progress: Callable[[float], None] | None = None) -> OcclusionResult:
    """xFace method-3 X-map of an aligned pair (both crops the same size). Black patches by default (the paper's
    merged map uses black, rectangular, unblurred patches). Embeds 2 images per patch location, in batches."""
    scorer, before = as_scorer(embed_or_scorer, crop_a, crop_b, batch_size=batch_size)
    img_a, img_b = scorer.image_a, scorer.image_b
    if img_a.shape != img_b.shape:
        raise ValueError("co-located occlusion needs two crops of the same size")
    h, w = img_a.shape[:2]
    total = sum(len(patch_positions(h, p, stride)) * len(patch_positions(w, p, stride)) for p in patch_sizes)
    done = 0
    per_size: dict[int, np.ndarray] = {}
    for p in patch_sizes:
        locs = [(y, x) for y in patch_positions(h, p, stride) for x in patch_positions(w, p, stride)]
        acc = np.zeros((h, w), dtype=np.float64)
        for start in range(0, len(locs), batch_size):
            chunk = locs[start:start + batch_size]
            occ_a, occ_b = [], []
            for y, x in chunk:
                a = img_a.copy()
                a[y:y + p, x:x + p] = colour
                b = img_b.copy()
                b[y:y + p, x:x + p] = colour
                occ_a.append(a)
                occ_b.append(b)
            scores = scorer.score_pairs(occ_a, occ_b)
            for (y, x), s in zip(chunk, scores):
                acc[y:y + p, x:x + p] += scorer.reference - float(s)  # = d_i - d_orig
            done += len(chunk)
            if progress:
                progress(done / total)
        per_size[p] = acc / len(locs)
    mean = sum(per_size[p] / (p * p) for p in patch_sizes) / len(patch_sizes)
    k = stride if stride % 2 == 1 else stride + 1  # OpenCV needs an odd kernel
    blurred = cv2.GaussianBlur(mean.astype(np.float32), (k, k), sigmaX=stride, sigmaY=stride)
    peak = float(np.abs(blurred).max())
    # Raw changes below the noise floor are float rounding (e.g. identical photos): keep them at 0, not +-1.
    raw_peak = max(float(np.abs(s).max()) for s in per_size.values()) if per_size else 0.0
    xmap = blurred / peak if peak > 0 and raw_peak > NOISE_FLOOR else np.zeros_like(blurred)
    reduce = lambda masks: {r: float(xmap[m].mean()) for r, m in (masks or {}).items() if m.any()}
    return OcclusionResult(map_a=xmap, map_b=xmap.copy(), reference=scorer.reference,
                           n_embeddings=scorer.n_embeddings - before, regions_a=reduce(masks_a),
                           regions_b=reduce(masks_b), per_size=per_size,
                           details={"patch_sizes": list(patch_sizes), "stride": stride, "method": 3,
                                    "locations": total})


class Occlusion(Attribution):
    """The xFace method-3 X-map reduced to regions: a region's contribution is the mean X-map value inside its mask,
    averaged over the two photos. Needs no fill (it occludes with a flat colour)."""

    method = "occlusion"
    needs_fill = False

    def attribute(self, masks_a: dict[str, np.ndarray], masks_b: dict[str, np.ndarray], *,
                  regions: list[str] | None = None, progress: Progress | None = None,
                  **options) -> AttributionResult:
        """Compute the X-map of the pair and reduce it to regions.

        Args:
            masks_a, masks_b: {region: (H, W) bool mask} on the aligned crops.
            regions: regions to report (default: those in both mask dicts).
            progress: called with the fraction done.
            **options: :func:`occlusion_map` options (patch_sizes, stride, colour, batch_size).

        Returns:
            The region result; ``maps`` = {"a": {"xmap": (H, W)}, "b": {"xmap": (H, W)}} in [-1, 1];
            ``details["occlusion"]`` is the :class:`OcclusionResult`.
        """
        regions = common_regions(masks_a, masks_b, regions)
        occ = occlusion_map(None, None, self.scorer, masks_a=masks_a, masks_b=masks_b, progress=progress, **options)
        deltas = {r: (occ.regions_a.get(r, 0.0) + occ.regions_b.get(r, 0.0)) / 2 for r in regions}
        return AttributionResult(method=self.method, variant="both", deltas=deltas, normalised=normalise(deltas),
                                 reference=self.scorer.reference, n_embeddings=occ.n_embeddings,
                                 details={"xface_method": 3, "occlusion": occ},
                                 maps={"a": {"xmap": occ.map_a}, "b": {"xmap": occ.map_b}})
