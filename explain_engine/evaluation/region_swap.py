"""The region-swap (cut-and-paste) test, after xFace §4.3: paste photo B's region R into photo A on the aligned
crops, explain (A', B) and check that the explanation now points at R.

For different-person pairs the pasted region is the only part of A' that truly matches B, so a faithful map should
(1) rank R among the most supporting regions (top-1 / top-3) and (2) give R a larger contribution than in the
explanation of the original (A, B) — the gain, which removes the base rate of regions that are often on top anyway.
Pure functions over crops, region masks, an embed callable and a fill.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

from ..attribution.single import S0Fills, single_inpaint
from ..attribution.stability import JITTERS, shift_image, shift_mask
from ..scoring import PairScorer

VARIANTS = ("both", "a", "b", "ab")  # S0 perturbing both photos, only A', only B, and the mean of the one-sided two
BLENDS = ("seamless", "alpha", "none")


def swap_region_masks(masks_a: dict[str, np.ndarray], masks_b: dict[str, np.ndarray], region: str, *,
                      extent: str = "union", dilate: int = 1) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(paste mask, region masks of A').

    extent "union" (default): R in A or in B, grown by ``dilate`` px, so B's whole region arrives and none of A's
    own is left; it becomes R in A' and is taken out of the other regions. Compare A' with A under these same
    masks (as :func:`region_swap_test` does), since a larger R by itself raises R's contribution. "a": paste over
    R as located in A only; A' keeps A's masks, but where B's region is larger or elsewhere only part of it
    arrives, and the paste raises the similarity less often (0.84 against 0.89 of the swaps on the development
    photos).
    """
    if extent == "a":
        paste = np.asarray(masks_a[region], dtype=bool).copy()
        return paste, {name: np.asarray(m, dtype=bool) for name, m in masks_a.items()}
    if extent != "union":
        raise ValueError(f"extent must be 'a' or 'union', not {extent!r}")
    paste = np.asarray(masks_a[region], dtype=bool) | np.asarray(masks_b[region], dtype=bool)
    if dilate > 0:
        k = np.ones((2 * dilate + 1, 2 * dilate + 1), np.uint8)
        paste = cv2.dilate(paste.astype(np.uint8), k).astype(bool)
    new = {name: (paste.copy() if name == region else np.asarray(m, dtype=bool) & ~paste)
           for name, m in masks_a.items()}
    return paste, new


def paste_region(dst: np.ndarray, src: np.ndarray, mask: np.ndarray, *, blend: str = "seamless",
                 feather: float = 1.5) -> np.ndarray:
    """``dst`` with ``src``'s pixels under ``mask`` pasted in place (same-template crops, so no shift).

    blend: "seamless" (Poisson blending, cv2.seamlessClone; falls back to "alpha" if OpenCV refuses), "alpha"
    (feathered edge inside the mask) or "none" (hard copy). Pixels outside ``mask`` are always dst's, exactly.
    """
    dst = np.asarray(dst)
    src = np.asarray(src)
    mask = np.asarray(mask, dtype=bool)
    if dst.shape != src.shape or mask.shape != dst.shape[:2]:
        raise ValueError("paste_region needs two crops of the same size and a mask of that size")
    if blend not in BLENDS:
        raise ValueError(f"blend must be one of {', '.join(BLENDS)}, not {blend!r}")
    out = dst.copy()
    if not mask.any():
        return out
    if blend == "seamless":
        pasted = _seamless(dst, src, mask)
        if pasted is not None:
            out[mask] = pasted[mask]
            return out
        blend = "alpha"
    if blend == "alpha":
        alpha = cv2.GaussianBlur(mask.astype(np.float32), (0, 0), feather) * mask  # feather inwards only
        alpha = np.clip(alpha * 2.0, 0.0, 1.0)[..., None]  # the core of the region is pure src
        mixed = np.round(alpha * src.astype(np.float32) + (1 - alpha) * dst.astype(np.float32))
        out[mask] = np.clip(mixed, 0, 255).astype(dst.dtype)[mask]
        return out
    out[mask] = src[mask]
    return out


