"""Orchestration of the region attributions over arrays: aligned crops, their region masks, an embed callable and a
Fill. No model objects, no file I/O: explain_engine.engine wraps this with detection, alignment and saving.

Results (``ArraysExplanation.results``), keyed by the method registry (:mod:`explain_engine.methods`):
- "s0": S0 Single Inpaint, both photos perturbed (thesis eq. 3.1-3.4); "s0_a_only" / "s0_b_only": one-sided variants
  (only photo A / only B perturbed, compared with the other photo's unperturbed embedding) — same fills, no extra cost;
- "s1": S1 Greedy Inpaint (negative + positive runs, first step shared with S0);
- "avg": mean of the normalised S0 and S1 maps (not renormalised);
- "s0_black": S0 with a black fill, for contrast with the inpainted fill;
- "occlusion": the xFace baseline reduced to regions (only when asked for, it costs thousands of embeddings).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from models.errors import FaceXError

from . import methods as registry
from .attribution.occlusion import OcclusionResult
from .attribution.stability import stability
from .attribution.types import AttributionResult
from .regions import REGION_SETS, Regions
from .scoring import PairScorer

WEAK_SHARE = 0.5  # a map is weak evidence when no single region moves the score by half the margin


@dataclass
class ArraysExplanation:
    """Everything the algorithms found for one pair; the pipeline turns it into explanation.json."""

    reference: float  # cosine similarity of the unperturbed crops
    threshold: float
    decision: str  # "match" | "non-match"
    regions: list[str]  # regions present in both photos, in region-set order (the ones attributed)
    absent: dict[str, str]  # region -> reason it was not attributed
    results: dict[str, AttributionResult]
    fill_name: str
    strength: dict
    counterfactual: dict
    stability: dict | None = None
    robustness: dict | None = None  # explain_engine.robustness.robustness_section (#13)
    n_embeddings: int = 0
    n_embeddings_by_method: dict[str, int] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def margin(self) -> float:
        return self.reference - self.threshold

    @property
    def methods(self) -> list[str]:
        """Method keys present, in registry order (one-sided variants are part of "s0", not listed)."""
        return [m.key for m in registry.METHODS if m.key in self.results and m.variant_of is None]

    @property
    def occlusion(self) -> OcclusionResult | None:
        """The xFace X-map of the occlusion baseline, when it ran."""
        res = self.results.get("occlusion")
        return res.details.get("occlusion") if res is not None else None

    def table_columns(self, *, one_sided: bool = True) -> dict[str, dict[str, float]]:
        """{table column name: normalised contributions} for table.explainability_table, in registry order."""
        return {m.column: dict(self.results[m.key].normalised) for m in registry.METHODS
                if m.key in self.results and (one_sided or m.variant_of is None)}

    def summary_columns(self) -> list[str]:
        """The table columns that are methods of their own (Mean / Ratio of 1s count these, not the variants)."""
        return [m.column for m in registry.METHODS if m.votes and m.key in self.results]

    def primary(self) -> AttributionResult:
        """The map that names the most/least important region: AVG when present, else S0."""
        return self.results.get("avg") or self.results["s0"]

    @property
    def noise_floor(self) -> float:
        """Changes of similarity at or below this are no effect (cosine units; robustness.noise_floor)."""
        from .table import DEFAULT_NOISE_FLOOR

        return float((self.robustness or {}).get("noise_floor") or DEFAULT_NOISE_FLOOR)

    def importance(self, method: str) -> dict[str, dict]:
        """Decision-relative importance of ``method``'s map (table.decision_relative over its raw deltas)."""
        from .table import decision_relative

        return decision_relative(self.results[method].deltas, self.decision, noise_floor=self.noise_floor)

    @property
    def most_important_region(self) -> str | None:
        """The region that moved the score most in the direction of the decision (primary map; None when no
        region supports the decision above the noise floor). Rule: table.DECISION_RULE."""
        from .table import most_important

        return most_important(self.importance("avg" if "avg" in self.results else "s0"))

    @property
    def least_important_region(self) -> str | None:
        """The region with the smallest effect either way on the primary map."""
        imp = self.importance("avg" if "avg" in self.results else "s0")
        return min(imp, key=lambda r: imp[r]["abs_change"]) if imp else None


