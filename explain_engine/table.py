"""The explainability table of the chatbot paper (§2.2, Table 1): importance 1-5 per region and method, Mean and
Ratio of 1s, plus rank agreement between methods.

Importance levels. The paper divides "the output range of the saliency heatmaps into five intervals" and gives 1 to
the most important region. Its heatmaps (Mery's S0-/S1-/S0+/S1+/AVG) are similarity maps where a higher value means
the region makes the faces MORE alike, so the paper ranks by the SIGNED value over the observed range [min, max].
We do the same by default (``by="signed"``): level 1 = the regions that most support the similarity, level 5 = those
that support it least or work against it. ``by="abs"`` ranks by |contribution| (most influential either way) for
readers who want "what moved the score most".

Decision-relative importance (``by="decision"``, rule code ``DECISION_RULE``; the words for the code live in
prompts/importance.yaml). The signed ranking above answers "which regions make the faces alike", which for a
non-match puts the regions that decided it (those that make the faces differ) at level 5, and gives level 1 to a
near-zero region whenever another is strongly negative. Relative to the decision instead:

- each region's raw change ΔS_i = S_ref - S_perturbed (similarity units; thesis eq. 3.1, positive = the region makes
  the faces alike) is turned towards the decision: t_i = ΔS_i for a match, -ΔS_i for a non-match;
- role: "supports" when t_i > floor (the region helped the decision: hiding it moved the score towards the
  threshold), "against" when t_i < -floor, "neutral" otherwise. ``floor`` is the noise floor in similarity units
  (default ``DEFAULT_NOISE_FLOOR``, raised to twice the jitter spread of the pair's score when that was measured:
  see explain_engine.robustness.noise_floor);
- level: the size of the effect |ΔS_i| on ONE shared scale [0, max_j |ΔS_j|] cut into five equal intervals
  (1 = the largest effects); a neutral region always gets the last level, so a near-zero effect never gets level 1
  just because another region is strongly negative. The role says on which side the level counts;
- the most important region is the supporting region with the largest t_i (the one that moved the score most in the
  direction of the decision); None when no region supports the decision above the floor.
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

LEVELS = 5
DECISION_RULE = "decision_relative_v1"  # words: prompts/importance.yaml, rules
SIGNED_RULE = "signed_range_v1"  # the chatbot paper's signed ranking over the observed range
ABS_RULE = "abs_range_v1"
# Changes of the cosine similarity smaller than this are treated as no effect when the pair's own jitter spread was
# not measured. 0.002 is about twice the sd of the dlib-torch score of a development pair under 1-2 px alignment
# jitters (measured with explain_engine.robustness.jitter_spread; see benchmarks/ note in the README).
DEFAULT_NOISE_FLOOR = 0.002
ROLES = ("supports", "against", "neutral")


def importance_levels(normalised: dict[str, float], *, by: str = "signed", levels: int = LEVELS,
                      value_range: tuple[float, float] | None = None) -> dict[str, int]:
    """Importance 1..levels per region (1 = most important).

    The range [lo, hi] (observed min/max of the values, or ``value_range``) is cut into ``levels`` equal intervals;
    a value v gets 1 + floor((hi - v) / width), so hi -> 1, lo -> levels (the top edge of each interval belongs to
    the more important level). When all values are equal: 1 if they are positive, else ``levels`` (nothing stands out
    and nothing supports the match). NaN/None values are skipped.
    """
    if by not in ("signed", "abs"):
        raise ValueError("by must be 'signed' or 'abs'")
    vals = {k: float(v) for k, v in normalised.items() if v is not None and not math.isnan(float(v))}
    if by == "abs":
        vals = {k: abs(v) for k, v in vals.items()}
    if not vals:
        return {}
    lo, hi = value_range if value_range is not None else (min(vals.values()), max(vals.values()))
    width = (hi - lo) / levels
    out = {}
    for k, v in vals.items():
        if width <= 1e-12:
            out[k] = 1 if v > 0 else levels
        else:
            out[k] = int(min(levels, max(1, 1 + math.floor((hi - v) / width + 1e-9))))
    return out


def decision_relative(deltas: dict[str, float], decision: str, *, noise_floor: float = DEFAULT_NOISE_FLOOR,
                      levels: int = LEVELS) -> dict[str, dict]:
    """Decision-relative importance of every region (rule ``DECISION_RULE``, see the module docstring).

    Args:
        deltas: {region: ΔS_i} raw change of the similarity when the region is hidden, S_ref - S_perturbed (cosine
            units; thesis eq. 3.1; for S1 the greedy H_neg - H_pos). NaN/None values are skipped.
        decision: "match" or "non-match" (the decision being explained).
        noise_floor: changes with |ΔS_i| <= noise_floor are "neutral" (cosine units, >= 0).
        levels: number of importance levels (chatbot paper: 5).

    Returns:
        {region: {"level": 1..levels (1 = largest effect), "role": "supports"|"against"|"neutral",
        "abs_change": |ΔS_i|, "toward_decision": t_i (ΔS_i for a match, -ΔS_i for a non-match)}}.

    Raises:
        ValueError: unknown decision, negative noise floor or fewer than 1 level.
    """
    if decision not in ("match", "non-match"):
        raise ValueError(f"decision must be 'match' or 'non-match', got {decision!r}")
    if noise_floor is None or not math.isfinite(float(noise_floor)) or noise_floor < 0:
        raise ValueError(f"noise_floor must be a finite number >= 0, got {noise_floor!r}")
    if levels < 1:
        raise ValueError("levels must be >= 1")
    sign = 1.0 if decision == "match" else -1.0
    vals = {k: float(v) for k, v in deltas.items() if v is not None and math.isfinite(float(v))}
    if not vals:
        return {}
    peak = max(abs(v) for v in vals.values())
    width = peak / levels
    out: dict[str, dict] = {}
    for k, v in vals.items():
        toward = sign * v
        size = abs(v)
        if size <= noise_floor:
            role, level = "neutral", levels
        else:
            role = "supports" if toward > 0 else "against"
            level = int(min(levels, max(1, 1 + math.floor((peak - size) / width + 1e-9)))) if width > 0 else 1
        out[k] = {"level": level, "role": role, "abs_change": size, "toward_decision": toward}
    return out


def most_important(importance: dict[str, dict]) -> str | None:
    """The supporting region with the largest effect towards the decision (``decision_relative`` output), or None
    when no region supports the decision above the noise floor."""
    sup = {r: d["toward_decision"] for r, d in importance.items() if d["role"] == "supports"}
    return max(sup, key=sup.get) if sup else None


def strongest_against(importance: dict[str, dict]) -> str | None:
    """The region that argued most strongly against the decision, or None."""
    ag = {r: -d["toward_decision"] for r, d in importance.items() if d["role"] == "against"}
    return max(ag, key=ag.get) if ag else None


def explainability_table(results: dict[str, dict[str, float]], *, regions: list[str] | None = None,  # noqa: C901 -- builds the table column by column (levels, changes, roles, Mean, Ratio of 1s), each a short step
                         by: str = "signed", contributions: bool = True,
                         summary_columns: list[str] | None = None, deltas: dict[str, dict[str, float]] | None = None,
                         decision: str | None = None, noise_floor: float = DEFAULT_NOISE_FLOOR) -> pd.DataFrame:
    """One row per region: importance (1-5) per method column (e.g. "S0", "S1", "AVG", "S0 black", "S0 (A only)"),
    optionally the signed normalised contribution per method ("<column> contribution"), then "Mean" (mean importance
    across methods; lower = more important) and "Ratio of 1s" (share of methods giving the region level 1).

    ``results``: {column name: {region: normalised contribution}}. Regions missing from a method get NaN there and
    are left out of its Mean / Ratio. Rows keep ``regions`` order (default: order of first appearance).
    ``summary_columns``: the columns that count as methods for Mean and Ratio of 1s (default: all). Variants of one
    method (the one-sided S0 columns) are shown but should not vote twice.
    """
    summary = set(results if summary_columns is None else summary_columns)
    if regions is None:
        regions = []
        for m in results.values():
            regions += [r for r in m if r not in regions]
    if by == "decision":
        if deltas is None or decision is None:
            raise ValueError('by="decision" needs the raw deltas per column and the decision')
        rel = {col: decision_relative(deltas.get(col, {}), decision, noise_floor=noise_floor) for col in results}
        levels = {col: {r: d["level"] for r, d in rel[col].items()} for col in results}
        rule = DECISION_RULE
    else:
        rel = {}
        levels = {col: importance_levels(vals, by=by) for col, vals in results.items()}
        rule = SIGNED_RULE if by == "signed" else ABS_RULE
    rows = []
    for r in regions:
        row: dict = {"region": r}
        got = []
        for col in results:
            lv = levels[col].get(r)
            row[col] = lv if lv is not None else np.nan
            if rel:
                info = rel[col].get(r)
                row[f"{col} role"] = info["role"] if info else None
                row[f"{col} change"] = info["abs_change"] if info else np.nan
            if lv is not None and col in summary:
                got.append((lv, rel[col][r]["role"] if rel else None))
        if contributions:
            for col, vals in results.items():
                v = vals.get(r)
                row[f"{col} contribution"] = float(v) if v is not None else np.nan
        row["Mean"] = float(np.mean([g for g, _ in got])) if got else np.nan
        ones = sum(1 for g, role in got if g == 1 and (role is None or role == "supports"))
        row["Ratio of 1s"] = float(ones / len(got)) if got else np.nan
        row["Level rule"] = rule
        rows.append(row)
    df = pd.DataFrame(rows)
    df.attrs["rule"] = rule
    for col in results:
        if col in df and not df[col].isna().any():
            df[col] = df[col].astype(int)
    return df


def method_agreement(results: dict[str, dict[str, float]]) -> dict[str, float | None]:
    """Spearman rank correlation of every pair of methods over their common regions: {"s0~s1": rho, ...}.
    None when it is undefined (fewer than 3 common regions, or a constant map)."""
    out: dict[str, float | None] = {}
    for (na, a), (nb, b) in itertools.combinations(results.items(), 2):
        common = [r for r in a if r in b and a[r] is not None and b[r] is not None]
        rho = None
        if len(common) >= 3:
            x = [a[r] for r in common]
            y = [b[r] for r in common]
            if np.ptp(x) > 0 and np.ptp(y) > 0:
                rho = float(spearmanr(x, y).statistic)
                rho = None if math.isnan(rho) else rho
        out[f"{na}~{nb}"] = rho
    return out


def importance_words() -> dict:
    """The words for this module's, heatmaps' and robustness' codes (prompts/importance.yaml), read once."""
    return _importance_words()


@functools.lru_cache(maxsize=1)
def _importance_words() -> dict:
    import prompts

    return prompts.read_data_file(prompts.PROMPTS_DIR / "importance.yaml")


def rule_text(rule: str, *, noise_floor: float | None = None) -> str:
    """The sentence for a level rule code (prompts/importance.yaml ``rules``); the code itself if unknown."""
    template = importance_words().get("rules", {}).get(rule)
    if not template:
        return rule
    return template.format(noise_floor=DEFAULT_NOISE_FLOOR if noise_floor is None else noise_floor,
                           jitter_share_pct="80%")
