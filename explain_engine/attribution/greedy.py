"""S1 Greedy Inpaint (thesis §3.2.2.2): cumulative perturbation, one region per step, in a negative run (each step
hides the region that lowers the score most) and a positive run (raises it most)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..scoring import PairScorer
from .base import Attribution, Progress
from .single import S0Fills, compute_fills
from .types import AttributionResult, normalise


@dataclass
class GreedyPath:
    """One greedy run. ``regions[k]`` was hidden at step k+1 and ``scores[k]`` is the similarity after it
    (``scores`` excludes the reference); ``stopped`` says why the run ended."""

    direction: str  # "negative" | "positive"
    regions: list[str] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    changes: list[float] = field(default_factory=list)  # |score change| of each accepted step
    stopped: str = ""

    def to_dict(self) -> dict:
        return {"direction": self.direction, "regions": list(self.regions), "scores": list(self.scores),
                "changes": list(self.changes), "stopped": self.stopped}


def _run(scorer: PairScorer, masks_a, masks_b, fill, fills: S0Fills, first_scores: np.ndarray, direction: str,
         max_steps: int, min_change: float, on_step: Callable[[int], None] | None = None) -> GreedyPath:
    sign = -1.0 if direction == "negative" else 1.0  # the change we look for: negative run wants score decreases
    path = GreedyPath(direction)
    cur_a, cur_b = scorer.image_a, scorer.image_b
    prev = scorer.reference
    remaining = list(fills.regions)
    step = 0
    while remaining and step < max_steps:
        if step == 0:
            # Step 1 is exactly S0's work: same fills of the unperturbed crops, same scores.
            cand_scores = np.array([first_scores[fills.regions.index(r)] for r in remaining])
            cand_a = [fills.images_a[r] for r in remaining]
            cand_b = [fills.images_b[r] for r in remaining]
        else:
            if hasattr(fill, "batch"):
                cand_a = fill.batch([cur_a] * len(remaining), [masks_a[r] for r in remaining])
                cand_b = fill.batch([cur_b] * len(remaining), [masks_b[r] for r in remaining])
            else:
                cand_a = [fill(cur_a, masks_a[r]) for r in remaining]
                cand_b = [fill(cur_b, masks_b[r]) for r in remaining]
            cand_scores = scorer.score_pairs(cand_a, cand_b)
        best = int(np.argmax(sign * cand_scores))
        change = sign * (float(cand_scores[best]) - prev)
        if change <= min_change:
            path.stopped = f"no remaining region changes the score by more than {min_change:g}"
            break
        region = remaining.pop(best)
        path.regions.append(region)
        path.scores.append(float(cand_scores[best]))
        path.changes.append(change)
        cur_a, cur_b, prev = cand_a[best], cand_b[best], float(cand_scores[best])
        step += 1
        if on_step:
            on_step(step)
    if not path.stopped:
        path.stopped = "all regions hidden" if not remaining else f"reached max_steps={max_steps}"
    return path


class GreedyInpaint(Attribution):
    """S1 Greedy Inpaint (thesis §3.2.2.2) over the regions present in both photos.

    Each run stops after ``max_steps`` accepted steps (default: all regions) or when the best candidate changes the
    score by no more than ``min_change`` in the run's direction. H_neg accumulates each negative-run decrease on its
    region, H_pos each positive-run increase; the map is H = H_neg - H_pos normalised by eq. 3.4 (positive =
    supports similarity).
    """

    method = "s1"

    def attribute(self, masks_a: dict[str, np.ndarray], masks_b: dict[str, np.ndarray], *,
                  regions: list[str] | None = None, progress: Progress | None = None, max_steps: int | None = None,
                  min_change: float = 1e-4, s0_fills: S0Fills | None = None,
                  s0_scores: dict[str, float] | None = None,
                  runs: tuple[str, ...] = ("negative", "positive")) -> AttributionResult:
        """Run S1.

        Args:
            masks_a, masks_b: {region: (H, W) bool mask} on the aligned crops.
            regions: regions to attribute (default: those in both mask dicts); ignored when ``s0_fills`` is given.
            progress: called with the fraction done.
            max_steps: accepted steps per run (default: all regions).
            min_change: smallest score change (cosine units) a step must make in the run's direction.
            s0_fills, s0_scores: S0's fills and both-sides scores, so the first step costs nothing.
            runs: "negative" and/or "positive".

        Returns:
            The S1 result; ``details`` hold "paths" {"negative": GreedyPath, "positive": GreedyPath}, "h_neg",
            "h_pos", "fill".
        """
        scorer, fill = self.scorer, self.fill
        if s0_fills is None:
            s0_fills = compute_fills(scorer, masks_a, masks_b, fill, regions)
        if s0_scores is None:
            first = scorer.score_embeddings(s0_fills.emb_a, s0_fills.emb_b) if s0_fills.regions else np.zeros(0)
        else:
            first = np.array([s0_scores[r] for r in s0_fills.regions])
        max_steps = len(s0_fills.regions) if max_steps is None else int(max_steps)
        h_neg = {r: 0.0 for r in s0_fills.regions}
        h_pos = {r: 0.0 for r in s0_fills.regions}
        paths: dict[str, GreedyPath] = {}
        for k, direction in enumerate(runs):
            on_step = None
            if progress and max_steps:
                on_step = lambda step, k=k: progress((k + step / max_steps) / len(runs))
            path = _run(scorer, masks_a, masks_b, fill, s0_fills, first, direction, max_steps, min_change, on_step)
            target = h_neg if direction == "negative" else h_pos
            for r, c in zip(path.regions, path.changes):
                target[r] += c
            paths[direction] = path
            if progress:
                progress((k + 1) / len(runs))
        deltas = {r: h_neg[r] - h_pos[r] for r in s0_fills.regions}
        return AttributionResult(
            method=self.method, variant="both", deltas=deltas, normalised=normalise(deltas),
            reference=scorer.reference, n_embeddings=self.used,
            details={"paths": paths, "h_neg": h_neg, "h_pos": h_pos, "fill": s0_fills.fill_name},
        )


def greedy_inpaint(crop_a: np.ndarray | None, crop_b: np.ndarray | None, masks_a: dict[str, np.ndarray],
                   masks_b: dict[str, np.ndarray], embed_or_scorer, fill: Callable, *, max_steps: int | None = None,
                   min_change: float = 1e-4, s0_fills: S0Fills | None = None, s0_scores: dict[str, float] | None = None,
                   regions: list[str] | None = None, runs: tuple[str, ...] = ("negative", "positive"),
                   progress: Callable[[float], None] | None = None) -> AttributionResult:
    """Functional form of :class:`GreedyInpaint` (``embed_or_scorer``: an embed callable or a PairScorer)."""
    return GreedyInpaint(embed_or_scorer, fill, crop_a=crop_a, crop_b=crop_b).attribute(
        masks_a, masks_b, regions=regions, progress=progress, max_steps=max_steps, min_change=min_change,
        s0_fills=s0_fills, s0_scores=s0_scores, runs=runs)
