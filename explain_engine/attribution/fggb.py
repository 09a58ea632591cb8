"""FGGB: Feature-Guided Gradient Backpropagation (Lu, Xu & Ebrahimi, "Explainable Face Verification via
Feature-Guided Gradient Backpropagation", paper 004), a similarity and a dissimilarity map for each photo of a pair.

For photo A with embedding F_A (N channels) and partner embedding F_B (paper 004, §3 and Fig. 1)::

    G_A^k  = dF_A^k / dI_A                                   channel-wise gradient of the embedding w.r.t. the input
    G~_A^k = normalise(G_A^k)                                here: max_c |G_A^k| over the colour channels, / its max
    w      = (F_A (.) F_B) / (||F_A|| ||F_B||)               channel-wise cosine terms (sum_k w_k = s)
    S_A    = sum_k G~_A^k (w_k - t/N)                        re-balanced by the threshold t
    S_A+   = ReLU(S_A)  (similarity map),   S_A- = ReLU(-S_A)  (dissimilarity map)

and symmetrically for B (same weights). Since every G~ lies in [0, 1] and sum_k (w_k - t/N) = s - t, a uniform
gradient would give S = s - t everywhere: similarity dominates a match and dissimilarity a non-match, and the maps
show where. The weighting and split are DFV's decomposition (:mod:`.dfv`, paper 002 Algorithm 1), with gradients
in place of DFV's reconstruction residuals.

Cost: one forward and one backward pass per embedding channel and photo (N = 128 for dlib), run in chunks of
replicated inputs: about 256 backward passes per pair, which no batching makes cheaper on a CPU (the method's cost
is in the per-channel passes themselves).

**FGGB fast** (method ``fggb_fast``; a deviation from the paper, listed in the README): ``channels=K`` computes only
the K channels with the largest |w_k - t/N| and completes the sum for the dropped ones with the mean normalised map
of the kept ones, ``S ~ sum_kept G~^k c_k + (sum_dropped c_k) mean_kept(G~)`` (a control variate: the dropped
channels' weights sum to a large share of s - t, and leaving them out flips the sign of a non-match's map). Every
G~ lies in [0, 1], so at any pixel the map differs from the full one by at most the sum of the dropped |c_k|,
reported as ``details["max_abs_error"]``. ``precision="bfloat16"`` runs the passes under torch autocast (about half
the time where the CPU has bfloat16 instructions). The defaults :data:`FAST_CHANNELS` and :data:`FAST_PRECISION`
come from ``benchmarks/bench_fggb_channels.py`` (fidelity to the full map against cost, on the development pairs).

Needs a face model that exposes gradients (:class:`models.base.DifferentiableEmbedder`, e.g. the default
``dlib-torch``); ONNX models and callables are refused with :class:`GradientsUnavailableError`.
"""

from __future__ import annotations

import time

import numpy as np

from models.base import DifferentiableEmbedder
from models.errors import ModelUnavailableError

from .base import Attribution, Progress, common_regions
from .dfv import PixelMaps, pixel_maps, pixel_result, rebalanced_weights

PRECISIONS = ("float32", "bfloat16", "auto")  # auto: bfloat16 where the device computes it natively, else float32
FAST_CHANNELS = 64  # FGGB fast: see benchmarks/bench_fggb_channels.py and the README's deviations
FAST_PRECISION = "auto"
DEFAULT_CHUNK = 32  # replicated inputs per backward pass: 8-64 within a factor 2 on 2 loaded CPU cores; 32 best there


class GradientsUnavailableError(ModelUnavailableError):
    """The face model runs as a black box (ONNX, a callable): gradient maps such as FGGB cannot be computed."""


def supports_gradients(model) -> bool:
    """True when ``model`` exposes ``to_tensor`` and ``forward_tensor`` (:class:`DifferentiableEmbedder`)."""
    return isinstance(model, DifferentiableEmbedder) and callable(getattr(model, "forward_tensor", None))


def require_gradients(model, method: str = "FGGB") -> None:
    """Raise a clear :class:`GradientsUnavailableError` when ``model`` cannot give gradients.

    Raises:
        GradientsUnavailableError: names the model and the alternatives (dlib-torch, or CorrRISE).
    """
    if not supports_gradients(model):
        name = getattr(model, "name", type(model).__name__)
        raise GradientsUnavailableError(
            f"{method} needs the face model's gradients, but the face model {name!r} does not expose them "
            "(ONNX models and plain Python callables run as black boxes). Use the dlib-torch face model for "
            f"{method}, or CorrRISE, which works with every face model.")


def _torch():
    import torch

    return torch