def _masks(regions) -> dict[str, np.ndarray]:
    return regions.masks if isinstance(regions, Regions) else dict(regions)


def _order(regions_a, regions_b) -> tuple[list[str], dict[str, str]]:
    ma, mb = _masks(regions_a), _masks(regions_b)
    set_name = regions_a.region_set if isinstance(regions_a, Regions) else None
    order = list(REGION_SETS.get(set_name, ())) or list(dict.fromkeys(list(ma) + list(mb)))
    order += [r for r in list(ma) + list(mb) if r not in order]
    absent: dict[str, str] = {}
    for label, regs in (("A", regions_a), ("B", regions_b)):
        if isinstance(regs, Regions):
            for r, why in regs.absent.items():
                absent.setdefault(r, f"photo {label}: {why}")
    common = []
    for r in order:
        if r in ma and r in mb:
            common.append(r)
        elif r in ma or r in mb:
            missing = "B" if r in ma else "A"
            absent.setdefault(r, f"not visible in photo {missing}, so it cannot be compared")
    return common, absent


def _check_inputs(crop_a, crop_b, regions_a, regions_b) -> None:
    for label, crop, regs in (("A", crop_a, regions_a), ("B", crop_b, regions_b)):
        crop = np.asarray(crop)
        if crop.ndim != 3 or crop.shape[2] != 3 or crop.dtype != np.uint8:
            raise ValueError(f"crop {label} must be an RGB uint8 array (H, W, 3), got {crop.dtype} {crop.shape}")
        for name, mask in _masks(regs).items():
            if np.shape(mask) != crop.shape[:2]:
                raise ValueError(f"region {name!r} of photo {label} has shape {np.shape(mask)}, "
                                 f"but its crop is {crop.shape[:2]}")


def assess_strength(s0: AttributionResult, s1: AttributionResult | None, reference: float,
                    threshold: float, flips: bool | None = None) -> dict:
    """How much of the decision the region map accounts for: the largest single-region change (S0, both photos) and
    the S1 cumulative change, both in the direction of the threshold (lower for a match, higher for a non-match),
    each against the margin |score - threshold|. ``largest_abs_change`` is the largest change in either direction.

    level: "strong" when hiding some region(s) flips the decision (``flips``, from find_counterfactual) or a single
    region moves the score by the whole margin; "moderate" when a single region moves it by at least half the margin;
    "weak" otherwise (``weak`` is True only then). Numbers and codes only: the sentence is
    ``prompts.render.strength_sentence(strength)``."""
    margin = reference - threshold
    is_match = margin >= 0
    # Only changes towards the threshold bear on the decision: decreases for a match, increases for a non-match.
    toward = {r: (d if is_match else -d) for r, d in s0.deltas.items()}
    region = max(toward, key=toward.get) if toward else None
    largest = max(0.0, toward[region]) if region is not None else 0.0
    if largest <= 0:
        region = None
    abs_region = max(s0.deltas, key=lambda r: abs(s0.deltas[r])) if s0.deltas else None
    cumulative = None
    if s1 is not None:
        path = s1.details["paths"].get("negative" if is_match else "positive")
        if path is not None:
            cumulative = abs(path.scores[-1] - reference) if path.scores else 0.0
    gap = abs(margin)
    single_share = largest / gap if gap > 0 else float("inf")
    s1_share = (cumulative / gap if gap > 0 else float("inf")) if cumulative is not None else None
    strong = bool(flips or largest >= gap)
    # weak only when nothing, single region or set, accounts for the decision (a flipping set is not weak evidence)
    weak = bool(largest < WEAK_SHARE * gap) and not strong
    level = "strong" if strong else ("weak" if weak else "moderate")
    return {"similarity": float(reference), "threshold": float(threshold),
            "margin": float(margin), "largest_single_change": float(largest), "largest_single_region": region,
            "largest_abs_change": float(abs(s0.deltas[abs_region])) if abs_region else 0.0,
            "largest_abs_region": abs_region,
            "s1_cumulative_change": None if cumulative is None else float(cumulative),
            "single_share": float(single_share) if np.isfinite(single_share) else None,
            "s1_share": None if s1_share is None or not np.isfinite(s1_share) else float(s1_share),
            "weak": weak, "level": level}


