"""RePaint and Stable-Diffusion inpainting through the real loaders, on tiny random-weight pipelines saved to disk.

Random weights fill the hole with noise-like content, which is all these tests need: the code path (loading,
resizing to the model size and back, seeding, mask convention, paste-back) is the real one.
"""

from __future__ import annotations

import numpy as np
import pytest

from models import registry
from models.config import ModelConfig
from models.errors import ConfigError, ModelNotFoundError
from models.inpainting.diffusion import RePaintInpainter, StableDiffusionInpainter

pytest.importorskip("diffusers")


@pytest.fixture(scope="module")
def face_crop(astronaut):
    """The astronaut's head, 160 px: small enough to keep the tiny pipelines fast."""
    return np.ascontiguousarray(astronaut[30:190, 140:300])


@pytest.fixture(scope="module")
def crop_hole(face_crop):
    hole = np.zeros(face_crop.shape[:2], bool)
    hole[70:100, 40:120] = True  # eyes
    return hole


def _config(model_dir, name, path) -> ModelConfig:
    return ModelConfig(inpainter=name, paths={"inpainter": str(path)}, model_dir=model_dir, allow_downloads=False,
                       device="cpu", threads=1)


@pytest.fixture(scope="module")
def repaint(tiny_repaint_dir, offline_config):
    config = _config(offline_config.model_dir, "repaint", tiny_repaint_dir)
    return registry.create("inpainter", config, num_inference_steps=4, jump_length=2, jump_n_sample=2)


@pytest.fixture(scope="module")
def sd_inpaint(tiny_sd_dir, offline_config):
    config = _config(offline_config.model_dir, "sd-inpaint", tiny_sd_dir)
    return registry.create("inpainter", config, num_inference_steps=2)


def _check_fill(out, image, hole):
    assert out.shape == image.shape and out.dtype == np.uint8
    assert np.array_equal(out[~hole], image[~hole])
    assert np.abs(out[hole].astype(int) - image[hole].astype(int)).mean() > 5


def test_repaint_keeps_known_pixels_and_is_seedable(repaint, face_crop, crop_hole):
    assert isinstance(repaint, RePaintInpainter) and repaint.name == "repaint"
    assert repaint.size == (32, 32) and repaint.deterministic is False
    out = repaint.inpaint(face_crop, crop_hole, seed=7)
    _check_fill(out, face_crop, crop_hole)
    assert np.array_equal(out, repaint.inpaint(face_crop, crop_hole, seed=7))
    assert not np.array_equal(out, repaint.inpaint(face_crop, crop_hole, seed=8))


def test_repaint_batch_and_full_mask(repaint, face_crop, crop_hole):
    other = np.zeros_like(crop_hole)
    other[110:140, 50:110] = True  # mouth
    outs = repaint.inpaint_batch([face_crop, face_crop], [crop_hole, other], seed=1)
    _check_fill(outs[0], face_crop, crop_hole)
    _check_fill(outs[1], face_crop, other)
    # an unconditional DDPM may draw the whole frame
    full = repaint.inpaint(face_crop, np.ones_like(crop_hole), seed=1)
    assert full.shape == face_crop.shape and not np.array_equal(full, face_crop)


def test_repaint_loads_a_bare_unet_folder(tiny_repaint_dir, tmp_path, offline_config, face_crop, crop_hole):
    # the google/ddpm-* repositories keep the UNet config and weights at the top level
    from diffusers import UNet2DModel

    UNet2DModel.from_pretrained(tiny_repaint_dir, subfolder="unet").save_pretrained(tmp_path)
    assert (tmp_path / "config.json").exists() and not (tmp_path / "unet").exists()
    inpainter = registry.create("inpainter", _config(offline_config.model_dir, "repaint", tmp_path),
                                num_inference_steps=4, jump_length=1, jump_n_sample=1)
    _check_fill(inpainter.inpaint(face_crop, crop_hole, seed=0), face_crop, crop_hole)


def test_sd_inpaint_keeps_known_pixels_and_is_seedable(sd_inpaint, face_crop, crop_hole):
    assert isinstance(sd_inpaint, StableDiffusionInpainter) and sd_inpaint.name == "sd-inpaint"
    assert sd_inpaint.size == (32, 32)
    out = sd_inpaint.inpaint(face_crop, crop_hole, seed=3)
    _check_fill(out, face_crop, crop_hole)
    assert np.array_equal(out, sd_inpaint.inpaint(face_crop, crop_hole, seed=3))
    outs = sd_inpaint.inpaint_batch([face_crop, face_crop[::-1].copy()], [crop_hole, crop_hole], seed=3)
    _check_fill(outs[0], face_crop, crop_hole)
    _check_fill(outs[1], face_crop[::-1], crop_hole)


def test_sd_rejects_a_non_inpainting_unet(tiny_repaint_dir, offline_config):
    # a folder without model_index.json is not a pipeline
    config = _config(offline_config.model_dir, "sd-inpaint", tiny_repaint_dir / "unet")
    with pytest.raises(ModelNotFoundError, match="model_index.json"):
        registry.create("inpainter", config)


def test_missing_models_raise_model_not_found(offline_config, tmp_path):
    for name in ("repaint", "sd-inpaint"):
        with pytest.raises(ModelNotFoundError, match="not found"):
            registry.create("inpainter", offline_config, name)  # default folder absent, downloads off
        with pytest.raises(ModelNotFoundError, match="not found"):
            registry.create("inpainter", _config(offline_config.model_dir, name, tmp_path / "nowhere"), name)
        # a hub id is not fetched while downloads are off
        config = ModelConfig(paths={"inpainter": "google/ddpm-ema-celebahq-256"}, model_dir=offline_config.model_dir,
                             allow_downloads=False)
        with pytest.raises(ModelNotFoundError, match="FACEX_ALLOW_DOWNLOADS"):
            registry.create("inpainter", config, name)
        info = registry.backend_class("inpainter", name).describe(offline_config, name)
        assert not info.available and "not found" in info.detail


def test_describe_and_options(tiny_repaint_dir, offline_config):
    config = _config(offline_config.model_dir, "repaint", tiny_repaint_dir)
    info = RePaintInpainter.describe(config, "repaint")
    assert info.available and info.source == str(tiny_repaint_dir)
    with pytest.raises(ConfigError, match="unknown options"):
        registry.create("inpainter", config, steps=3)
    with pytest.raises(ConfigError, match="jump_length"):
        registry.create("inpainter", config, jump_length=0)


def test_repaint_mask_convention_before_paste_back(repaint, face_crop, crop_hole):
    # RePaint itself re-imposes the known pixels at every step (exactly at the last one), so its raw output at
    # model size equals the input outside the hole and differs inside it; an inverted mask would show the reverse
    import cv2

    small = cv2.resize(face_crop, (32, 32), interpolation=cv2.INTER_AREA)
    hole = np.zeros((32, 32), bool)
    hole[8:20, 6:26] = True
    raw = repaint._fill(small, hole, 11)
    assert raw.shape == small.shape
    assert np.abs(raw[~hole].astype(int) - small[~hole].astype(int)).max() <= 1
    assert np.abs(raw[hole].astype(int) - small[hole].astype(int)).mean() > 5