def resolve_precision(precision: str, device) -> str:
    """"float32" or "bfloat16" for ``precision`` on a torch ``device`` ("auto": bfloat16 where it is native: a CUDA
    GPU that supports it, or a CPU with AVX-512 BF16 / AMX through oneDNN; emulated bfloat16 is slower than float32).

    Raises:
        ValueError: ``precision`` not in :data:`PRECISIONS`.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
    if precision != "auto":
        return precision
    torch = _torch()
    if getattr(device, "type", str(device)) == "cuda":
        return "bfloat16" if torch.cuda.is_bf16_supported() else "float32"
    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = False
    return "bfloat16" if native else "float32"


def embed_tensor(model, crops: np.ndarray) -> np.ndarray:
    """(N, D) float64 embeddings through ``model.forward_tensor`` (the same values the gradients refer to)."""
    torch = _torch()
    with torch.no_grad():
        return model.forward_tensor(model.to_tensor(crops)).double().cpu().numpy()


def channel_gradient_maps(model, crop: np.ndarray, channels: np.ndarray | list[int] | None = None, *,
                          chunk: int = DEFAULT_CHUNK, precision: str = "float32") -> np.ndarray:
    """Normalised channel-wise gradient maps G~^k of one crop (paper 004, G_A^k = dF_A^k / dI_A).

    Args:
        model: a :class:`DifferentiableEmbedder`.
        crop: (H, W, 3) uint8 aligned crop of the model's input size.
        channels: embedding channels to differentiate (default: all N).
        chunk: inputs replicated per backward pass (memory ~ chunk x one forward).
        precision: "float32", "bfloat16" (torch autocast: about half the time on CPUs with AVX-512 BF16 or
            AMX; maps correlate about 0.97 with float32's) or "auto" (:func:`resolve_precision`).
    Returns:
        (K, H, W) float32, each map = max over colour channels of |dF^k/dI| divided by its maximum (in [0, 1];
        an all-zero gradient stays 0).
    Raises:
        GradientsUnavailableError: the model gives no gradients; ImageError: the crop does not fit the model.
    """
    require_gradients(model)
    torch = _torch()
    x0 = model.to_tensor(np.asarray(crop)[None]).detach()
    precision = resolve_precision(precision, x0.device)
    if channels is None:
        with torch.no_grad():
            n = int(model.forward_tensor(x0).shape[1])
        channels = np.arange(n)
    channels = np.asarray(channels, dtype=np.int64)
    h, w = x0.shape[2], x0.shape[3]
    out = np.empty((len(channels), h, w), dtype=np.float32)
    chunk = max(1, int(chunk))
    for start in range(0, len(channels), chunk):
        idx = torch.as_tensor(channels[start:start + chunk], device=x0.device)
        k = len(idx)
        # channels-last keeps oneDNN on its fast path (about 1.3x on CPU)
        xx = x0.expand(k, -1, -1, -1).contiguous(memory_format=torch.channels_last).requires_grad_(True)
        with torch.enable_grad(), torch.autocast(x0.device.type, dtype=torch.bfloat16,
                                                 enabled=precision == "bfloat16"):
            y = model.forward_tensor(xx)
            (grad,) = torch.autograd.grad(y[torch.arange(k, device=y.device), idx].sum(), xx)
        g = grad.float().abs().amax(dim=1)  # (k, H, W): Simonyan et al.'s max over colour channels
        peak = g.flatten(1).amax(dim=1).clamp_min(torch.finfo(g.dtype).tiny)
        out[start:start + k] = (g / peak[:, None, None]).float().cpu().numpy()
    return out


def select_channels(weights: np.ndarray, channels: int | None) -> np.ndarray:
    """Indices of the ``channels`` largest |weights| (all, in order, when None or >= N)."""
    n = len(weights)
    if channels is None or int(channels) >= n:
        return np.arange(n)
    if int(channels) < 1:
        raise ValueError(f"channels must be at least 1, not {channels}")
    return np.sort(np.argsort(-np.abs(weights), kind="stable")[: int(channels)])


def fggb_maps(crop_a: np.ndarray, crop_b: np.ndarray, model, *, threshold: float,
              masks_a: dict[str, np.ndarray] | None = None, masks_b: dict[str, np.ndarray] | None = None,
              channels: int | None = None, chunk: int = DEFAULT_CHUNK, precision: str = "float32",
              method: str = "fggb") -> PixelMaps:
    """FGGB similarity and dissimilarity maps of both photos (paper 004: S_A = sum_k G~_A^k (w_k - t/N),
    S+ = ReLU(S), S- = ReLU(-S)).

    Args:
        crop_a, crop_b: (H, W, 3) uint8 aligned crops (the model's input size).
        model: a :class:`DifferentiableEmbedder` (e.g. ``DlibTorchEmbedder``).
        threshold: the cosine decision threshold t.
        masks_a, masks_b: {region: (H, W) bool} for the region shares and the table column.
        channels: None (all N channels, the paper) or K: the K channels with the largest |w_k - t/N| computed, the
            others completed with the kept maps' mean (FGGB fast, see the module docstring).
        chunk: replicated inputs per backward pass.
        precision: "float32" (the paper), "bfloat16" or "auto" (see :func:`channel_gradient_maps`).
        method: the method key the maps are filed under ("fggb" or "fggb_fast").
    Returns:
        :class:`PixelMaps`; maps in the units of the weights (cosine terms); details: channels computed, kept share
        of sum |w_k - t/N|, max_abs_error (at most this far from the full map at any pixel; 0 with all channels),
        backward passes, precision used.
    Raises:
        GradientsUnavailableError: ``model`` exposes no gradients (ONNX, callable); ImageError: bad crops;
        ValueError: channels < 1 or an unknown precision.
    """
    require_gradients(model)
    t0 = time.perf_counter()
    precision = resolve_precision(precision, model.to_tensor(np.asarray(crop_a)[None]).device)  # once per pair
    emb = embed_tensor(model, np.stack([np.asarray(crop_a), np.asarray(crop_b)]))
    weights = rebalanced_weights(emb[0], emb[1], threshold, rule="fggb")
    keep = select_channels(weights, channels)
    dropped = np.setdiff1d(np.arange(len(weights)), keep)
    kept_w = weights[keep].astype(np.float32)
    rest = float(weights[dropped].sum())
    signed = []
    for crop in (crop_a, crop_b):
        maps = channel_gradient_maps(model, crop, keep, chunk=chunk, precision=precision)
        s_map = np.tensordot(kept_w, maps, axes=(0, 0))
        if len(dropped):  # the dropped channels' share of s - t, spread like the kept channels' mean map
            s_map += np.float32(rest) * maps.mean(axis=0)
        signed.append(s_map)
    reference = float(emb[0] @ emb[1] / (np.linalg.norm(emb[0]) * np.linalg.norm(emb[1])))
    total = float(np.abs(weights).sum())
    details = {"channels": len(keep), "of_channels": len(weights),
               "weight_share_kept": float(np.abs(kept_w).sum() / total) if total > 0 else 1.0,
               "max_abs_error": float(np.abs(weights[dropped]).sum()), "backward_passes": 2 * len(keep),
               "precision": precision,
               "completion": "mean of the kept maps" if len(dropped) else None,
               "weights_sum": float(weights.sum()), "normalisation": "max |grad| over colour, / channel max",
               "source": "Lu, Xu & Ebrahimi, FGGB (paper 004)"}
    return pixel_maps(method, signed[0], signed[1], reference=reference, threshold=threshold, masks_a=masks_a,
                      masks_b=masks_b, n_embeddings=2, seconds=time.perf_counter() - t0, details=details)


class FGGB(Attribution):
    """FGGB under the attribution interface: similarity / dissimilarity maps of both photos and their region
    shares (paper 004). Needs no fill; needs the face model itself, for its gradients.

    Args:
        embed_or_scorer: a PairScorer on the pair, or an embed callable with ``crop_a`` / ``crop_b``.
        model: a :class:`DifferentiableEmbedder` (the engine's face model).
        threshold: the cosine decision threshold t.

    Raises:
        GradientsUnavailableError: ``model`` gives no gradients (ONNX, callables), before any work.
    """

    method = "fggb"
    needs_fill = False

    def __init__(self, embed_or_scorer, model, *, threshold: float, crop_a: np.ndarray | None = None,
                 crop_b: np.ndarray | None = None, batch_size: int = 32):
        require_gradients(model)
        super().__init__(embed_or_scorer, None, crop_a=crop_a, crop_b=crop_b, batch_size=batch_size)
        self.model = model
        self.threshold = float(threshold)

    def attribute(self, masks_a: dict[str, np.ndarray], masks_b: dict[str, np.ndarray], *,
                  regions: list[str] | None = None, progress: Progress | None = None, channels: int | None = None,
                  chunk: int = DEFAULT_CHUNK, precision: str = "float32", **options):
        """Compute :func:`fggb_maps` on the scorer's crops and reduce it to regions.

        Returns:
            AttributionResult ("fggb"): ``deltas`` = net share of S's mass per region, ``normalised`` by eq. 3.4,
            ``maps`` = {"a" | "b": {"signed", "similarity", "dissimilarity"}} scaled to [-1, 1] over both photos.
        """
        regions = common_regions(masks_a, masks_b, regions)
        pm = fggb_maps(self.scorer.image_a, self.scorer.image_b, self.model, threshold=self.threshold,
                       masks_a=masks_a, masks_b=masks_b, channels=channels, chunk=chunk, precision=precision,
                       method=self.method)
        if progress:
            progress(1.0)
        return pixel_result(pm, masks_a, masks_b, regions)


class FGGBFast(FGGB):
    """FGGB fast: :class:`FGGB` on the :data:`FAST_CHANNELS` channels of largest |w_k - t/N| (the others completed
    by the kept maps' mean) in :data:`FAST_PRECISION` (a deviation from paper 004 for speed; see the module
    docstring and ``benchmarks/bench_fggb_channels.py`` for its fidelity to the full map)."""

    method = "fggb_fast"

    def attribute(self, masks_a: dict[str, np.ndarray], masks_b: dict[str, np.ndarray], *,
                  channels: int | None = FAST_CHANNELS, precision: str = FAST_PRECISION, **options):
        """:meth:`FGGB.attribute` with the fast defaults (``channels=None`` computes every channel)."""
        return super().attribute(masks_a, masks_b, channels=channels, precision=precision, **options)
