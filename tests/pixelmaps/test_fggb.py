"""FGGB (paper 004) with a tiny differentiable model whose signal sits in one band, with dlib-torch, and refused for
ONNX models and callables."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from explain_engine.attribution.dfv import rebalanced_weights
from explain_engine.attribution.fggb import (
    GradientsUnavailableError,
    channel_gradient_maps,
    fggb_maps,
    require_gradients,
    resolve_precision,
    select_channels,
    supports_gradients,
)

from .conftest import BAND, SIZE, BandTorchEmbedder, band_mean_embed

torch = pytest.importorskip("torch")


def test_gradient_maps_are_normalised_and_zero_outside_the_band(pair, masks):
    model = BandTorchEmbedder()
    maps = channel_gradient_maps(model, pair[0], chunk=5)
    assert maps.shape == (13, 40, 40) and maps.dtype == np.float32
    assert np.all(maps[:12].reshape(12, -1).max(axis=1) == pytest.approx(1.0))
    assert np.all(maps[:, ~masks["r1"]] == 0)
    assert np.all(maps[12] == 0)  # the constant channel has no gradient and stays 0 (no division by zero)


def test_fggb_puts_all_mass_in_the_band_with_the_right_signs(pair, masks):
    model = BandTorchEmbedder()
    a, b = pair
    res = fggb_maps(a, b, model, threshold=0.5, masks_a=masks, masks_b=masks, chunk=4)
    assert res.method == "fggb" and res.shape == (40, 40)
    for sim, dis, signed in ((res.similarity_a, res.dissimilarity_a, res.signed_a),
                             (res.similarity_b, res.dissimilarity_b, res.signed_b)):
        assert sim.shape == dis.shape == (40, 40)
        assert np.all(sim >= 0) and np.all(dis >= 0) and not np.any((sim > 0) & (dis > 0))
        np.testing.assert_allclose(sim - dis, signed, atol=1e-7)
    for side in (res.regions_a, res.regions_b):
        assert side["r1"]["similarity"] + side["r1"]["dissimilarity"] > 0.99
        assert side["r0"] == {"similarity": 0.0, "dissimilarity": 0.0}
    assert abs(res.column["r1"]) == 1.0 and res.column["r0"] == 0.0
    emb = model.embed(np.stack([a, b]))
    cos = emb[0] @ emb[1] / np.linalg.norm(emb[0]) / np.linalg.norm(emb[1])
    assert res.reference == pytest.approx(cos, abs=1e-6)
    assert res.details["weights_sum"] == pytest.approx(cos - 0.5, abs=1e-6)
    assert res.details["max_abs_error"] == 0.0 and res.details["channels"] == 13


def test_weights_follow_the_decision(pair, masks):
    """Same crop twice: s = 1 above any threshold < 1, so similarity dominates; a threshold above 1 (nothing
    matches) turns the same gradients into dissimilarity."""
    model = BandTorchEmbedder()
    a = pair[0]
    low = fggb_maps(a, a.copy(), model, threshold=0.2)
    high = fggb_maps(a, a.copy(), model, threshold=1.5)
    assert low.similarity_a.sum() > low.dissimilarity_a.sum()
    assert high.dissimilarity_a.sum() > high.similarity_a.sum()


def test_channel_subset_reports_its_error_bound(pair):
    model = BandTorchEmbedder()
    full = fggb_maps(pair[0], pair[1], model, threshold=0.5)
    part = fggb_maps(pair[0], pair[1], model, threshold=0.5, channels=4)
    assert part.details["channels"] == 4 and 0 < part.details["weight_share_kept"] < 1
    assert np.abs(part.signed_a - full.signed_a).max() <= part.details["max_abs_error"] + 1e-6


class BandSumEmbedder(BandTorchEmbedder):
    """Every channel a multiple of the band's pixel sum (plus an offset): every channel's normalised gradient map is
    the same (1 on the band, 0 elsewhere), so the full FGGB map is (s - t) on the band, exactly."""

    def __init__(self, dim: int = 12, seed: int = 0):
        import torch

        g = torch.Generator().manual_seed(seed)
        self.scale = torch.randn(dim, generator=g)
        self.offset = torch.randn(dim, generator=g) * 20

    def forward_tensor(self, x):
        band = x[:, :, BAND, :].sum(dim=(1, 2, 3))[:, None] / (255.0 * 3 * 8 * SIZE)
        return band * self.scale + self.offset


def test_fast_variant_completes_the_dropped_channels(pair, masks):
    """Leaving the dropped channels out would keep only part of s - t (on the dev pairs it flipped a non-match's
    map to 'similarity'); the completion restores it: with identical normalised maps the fast map is exact."""
    model = BandSumEmbedder()
    a, b = pair
    full = fggb_maps(a, b, model, threshold=0.99, masks_a=masks, masks_b=masks)
    fast = fggb_maps(a, b, model, threshold=0.99, masks_a=masks, masks_b=masks, channels=3, method="fggb_fast")
    assert fast.method == "fggb_fast" and fast.details["channels"] == 3 and fast.details["completion"]
    band = masks["r1"]
    np.testing.assert_allclose(full.signed_a[band], full.details["weights_sum"], rtol=1e-5)
    np.testing.assert_allclose(fast.signed_a, full.signed_a, atol=1e-6)
    np.testing.assert_allclose(fast.signed_b, full.signed_b, atol=1e-6)
    emb = model.embed(np.stack([a, b]))
    weights = rebalanced_weights(emb[0], emb[1], 0.99)
    kept = weights[select_channels(weights, 3)].sum()
    assert abs(kept - weights.sum()) > 0.2 * abs(weights.sum())  # without the completion the map would be off
    assert 0 < fast.details["weight_share_kept"] < 1 and fast.details["max_abs_error"] > 0


def test_bfloat16_precision_is_close_to_float32(pair):
    model = BandTorchEmbedder()
    f32 = fggb_maps(pair[0], pair[1], model, threshold=0.5)
    bf16 = fggb_maps(pair[0], pair[1], model, threshold=0.5, precision="bfloat16")
    assert bf16.details["precision"] == "bfloat16" and f32.details["precision"] == "float32"
    r = np.corrcoef(f32.signed_a.ravel(), bf16.signed_a.ravel())[0, 1]
    assert r > 0.95
    assert resolve_precision("auto", torch.device("cpu")) in ("float32", "bfloat16")
    with pytest.raises(ValueError, match="precision must be one of"):
        fggb_maps(pair[0], pair[1], model, threshold=0.5, precision="float16")
    with pytest.raises(ValueError, match="at least 1"):
        fggb_maps(pair[0], pair[1], model, threshold=0.5, channels=0)


def test_refused_for_callables_and_onnx(tmp_path, pair):
    from models.embedding.callable import CallableEmbedder

    fn = CallableEmbedder(band_mean_embed, input_size=40, template="test40", name="band-mean")
    assert not supports_gradients(fn)
    with pytest.raises(GradientsUnavailableError, match="CorrRISE"):
        fggb_maps(pair[0], pair[1], fn, threshold=0.5)

    pytest.importorskip("onnxruntime")
    from torch import nn

    from models.config import ModelConfig
    from models.registry import create

    net = nn.Sequential(nn.Conv2d(3, 4, 3, stride=2), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 8)).eval()
    path = tmp_path / "tiny.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(net, (torch.rand(1, 3, 40, 40) * 255,), str(path), input_names=["data"],
                          output_names=["embedding"], opset_version=17, dynamo=False,
                          dynamic_axes={"data": {0: "batch"}, "embedding": {0: "batch"}})
    config = ModelConfig(device="cpu", embedder="onnx", paths={"embedder": str(path)})
    onnx_model = create("embedder", config, "onnx", template="test40")
    assert onnx_model.embed(np.stack(pair)).shape == (2, 8)
    with pytest.raises(GradientsUnavailableError, match="'onnx' does not expose"):
        require_gradients(onnx_model)
    with pytest.raises(GradientsUnavailableError):
        fggb_maps(pair[0], pair[1], onnx_model, threshold=0.5)


def test_dlib_torch_identical_pair_is_mostly_similarity(dlib_torch, dlib_crops):
    crop, regions = dlib_crops
    res = fggb_maps(crop, crop.copy(), dlib_torch, threshold=dlib_torch.threshold, masks_a=regions,
                    masks_b=regions)
    assert res.shape == crop.shape[:2] and res.reference == pytest.approx(1.0, abs=1e-5)
    assert res.similarity_a.sum() > 2 * res.dissimilarity_a.sum()
    np.testing.assert_allclose(res.signed_a, res.signed_b, atol=1e-6)  # same photo, same weights
    assert res.details["channels"] == 128 and res.details["backward_passes"] == 256
    face = np.zeros(crop.shape[:2], bool)
    for m in regions.values():
        face |= m
    assert res.similarity_a[face].mean() > res.similarity_a[~face].mean()  # the face, not the background