def _seamless(dst: np.ndarray, src: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """Poisson blending at the same position. Both crops are padded first, because seamlessClone needs the mask's
    box (plus a border) inside the image and places the box by its centre, which must land where it came from."""
    pad = 4
    dst_p = cv2.copyMakeBorder(np.ascontiguousarray(dst), pad, pad, pad, pad, cv2.BORDER_REFLECT)
    src_p = cv2.copyMakeBorder(np.ascontiguousarray(src), pad, pad, pad, pad, cv2.BORDER_REFLECT)
    m = np.zeros(dst_p.shape[:2], np.uint8)
    m[pad:-pad, pad:-pad] = mask.astype(np.uint8) * 255
    x, y, w, h = cv2.boundingRect(m)
    try:
        out = cv2.seamlessClone(src_p, dst_p, m, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)
    except cv2.error:
        return None
    return out[pad:-pad, pad:-pad]


def s0_deltas(crop_a: np.ndarray, crop_b: np.ndarray, masks_a: dict[str, np.ndarray], masks_b: dict[str, np.ndarray],
              embed: Callable, fill, *, regions: Sequence[str], samples: int = 1,
              fills_b: S0Fills | None = None) -> tuple[dict[str, dict[str, float]], float, S0Fills]:
    """Raw S0 score changes per variant ("both", "a", "b", "ab"), averaged over ``samples`` runs (seeds for a
    stochastic fill, small opposite alignment jitters of A and B for a deterministic one; run 0 is unjittered).

    ``fills_b``: the unjittered fills of photo B from an earlier call on the same B (e.g. the (A, B) explanation
    before A was swapped), so only A's fills are embedded. Returns (deltas, reference similarity, run-0 fills).
    """
    regions = list(regions)
    acc = {v: {r: 0.0 for r in regions} for v in ("both", "a", "b")}
    first_fills, reference = None, None
    for k in range(samples):
        f, a, b, ma, mb = fill, crop_a, crop_b, masks_a, masks_b
        if k > 0:
            if getattr(fill, "deterministic", True) or not hasattr(fill, "with_seed"):
                dx, dy = JITTERS[(k - 1) % len(JITTERS)]
                a, b = shift_image(crop_a, dx, dy), shift_image(crop_b, -dx, -dy)
                ma = {r: shift_mask(masks_a[r], dx, dy) for r in regions}
                mb = {r: shift_mask(masks_b[r], -dx, -dy) for r in regions}
            else:
                f = fill.with_seed(k)
        scorer = PairScorer(embed, a, b)
        fills = None
        if k == 0 and fills_b is not None and all(r in fills_b.images_b for r in regions):
            fills = _fills_reusing_b(scorer, ma, f, regions, fills_b)
        res = single_inpaint(None, None, ma, mb, scorer, f, regions=regions, fills=fills)
        if k == 0:
            first_fills, reference = res["both"].details["fills"], scorer.reference
        for v in ("both", "a", "b"):
            for r in regions:
                acc[v][r] += res[v].deltas[r] / samples
    acc["ab"] = {r: 0.5 * (acc["a"][r] + acc["b"][r]) for r in regions}
    return acc, float(reference), first_fills


def _fills_reusing_b(scorer: PairScorer, masks_a, fill, regions, fills_b: S0Fills) -> S0Fills:
    filled_a = fill.batch([scorer.image_a] * len(regions), [masks_a[r] for r in regions]) if hasattr(fill, "batch") \
        else [fill(scorer.image_a, masks_a[r]) for r in regions]
    emb_a = scorer.embed(filled_a)
    idx = [fills_b.regions.index(r) for r in regions]
    return S0Fills(regions, dict(zip(regions, filled_a)), {r: fills_b.images_b[r] for r in regions}, emb_a,
                   fills_b.emb_b[idx], fills_b.fill_name)


def ranks(deltas: dict[str, float]) -> dict[str, int]:
    """1 = the most supporting region (largest score drop when hidden); ties share the better rank."""
    values = sorted(deltas.values(), reverse=True)
    return {r: 1 + values.index(v) for r, v in deltas.items()}


def region_swap_test(crop_a: np.ndarray, crop_b: np.ndarray, masks_a: dict[str, np.ndarray],
                     masks_b: dict[str, np.ndarray], embed: Callable, fill, *, regions: Sequence[str] | None = None,
                     blend: str = "alpha", samples: int = 1, extent: str = "union") -> dict:
    """Swap each region present in both photos, one at a time. Returns a JSON-ready dict:
    {"regions", "reference", "base": {variant: deltas}, "swaps": {R: {"similarity", "deltas": {variant: deltas},
    ["base": {variant: deltas} with A' 's masks, for extent "union"]}}, "blend", "extent"} — summarise it with
    :func:`swap_outcomes`."""
    regions = list(regions if regions is not None else [r for r in masks_a if r in masks_b])
    base, reference, base_fills = s0_deltas(crop_a, crop_b, masks_a, masks_b, embed, fill, regions=regions,
                                           samples=samples)
    swaps = {}
    for region in regions:
        paste, new_masks = swap_region_masks(masks_a, masks_b, region, extent=extent)
        swapped = paste_region(crop_a, crop_b, paste, blend=blend)
        present = [r for r in regions if new_masks[r].any()]
        deltas, sim, _ = s0_deltas(swapped, crop_b, new_masks, masks_b, embed, fill, regions=present,
                                   samples=samples, fills_b=base_fills)
        swaps[region] = {"similarity": sim, "deltas": deltas}
        if extent != "a":
            # A's masks changed with the paste: explain the unpasted A with the same masks, so that "before" and
            # "after" compare the same pixel sets and R's larger mask does not count as a gain
            swaps[region]["base"] = s0_deltas(crop_a, crop_b, new_masks, masks_b, embed, fill, regions=present,
                                              samples=samples, fills_b=base_fills)[0]
    return {"regions": regions, "reference": reference, "base": base, "swaps": swaps, "blend": blend,
            "extent": extent}


def swap_outcomes(result: dict, variants: Sequence[str] = VARIANTS) -> list[dict]:
    """One row per (swapped region, variant): rank of R after the swap, top-1, top-3, the contribution before and
    after, gain (R's score change grew), rank_before / rank_gain (R moved up, or stayed first), rise_top1 (R's
    change grew more than any other region's: the explanation puts the swap's effect on R)."""
    rows = []
    for region, swap in result["swaps"].items():
        for v in variants:
            after = swap["deltas"][v]
            before = swap.get("base", result["base"])[v]
            if region not in after:
                continue
            ra, rb = ranks(after), ranks(before)
            rise = {r: after[r] - before[r] for r in after if r in before}
            rows.append({
                "region": region, "variant": v, "rank": ra[region], "top1": ra[region] == 1, "top3": ra[region] <= 3,
                "n_regions": len(after), "delta_before": before[region], "delta_after": after[region],
                "gain": after[region] > before[region], "rank_before": rb[region],
                "rank_gain": ra[region] < rb[region] or ra[region] == 1,
                "rise_top1": max(rise, key=rise.get) == region,
                "similarity_before": result["reference"], "similarity_after": swap["similarity"],
            })
    return rows
