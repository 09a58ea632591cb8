"""The reference BiSeNet parser, loaded through its real code path from random-weight models built here:
a torch state dict saved to tmp_path (strict load) and an ONNX export of the same network."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models import registry
from models.config import ModelConfig
from models.errors import ImageError, ModelNotFoundError, ModelUnavailableError
from models.parsing import BISENET_FILE, CELEBAMASK_CLASSES, BiSeNetParser, build_bisenet

EXPECTED_CLASSES = (
    "background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "l_ear", "r_ear", "ear_r",
    "nose", "mouth", "u_lip", "l_lip", "neck", "neck_l", "cloth", "hair", "hat",
)  # fmt: skip


def _randomised_net():
    """A BiSeNet with random weights and non-trivial batch-norm statistics (so that outputs vary by class)."""
    torch.manual_seed(0)
    net = build_bisenet()
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.1, 0.1)
    return net.eval()


def _reference_logits(net, image: np.ndarray) -> np.ndarray:
    """face-parsing.PyTorch's own preprocessing, written out independently: PIL bilinear 512, ImageNet norm."""
    from PIL import Image

    resized = np.asarray(Image.fromarray(image).resize((512, 512), Image.BILINEAR), np.float32) / 255.0
    x = (resized - np.array([0.485, 0.456, 0.406], np.float32)) / np.array([0.229, 0.224, 0.225], np.float32)
    with torch.inference_mode():
        return net(torch.from_numpy(x.transpose(2, 0, 1)[None].copy()))[0].numpy()


@pytest.fixture(scope="module")
def net():
    return _randomised_net()


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, net):
    root = tmp_path_factory.mktemp("models")
    (root / "bisenet").mkdir()
    torch.save(net.state_dict(), root / "bisenet" / BISENET_FILE)
    return root


@pytest.fixture(scope="module")
def onnx_path(tmp_path_factory, net):
    path = tmp_path_factory.mktemp("onnx") / "bisenet.onnx"
    torch.onnx.export(
        net, torch.zeros(1, 3, 512, 512), str(path), dynamo=False, opset_version=17,
        input_names=["input"], output_names=["logits"],
    )  # fmt: skip
    return path


@pytest.fixture(scope="module")
def torch_parser(model_dir):
    config = ModelConfig(model_dir=model_dir, device="cpu", threads=2)
    return registry.create("parser", config, "bisenet")


@pytest.fixture(scope="module")
def face_crop(astronaut):
    return np.ascontiguousarray(astronaut[30:230, 130:310])  # the astronaut's head, not square


@pytest.fixture(scope="module")
def torch_logits(torch_parser, face_crop):
    return torch_parser.logits(face_crop)


def test_class_order_is_face_parsing_pytorch():
    assert CELEBAMASK_CLASSES == EXPECTED_CLASSES


def test_architecture_matches_the_published_checkpoint_layout(net):
    state = net.state_dict()
    weights = sum(v.numel() for k, v in state.items() if not k.endswith("num_batches_tracked"))
    assert weights == 13_313_088  # 79999_iter.pth holds these (53 MB of float32)
    for key in ("cp.resnet.layer4.1.bn2.running_var", "cp.resnet.layer2.0.downsample.0.weight",
                "cp.arm32.conv_atten.weight", "cp.conv_avg.conv.weight", "ffm.convblk.conv.weight",
                "ffm.conv2.weight", "conv_out.conv_out.weight", "conv_out16.conv_out.weight"):  # fmt: skip
        assert key in state
    assert state["conv_out.conv_out.weight"].shape == (19, 256, 1, 1)


def test_state_dict_loads_strictly_through_the_registry(torch_parser, torch_logits, net, face_crop):
    assert isinstance(torch_parser, BiSeNetParser)
    assert torch_parser.approximate is False and torch_parser.name == "bisenet"
    got = torch_logits
    expected = _reference_logits(net, face_crop)
    assert got.shape == (19, 512, 512)
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)


