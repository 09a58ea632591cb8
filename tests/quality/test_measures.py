"""The measures as pure functions on synthetic arrays: each can fail when its arithmetic is wrong."""

from __future__ import annotations

import numpy as np
import pytest

from explain_engine.quality import degrade
from explain_engine.quality import measures as M


def test_exposure_bands_and_entropy():
    lum = np.zeros((10, 10), np.float32)
    lum[:, 5:] = 250
    mask = np.ones_like(lum, bool)
    mean, under, over, entropy = M.exposure(lum, mask)
    assert mean == pytest.approx(125) and under == pytest.approx(0.5) and over == pytest.approx(0.5)
    assert entropy == pytest.approx(1.0)  # two equally likely levels: one bit
    uniform = np.tile(np.arange(256, dtype=np.float32), (4, 1))
    assert M.exposure(uniform, np.ones_like(uniform, bool))[3] == pytest.approx(8.0)
    assert all(np.isnan(v) for v in M.exposure(lum, np.zeros_like(mask)))


def test_cut_off_of_a_square_outline_half_outside():
    # a fake 468-point mesh whose face oval is a 100 px wide circle centred on the photo's bottom edge
    pts = np.zeros((468, 2))
    t = np.linspace(0, 2 * np.pi, len(M.FACE_OVAL), endpoint=False)
    pts[list(M.FACE_OVAL)] = np.stack([200 + 50 * np.cos(t), 300 + 50 * np.sin(t)], axis=1)
    inside, sides = M.cut_off(pts, (300, 400))
    assert inside == pytest.approx(0.5, abs=0.01)
    assert sides["bottom"] == pytest.approx(0.5, abs=0.01) and sides["top"] == 0 and sides["left"] == 0
    assert M.cut_off(pts, (400, 400))[0] == pytest.approx(1.0)


def test_inside_photo_mask_follows_the_inverse_warp():
    # crop pixel (x, y) comes from photo (x + 50, y - 10): the top 10 crop rows lie above the photo
    inverse = np.array([[1.0, 0, 50], [0, 1.0, -10]])
    m = M.inside_photo_mask(inverse, (40, 40), (100, 100))
    assert not m[:9].any() and m[11:].all()
    inverse = np.array([[1.0, 0, 80], [0, 1.0, 0]])  # columns 20+ fall right of a 100 px wide photo
    m = M.inside_photo_mask(inverse, (40, 40), (100, 100))
    assert m[:, :19].all() and not m[:, 21:].any()


def test_photo_texture_tells_noise_grain_from_flat_paint():
    rng = np.random.default_rng(0)
    flat = np.full((64, 64), 120, np.float32)
    grain = flat + rng.normal(0, 3, flat.shape).astype(np.float32)
    mask = np.ones(flat.shape, bool)
    assert M.photo_texture(flat, mask) == 0.0
    assert M.photo_texture(grain, mask) > 1.0
    cartoon = M.luminance(degrade.cartoon_face(256))
    assert M.photo_texture(cartoon, np.ones(cartoon.shape, bool)) < 0.25


def test_local_sd_and_sharpness_fall_with_blur():
    rng = np.random.default_rng(1)
    img = rng.uniform(0, 255, (80, 80)).astype(np.float32)
    mask = np.ones(img.shape, bool)
    blurred = degrade.blur(img, 3.0)
    assert M.sharpness(blurred, mask) < 0.05 * M.sharpness(img, mask)
    assert float(M.local_sd(np.full((9, 9), 7, np.float32)).max()) < 1e-3


def test_head_roll_follows_a_rotation_of_the_landmarks(astro_landmarks):
    pts = astro_landmarks[:, :2]
    _, _, roll0 = M.head_pose(pts, (512, 512))
    c = pts.mean(axis=0)
    for angle in (30, -60, 180):
        a = np.radians(angle)
        rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
        turned = (pts - c) @ rot.T + c
        roll = M.head_pose(turned, (512, 512))[2]
        diff = (roll - roll0 - angle + 180) % 360 - 180
        assert abs(diff) < 0.5, (angle, roll)


def test_head_yaw_grows_when_one_side_of_the_face_is_squeezed(astro_landmarks):
    pts = astro_landmarks[:, :2].copy()
    yaw0 = abs(M.head_pose(pts, (512, 512))[0])
    nose_x = pts[1, 0]
    squeezed = pts.copy()
    left = squeezed[:, 0] > nose_x
    squeezed[left, 0] = nose_x + 0.4 * (squeezed[left, 0] - nose_x)  # the person's left half foreshortened
    assert abs(M.head_pose(squeezed, (512, 512))[0]) > yaw0 + 15


def test_inter_eye_distance_scales_with_the_photo(astro_landmarks):
    d = M.inter_eye_distance(astro_landmarks)
    assert 25 < d < 60  # the astronaut's face is about 95 px wide
    assert M.inter_eye_distance(astro_landmarks * 2) == pytest.approx(2 * d)
    assert M.inter_eye_distance(astro_landmarks[:468]) == pytest.approx(d, rel=0.15)  # lid centroids without irises