def find_counterfactual(s0: AttributionResult, s1: AttributionResult | None, reference: float,
                        threshold: float) -> dict:
    """Smallest set of regions whose perturbation flips the decision: a single region from S0 if one suffices,
    else the shortest prefix of the S1 run heading towards the threshold (negative run for a match, positive for a
    non-match). Greedy, so the set is small but not proven minimal. Numbers and codes only (``outcome``:
    single_region | region_set | no_flip | no_region_towards | not_searched; ``tried``: the S1 run's regions): the
    sentence is ``prompts.render.counterfactual_sentence(counterfactual)``."""
    is_match = reference >= threshold
    flipped = (lambda s: s < threshold) if is_match else (lambda s: s >= threshold)
    scores = s0.details.get("scores", {})
    base = {"similarity": float(reference), "threshold": float(threshold)}
    singles = [r for r, s in scores.items() if flipped(s)]
    if singles:
        best = min(singles, key=scores.get) if is_match else max(singles, key=scores.get)
        return {"flips": True, "regions": [best], "score_after": float(scores[best]), "source": "s0",
                "outcome": "single_region", **base}
    if s1 is not None:
        path = s1.details["paths"].get("negative" if is_match else "positive")
        if path is not None:
            for k, s in enumerate(path.scores):
                if flipped(s):
                    return {"flips": True, "regions": path.regions[:k + 1], "score_after": float(s), "source": "s1",
                            "outcome": "region_set", "tried": list(path.regions), **base}
            end = path.scores[-1] if path.scores else reference
            return {"flips": False, "regions": [], "score_after": float(end), "source": "s1",
                    "outcome": "no_flip" if path.regions else "no_region_towards", "tried": list(path.regions),
                    **base}
    return {"flips": False, "regions": [], "score_after": float(reference), "source": "s0",
            "outcome": "not_searched", **base}