def test_parse_returns_labels_at_input_size(torch_parser, torch_logits, face_crop):
    result = torch_parser.parse(face_crop)
    assert result.labels.shape == face_crop.shape[:2]
    # labels are the logits' argmax, resized back with nearest-neighbour sampling
    centre = torch_logits[:, 256, 256].argmax()
    assert result.labels[face_crop.shape[0] * 256 // 512, face_crop.shape[1] * 256 // 512] == centre
    assert result.class_names == EXPECTED_CLASSES
    assert result.approximate is False and result.source.startswith("bisenet")
    assert result.labels.min() >= 0 and result.labels.max() < 19
    assert len(np.unique(result.labels)) > 1  # random weights, but not a constant map


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the TorchScript exporter is deprecated, still works
def test_onnx_export_agrees_with_torch(onnx_path, torch_logits, face_crop):
    onnx_parser = BiSeNetParser.from_config(ModelConfig(device="cpu", threads=2), "bisenet", path=onnx_path)
    assert onnx_parser._session is not None
    onnx_logits = onnx_parser.logits(face_crop)
    np.testing.assert_allclose(onnx_logits, torch_logits, rtol=1e-3, atol=1e-4)
    assert (onnx_logits.argmax(0) == torch_logits.argmax(0)).mean() > 0.999


def test_dataparallel_checkpoint_and_folder_path(tmp_path, net):
    wrapped = {"state_dict": {f"module.{k}": v for k, v in net.state_dict().items()}}
    torch.save(wrapped, tmp_path / "parallel.pth")
    parser = BiSeNetParser.from_config(ModelConfig(device="cpu", threads=1), "bisenet", path=tmp_path)
    assert parser.path.name == "parallel.pth"
    assert parser._net.conv_out.conv_out.weight.equal(net.conv_out.conv_out.weight)


def test_wrong_state_dict_is_a_clear_error(tmp_path, net):
    state = net.state_dict()
    state.pop("cp.arm16.bn_atten.weight")
    torch.save(state, tmp_path / "broken.pth")
    with pytest.raises(ModelUnavailableError, match="not a face-parsing.PyTorch BiSeNet"):
        BiSeNetParser.from_config(ModelConfig(device="cpu"), "bisenet", path=tmp_path / "broken.pth")
    (tmp_path / "garbage.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(ModelUnavailableError, match="could not read"):
        BiSeNetParser.from_config(ModelConfig(device="cpu"), "bisenet", path=tmp_path / "garbage.pth")


def test_missing_weights_raise_model_not_found(tmp_path):
    config = ModelConfig(model_dir=tmp_path, allow_downloads=False)
    with pytest.raises(ModelNotFoundError, match="bisenet"):
        registry.create("parser", config, "bisenet")
    with pytest.raises(ModelNotFoundError):
        BiSeNetParser.from_config(config, "bisenet", path=tmp_path / "nowhere.pth")
    # downloads allowed but no hub repository given: still a clear error, no network
    with pytest.raises(ModelNotFoundError, match="no official hub source"):
        BiSeNetParser.from_config(ModelConfig(model_dir=tmp_path, allow_downloads=True), "bisenet")


def test_describe_does_not_load(tmp_path, model_dir):
    missing = BiSeNetParser.describe(ModelConfig(model_dir=tmp_path), "bisenet")
    assert missing.available is False and BISENET_FILE in missing.detail
    present = BiSeNetParser.describe(ModelConfig(model_dir=model_dir), "bisenet")
    assert present.available is True and present.source.endswith(BISENET_FILE)
    assert "non-commercial" in present.licence


def test_bad_image_is_an_image_error(torch_parser):
    with pytest.raises(ImageError):
        torch_parser.parse(np.zeros((64, 64), np.uint8))
    with pytest.raises(ImageError):
        torch_parser.parse(np.zeros((64, 64, 3), np.float32))
