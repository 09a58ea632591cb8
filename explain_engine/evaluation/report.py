"""Turn per-pair records into the evaluation outputs: CSVs of every number, PNG plots, report.md, summary.json."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from . import metrics
from .region_swap import VARIANTS, swap_outcomes
from .runner import METHOD_KEYS

THESIS_TABLE_4_3 = {"Black Mask": (30.04, 25.45), "Inpainting": (21.99, 45.90)}  # CelebAMask-HQ, their model
ROW_NAMES = {"s0/black": "S0 black mask", "s0/inpaint": "S0 inpainting", "s1/black": "S1 black mask",
             "s1/inpaint": "S1 inpainting", "xface/occlusion": "xFace occlusion (method 3)", "fggb": "FGGB",
             "fggb_fast": "FGGB fast", "corrrise": "CorrRISE", "random": "Random order"}
DFV_TABLE_II_LFW = {"Gradient": 89.68, "xFace": 90.14, "DFV": 90.39}  # hiding-game AUC on LFW, their ArcFace


def _nan_to_none(x):
    return None if x is None or (isinstance(x, float) and not np.isfinite(x)) else x


def curve_tables(records: Sequence[dict], threshold: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-trial similarity curves, aggregated curves): one trial = one side of one genuine pair perturbed.
    ``threshold``: decide every trial with this one (default: the threshold stored with each record)."""
    rows = []
    for rec in records:
        if rec.get("status") != "ok" or "curves" not in rec:
            continue
        for method, kinds in rec["curves"].items():
            for kind, sides in kinds.items():
                for side, sims in zip("ab", sides):
                    for f, s in zip(rec["fractions"], sims):
                        rows.append({"pair": rec["key"], "label": rec["label"], "method": method, "kind": kind,
                                     "side": side, "fraction": f, "similarity": s,
                                     "threshold": rec["threshold"] if threshold is None else threshold})
    trials = pd.DataFrame(rows)
    if trials.empty:
        return trials, pd.DataFrame(columns=["method", "kind", "fraction", "accuracy", "mean_similarity", "trials"])
    trials["correct"] = (trials["similarity"] >= trials["threshold"]) == trials["label"].astype(bool)
    agg = (trials.groupby(["method", "kind", "fraction"])
           .agg(accuracy=("correct", "mean"), mean_similarity=("similarity", "mean"), trials=("correct", "size"))
           .reset_index())
    return trials, agg


def ablation_table(agg: pd.DataFrame) -> pd.DataFrame:
    """One row per method: Deletion and Insertion AUC of the accuracy curves (0-100), and of the mean similarity
    curves rescaled so that the unperturbed pair is 1 and the fully removed one 0 (finer-grained on few pairs)."""
    rows = []
    for method in [m for m in METHOD_KEYS if m in set(agg["method"])]:
        row = {"method": method, "name": ROW_NAMES.get(method, method)}
        for kind in ("deletion", "insertion"):
            c = agg[(agg.method == method) & (agg.kind == kind)].sort_values("fraction")
            row[kind] = metrics.auc(c.fraction, c.accuracy)
            sim = c.mean_similarity.to_numpy()
            full, empty = (sim[0], sim[-1]) if kind == "deletion" else (sim[-1], sim[0])
            rescaled = (sim - empty) / (full - empty) if full != empty else np.zeros_like(sim)
            row[f"{kind}_similarity"] = metrics.auc(c.fraction, rescaled)
        rows.append(row)
    return pd.DataFrame(rows)


