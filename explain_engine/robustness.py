"""Robustness of a region explanation: does the leading region stay the leader when the fill changes, when the
alignment shifts by a pixel or two, and do independent methods agree?

Pure functions over aligned crops, region masks, fills and an embed callable (or a scoring.PairScorer); no model
objects, no file I/O. The record's ``robustness`` section (:func:`robustness_section`) has the layout agreed for
explanation.json::

    {"per_region": {region: {"change", "sd_fill", "sd_jitter", "by_fill": {fill: ΔS}, "mean_jitter"}},
     "fills": {fill: {"leading_region", "deltas"}}, "jitter": {"samples", "reference_sd", "leading_share"},
     "method_agreement": {"pairs": [{"a", "b", "spearman"}], "mean_independent"},
     "noise_floor", "leading_region", "leading_robust", "checks": {...}, "rule": "leading_robust_v2"}

All changes are ΔS_i = S_ref - S_perturbed in cosine-similarity units (thesis eq. 3.1; positive = the region makes
the faces alike). "Leading" is decision-relative (explain_engine.table.decision_relative): the supporting region
that moved the score most towards the threshold.

Rule ``ROBUST_RULE`` ("leading_robust_v2"; words in prompts/importance.yaml): the leading region of the main map is
called leading only when ALL of these hold, otherwise "no region leads robustly":

1. it supports the decision above the noise floor (``noise_floor``);
2. ``fill``: it is also the leading region under every alternative fill tried;
3. ``jitter``: it is the leading region in at least ``JITTER_SHARE`` (80%) of the alignment jitters;
4. ``margin``: its effect towards the decision exceeds the runner-up's by more than twice the larger of its sd
   over fills and its sd over jitters (so the lead is not within the spread of the measurement);
5. ``methods``: at least ``METHOD_SHARE`` (half) of the methods run that are independent of S0's ranking
   (:func:`confirming_methods`: S0 black, FGGB, CorrRISE, xFace occlusion, ...) name the same leading region. Not
   counted: S0 itself (the main map cannot confirm itself), S1 (its first greedy step hides S0's top region by
   construction, ``MethodSpec.seeded_by``) and maps built from others (``DERIVED``: AVG, the one-sided S0 variants,
   FGGB fast). Rule v1 counted S0 and S1 as well, so S0 and S1 alone made half of four methods.

The mean Spearman correlation of the region rankings of independent methods (``method_agreement``;
``mean_independent``, pairs where one map is built from the other never counted) is reported beside the rule, with
``AGREEMENT_MIN`` (0.5) as the level under which the record calls the methods' rankings "in disagreement"
(``rankings_agree``). It does not decide the leading region: over 8-12 regions the ranks of the many near-zero
regions are noise and pull the correlation down even when every method names the same leader.

A check that could not be run (no alternative fill, no jitter, no method independent of S0's ranking) is recorded
as None and does not count against the region, and the record says so. A section written under rule v1 is judged
again by :func:`current` from the leading regions it stored, so an older record never reads as more robust than
the current rule allows.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence

import numpy as np
from scipy.stats import spearmanr

from .attribution.single import single_inpaint
from .attribution.stability import JITTERS, shift_image, shift_mask
from .scoring import PairScorer
from .table import DEFAULT_NOISE_FLOOR, decision_relative, most_important

ROBUST_RULE = "leading_robust_v2"
MAIN_METHOD = "s0"  # the main map whose leading region the rule judges
JITTER_SHARE = 0.8
AGREEMENT_MIN = 0.5
METHOD_SHARE = 0.5
JITTER_FLOOR_FACTOR = 2.0  # noise floor = max(DEFAULT_NOISE_FLOOR, 2 x sd of the pair's score over the jitters)
DEFAULT_ALTERNATIVE_FILLS = ("inpaint:ns", "blur")  # cheap, offline, deterministic (OpenCV Navier-Stokes, Gaussian)


def _derived() -> dict[str, tuple[str, ...]]:
    """map -> the maps it is computed from, from the method registry: a method that is not independent is built
    from what it ``requires`` (AVG from S0 and S1), a variant from its parent (S0 (A only) from S0). Such pairs are
    never correlated: that would count one measurement twice."""
    from .methods import METHODS

    out: dict[str, tuple[str, ...]] = {}
    for m in METHODS:
        if m.variant_of is not None:
            out[m.key] = (m.variant_of[0],)
        elif not m.independent:
            out[m.key] = tuple(m.requires)
    return out


DERIVED = _derived()


def _seeded() -> dict[str, tuple[str, ...]]:
    from .methods import METHODS

    return {m.key: tuple(m.seeded_by) for m in METHODS if m.seeded_by}


SEEDED = _seeded()


def confirming_methods(methods: Sequence[str], main: str = MAIN_METHOD) -> list[str]:
    """The methods among ``methods`` whose leading region can confirm ``main``'s: not ``main`` itself, not built
    from other maps (``DERIVED``) and not seeded by ``main``'s ranking (``SEEDED``: S1 starts by hiding S0's top
    region). Order kept."""
    return [m for m in methods if m != main and m not in DERIVED and main not in SEEDED.get(m, ())]


def fill_spread(scorer: PairScorer, masks_a: dict[str, np.ndarray], masks_b: dict[str, np.ndarray],
                fills: dict[str, Callable], *, regions: Sequence[str]) -> dict[str, dict[str, float]]:
    """S0 (both photos) under each fill: {fill name: {region: ΔS_i}} in cosine units.

    Args:
        scorer: PairScorer on the aligned crops (its reference embeddings are reused: 2R embeddings per fill).
        masks_a, masks_b: {region: (H, W) bool} on the crops.
        fills: {name: Fill} (perturbation.make_fill), e.g. {"inpaint:ns": ..., "blur": ...}.
        regions: the regions to attribute (present in both photos).
    """
    out = {}
    for name, fill in fills.items():
        res = single_inpaint(None, None, masks_a, masks_b, scorer, fill, variants=("both",), regions=list(regions))
        out[name] = dict(res["both"].deltas)
    return out


def jitter_spread(crop_a: np.ndarray, crop_b: np.ndarray, masks_a: dict[str, np.ndarray],
                  masks_b: dict[str, np.ndarray], embed: Callable, fill: Callable, *, regions: Sequence[str],
                  samples: int = 4, batch_size: int = 32) -> dict:
    """S0 (both photos) under ``samples`` small alignment jitters (stability.JITTERS: 1-2 px shifts of the crops and
    masks, opposite directions for A and B, so the pair's relative alignment changes).

    Args:
        crop_a, crop_b: (H, W, 3) uint8 aligned crops; masks_*: {region: (H, W) bool}; embed: (N,H,W,3) -> (N,D);
        fill: the main Fill; regions: regions to attribute; samples: number of jitters (1..16).

    Returns:
        {"runs": [{region: ΔS_i}] (cosine units), "references": [S_ref of each jittered pair],
        "reference_sd": sd of those references (ddof=1; 0.0 for one sample), "n_embeddings": int}.

    Raises:
        ValueError: samples < 1.
    """
    if samples < 1:
        raise ValueError("samples must be >= 1")
    runs, refs, used = [], [], 0
    for k in range(samples):
        dx, dy = JITTERS[k % len(JITTERS)]
        a, b = shift_image(crop_a, dx, dy), shift_image(crop_b, -dx, -dy)
        ma = {r: shift_mask(masks_a[r], dx, dy) for r in regions}
        mb = {r: shift_mask(masks_b[r], -dx, -dy) for r in regions}
        scorer = PairScorer(embed, a, b, batch_size=batch_size)
        res = single_inpaint(None, None, ma, mb, scorer, fill, variants=("both",), regions=list(regions))["both"]
        runs.append(dict(res.deltas))
        refs.append(scorer.reference)
        used += scorer.n_embeddings
    sd = float(np.std(refs, ddof=1)) if len(refs) > 1 else 0.0
    return {"runs": runs, "references": [float(r) for r in refs], "reference_sd": sd, "n_embeddings": used}


def noise_floor(reference_sd: float | None) -> float:
    """Noise floor of a region change, cosine units: max(DEFAULT_NOISE_FLOOR, JITTER_FLOOR_FACTOR x the sd of the
    pair's score over alignment jitters). A change no larger than this cannot be told from re-aligning the faces."""
    if reference_sd is None or not math.isfinite(float(reference_sd)):
        return DEFAULT_NOISE_FLOOR
    return max(DEFAULT_NOISE_FLOOR, JITTER_FLOOR_FACTOR * float(reference_sd))


def independent_pairs(methods: Sequence[str]) -> list[tuple[str, str]]:
    """Pairs of methods whose agreement means something: neither is built from the other (``DERIVED``) and both are
    not variants of the same map."""
    out = []
    for a, b in itertools.combinations(methods, 2):
        pa, pb = set(DERIVED.get(a, ())), set(DERIVED.get(b, ()))
        if b in pa or a in pb or (pa & pb) or (pa and pb):
            continue
        out.append((a, b))
    return out


def method_agreement(deltas: dict[str, dict[str, float]]) -> dict:
    """Spearman rank correlation between independent methods over their common regions.

    Args:
        deltas: {method key: {region: ΔS_i or normalised contribution}} (ranks are the same for both).

    Returns:
        {"pairs": [{"a", "b", "spearman" (None when undefined: < 3 common regions or a constant map)}],
        "mean_independent": mean of the defined rhos or None, "methods": the method keys compared}.
    """
    pairs = []
    for a, b in independent_pairs(list(deltas)):
        x, y = deltas[a], deltas[b]
        common = [r for r in x if r in y and _finite(x[r]) and _finite(y[r])]
        rho = None
        if len(common) >= 3:
            xs, ys = [x[r] for r in common], [y[r] for r in common]
            if np.ptp(xs) > 0 and np.ptp(ys) > 0:
                rho = float(spearmanr(xs, ys).statistic)
                rho = None if math.isnan(rho) else rho
        pairs.append({"a": a, "b": b, "spearman": rho})
    defined = [p["spearman"] for p in pairs if p["spearman"] is not None]
    return {"pairs": pairs, "mean_independent": float(np.mean(defined)) if defined else None,
            "methods": list(deltas)}


def robustness_section(main: dict[str, float], decision: str, *, fills: dict[str, dict[str, float]] | None = None,
                       jitter: dict | None = None, methods: dict[str, dict[str, float]] | None = None,
                       main_fill: str = "main", floor: float | None = None) -> dict:
    """The ``robustness`` section of explanation.json from measured changes (rule ``ROBUST_RULE``).

    Args:
        main: {region: ΔS_i} of the main map (S0 with the chosen fill), cosine units.
        decision: "match" | "non-match".
        fills: {alternative fill name: {region: ΔS_i}} from :func:`fill_spread` (None / {} = not measured).
        jitter: :func:`jitter_spread` output (None = not measured).
        methods: {method key: {region: ΔS_i}} of the methods run (for agreement; derived maps are skipped).
        main_fill: the main fill's name (a key of the per-region ``by_fill``).
        floor: noise floor in cosine units (default :func:`noise_floor` of the jitter's reference sd).

    Returns:
        the section described in the module docstring (plain JSON types).
    """
    fills = dict(fills or {})
    runs = list((jitter or {}).get("runs") or [])
    if floor is None:
        floor = noise_floor((jitter or {}).get("reference_sd"))
    regions = list(main)
    per_region: dict[str, dict] = {}
    for r in regions:
        by_fill = {main_fill: float(main[r])}
        by_fill.update({f: float(d[r]) for f, d in fills.items() if r in d})
        jit = [float(run[r]) for run in runs if r in run]
        per_region[r] = {
            "change": float(main[r]),
            "by_fill": by_fill,
            "sd_fill": float(np.std(list(by_fill.values()), ddof=1)) if len(by_fill) > 1 else None,
            "mean_jitter": float(np.mean(jit)) if jit else None,
            "sd_jitter": float(np.std(jit, ddof=1)) if len(jit) > 1 else None,
        }
    rel = decision_relative(main, decision, noise_floor=floor)
    leader = most_important(rel)
    fill_leaders = {f: most_important(decision_relative(d, decision, noise_floor=floor)) for f, d in fills.items()}
    jitter_leaders = [most_important(decision_relative(run, decision, noise_floor=floor)) for run in runs]
    agreement = method_agreement(methods) if methods else {"pairs": [], "mean_independent": None, "methods": []}

    checks: dict[str, bool | None] = {"supports": leader is not None}
    checks["fill"] = None if not fills else all(v == leader for v in fill_leaders.values())
    share = float(np.mean([j == leader for j in jitter_leaders])) if jitter_leaders else None
    checks["jitter"] = None if share is None else bool(share >= JITTER_SHARE)
    if leader is not None:
        others = sorted((d["toward_decision"] for r, d in rel.items() if r != leader), reverse=True)
        gap = rel[leader]["toward_decision"] - (others[0] if others else 0.0)
        spreads = [s for s in (per_region[leader]["sd_fill"], per_region[leader]["sd_jitter"]) if s is not None]
        checks["margin"] = None if not spreads else bool(gap > 2 * max(spreads))
    else:
        gap = None
        checks["margin"] = None
    mean_rho = agreement["mean_independent"]
    independent = [m for m in (methods or {}) if m not in DERIVED]
    method_leaders = {m: most_important(decision_relative(methods[m], decision, noise_floor=floor))
                      for m in independent}
    counted = confirming_methods(independent)
    method_share = float(np.mean([method_leaders[m] == leader for m in counted])) if counted else None
    checks["methods"] = None if method_share is None else bool(method_share >= METHOD_SHARE)
    agreement = {**agreement, "leading_regions": method_leaders, "counted": counted, "leading_share": method_share,
                 "rankings_agree": None if mean_rho is None else bool(mean_rho >= AGREEMENT_MIN)}
    robust = leader is not None and all(v is not False for v in checks.values())
    return {
        "per_region": per_region,
        "fills": {f: {"leading_region": fill_leaders[f], "deltas": {r: float(v) for r, v in d.items()}}
                  for f, d in fills.items()},
        "main_fill": main_fill,
        "jitter": None if jitter is None else {
            "samples": len(runs), "reference_sd": (jitter or {}).get("reference_sd"),
            "leading_share": share, "leading_regions": jitter_leaders},
        "method_agreement": agreement,
        "noise_floor": float(floor),
        "candidate_region": leader,
        "lead_gap": None if gap is None else float(gap),
        "leading_region": leader if robust else None,
        "leading_robust": bool(robust),
        "checks": checks,
        "not_measured": [k for k, v in checks.items() if v is None],
        "rule": ROBUST_RULE,
        "thresholds": {"jitter_share": JITTER_SHARE, "agreement_min": AGREEMENT_MIN,
                       "floor_factor": JITTER_FLOOR_FACTOR, "method_share": METHOD_SHARE},
    }


def current(section: dict) -> dict:
    """``section`` judged by the current rule: a section written under rule v1 (which counted S0 and S1 as
    confirming S0's leading region) gets its ``methods`` check, ``leading_share``, ``leading_robust`` and
    ``leading_region`` recomputed from the leading regions it stored, and ``rule`` set to ``ROBUST_RULE``; any other
    section is returned unchanged. Never makes a region more robust than the record said.

    Args:
        section: a record's ``robustness`` section (plain JSON types; not modified).

    Returns:
        the section as the current rule judges it (a copy when anything changed).
    """
    agreement = section.get("method_agreement") if isinstance(section, dict) else None
    if section.get("rule") != "leading_robust_v1" or not isinstance(agreement, dict) \
            or not isinstance(agreement.get("leading_regions"), dict) or not isinstance(section.get("checks"), dict):
        return section
    leaders = agreement["leading_regions"]
    candidate = section.get("candidate_region")
    counted = confirming_methods(list(leaders))
    share = float(np.mean([leaders[m] == candidate for m in counted])) if counted else None
    checks = {**section["checks"], "methods": None if share is None else bool(share >= METHOD_SHARE)}
    robust = bool(section.get("leading_robust")) and checks["methods"] is not False
    return {**section, "checks": checks, "rule": ROBUST_RULE,
            "method_agreement": {**agreement, "counted": counted, "leading_share": share},
            "leading_robust": robust, "leading_region": candidate if robust else None,
            "not_measured": [k for k, v in checks.items() if v is None]}


def _finite(v) -> bool:
    return v is not None and math.isfinite(float(v))


def build_fill(name: str, source_mask: np.ndarray | None = None):
    """A Fill from its record name: "inpaint:telea", "inpaint:ns" (OpenCV), or a plain strategy ("blur", "black",
    "mean"). Raises models.errors.ConfigError for anything else."""
    from models.errors import ConfigError

    from .perturbation import make_fill

    if name.startswith("inpaint:"):
        backend = name.split(":", 1)[1]
        if backend not in ("telea", "ns"):
            raise ConfigError(f"no offline builder for the fill {name!r}; use inpaint:telea, inpaint:ns or a strategy")
        from models.inpainting.classical import OpenCVInpainter

        return make_fill("inpaint", OpenCVInpainter(backend), source_mask=source_mask)
    return make_fill(name, source_mask=source_mask)


def assess(crop_a: np.ndarray, crop_b: np.ndarray, masks_a: dict[str, np.ndarray], masks_b: dict[str, np.ndarray],
           embed: Callable, fill: Callable, *, decision: str, main: dict[str, float],
           methods: dict[str, dict[str, float]] | None = None, regions: Sequence[str] | None = None,
           alternative_fills: Sequence[str] = DEFAULT_ALTERNATIVE_FILLS, jitter_samples: int = 4,
           batch_size: int = 32, scorer: PairScorer | None = None,
           progress: Callable[[float], None] | None = None) -> tuple[dict, int]:
    """Measure and judge robustness in one call: :func:`fill_spread` over ``alternative_fills`` (the main fill's own
    name is skipped), :func:`jitter_spread` over ``jitter_samples`` jitters (0 = none), then
    :func:`robustness_section`.

    Args: as the functions above; ``main``: {region: ΔS_i} of the main S0 map; ``scorer``: a PairScorer on the
    unjittered crops to reuse (else one is built: 2 more embeddings).

    Returns:
        (section, number of images embedded). Cost: 2R per alternative fill + (2R + 2) per jitter.
    """
    regions = list(regions if regions is not None else main)
    main_name = getattr(fill, "name", "main")
    used = 0
    if scorer is None:
        scorer = PairScorer(embed, crop_a, crop_b, batch_size=batch_size)
        used += scorer.n_embeddings
    before = scorer.n_embeddings
    alt = {n: build_fill(n) for n in alternative_fills if n != main_name}
    fills = fill_spread(scorer, masks_a, masks_b, alt, regions=regions) if alt else {}
    used += scorer.n_embeddings - before
    if progress:
        progress(0.4)
    jitter = None
    if jitter_samples and jitter_samples > 0:
        jitter = jitter_spread(crop_a, crop_b, masks_a, masks_b, embed, fill, regions=regions,
                               samples=jitter_samples, batch_size=batch_size)
        used += jitter["n_embeddings"]
    if progress:
        progress(1.0)
    section = robustness_section(main, decision, fills=fills, jitter=jitter, methods=methods, main_fill=main_name)
    return section, used


def statement(section: dict) -> str:
    """The robustness verdict in words (prompts/importance.yaml ``statements`` and ``checks``): which region leads
    robustly and why, or that none does and which checks failed; the checks that were not run are named."""
    from .table import importance_words

    words = importance_words()
    checks_words, says = words.get("checks", {}), words.get("statements", {})
    section = current(section)
    fields = _check_fields(section)
    checks = section.get("checks") or {}
    candidate = section.get("candidate_region")
    if candidate is None:
        return says["no_candidate"].format(noise_floor=float(section.get("noise_floor") or 0.0))
    held = [checks_words[k]["held"].format(**fields) for k, v in checks.items() if v is True and k in checks_words]
    failed = [checks_words[k]["failed"].format(**fields) for k, v in checks.items()
              if v is False and k in checks_words]
    name = _region_words(candidate)
    if section.get("leading_robust"):
        text = says["leading_robust"].format(region=name, reasons="; ".join(held))
    else:
        text = says["no_robust_leader"].format(region=name, failed="; ".join(failed))
    names = words.get("check_names", {})
    missing = [names.get(k, k) for k in section.get("not_measured") or [] if k in checks_words]
    if missing:
        text += " " + says["not_measured"].format(checks="; ".join(missing))
    return text


def _region_words(name: str) -> str:
    for side in ("left", "right"):
        if name.startswith(side + "_"):
            return f"{name[len(side) + 1:].replace('_', ' ')} (person's {side})"
    return name.replace("_", " ")


def _check_fields(section: dict) -> dict:
    jitter = section.get("jitter") or {}
    agreement = section.get("method_agreement") or {}
    share, n = jitter.get("leading_share"), jitter.get("samples") or 0
    mshare = agreement.get("leading_share")
    counted = agreement.get("counted")
    if not isinstance(counted, list):
        counted = confirming_methods(list(agreement.get("leading_regions") or {}))
    changed = [f for f, v in (section.get("fills") or {}).items()
               if v.get("leading_region") != section.get("candidate_region")]
    return {
        "fills": ", ".join(section.get("fills") or {}) or "none",
        "fills_changed": ", ".join(changed) or "none",
        "jitter_pct": "n/a" if share is None else f"{round(100 * share)}%",
        "jitter_n": n,
        "methods_pct": "n/a" if mshare is None else f"{round(100 * mshare)}%",
        "methods": ", ".join(_method_column(m) for m in counted) or "none",
        "methods_n": len(counted),
        "methods_agree": sum(1 for m in counted
                             if (agreement.get("leading_regions") or {}).get(m) == section.get("candidate_region")),
    }


def _method_column(key: str) -> str:
    from models.errors import ConfigError

    from .methods import get_method

    try:
        return get_method(key).column
    except ConfigError:  # a key this version does not know (an older or newer record): shown as stored
        return str(key)
