"""OpenCV TELEA / NS and PatchMatch on the astronaut's face: known pixels bit-exact, holes really filled."""

from __future__ import annotations

import numpy as np
import pytest

from models import registry
from models.base import Inpainter
from models.errors import ConfigError, ImageError

CLASSICAL = ["telea", "ns", "patchmatch"]


@pytest.fixture(scope="module")
def inpainters(offline_config):
    return {name: registry.create("inpainter", offline_config, name) for name in CLASSICAL}


@pytest.mark.parametrize("name", CLASSICAL)
def test_fill_keeps_known_pixels_and_changes_the_hole(name, inpainters, astronaut, face_masks):
    hole, face = face_masks
    inpainter = inpainters[name]
    assert isinstance(inpainter, Inpainter)
    assert inpainter.name == name
    kwargs = {"source_mask": face} if name == "patchmatch" else {}
    out = inpainter.inpaint(astronaut, hole, seed=3, **kwargs)
    assert out.shape == astronaut.shape and out.dtype == np.uint8
    assert np.array_equal(out[~hole], astronaut[~hole])
    # the eyes are replaced by skin-like fill: a large mean change inside the hole
    change = np.abs(out[hole].astype(int) - astronaut[hole].astype(int)).mean()
    assert change > 10, change
    assert out is not astronaut and np.array_equal(astronaut, astronaut.copy())  # input untouched


@pytest.mark.parametrize("name", CLASSICAL)
def test_batch_equals_singles(name, inpainters, astronaut, face_masks):
    hole, _ = face_masks
    other = np.zeros_like(hole)
    other[300:340, 100:160] = True
    second = np.ascontiguousarray(astronaut[::-1])
    inpainter = inpainters[name]
    batch = inpainter.inpaint_batch([astronaut, second], [hole, other], seed=5)
    singles = [inpainter.inpaint(astronaut, hole, seed=5), inpainter.inpaint(second, other, seed=5)]
    assert len(batch) == 2
    for b, s in zip(batch, singles):
        assert np.array_equal(b, s)


def test_classical_fills_are_deterministic(inpainters, astronaut, face_masks):
    hole, _ = face_masks
    for name in ("telea", "ns"):
        assert inpainters[name].deterministic
        assert np.array_equal(inpainters[name].inpaint(astronaut, hole), inpainters[name].inpaint(astronaut, hole))


def test_patchmatch_seeds(inpainters, astronaut, face_masks):
    hole, face = face_masks
    pm = inpainters["patchmatch"]
    assert pm.deterministic is False
    a = pm.inpaint(astronaut, hole, seed=1, source_mask=face)
    assert np.array_equal(a, pm.inpaint(astronaut, hole, seed=1, source_mask=face))
    assert not np.array_equal(a, pm.inpaint(astronaut, hole, seed=2, source_mask=face))
    # no seed: the default seed, so repeat calls agree
    assert np.array_equal(pm.inpaint(astronaut, hole), pm.inpaint(astronaut, hole))


def test_patchmatch_copies_only_from_the_source_mask(inpainters):
    # left half red, right half blue; a hole on the border; only the blue half may be copied from
    image = np.zeros((96, 96, 3), np.uint8)
    image[:, :48] = (220, 20, 20)
    image[:, 48:] = (20, 20, 220)
    hole = np.zeros((96, 96), bool)
    hole[30:66, 36:60] = True
    source = np.zeros_like(hole)
    source[:, 60:] = True
    out = inpainters["patchmatch"].inpaint(image, hole, seed=0, source_mask=source)
    filled = out[hole].astype(int)
    assert (filled[:, 2] > filled[:, 0]).all(), "red pixels were copied from outside the source mask"
    unrestricted = inpainters["patchmatch"].inpaint(image, hole, seed=0)
    assert (unrestricted[hole][:, 0] > 100).any()  # without the restriction red comes in


def test_patchmatch_source_inside_hole_is_an_error(inpainters, astronaut, face_masks):
    hole, _ = face_masks
    with pytest.raises(ImageError, match="source_mask"):
        inpainters["patchmatch"].inpaint(astronaut, hole, source_mask=hole)


