"""The explainability table of the chatbot paper (§2.2, Table 1): importance 1-5 per region and method, Mean and
Ratio of 1s, plus rank agreement between methods.

Importance levels. The paper divides "the output range of the saliency heatmaps into five intervals" and gives 1 to
the most important region. Its heatmaps (Mery's S0-/S1-/S0+/S1+/AVG) are similarity maps where a higher value means
the region makes the faces MORE alike, so the paper ranks by the SIGNED value over the observed range [min, max].
We do the same by default (``by="signed"``): level 1 = the regions that most support the similarity, level 5 = those
that support it least or work against it. ``by="abs"`` ranks by |contribution| (most influential either way) for
readers who want "what moved the score most".
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

LEVELS = 5


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


def explainability_table(results: dict[str, dict[str, float]], *, regions: list[str] | None = None,
                         by: str = "signed", contributions: bool = True,
                         summary_columns: list[str] | None = None) -> pd.DataFrame:
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
    levels = {col: importance_levels(vals, by=by) for col, vals in results.items()}
    rows = []
    for r in regions:
        row: dict = {"region": r}
        got = []
        for col in results:
            lv = levels[col].get(r)
            row[col] = lv if lv is not None else np.nan
            if lv is not None and col in summary:
                got.append(lv)
        if contributions:
            for col, vals in results.items():
                v = vals.get(r)
                row[f"{col} contribution"] = float(v) if v is not None else np.nan
        row["Mean"] = float(np.mean(got)) if got else np.nan
        row["Ratio of 1s"] = float(sum(1 for g in got if g == 1) / len(got)) if got else np.nan
        rows.append(row)
    df = pd.DataFrame(rows)
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
