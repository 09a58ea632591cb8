"""The registry of attribution methods: one entry per method, read by the engine, the record, the table, the CLI,
the app and the chatbot.

An entry holds the method's structure (table column, whether it is drawn as a heatmap, whether it votes in Mean /
Ratio of 1s, whether it is independent of the others for agreement figures, what it needs) and how to compute it from
a :class:`RunContext`. Its words (name, short name, label, description, question phrases) live in
``prompts/vocabulary.yaml`` under ``methods``. Adding a method = one :class:`MethodSpec` in :data:`METHODS`, its words
in that file, and its algorithm under :mod:`explain_engine.attribution`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from models.errors import ConfigError

from .attribution import GreedyInpaint, Occlusion, SingleInpaint, average_results
from .attribution.types import AttributionResult
from .scoring import PairScorer


@dataclass
class RunContext:
    """What a method computes from: the pair's scorer, the fill, the region masks and the results so far.

    Attributes:
        scorer: the pair's :class:`PairScorer` (aligned crops, reference embeddings, cosine similarity).
        fill: the perturbation fill of the run.
        masks_a, masks_b: {region: (H, W) bool mask} on the aligned crops.
        regions: the regions present in both photos, in region-set order.
        results: results computed so far, by method key (a method reads what it ``requires``).
        make_fill: builds a fill by strategy name ("black", ...), the way the caller builds fills.
        options: per-method options by method key (e.g. {"s1": {"max_steps": 3}, "occlusion": {"stride": 7}}).
        one_sided: also keep S0's one-sided variants.
        progress: progress(stage, fraction) callback.
        model: the face model (a :class:`models.base.DifferentiableEmbedder` for FGGB), None for an embed callable.
        threshold: the cosine decision threshold.
    """

    scorer: PairScorer
    fill: Callable
    masks_a: dict[str, np.ndarray]
    masks_b: dict[str, np.ndarray]
    regions: list[str]
    results: dict[str, AttributionResult] = field(default_factory=dict)
    make_fill: Callable[[str], Callable] | None = None
    options: dict[str, dict] = field(default_factory=dict)
    one_sided: bool = True
    progress: Callable[[str, float], None] | None = None
    timings: dict[str, float] = field(default_factory=dict)  # seconds per computed method
    model: object | None = None  # the face model itself, for methods that need its gradients (FGGB)
    threshold: float | None = None  # the decision threshold (FGGB re-balances its weights with it)
    embeddings: dict[str, int] = field(default_factory=dict)  # images embedded per computed method

    def report(self, stage: str) -> Callable[[float], None]:
        """A fraction-only progress callback for one stage."""
        report = self.progress or (lambda s, f: None)
        return lambda fraction: report(stage, fraction)


@dataclass(frozen=True)
class MethodSpec:
    """One attribution method.

    Attributes:
        key: the method key used everywhere (record, CLI ``--methods``, file names).
        column: its explainability-table column name.
        compute: RunContext -> AttributionResult (None for variants, which come with their parent's result).
        requires: method keys that must be computed first (their results are in ``RunContext.results``).
        requestable: can be asked for with ``--methods``.
        drawn: drawn as a heatmap.
        votes: counts in the table's Mean / Ratio of 1s.
        independent: computed independently of the other methods (AVG is not: it is built from S0 and S1), so it
            may enter agreement figures.
        variant_of: (parent key, variant) for a result that comes with its parent's run (S0's one-sided variants).
        seeded_by: methods whose ranking this one starts from by construction, so its leading region cannot confirm
            theirs (S1: its first greedy step hides S0's top region). Such a method stays ``independent`` for the
            rank correlations, but the robustness rule (explain_engine.robustness) never counts it as confirming
            the leading region of a map it is seeded by.
        needs_gradients: needs a face model that exposes gradients.
        cost: rough relative cost (S0 = 1), to weigh the stages of one progress bar.
        colour: the method's colour in charts (kept clear of the red/blue that means support/against in maps).
    """

    key: str
    column: str
    compute: Callable[[RunContext], AttributionResult] | None = None
    requires: tuple[str, ...] = ()
    requestable: bool = True
    drawn: bool = True
    votes: bool = True
    independent: bool = True
    variant_of: tuple[str, str] | None = None
    seeded_by: tuple[str, ...] = ()
    needs_gradients: bool = False
    cost: float = 1.0
    colour: str = "#777777"

    @property
    def words(self) -> dict:
        """The method's words from prompts/vocabulary.yaml ({"name", "short", "label", "description", "phrases"})."""
        return _method_words().get(self.key, {})

    @property
    def name(self) -> str:
        return self.words.get("name", self.column)

    @property
    def short(self) -> str:
        return self.words.get("short", self.column)

    @property
    def label(self) -> str:
        return self.words.get("label", self.name)

    @property
    def description(self) -> str:
        return self.words.get("description", self.name)


@lru_cache(maxsize=1)
def _method_words() -> dict:
    from prompts import PROMPTS_DIR, read_data_file

    return read_data_file(PROMPTS_DIR / "vocabulary.yaml").get("methods", {})


# ---------------------------------------------------------------------------------------------------------------
# How each method is computed from the run's context
# ---------------------------------------------------------------------------------------------------------------
def _s0(ctx: RunContext) -> AttributionResult:
    variants = ("both", "a", "b") if ctx.one_sided else ("both",)
    return SingleInpaint(ctx.scorer, ctx.fill).attribute(ctx.masks_a, ctx.masks_b, regions=ctx.regions,
                                                         variants=variants, progress=ctx.report("s0"))


def _s1(ctx: RunContext) -> AttributionResult:
    s0 = ctx.results["s0"]  # S1's first step is S0's work: reuse its fills and scores
    return GreedyInpaint(ctx.scorer, ctx.fill).attribute(
        ctx.masks_a, ctx.masks_b, s0_fills=s0.details["fills"], s0_scores=s0.details["scores"],
        progress=ctx.report("s1"), **ctx.options.get("s1", {}))


def _avg(ctx: RunContext) -> AttributionResult:
    return average_results([ctx.results["s0"], ctx.results["s1"]])


def _s0_black(ctx: RunContext) -> AttributionResult:
    black = ctx.options.get("s0_black", {}).get("fill")
    if black is None:
        if ctx.make_fill is None:
            from .perturbation import make_fill

            black = make_fill("black")
        else:
            black = ctx.make_fill("black")
    return SingleInpaint(ctx.scorer, black, method="s0_black").attribute(
        ctx.masks_a, ctx.masks_b, regions=ctx.regions, variants=("both",), progress=ctx.report("s0_black"))


def _occlusion(ctx: RunContext) -> AttributionResult:
    return Occlusion(ctx.scorer).attribute(ctx.masks_a, ctx.masks_b, regions=ctx.regions,
                                           progress=ctx.report("occlusion"), **ctx.options.get("occlusion", {}))


def _fggb(ctx: RunContext) -> AttributionResult:
    from .attribution.fggb import FGGB

    return FGGB(ctx.scorer, ctx.model, threshold=ctx.threshold).attribute(
        ctx.masks_a, ctx.masks_b, regions=ctx.regions, progress=ctx.report("fggb"), **ctx.options.get("fggb", {}))


def _fggb_fast(ctx: RunContext) -> AttributionResult:
    from .attribution.fggb import FGGBFast

    return FGGBFast(ctx.scorer, ctx.model, threshold=ctx.threshold).attribute(
        ctx.masks_a, ctx.masks_b, regions=ctx.regions, progress=ctx.report("fggb_fast"),
        **ctx.options.get("fggb_fast", {}))


def _corrrise(ctx: RunContext) -> AttributionResult:
    from .attribution.corrrise import CorrRISE

    return CorrRISE(ctx.scorer, threshold=ctx.threshold).attribute(
        ctx.masks_a, ctx.masks_b, regions=ctx.regions, progress=ctx.report("corrrise"),
        **ctx.options.get("corrrise", {}))


METHODS: tuple[MethodSpec, ...] = (
    MethodSpec("s0", "S0", _s0, colour="#8e6bbf"),
    # S1 stays independent for the rank correlations: from its second step on it measures each region with the
    # regions hidden before it, which S0's map does not contain, so its ranking is not computed from S0's. Its first
    # step, however, hides S0's top region by construction (greedy.py reuses S0's scores), so its leading region
    # agreeing with S0's is nearly automatic: ``seeded_by`` keeps it out of the check that other methods confirm
    # S0's leading region (robustness rule leading_robust_v2).
    MethodSpec("s1", "S1", _s1, requires=("s0",), seeded_by=("s0",), cost=4.0, colour="#e69f00"),
    MethodSpec("avg", "AVG", _avg, requires=("s0", "s1"), independent=False, cost=0.0, colour="#3d3d3d"),
    MethodSpec("s0_black", "S0 black", _s0_black, colour="#b0b0b0"),
    MethodSpec("s0_a_only", "S0 (A only)", requestable=False, drawn=False, votes=False, independent=False,
               variant_of=("s0", "a")),
    MethodSpec("s0_b_only", "S0 (B only)", requestable=False, drawn=False, votes=False, independent=False,
               variant_of=("s0", "b")),
    # pixel-level maps (issue 14): a similarity and a dissimilarity map per photo, reduced to region columns
    MethodSpec("fggb", "FGGB", _fggb, needs_gradients=True, cost=25.0, colour="#66a61e"),
    # an approximation of FGGB (a listed deviation), so not independent of it for agreement figures
    MethodSpec("fggb_fast", "FGGB fast", _fggb_fast, needs_gradients=True, independent=False, cost=6.0,
               colour="#a6d854"),
    MethodSpec("corrrise", "CorrRISE", _corrrise, cost=80.0, colour="#a6761d"),
    MethodSpec("occlusion", "xFace occlusion", _occlusion, cost=100.0, colour="#1b9e77"),
)
"""Every method, in table-column order (the one-sided variants follow the methods, then the baseline)."""

_BY_KEY = {m.key: m for m in METHODS}
ALWAYS = ("s0",)  # S0 is always computed: S1's first step and the strength statement need it
DEFAULT_METHODS = ("s0", "s1", "s0_black")


def get_method(key: str) -> MethodSpec:
    """The registry entry of ``key``.

    Raises:
        ConfigError: an unknown key (the message lists the known ones).
    """
    try:
        return _BY_KEY[key]
    except KeyError:
        raise ConfigError(f"unknown method {key!r}; choose from {', '.join(requestable_methods())}") from None


def method_keys() -> list[str]:
    return [m.key for m in METHODS]


def requestable_methods() -> list[str]:
    """Keys that ``--methods`` accepts."""
    return [m.key for m in METHODS if m.requestable]


def drawn_methods() -> list[str]:
    """Keys drawn as heatmaps, in order."""
    return [m.key for m in METHODS if m.drawn]


def variant_methods() -> list[str]:
    """Keys of results that come with their parent's run (S0's one-sided variants)."""
    return [m.key for m in METHODS if m.variant_of is not None]


def independent_methods() -> list[str]:
    """Keys computed independently of the others (for agreement figures)."""
    return [m.key for m in METHODS if m.independent]


def column_name(key: str) -> str:
    return get_method(key).column


def parse_methods(text: str | None) -> tuple[str, ...]:
    """Parse a comma-separated ``--methods`` value ("s0,s1,occlusion").

    Raises:
        ConfigError: an empty list or a key that cannot be requested.
    """
    if text is None:
        return DEFAULT_METHODS
    keys = tuple(k.strip().lower() for k in str(text).split(",") if k.strip())
    if not keys:
        raise ConfigError(f"--methods is empty; choose from {', '.join(requestable_methods())}")
    plan(keys)
    return keys


def plan(requested) -> list[str]:
    """The method keys to compute, in dependency order, for the ``requested`` keys (S0 always; AVG with S0 and S1).

    Raises:
        ConfigError: an unknown or non-requestable key.
    """
    bad = [k for k in requested if k not in _BY_KEY or not _BY_KEY[k].requestable]
    if bad:
        raise ConfigError(f"unknown method(s) {', '.join(bad)}; choose from {', '.join(requestable_methods())}")
    wanted = set(ALWAYS) | set(requested)
    if "s1" in wanted:  # AVG comes whenever S0 and S1 both run
        wanted.add("avg")
    order: list[str] = []

    def add(key: str) -> None:
        for dep in _BY_KEY[key].requires:
            add(dep)
        if key not in order:
            order.append(key)

    for spec in METHODS:
        if spec.key in wanted and spec.compute is not None:
            add(spec.key)
    return order


def run_methods(ctx: RunContext, requested) -> dict[str, AttributionResult]:
    """Compute the planned methods into ``ctx.results`` and add their variants' results.

    Returns:
        {method key: AttributionResult}, including variant keys (e.g. "s0_a_only") when their parent ran; the
        seconds and embeddings each method took are in ``ctx.timings`` / ``ctx.embeddings``.
    """
    for key in plan(requested):
        start, before = time.perf_counter(), ctx.scorer.n_embeddings
        ctx.results[key] = _BY_KEY[key].compute(ctx)
        ctx.timings[key] = time.perf_counter() - start
        ctx.embeddings[key] = ctx.scorer.n_embeddings - before
    for spec in METHODS:
        if spec.variant_of is not None:
            parent, variant = spec.variant_of
            res = ctx.results.get(parent)
            if res is not None and variant in res.variants:
                ctx.results[spec.key] = res.variants[variant]
    return ctx.results