def hiding_tables(records: Sequence[dict], threshold: float | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """DFV's hiding game (paper 002 §IV-B): (per-trial similarities, accuracy per method and hidden share).
    Trials: one photo of a pair (same-person or different-person) obscured, the other untouched."""
    rows = []
    for rec in records:
        if rec.get("status") != "ok" or "hiding" not in rec:
            continue
        thr = rec["threshold"] if threshold is None else threshold
        for method, sides in rec["hiding"].items():
            for side, sims in zip("ab", sides):
                for f, s in zip(rec["fractions"], sims):
                    rows.append({"pair": rec["key"], "label": rec["label"], "method": method, "side": side,
                                 "fraction": f, "similarity": s, "threshold": thr})
    trials = pd.DataFrame(rows)
    if trials.empty:
        return trials, pd.DataFrame(columns=["method", "fraction", "accuracy", "trials"])
    trials["correct"] = (trials["similarity"] >= trials["threshold"]) == trials["label"].astype(bool)
    agg = (trials.groupby(["method", "fraction"]).agg(accuracy=("correct", "mean"), trials=("correct", "size"))
           .reset_index())
    return trials, agg


def method_table(ablation: pd.DataFrame, hiding: pd.DataFrame, records: Sequence[dict]) -> pd.DataFrame:
    """The one table of issue 14: method x (Deletion, Insertion, hiding-game AUC, seconds per pair). Seconds are the
    mean over pairs of the time to make the map once (S1 includes the S0 step it reuses)."""
    secs: dict[str, list[float]] = {}
    for rec in records:
        ms = rec.get("method_seconds") if rec.get("status") == "ok" else None
        for k, v in (ms or {}).items():
            extra = ms.get(k.replace("s1/", "s0/"), 0.0) if k.startswith("s1/") else 0.0
            secs.setdefault(k, []).append(float(v) + float(extra))
    methods = [m for m in METHOD_KEYS if (len(ablation) and m in set(ablation.method)) or
               (len(hiding) and m in set(hiding.method))]
    rows = []
    for m in methods:
        row = {"method": m, "name": ROW_NAMES.get(m, m), "deletion": None, "insertion": None, "hiding_auc": None,
               "seconds_per_pair": float(np.mean(secs[m])) if secs.get(m) else None}
        if len(ablation) and m in set(ablation.method):
            a = ablation[ablation.method == m].iloc[0]
            row["deletion"], row["insertion"] = float(a.deletion), float(a.insertion)
        if len(hiding) and m in set(hiding.method):
            c = hiding[hiding.method == m].sort_values("fraction")
            row["hiding_auc"] = metrics.auc(c.fraction, c.accuracy)
        rows.append(row)
    return pd.DataFrame(rows)


def region_statistics(records: Sequence[dict]) -> pd.DataFrame:
    """Mean normalised S0 contribution (eq. 3.4, both photos perturbed) per region, genuine vs impostor pairs."""
    rows = [{"pair": r["key"], "label": r["label"], "region": reg, "contribution": v}
            for r in records if r.get("status") == "ok" for reg, v in r.get("s0_normalised", {}).items()]
    if not rows:
        return pd.DataFrame(columns=["region", "kind", "mean", "sd", "pairs"])
    df = pd.DataFrame(rows)
    df["kind"] = np.where(df.label == 1, "genuine", "impostor")
    return (df.groupby(["kind", "region"]).contribution.agg(mean="mean", sd="std", pairs="size").reset_index())


def swap_table(records: Sequence[dict]) -> pd.DataFrame:
    rows = []
    for r in records:
        if r.get("status") != "ok" or "swap" not in r:
            continue
        result = {"reference": r["similarity"], "base": r["s0"], "swaps": r["swap"]["swaps"]}
        for row in swap_outcomes(result):
            rows.append({"pair": r["key"], **row})
    return pd.DataFrame(rows)


def stability_table(records: Sequence[dict]) -> pd.DataFrame:
    return pd.DataFrame([{"pair": r["key"], "mode": r["stability"]["mode"], "spearman": r["stability"]["spearman"],
                          "top_region_kept": r["stability"]["top_region_kept"]}
                         for r in records if r.get("status") == "ok" and "stability" in r])


# -------------------------------------------------------------------------------------------------------------
def plot_curves(agg: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, kind in zip(axes, ("deletion", "insertion")):
        for method in [m for m in METHOD_KEYS if m in set(agg["method"])]:
            c = agg[(agg.method == method) & (agg.kind == kind)].sort_values("fraction")
            ax.plot(100 * c.fraction, 100 * c.accuracy, marker="o", ms=3, label=ROW_NAMES.get(method, method),
                    ls="--" if method == "random" else "-")
        ax.set_title(f"{kind.capitalize()} ({'lower' if kind == 'deletion' else 'higher'} AUC is better)")
        ax.set_xlabel(f"pixels {'removed' if kind == 'deletion' else 'restored'} (%)")
        ax.set_ylabel("verification accuracy (%)")
        ax.set_ylim(-2, 102)
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_regions(stats: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ..regions import REGION_SETS

    order = [r for r in REGION_SETS["coarse"] + REGION_SETS["fine"] if r in set(stats.region)]
    order = list(dict.fromkeys(order))
    fig, ax = plt.subplots(figsize=(9, 4))
    kinds = [k for k in ("genuine", "impostor") if k in set(stats.kind)]
    width = 0.8 / max(1, len(kinds))
    for i, kind in enumerate(kinds):
        s = stats[stats.kind == kind].set_index("region").reindex(order)
        ax.bar(np.arange(len(order)) + i * width, s["mean"], width, yerr=s["sd"].fillna(0) / np.sqrt(s["pairs"]),
               label=f"{kind} pairs", capsize=2)
    ax.set_xticks(np.arange(len(order)) + width * (len(kinds) - 1) / 2, order, rotation=20)
    ax.axhline(0, color="k", lw=0.8)
    ax.set_ylabel("mean normalised S0 contribution")
    ax.set_title("Region importance (S0, eq. 3.4; positive = supports the similarity)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_swap(by_region: pd.DataFrame, path: Path, variant: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    x = np.arange(len(by_region))
    cols = ("top1", "top3", "gain", "rise_top1")
    for i, col in enumerate(cols):
        ax.bar(x + i * 0.2, by_region[col], 0.2, label=col)
    ax.set_xticks(x + 0.3, by_region.region, rotation=20)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of swaps")
    ax.set_title(f"Region-swap test (S0 variant: {variant})")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -------------------------------------------------------------------------------------------------------------
def write_outputs(records: Sequence[dict], out: Path, *, options: dict, meta: dict,
                  swap_variant: str = "a", threshold: float | None = None) -> dict:
    """Write every output into ``out``; returns the summary dict (also saved as summary.json)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    ok = [r for r in records if r.get("status") == "ok"]
    trials, agg = curve_tables(records, threshold)
    trials.to_csv(out / "curves_per_pair.csv", index=False)
    agg.to_csv(out / "curves.csv", index=False)
    ablation = ablation_table(agg) if not agg.empty else pd.DataFrame()
    ablation.to_csv(out / "ablation.csv", index=False)
    hiding_trials, hiding = hiding_tables(records, threshold)
    hiding_trials.to_csv(out / "hiding_per_pair.csv", index=False)
    hiding.to_csv(out / "hiding.csv", index=False)
    methods = method_table(ablation, hiding, records)
    methods.to_csv(out / "methods.csv", index=False)
    stats = region_statistics(records)
    stats.to_csv(out / "region_statistics.csv", index=False)
    swaps = swap_table(records)
    swaps.to_csv(out / "region_swap.csv", index=False)
    stab = stability_table(records)
    stab.to_csv(out / "stability.csv", index=False)
    pd.DataFrame([{k: r.get(k) for k in ("key", "img_a", "img_b", "label", "status", "reason", "similarity",
                                         "threshold", "embeddings", "seconds")} for r in records]
                 ).to_csv(out / "pairs.csv", index=False)

    by_variant = pd.DataFrame()
    by_region = pd.DataFrame()
    if not swaps.empty:
        by_variant = swaps.groupby("variant")[["top1", "top3", "gain", "rank_gain", "rise_top1"]].mean().reindex(
            [v for v in VARIANTS if v in set(swaps.variant)])
        by_variant["swaps"] = swaps.groupby("variant").size()
        by_variant["similarity_rose"] = swaps.assign(rose=swaps.similarity_after > swaps.similarity_before
                                                     ).groupby("variant").rose.mean()
        by_variant.to_csv(out / "region_swap_by_variant.csv")
        main = swaps[swaps.variant == swap_variant]
        by_region = main.groupby("region")[["top1", "top3", "gain", "rank_gain", "rise_top1"]].mean().reset_index()
        by_region["swaps"] = main.groupby("region").size().to_numpy()
        by_region["chance_top1"] = main.groupby("region").n_regions.mean().rdiv(1).to_numpy()
        by_region.to_csv(out / "region_swap_by_region.csv", index=False)

    plots = []
    if not agg.empty:
        plot_curves(agg, out / "deletion_insertion.png")
        plots.append("deletion_insertion.png")
    if not hiding.empty:
        plot_hiding(hiding, out / "hiding_game.png")
        plots.append("hiding_game.png")
    if not stats.empty:
        plot_regions(stats, out / "region_importance.png")
        plots.append("region_importance.png")
    if not by_region.empty:
        plot_swap(by_region, out / "region_swap.png", swap_variant)
        plots.append("region_swap.png")

    genuine = [r for r in ok if r["label"] == 1]
    impostor = [r for r in ok if r["label"] != 1]
    secs = lambda rs: float(np.mean([r["seconds"] for r in rs])) if rs else None
    main_swap = by_variant.loc[swap_variant] if swap_variant in by_variant.index else None
    summary = {
        "deletion": {row.method: float(row.deletion) for row in ablation.itertuples()} if len(ablation) else {},
        "insertion": {row.method: float(row.insertion) for row in ablation.itertuples()} if len(ablation) else {},
        "deletion_similarity": {row.method: float(row.deletion_similarity) for row in ablation.itertuples()}
        if len(ablation) else {},
        "insertion_similarity": {row.method: float(row.insertion_similarity) for row in ablation.itertuples()}
        if len(ablation) else {},
        "hiding_auc": {r.method: _nan_to_none(r.hiding_auc) for r in methods.itertuples()} if len(methods) else {},
        "method_seconds": {r.method: _nan_to_none(r.seconds_per_pair) for r in methods.itertuples()}
        if len(methods) else {},
        "region_swap_top1": None if main_swap is None else float(main_swap.top1),
        "region_swap_top3": None if main_swap is None else float(main_swap.top3),
        "region_swap_gain": None if main_swap is None else float(main_swap.gain),
        "region_swap_rank_gain": None if main_swap is None else float(main_swap.rank_gain),
        "region_swap_rise_top1": None if main_swap is None else float(main_swap.rise_top1),
        "region_swap_similarity_rose": None if main_swap is None else float(main_swap.similarity_rose),
        "region_swap_variant": swap_variant,
        "region_swap_by_variant": {v: {k: float(x) for k, x in row.items()} for v, row in by_variant.iterrows()}
        if not by_variant.empty else {},
        "region_swaps": int(main_swap.swaps) if main_swap is not None else 0,
        "seed_stability": _nan_to_none(float(stab.spearman.mean())) if not stab.empty else None,
        "stability_mode": stab["mode"].iloc[0] if not stab.empty else None,
        "pairs": len(ok),
        "genuine_pairs": len(genuine),
        "impostor_pairs": len(impostor),
        "skipped_pairs": len(records) - len(ok),
        "seconds_per_genuine_pair": secs(genuine),
        "seconds_per_impostor_pair": secs(impostor),
        "seconds_per_pair": secs(ok),
        "region_importance": {k: {r.region: float(r.mean) for r in stats[stats.kind == k].itertuples()}
                              for k in ("genuine", "impostor")} if not stats.empty else {},
        "options": options,
        **meta,
        "plots": plots,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    (out / "report.md").write_text(markdown_report(summary, ablation, stats, by_variant, by_region, records,
                                                   methods=methods))
    return summary


def _f(x, fmt="{:.2f}") -> str:
    return "—" if x is None or (isinstance(x, float) and not np.isfinite(x)) else fmt.format(x)


def markdown_report(summary: dict, ablation: pd.DataFrame, stats: pd.DataFrame, by_variant: pd.DataFrame,
                    by_region: pd.DataFrame, records: Sequence[dict], *, methods: pd.DataFrame | None = None) -> str:
    opts = summary["options"]
    lines = [
        "# Faithfulness evaluation",
        "",
        (f"Pairs: {summary['pairs']} used ({summary['genuine_pairs']} genuine, {summary['impostor_pairs']} "
         f"different-person), {summary['skipped_pairs']} skipped. Face model: {summary.get('model')}; threshold "
         f"{_f(summary.get('threshold'), '{:.4f}')} ({summary.get('calibration')}). Fill: {summary.get('fill')}."),
        "",
        "## Deletion / Insertion ablation (cf. thesis Table 4.3)",
        "",
        "| Method | Deletion (%) ↓ | Insertion (%) ↑ | Deletion, similarity (%) ↓ | Insertion, similarity (%) ↑ |",
        "|---|---|---|---|---|",
    ]
    for row in ablation.itertuples():
        lines.append(f"| {row.name} | {row.deletion:.2f} | {row.insertion:.2f} | {row.deletion_similarity:.2f} | "
                     f"{row.insertion_similarity:.2f} |")
    lines += [
        "",
        "Thesis Table 4.3 (CelebAMask-HQ, their face model): Black Mask 30.04 / 25.45, Inpainting 21.99 / 45.90.",
        "",
        "How the numbers are made:",
        ("- Pairs: genuine pairs only, as in the thesis: removing the pixels that support the similarity of a "
         "different-person pair only pushes it further below the threshold, so its decision never changes and it "
         "measures nothing. Each genuine pair gives two trials: photo A's pixels are removed/restored and compared "
         "with the untouched photo B, then B's against the untouched A. Removing the same pixels from both photos "
         "at once is degenerate here: two fully blurred crops look alike and match again (see metrics.py)."),
        ("- Order: pixels by the map's value, most supporting-the-similarity first (normalised contribution, "
         "positive = hiding it lowers the score); region maps give every pixel of a region its region's value, "
         "background 0; ties are broken by one fixed random permutation. The xFace map is per pixel; the random "
         "baseline is a random permutation per pair."),
        (f"- Removal: `{opts['removal']}` (the same operation for every method), {opts['steps']} steps from 0 to "
         "100%. Accuracy = share of trials still decided 'match' at the calibrated threshold; AUC normalised to "
         "0-100. The similarity columns use the mean similarity instead, rescaled to 1 = untouched, 0 = fully "
         "removed (finer on small pair sets)."),
        ("- The maps are those the engine shows: S0 / S1 on the region masks, with the inpainting fill or black "
         "fill; only the fill used to *make* the map differs between rows, never the removal in the metric."),
        "",
        "![deletion and insertion curves](deletion_insertion.png)",
        "",
        *method_lines(methods, summary),
        "## Region-swap test (xFace §4.3 cut-and-paste)",
        "",
        f"Different-person pairs; each region R present in both photos is pasted from B into A (aligned crops, "
        f"blend `{opts['blend']}`, paste mask `{opts.get('swap_extent', 'union')}`: "
        + ("R as located in A, so A' keeps A's masks and before/after compare the same pixels"
           if opts.get("swap_extent", "union") == "a"
           else "all of R as it lies in A or in B, grown by 1 px, which becomes R in A'; the explanation of (A, B) "
                "it is compared with uses the same masks")
        + f"), then (A', B) is "
        f"explained with S0 ({opts['samples']} run(s) averaged). top-1 / top-3: R is among the most supporting "
        "regions; gain: R's score change is larger than in the explanation of (A, B) with the same masks; rank "
        "gain: R moved up (or stayed first); rise top-1: R's change grew more than any other region's.",
        "",
        ("How to read the gain: A and A' differ only inside R, so a fill of R (computed from the pixels around R) "
         "is the same image for both, and for S0 on both photos or on A' alone R's change grows exactly when the "
         "paste raised S(A', B). The gain therefore measures the paste and the face model as much as the map "
         f"(pastes that raised the similarity: {_f(summary.get('region_swap_similarity_rose'))}); whether the map "
         "puts the effect on R and not elsewhere is what rank gain and rise top-1 measure."),
        "",
        "| S0 variant | top-1 | top-3 | gain | rank gain | rise top-1 | swaps |",
        "|---|---|---|---|---|---|---|",
    ]
    names = {"both": "both photos (engine's S0)", "a": "only A' perturbed", "b": "only B perturbed",
             "ab": "mean of the one-sided two"}
    for v, row in by_variant.iterrows():
        lines.append(f"| {names.get(v, v)} | {row.top1:.2f} | {row.top3:.2f} | {row.gain:.2f} | "
                     f"{row.rank_gain:.2f} | {row.rise_top1:.2f} | {int(row.swaps)} |")
    if not by_region.empty:
        lines += ["", f"Per region ({summary['region_swap_variant']}):", "",
                  "| region | top-1 | top-3 | gain | rank gain | rise top-1 | swaps | chance top-1 |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in by_region.itertuples():
            lines.append(f"| {row.region} | {row.top1:.2f} | {row.top3:.2f} | {row.gain:.2f} | {row.rank_gain:.2f} "
                         f"| {row.rise_top1:.2f} | {row.swaps} | {row.chance_top1:.2f} |")
        lines += ["", "![region swap](region_swap.png)"]
    lines += ["", "## Region importance (cf. thesis Figure 4.5)", "",
              "| region | genuine mean | impostor mean |", "|---|---|---|"]
    if not stats.empty:
        piv = stats.pivot(index="region", columns="kind", values="mean")
        for region, row in piv.iterrows():
            lines.append(f"| {region} | {_f(row.get('genuine'), '{:+.3f}')} | {_f(row.get('impostor'), '{:+.3f}')} |")
    lines += ["", "![region importance](region_importance.png)", "",
              "## Stability", "",
              (f"Mean Spearman correlation of S0 region rankings across {opts['seeds']} extra runs "
              f"({summary.get('stability_mode')}: seeds for a stochastic fill, 1-2 px alignment jitters for a "
              f"deterministic one) and the main run, over genuine pairs: **{_f(summary['seed_stability'], '{:.3f}')}**."),
              "", "## Cost", "",
              (f"Seconds per genuine pair {_f(summary['seconds_per_genuine_pair'], '{:.1f}')}, per different-person "
              f"pair {_f(summary['seconds_per_impostor_pair'], '{:.1f}')} (model loading excluded)."), ""]
    skipped = [r for r in records if r.get("status") != "ok"]
    if skipped:
        lines += ["## Skipped pairs", ""] + [f"- {r['img_a']} / {r['img_b']}: {r.get('reason')}" for r in skipped]
    return "\n".join(lines) + "\n"


def trial_weights(summary: dict) -> tuple[float | None, float | None]:
    """Points one trial moves a score by: (Deletion / Insertion: 2 trials per genuine pair, the hiding game: 2 per
    pair), None without trials. Differences below them are ties, not rankings."""
    genuine, pairs = summary.get("genuine_pairs") or 0, summary.get("pairs") or 0
    return (100 / (2 * genuine) if genuine else None), (100 / (2 * pairs) if pairs else None)


def method_lines(methods: pd.DataFrame | None, summary: dict | None = None) -> list[str]:
    """The report section with the one method table (Deletion, Insertion, hiding-game AUC, seconds per pair)."""
    if methods is None or methods.empty:
        return []
    deletion_trial, hiding_trial = trial_weights(summary or {})
    lines = ["## Every map: faithfulness and cost", "",
             "| Method | Deletion (%) ↓ | Insertion (%) ↑ | Hiding game AUC (%) ↑ | Seconds per pair |",
             "|---|---|---|---|---|"]
    for r in methods.itertuples():
        lines.append(f"| {r.name} | {_f(r.deletion)} | {_f(r.insertion)} | {_f(r.hiding_auc)} | "
                     f"{_f(r.seconds_per_pair, '{:.2f}')} |")
    lines += [
        "",
        ("- Hiding game (DFV, Xu, Lu & Ebrahimi §IV-B, after Castanon & Byrne): each map's pixels are ranked by "
         "|value| (DFV's discriminative map: what supports and what works against the decision both count) and the "
         "least important share is blurred away from one photo, compared with the other untouched photo; accuracy "
         "at the calibrated threshold over same-person AND different-person trials, area 0-100, higher is better. "
         "DFV Table II (LFW, their ArcFace): Gradient 89.68, xFace 90.14, DFV 90.39."),
        ("- Deletion / Insertion as above (genuine pairs only). FGGB and CorrRISE maps are signed (similarity minus "
         "dissimilarity), ranked most supporting first."),
        ("- Seconds: making the map once per pair on this machine (S1 includes the S0 step it reuses), after model "
         "load; the xFace figure is for the evaluation's coarse grid, not the product's default grid."),
        ("- FGGB fast approximates FGGB (64 of the embedding channels, the rest completed by their mean; README, "
         "deviations from the papers): compare the two rows to see what the approximation costs in faithfulness.")]
    if deletion_trial is not None and hiding_trial is not None:
        lines.append(f"- Sample size: one trial moves Deletion / Insertion by {deletion_trial:.1f} points and the "
                     f"hiding game by up to {hiding_trial:.1f}; differences smaller than that are ties, and with few "
                     "pairs every figure here is unstable.")
    lines += ["", "![hiding game](hiding_game.png)", ""]
    return lines


def plot_hiding(agg: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for method in [m for m in METHOD_KEYS if m in set(agg["method"])]:
        c = agg[agg.method == method].sort_values("fraction")
        ax.plot(100 * c.fraction, 100 * c.accuracy, marker="o", ms=3, label=ROW_NAMES.get(method, method),
                ls="--" if method == "random" else "-")
    ax.set_title("Hiding game (higher AUC is better)")
    ax.set_xlabel("least important pixels blurred (%)")
    ax.set_ylabel("verification accuracy (%)")
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)

