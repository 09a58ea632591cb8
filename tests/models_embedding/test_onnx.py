"""ONNX embedders through their real loading code, with tiny random-weight CNNs exported to ONNX here."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from models.config import ModelConfig
from models.embedding.onnx import ArcFaceEmbedder, OnnxEmbedder, graph_normalises_input
from models.errors import ConfigError, ImageError, ModelNotFoundError
from models.registry import create


def _tiny_net(dim: int = 16, nhwc: bool = False, normalise_inside: bool = False):
    import torch
    from torch import nn

    class TinyEmbedder(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 8, 3, stride=2)
            self.fc = nn.Linear(8, dim)

        def forward(self, x):
            if nhwc:
                x = x.permute(0, 3, 1, 2)
            if normalise_inside:  # like MXNet-converted ArcFace graphs
                x = (x - 127.5) * 0.0078125
            x = torch.relu(self.conv(x))
            return self.fc(x.mean(dim=(2, 3)))

    torch.manual_seed(0)
    return TinyEmbedder().eval()


def export(path: Path, *, size: int = 112, dim: int = 16, nhwc: bool = False, dynamic_batch: bool = True,
           normalise_inside: bool = False) -> Path:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (2, size, size, 3) if nhwc else (2, 3, size, size)
    if not dynamic_batch:
        shape = (1,) + shape[1:]
    with warnings.catch_warnings():  # the TorchScript exporter is deprecated; the dynamo one needs onnxscript
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            _tiny_net(dim, nhwc, normalise_inside), (torch.rand(shape) * 255,), str(path),
            input_names=["data"], output_names=["embedding"], opset_version=17, dynamo=False,
            dynamic_axes={"data": {0: "batch"}, "embedding": {0: "batch"}} if dynamic_batch else None,
        )
    if normalise_inside:  # MXNet-style node names ("Sub...", "Mul..."), which insightface looks for
        import onnx

        model = onnx.load(str(path))
        for node in model.graph.node:
            node.name = node.name.strip("/").replace("/", "_")
        onnx.save(model, str(path))
    return path


def run_ort(path: Path, blob: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: blob.astype(np.float32)})[0]


@pytest.fixture(scope="module")
def crops112() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (5, 112, 112, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def pack_dir(tmp_path_factory) -> Path:
    """A model folder laid out like insightface's: <model_dir>/insightface/buffalo_l/w600k_r50.onnx."""
    root = tmp_path_factory.mktemp("models")
    export(root / "insightface" / "buffalo_l" / "w600k_r50.onnx", dim=512)
    return root


def test_arcface_pack_loads_from_model_dir(pack_dir, crops112):
    config = ModelConfig(model_dir=pack_dir, device="cpu", allow_downloads=False)
    emb = create("embedder", config, "arcface")
    assert isinstance(emb, ArcFaceEmbedder)
    assert (emb.name, emb.template, emb.input_size, emb.layout) == ("arcface", "arcface112", 112, "nchw")
    assert 0.2 <= emb.threshold <= 0.5
    out = emb.embed(crops112)
    assert out.shape == (5, 512) and out.dtype == np.float32
    # insightface's preprocessing: RGB, (x - 127.5) / 127.5, NCHW
    blob = ((crops112.astype(np.float32) - 127.5) / 127.5).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(out, run_ort(emb.model_path, blob), rtol=1e-5, atol=1e-5)
    assert np.abs(emb.embed(crops112[:1]) - out[:1]).max() < 1e-5  # batch equals single
    info = ArcFaceEmbedder.describe(config, "arcface")
    assert info.available and info.source.endswith("w600k_r50.onnx")


def test_arcface_explicit_path_and_nested_pack(tmp_path, crops112):
    model = export(tmp_path / "antelopev2" / "antelopev2" / "glintr100.onnx", dim=512)  # zip-in-folder layout
    config = ModelConfig(model_dir=tmp_path / "empty", device="cpu")
    by_file = ArcFaceEmbedder.from_config(config, "arcface", model_path=str(model))
    by_folder = ArcFaceEmbedder.from_config(config, "arcface", model_path=str(tmp_path / "antelopev2"),
                                            pack="antelopev2")
    assert by_folder.model_path == model
    np.testing.assert_allclose(by_file.embed(crops112), by_folder.embed(crops112), atol=1e-6)