@pytest.mark.parametrize("name", CLASSICAL)
def test_input_validation(name, inpainters, astronaut, face_masks):
    hole, _ = face_masks
    inpainter = inpainters[name]
    empty = inpainter.inpaint(astronaut, np.zeros_like(hole))
    assert np.array_equal(empty, astronaut) and empty is not astronaut
    with pytest.raises(ImageError, match="whole"):
        inpainter.inpaint(astronaut, np.ones_like(hole))
    with pytest.raises(ImageError, match="uint8"):
        inpainter.inpaint(astronaut.astype(np.float32), hole)
    with pytest.raises(ImageError, match="shape"):
        inpainter.inpaint(astronaut[..., 0], hole)
    with pytest.raises(ImageError, match="does not match"):
        inpainter.inpaint(astronaut, hole[:100])
    with pytest.raises(ImageError, match="bool"):
        inpainter.inpaint(astronaut, hole.astype(np.float32))
    with pytest.raises(ImageError, match="masks"):
        inpainter.inpaint_batch([astronaut, astronaut], [hole])
    # 0/1 integer masks are accepted as bool
    assert np.array_equal(inpainter.inpaint(astronaut, hole.astype(np.uint8), seed=0),
                          inpainter.inpaint(astronaut, hole, seed=0))


def test_options_and_describe(offline_config, astronaut, face_masks):
    hole, _ = face_masks
    wide = registry.create("inpainter", offline_config, "telea", radius=9)
    assert wide.radius == 9
    assert not np.array_equal(wide.inpaint(astronaut, hole), registry.create("inpainter", offline_config, "telea")
                              .inpaint(astronaut, hole))
    with pytest.raises(ConfigError, match="unknown options"):
        registry.create("inpainter", offline_config, "ns", bogus=1)
    with pytest.raises(ConfigError, match="patch_size"):
        registry.create("inpainter", offline_config, "patchmatch", patch_size=0)
    for name in CLASSICAL:
        info = registry.backend_class("inpainter", name).describe(offline_config, name)
        assert info.available and info.name == name and info.capability == "inpainter"


def test_patchmatch_batch_takes_one_source_mask_per_image(inpainters, astronaut, face_masks):
    hole, face = face_masks
    pm = inpainters["patchmatch"]
    assert pm.accepts_source_mask and not inpainters["telea"].accepts_source_mask
    wide = np.ones_like(face)
    batch = pm.inpaint_batch([astronaut, astronaut], [hole, hole], seed=4, source_mask=[face, wide])
    assert np.array_equal(batch[0], pm.inpaint(astronaut, hole, seed=4, source_mask=face))
    assert np.array_equal(batch[1], pm.inpaint(astronaut, hole, seed=4, source_mask=wide))
    assert not np.array_equal(batch[0], batch[1])
    with pytest.raises(ConfigError, match="source_mask has 1 entries"):
        pm.inpaint_batch([astronaut, astronaut], [hole, hole], source_mask=[face])


def test_patchmatch_threads_fill_exactly_like_one_thread(offline_config, astronaut, face_masks):
    """A batch runs on a thread pool; each call seeds its own generator, so the fills are the serial ones."""
    hole, face = face_masks
    other = np.zeros_like(hole)
    other[300:340, 100:160] = True
    images = [astronaut, astronaut, np.ascontiguousarray(astronaut[::-1]), astronaut]
    masks = [hole, other, other, hole]
    serial = registry.create("inpainter", offline_config, "patchmatch", workers=1)
    threaded = registry.create("inpainter", offline_config, "patchmatch", workers=3)
    expected = serial.inpaint_batch(images, masks, seed=7, source_mask=face)
    got = threaded.inpaint_batch(images, masks, seed=7, source_mask=face)
    assert all(np.array_equal(e, g) for e, g in zip(expected, got))
    assert not np.array_equal(got[0], threaded.inpaint_batch(images[:1], masks[:1], seed=8, source_mask=face)[0])
    with pytest.raises(ConfigError, match="workers"):
        registry.create("inpainter", offline_config, "patchmatch", workers=0)


@pytest.mark.parametrize("name", CLASSICAL)
def test_a_fill_never_carries_what_it_hides(name, inpainters, astronaut):
    """cv2.inpaint reads hidden pixels where a hole meets the image border; a region at the edge of a crop (hair,
    chin) would then be filled partly from itself and its S0 contribution understated. Fills must not depend on
    the hidden pixels at all."""
    hole = np.zeros(astronaut.shape[:2], bool)
    hole[:60, 150:350] = True  # touches the top border
    hole[250:300, 200:260] = True  # and one inside
    other = astronaut.copy()
    other[hole] = np.random.default_rng(0).integers(0, 256, (int(hole.sum()), 3))
    inpainter = inpainters[name]
    same = inpainter.inpaint(astronaut, hole, seed=1)
    assert np.array_equal(same, inpainter.inpaint(other, hole, seed=1))
