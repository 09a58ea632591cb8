"""Similarity / dissimilarity decomposition of a channel-weighted saliency (Xu, Lu & Ebrahimi, "Discriminative Deep
Feature Visualization for Explainable Face Recognition", paper 002, §III-B and Algorithm 1), and the pixel-map
result type shared by FGGB and CorrRISE.

DFV (Algorithm 1) builds one map per feature channel k (there: the normalised residual between a face reconstructed
from the full feature map and one reconstructed with channel k's maximum set to 0), weighs the maps by the
channel-wise cosine terms of the two embeddings (eq. 1), re-balanced by the decision threshold, and splits the sum::

    w_k = F_A,k F_B,k / (||F_A|| ||F_B||)          (eq. 1: sum_k w_k = s, the cosine similarity)
    H   = sum_k R_k (w_k - T')                     (Algorithm 1, "weights <- F_A (x) F_B - T")
    S = |H|,  S+ = ReLU(H),  S- = ReLU(-H)         (discriminative, similarity, dissimilarity maps)

What is implemented here is this decomposition over ANY stack of non-negative per-channel maps R_k: FGGB (paper
004) feeds it normalised input gradients, which is how the product uses it. DFV's own R_k need its face
reconstruction module (a decoder trained jointly with the recognition network on MS1Mv2, and a recognition network
whose last fully connected layer is replaced by global max pooling so that feature channels are convolution
channels); neither exists for the shipped face models, so DFV's reconstruction maps are not produced (README,
"Deviations from the papers").

T': Algorithm 1 subtracts T from every channel weight. Taken literally with N channels, every weight of a
unit-norm pair is far below T (the w_k sum to s <= 1), so H would be all "dissimilar". FGGB's re-balance subtracts
T/N per channel, so that sum_k (w_k - T/N) = s - T: positive exactly when the pair is a match. ``rule="fggb"``
(the default) does that; ``rule="dfv"`` is the literal Algorithm 1 line, kept for comparison.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

RULES = ("fggb", "dfv")


def channel_weights(f_a: np.ndarray, f_b: np.ndarray) -> np.ndarray:
    """Channel-wise cosine terms w_k = F_A,k F_B,k / (||F_A|| ||F_B||) (paper 002 eq. 1; paper 004 "w").

    Args:
        f_a, f_b: (N,) embeddings of the two photos (any scale).
    Returns:
        (N,) float64 whose sum is the cosine similarity of ``f_a`` and ``f_b``.
    Raises:
        ValueError: shapes differ, or an embedding is all zeros (no direction, no cosine).
    """
    a = np.asarray(f_a, dtype=np.float64).ravel()
    b = np.asarray(f_b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"embeddings of different lengths: {a.size} and {b.size}")
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0 or nb == 0:
        raise ValueError("an embedding is all zeros: its cosine with anything is undefined")
    return a * b / (na * nb)


def rebalanced_weights(f_a: np.ndarray, f_b: np.ndarray, threshold: float, *, rule: str = "fggb") -> np.ndarray:
    """Channel weights re-balanced by the decision threshold.

    Args:
        f_a, f_b: (N,) embeddings.
        threshold: the cosine threshold t (match iff similarity >= t).
        rule: "fggb" -> w_k - t/N (paper 004, S_A = sum_k G~_A^k (w_k - t/N)); "dfv" -> w_k - t (paper 002,
            Algorithm 1 taken literally).
    Returns:
        (N,) float64 weights; with "fggb" they sum to s - t.
    Raises:
        ValueError: unknown rule, or see :func:`channel_weights`.
    """
    if rule not in RULES:
        raise ValueError(f"rule must be one of {', '.join(RULES)}, not {rule!r}")
    w = channel_weights(f_a, f_b)
    return w - (float(threshold) / w.size if rule == "fggb" else float(threshold))


def decompose(channel_maps: np.ndarray, weights: np.ndarray) -> dict[str, np.ndarray]:
    """H = sum_k R_k weights_k and its split (paper 002 Algorithm 1, last four lines; paper 004 S+ / S-).

    Args:
        channel_maps: (N, H, W) per-channel maps R_k (non-negative and normalised per channel by the caller).
        weights: (N,) channel weights (e.g. :func:`rebalanced_weights`).
    Returns:
        {"signed": H, "discriminative": |H|, "similarity": ReLU(H), "dissimilarity": ReLU(-H)}, each (H, W)
        float32.
    Raises:
        ValueError: the channel counts differ.
    """
    maps = np.asarray(channel_maps, dtype=np.float32)
    w = np.asarray(weights, dtype=np.float32).ravel()
    if maps.ndim != 3 or maps.shape[0] != w.size:
        raise ValueError(f"{w.size} weights for channel maps of shape {maps.shape}")
    h = np.tensordot(w, maps, axes=(0, 0)).astype(np.float32)
    return {"signed": h, "discriminative": np.abs(h), "similarity": np.maximum(h, 0.0),
            "dissimilarity": np.maximum(-h, 0.0)}


def region_mass(values: np.ndarray, masks: dict[str, np.ndarray] | None) -> dict[str, float]:
    """Share of a non-negative map's total mass inside each region mask (0 when the map is empty).

    Args:
        values: (H, W) non-negative map.
        masks: {region: (H, W) bool}; regions may overlap or leave pixels uncovered.
    Returns:
        {region: sum of ``values`` in the region / sum of ``values`` everywhere}, in [0, 1].
    """
    values = np.asarray(values, dtype=np.float64)
    total = float(values.sum())
    out = {}
    for name, mask in (masks or {}).items():
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != values.shape:
            raise ValueError(f"region {name!r} has shape {mask.shape}, the map {values.shape}")
        out[name] = float(values[mask].sum() / total) if total > 0 else 0.0
    return out


@dataclass
class PixelMaps:
    """Similarity and dissimilarity maps of both photos of a pair, on the aligned crops.

    method: "fggb" | "corrrise" | ...; similarity_a / dissimilarity_a (and _b): (H, W) float32 >= 0 on crop A (B);
    signed_a / signed_b: (H, W) the signed map (similarity - dissimilarity), in the method's own units;
    reference: the pair's cosine similarity; threshold: the decision threshold used;
    regions_a / regions_b: {region: {"similarity": share of S+ mass, "dissimilarity": share of S- mass}};
    column: {region: net signed mass, averaged over both photos, normalised by its max |value| (thesis eq. 3.4)} in
    [-1, 1] (positive = the region supports the similarity), for the explainability table;
    n_embeddings: images embedded; seconds: wall time; details: method-specific extras (parameters, sources).
    """

    method: str
    similarity_a: np.ndarray
    dissimilarity_a: np.ndarray
    similarity_b: np.ndarray
    dissimilarity_b: np.ndarray
    signed_a: np.ndarray
    signed_b: np.ndarray
    reference: float
    threshold: float | None = None
    regions_a: dict[str, dict[str, float]] = field(default_factory=dict)
    regions_b: dict[str, dict[str, float]] = field(default_factory=dict)
    column: dict[str, float] = field(default_factory=dict)
    n_embeddings: int = 0
    seconds: float = 0.0
    details: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.signed_a.shape)

    def importance(self, side: str = "a") -> np.ndarray:
        """The discriminative map |S| of photo ``side`` ("a" or "b"): what the hiding game ranks pixels by."""
        return np.abs(self.signed_a if side == "a" else self.signed_b)

    def to_dict(self) -> dict:
        """Numbers only (no arrays), for the record."""
        return {"method": self.method, "reference": float(self.reference), "threshold": self.threshold,
                "regions_a": self.regions_a, "regions_b": self.regions_b, "column": dict(self.column),
                "n_embeddings": int(self.n_embeddings), "seconds": float(self.seconds),
                "details": {k: v for k, v in self.details.items() if isinstance(v, (int, float, str, bool, list,
                                                                                   type(None)))}}


def region_net(signed_a: np.ndarray, signed_b: np.ndarray, masks_a: dict[str, np.ndarray] | None,
               masks_b: dict[str, np.ndarray] | None, *, floor: float = 1e-12) -> dict[str, float]:
    """Per region, the signed map's mass inside the region over its total |mass|, averaged over the photos where
    the region exists (README, "Deviations from the papers", 7).

    Args:
        signed_a, signed_b: (H, W) signed maps; masks_a, masks_b: {region: (H, W) bool} per photo;
        floor: a total |mass| at or below it counts as an empty map (its regions get 0).
    Returns:
        {region: share in [-1, 1]} over the regions of either photo (positive = net similarity).
    """
    per: dict[str, list[float]] = {}
    for signed, masks in ((signed_a, masks_a), (signed_b, masks_b)):
        signed = np.asarray(signed, dtype=np.float64)
        total = float(np.abs(signed).sum())
        for name, mask in (masks or {}).items():
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != signed.shape:
                raise ValueError(f"region {name!r} has shape {mask.shape}, the map {signed.shape}")
            per.setdefault(name, []).append(float(signed[mask].sum() / total) if total > floor else 0.0)
    return {r: float(np.mean(v)) for r, v in per.items()}


def table_column(signed_a: np.ndarray, signed_b: np.ndarray, masks_a: dict[str, np.ndarray] | None,
                 masks_b: dict[str, np.ndarray] | None, *, floor: float = 1e-12) -> dict[str, float]:
    """One explainability-table column from two signed maps: :func:`region_net` divided by its largest |value|
    (thesis eq. 3.4), so the column reads like S0's: in [-1, 1], positive = supports the similarity.

    Args:
        signed_a, signed_b: (H, W) signed maps.
        masks_a, masks_b: {region: (H, W) bool} per photo.
        floor: a total |mass| or a peak at or below it counts as empty (all regions 0).
    Returns:
        {region: value in [-1, 1]} over the regions of either photo.
    """
    net = region_net(signed_a, signed_b, masks_a, masks_b, floor=floor)
    peak = max((abs(v) for v in net.values()), default=0.0)
    return {r: (v / peak if peak > floor else 0.0) for r, v in net.items()}


def pixel_maps(method: str, signed_a: np.ndarray, signed_b: np.ndarray, *, reference: float,
               threshold: float | None, masks_a: dict[str, np.ndarray] | None = None,
               masks_b: dict[str, np.ndarray] | None = None, **extra) -> PixelMaps:
    """A :class:`PixelMaps` from two signed maps: S+ = ReLU(S), S- = ReLU(-S), region shares and the table column.

    Args:
        method: method key; signed_a / signed_b: (H, W) signed maps; reference / threshold: the pair's cosine and
        the decision threshold; masks_a / masks_b: region masks on each crop; extra: n_embeddings, seconds, details.
    Returns:
        PixelMaps with float32 maps.
    """
    sa = np.nan_to_num(np.asarray(signed_a, dtype=np.float32))
    sb = np.nan_to_num(np.asarray(signed_b, dtype=np.float32))
    pos_a, neg_a = np.maximum(sa, 0.0), np.maximum(-sa, 0.0)
    pos_b, neg_b = np.maximum(sb, 0.0), np.maximum(-sb, 0.0)

    def shares(pos, neg, masks):
        sim, dis = region_mass(pos, masks), region_mass(neg, masks)
        return {r: {"similarity": sim[r], "dissimilarity": dis[r]} for r in sim}

    return PixelMaps(method=method, similarity_a=pos_a, dissimilarity_a=neg_a, similarity_b=pos_b,
                     dissimilarity_b=neg_b, signed_a=sa, signed_b=sb, reference=float(reference),
                     threshold=None if threshold is None else float(threshold),
                     regions_a=shares(pos_a, neg_a, masks_a), regions_b=shares(pos_b, neg_b, masks_b),
                     column=table_column(sa, sb, masks_a, masks_b), **extra)


def display_maps(pm: PixelMaps) -> dict[str, dict[str, np.ndarray]]:
    """The maps to draw, both photos on one scale: signed, similarity and dissimilarity divided by the largest |S|
    over both photos, so every value is in [-1, 1] and A and B stay comparable.

    Returns:
        {"a" | "b": {"signed": (H, W), "similarity": (H, W) >= 0, "dissimilarity": (H, W) >= 0}} float32 ("signed"
        first: the heatmap drawing takes the first map).
    """
    peak = float(max(np.abs(pm.signed_a).max(initial=0.0), np.abs(pm.signed_b).max(initial=0.0)))
    scale = 1.0 / peak if peak > 0 else 0.0
    return {side: {"signed": (signed * scale).astype(np.float32), "similarity": (pos * scale).astype(np.float32),
                   "dissimilarity": (neg * scale).astype(np.float32)}
            for side, signed, pos, neg in (("a", pm.signed_a, pm.similarity_a, pm.dissimilarity_a),
                                           ("b", pm.signed_b, pm.similarity_b, pm.dissimilarity_b))}


def pixel_result(pm: PixelMaps, masks_a: dict[str, np.ndarray], masks_b: dict[str, np.ndarray],
                 regions: list[str]):
    """The attribution-interface result of a pixel-map method (FGGB, CorrRISE).

    Args:
        pm: the method's :class:`PixelMaps`; masks_a, masks_b: region masks; regions: the regions to report.
    Returns:
        :class:`~explain_engine.attribution.types.AttributionResult`: ``deltas`` = :func:`region_net` shares (net
        signed mass, not score changes), ``normalised`` by eq. 3.4, ``maps`` = :func:`display_maps`, details with the
        PixelMaps ("pixel_maps"), its numeric details and each region's similarity / dissimilarity shares.
    """
    from .types import region_result

    net = region_net(pm.signed_a, pm.signed_b, masks_a, masks_b)
    deltas = {r: net.get(r, 0.0) for r in regions}
    details = {**pm.to_dict()["details"], "pixel_maps": pm, "regions_a": pm.regions_a, "regions_b": pm.regions_b,
               "deltas_are": "net share of the signed map's mass in the region"}
    return region_result(pm.method, deltas, pm.reference, n_embeddings=pm.n_embeddings, details=details,
                         maps=display_maps(pm))