def test_arcface_missing_pack_without_downloads(tmp_path):
    config = ModelConfig(model_dir=tmp_path, device="cpu", allow_downloads=False)
    with pytest.raises(ModelNotFoundError, match="not found at .*allow downloads"):
        create("embedder", config, "arcface")
    with pytest.raises(ModelNotFoundError, match="not found"):
        ArcFaceEmbedder.from_config(config, "arcface", model_path=str(tmp_path / "nope.onnx"))
    with pytest.raises(ConfigError, match="unknown ArcFace pack"):
        ArcFaceEmbedder.from_config(config, "arcface", pack="buffalo_xxl")
    info = ArcFaceEmbedder.describe(config, "arcface")
    assert not info.available and "FACEX_ALLOW_DOWNLOADS" in info.detail


def test_arcface_download_goes_through_insightface(tmp_path, monkeypatch):
    """With downloads allowed the pack comes from insightface's own storage.download (stubbed: no network)."""
    from insightface.utils import storage

    calls = []

    def fake_download(sub_dir, name, force=False, root="~/.insightface"):
        calls.append((sub_dir, name, root))
        export(Path(root) / sub_dir / name / "w600k_r50.onnx", dim=512)
        return str(Path(root) / sub_dir / name)

    monkeypatch.setattr(storage, "download", fake_download)
    config = ModelConfig(model_dir=tmp_path, device="cpu", allow_downloads=True)
    emb = create("embedder", config, "arcface")
    assert calls == [("insightface", "buffalo_l", str(tmp_path))]
    assert emb.model_path == tmp_path / "insightface" / "buffalo_l" / "w600k_r50.onnx"


def test_mxnet_style_graph_gets_raw_pixels(tmp_path, crops112):
    model = export(tmp_path / "old.onnx", normalise_inside=True)
    assert graph_normalises_input(model)
    emb = ArcFaceEmbedder(model, config=ModelConfig(device="cpu"))
    assert emb.mean.tolist() == [0, 0, 0] and emb.std.tolist() == [1, 1, 1]
    raw = crops112.astype(np.float32).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(emb.embed(crops112), run_ort(model, raw), rtol=1e-5, atol=1e-5)


def test_generic_onnx_nhwc_bgr_fixed_batch(tmp_path):
    model = export(tmp_path / "nhwc.onnx", size=96, dim=32, nhwc=True, dynamic_batch=False)
    config = ModelConfig(device="cpu", embedder="onnx", paths={"embedder": str(model)})
    emb = create("embedder", config, "onnx", mean=[10, 20, 30], std=50.0, channel_order="bgr",
                 template="custom96")
    assert isinstance(emb, OnnxEmbedder) and emb.name == "onnx"
    assert (emb.layout, emb.input_size, emb.batch_size, emb.template) == ("nhwc", 96, 1, "custom96")
    crops = np.random.default_rng(2).integers(0, 256, (3, 96, 96, 3), dtype=np.uint8)
    out = emb.embed(crops)  # three runs of the fixed batch of one
    assert out.shape == (3, 32)
    blob = (crops[..., ::-1].astype(np.float32) - np.array([10, 20, 30], np.float32)) / 50.0
    expected = np.concatenate([run_ort(model, blob[i : i + 1]) for i in range(3)])
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(ImageError, match=r"\(N, 96, 96, 3\)"):
        emb.embed(np.zeros((1, 112, 112, 3), np.uint8))


def test_generic_onnx_needs_a_path_and_valid_options(tmp_path):
    with pytest.raises(ModelNotFoundError, match="FACEX_EMBEDDER_PATH") as info:  # the switch that exists
        create("embedder", ModelConfig(device="cpu", model_dir=tmp_path), "onnx")
    assert "--model-path" not in str(info.value)
    model = export(tmp_path / "m.onnx")
    with pytest.raises(ConfigError):
        OnnxEmbedder(model, channel_order="rgba")
    with pytest.raises(ConfigError):
        OnnxEmbedder(model, mean=[1, 2])
