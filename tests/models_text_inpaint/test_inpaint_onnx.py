"""ONNX inpainters (LaMa / MI-GAN style) exported from tiny torch nets and loaded through OnnxInpainter."""

from __future__ import annotations

import numpy as np
import pytest

from models import registry
from models.config import ModelConfig
from models.errors import ConfigError, ModelNotFoundError
from models.inpainting.onnx import OnnxInpainter

pytest.importorskip("onnxruntime")


def _config(model_dir, path, name="lama") -> ModelConfig:
    return ModelConfig(inpainter=name, paths={"inpainter": str(path)}, model_dir=model_dir, allow_downloads=False,
                       device="cpu", threads=1)


def test_fixed_size_graph_is_resized_and_pasted_back(tiny_onnx_fixed, offline_config, astronaut, face_masks):
    hole, _ = face_masks
    inpainter = registry.create("inpainter", _config(offline_config.model_dir, tiny_onnx_fixed))
    assert isinstance(inpainter, OnnxInpainter) and inpainter.name == "lama" and inpainter.deterministic
    assert inpainter.image_port.layout == "NCHW" and inpainter.image_port.size == (64, 64)
    assert inpainter.mask_port.name == "mask" and not inpainter.image_port.uint8
    out = inpainter.inpaint(astronaut, hole)
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    assert np.array_equal(out[~hole], astronaut[~hole])
    assert np.abs(out[hole].astype(int) - astronaut[hole].astype(int)).mean() > 10
    batch = inpainter.inpaint_batch([astronaut, astronaut], [hole, np.zeros_like(hole)])
    assert np.array_equal(batch[0], out) and np.array_equal(batch[1], astronaut)


@pytest.mark.parametrize(("backend", "hole_value"), [("lama", 255), ("migan", 0)])
def test_probe_graph_sees_zeroed_holes_and_the_mask_convention(
    backend, hole_value, tiny_onnx_probe, offline_config, astronaut, face_masks
):
    # the probe returns image + 255 * mask on a dynamic-size NHWC uint8 graph: inside the hole it shows 255 when
    # the mask marks holes (LaMa convention) and 0 when it marks known pixels (MI-GAN), because the adapter
    # zeroes hole pixels before the network sees them
    hole, _ = face_masks
    image = np.ascontiguousarray(astronaut[:203, :301])  # odd size: padded to a multiple of 8 and cropped back
    mask = hole[:203, :301]
    inpainter = registry.create("inpainter", _config(offline_config.model_dir, tiny_onnx_probe, backend), backend)
    assert inpainter.image_port.layout == "NHWC" and inpainter.image_port.size is None
    assert inpainter.mask_port.name == "holes" and inpainter.mask_port.uint8
    out = inpainter.inpaint(image, mask)
    assert out.shape == image.shape
    assert np.array_equal(out[~mask], image[~mask])
    assert (out[mask] == hole_value).all()


def test_options(tiny_onnx_fixed, offline_config):
    config = _config(offline_config.model_dir, tiny_onnx_fixed)
    assert registry.create("inpainter", config, "migan").mask_convention == "known"
    assert registry.create("inpainter", config, "migan", mask_convention="hole").mask_convention == "hole"
    with pytest.raises(ConfigError, match="mask_convention"):
        registry.create("inpainter", config, mask_convention="white")
    with pytest.raises(ConfigError, match="unknown options"):
        registry.create("inpainter", config, resize=True)


def test_missing_or_broken_files_raise_model_not_found(offline_config, tmp_path):
    with pytest.raises(ModelNotFoundError, match="not found"):
        registry.create("inpainter", offline_config, "lama")
    with pytest.raises(ModelNotFoundError, match="not found"):
        registry.create("inpainter", _config(offline_config.model_dir, tmp_path / "missing.onnx", "migan"), "migan")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not an onnx graph")
    with pytest.raises(ModelNotFoundError, match="not a loadable ONNX"):
        registry.create("inpainter", _config(offline_config.model_dir, broken))
    info = OnnxInpainter.describe(offline_config, "lama")
    assert not info.available and "no ONNX file" in info.detail