def explain_arrays(crop_a: np.ndarray, crop_b: np.ndarray, regions_a, regions_b, embed: Callable, fill, *,
                   methods: tuple[str, ...] = registry.DEFAULT_METHODS, threshold: float,
                   max_steps: int | None = None, min_change: float = 1e-4, samples: int = 1, one_sided: bool = True,
                   progress: Callable[[str, float], None] | None = None, black_fill=None,
                   make_fill: Callable | None = None, seed: int | None = None,
                   batch_size: int = 32, occlusion_options: dict | None = None, model=None,
                   method_options: dict | None = None, robustness: bool = True,
                   alternative_fills: tuple[str, ...] | None = None, jitter_samples: int = 2) -> ArraysExplanation:
    """Attribute the similarity of two aligned crops to their regions.

    Args:
        crop_a, crop_b: aligned crops, (H, W, 3) uint8 RGB.
        regions_a, regions_b: Regions (or {name: (H, W) bool mask}) on the crops.
        embed: (N, H, W, 3) uint8 -> (N, D) float embeddings.
        fill: a perturbation.Fill (or any (image, mask) -> image).
        methods: requestable keys of :mod:`explain_engine.methods` ("s0", "s1", "avg", "s0_black", "occlusion");
            "avg" is added whenever S0 and S1 both run; S0 is always computed because S1's first step and the
            strength statement need it.
        threshold: the cosine threshold (match iff score >= threshold).
        max_steps, min_change: S1's options.
        samples: > 1 adds stability (seeds for stochastic fills, jitters for deterministic ones); ``seed`` is the
            first stability seed (seeds seed..seed+K-1).
        one_sided: keep S0's one-sided variants "s0_a_only" / "s0_b_only".
        progress: progress(stage, fraction), called as work ends.
        make_fill: builds the contrast fill ("black") the way the caller builds fills (default
            perturbation.make_fill); ``black_fill`` overrides it.
        batch_size: images per embed call.
        occlusion_options: options of the xFace baseline (patch_sizes, stride, colour, batch_size).
        model: the face model behind ``embed``, for methods that need its gradients ("fggb").
        method_options: further options per method key, e.g. {"corrrise": {"n_masks": 400}}.
        robustness: (default on) S0 again under ``alternative_fills`` (default
            robustness.DEFAULT_ALTERNATIVE_FILLS) and ``jitter_samples`` alignment jitters, judged by
            :mod:`explain_engine.robustness` (costs 2R per fill + (2R + 2) per jitter embeddings).

    Returns:
        :class:`ArraysExplanation` with one AttributionResult per computed method key.

    Raises:
        ConfigError: an unknown method; GradientsUnavailableError: "fggb" with a face model without gradients;
        ValueError: crops or masks of the wrong type or shape; FaceXError: no region
        visible in both photos.
    """
    for key in registry.plan(methods):  # unknown methods, and gradient methods without gradients, fail before work
        if registry.get_method(key).needs_gradients:
            from .attribution.fggb import require_gradients

            require_gradients(model, registry.get_method(key).column)
    _check_inputs(crop_a, crop_b, regions_a, regions_b)
    report = progress or (lambda stage, fraction: None)
    ma, mb = _masks(regions_a), _masks(regions_b)
    common, absent = _order(regions_a, regions_b)
    warnings: list[str] = []
    if not common:
        raise FaceXError("no face region is visible in both photos, so nothing can be attributed")

    scorer = PairScorer(embed, crop_a, crop_b, batch_size=batch_size)
    options: dict[str, dict] = {"s1": {"max_steps": max_steps, "min_change": min_change},
                                "occlusion": dict(occlusion_options or {})}
    if black_fill is not None:
        options["s0_black"] = {"fill": black_fill}
    for key, opts in (method_options or {}).items():
        options.setdefault(key, {}).update(opts)
    ctx = registry.RunContext(scorer=scorer, fill=fill, masks_a=ma, masks_b=mb, regions=common, make_fill=make_fill,
                              options=options, one_sided=one_sided, progress=report, model=model,
                              threshold=float(threshold))
    results = registry.run_methods(ctx, methods)
    timings = {k: t for k, t in ctx.timings.items() if k != "avg"}
    by_method = {k: n for k, n in ctx.embeddings.items() if k != "avg"}
    by_method["s0"] += 2  # the pair's two reference embeddings are counted with S0

    stab = None
    total = scorer.n_embeddings
    if samples and samples > 1:
        t = time.perf_counter()
        st = stability(crop_a, crop_b, ma, mb, embed, fill, samples=samples, base=results["s0"].normalised,
                       regions=common, progress=lambda f: report("stability", f), first_seed=seed or 0)
        stab = st.to_dict()
        by_method["stability"] = st.n_embeddings
        total += st.n_embeddings
        timings["stability"] = time.perf_counter() - t
        if st.top_region_kept < 0.8:
            warnings.append(f"The top region ({st.top_region}) stayed on top in only "
                            f"{round(st.top_region_kept * 100)}% of {samples} repeated runs ({st.mode}).")

    rob = None
    if robustness:
        from . import robustness as robust

        t = time.perf_counter()
        independent = {m: dict(results[m].deltas) for m in registry.independent_methods() if m in results}
        rob, used = robust.assess(
            crop_a, crop_b, ma, mb, embed, fill, decision="match" if scorer.reference >= threshold else "non-match",
            main=dict(results["s0"].deltas), methods=independent, regions=common, scorer=scorer,
            alternative_fills=robust.DEFAULT_ALTERNATIVE_FILLS if alternative_fills is None else alternative_fills,
            jitter_samples=jitter_samples, batch_size=batch_size, progress=lambda f: report("robustness", f))
        by_method["robustness"] = used
        total += used
        timings["robustness"] = time.perf_counter() - t

    reference = scorer.reference
    counterfactual = find_counterfactual(results["s0"], results.get("s1"), reference, threshold)
    strength = assess_strength(results["s0"], results.get("s1"), reference, threshold, counterfactual["flips"])
    if strength["weak"]:
        warnings.append("Weak evidence: no single region moves the similarity by half the margin to the threshold.")
    if reference < threshold and one_sided:
        # measured by the region-swap evaluation (README, "How faithful are the maps?")
        warnings.append("Different people: hiding a region in both photos tends to make them more alike, so read the "
                        "one-sided columns S0 (A only) and S0 (B only) for which photo's region sets them apart; "
                        "in the region-swap evaluation they located a pasted region more often than S0.")
    return ArraysExplanation(
        reference=reference, threshold=float(threshold), decision="match" if reference >= threshold else "non-match",
        regions=common, absent=absent, results=results, fill_name=getattr(fill, "name", "custom"),
        strength=strength, counterfactual=counterfactual, stability=stab, robustness=rob, n_embeddings=total,
        n_embeddings_by_method=by_method, timings=timings, warnings=warnings)
