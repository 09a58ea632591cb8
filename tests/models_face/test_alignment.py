"""Alignment onto the arcface112 and dlib150 templates, checked against dlib's own face chips."""

from __future__ import annotations

import cv2
import dlib
import numpy as np
import pytest

from models.alignment import (
    TEMPLATES,
    align,
    align_face,
    alignment_matrix,
    convert_points,
    estimate_similarity,
    keypoints_from_detection,
    keypoints_from_mesh,
    warp_mask,
    warp_to_image,
)
from models.base import AlignedFace


def _dlib_shape(image, points) -> dlib.full_object_detection:
    rect = dlib.rectangle(0, 0, image.shape[1] - 1, image.shape[0] - 1)
    return dlib.full_object_detection(rect, [dlib.point(int(x), int(y)) for x, y in points])


def _dlib_chip_matrix(image, shape, size=150, padding=0.25) -> np.ndarray:
    """The image -> chip transform dlib.get_face_chip really applies, read off chips of coordinate ramps."""
    h, w = image.shape[:2]
    xs = np.tile(np.arange(w, dtype=np.float64), (h, 1))
    ys = np.tile(np.arange(h, dtype=np.float64)[:, None], (1, w))
    cx, cy = dlib.get_face_chip(xs, shape, size, padding), dlib.get_face_chip(ys, shape, size, padding)
    jj, ii = np.meshgrid(np.arange(size), np.arange(size))
    keep = np.zeros((size, size), bool)
    keep[3:-3, 3:-3] = True
    keep &= (cx > 2) & (cx < w - 3) & (cy > 2) & (cy < h - 3)
    design = np.c_[jj[keep], ii[keep], np.ones(keep.sum())]
    ax = np.linalg.lstsq(design, cx[keep], rcond=None)[0]
    ay = np.linalg.lstsq(design, cy[keep], rcond=None)[0]
    return np.linalg.inv(np.vstack([ax, ay, [0, 0, 1]]))[:2]


def _mean_displacement(m_ref, m, size=150) -> float:
    """Mean distance (crop pixels) between where two image -> crop transforms put the same image points."""
    jj, ii = np.meshgrid(np.arange(size), np.arange(size))
    grid = np.c_[jj.ravel(), ii.ravel()].astype(float)
    inv = np.linalg.inv(np.vstack([m_ref, [0, 0, 1]]))[:2]
    pts = grid @ inv[:, :2].T + inv[:, 2]
    moved = pts @ m[:2, :2].T + m[:, 2]
    return float(np.linalg.norm(moved - grid, axis=1).mean())


@pytest.fixture(scope="module")
def astro_mesh(mesh, mp_detector, astronaut):
    return mesh.landmarks(astronaut, mp_detector.detect(astronaut)[0].box)


@pytest.fixture(scope="module")
def astro_dlib(astronaut, shape_predictor):
    rect = dlib.get_frontal_face_detector()(astronaut, 0)[0]
    shape = shape_predictor(astronaut, rect)
    return shape, np.array([(p.x, p.y) for p in shape.parts()], dtype=np.float64)


def test_estimate_similarity_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 200, (5, 2))
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -40.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ rot.T + shift
    m = estimate_similarity(src, dst)
    np.testing.assert_allclose(m, np.c_[rot, shift], atol=1e-9)
    with pytest.raises(ValueError, match="degenerate"):
        estimate_similarity(np.zeros((5, 2)), dst)
    with pytest.raises(ValueError, match="shape"):
        estimate_similarity(src[:, :1], dst)


def test_dlib150_reproduces_dlib_get_face_chip(astronaut, astro_dlib):
    _, pts = astro_dlib
    # at several face sizes (dlib's sampling rectangle changes the effective scale slightly with face size)
    for factor in (0.5, 1.0, 2.0):
        image = cv2.resize(astronaut, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
        scaled = np.round((pts + 0.5) * factor - 0.5)
        s = _dlib_shape(image, scaled)
        mine = alignment_matrix(scaled, "dlib150")
        assert _mean_displacement(_dlib_chip_matrix(image, s), mine) < 0.02, factor
        ours = align(image, scaled, "dlib150").crop.astype(int)
        theirs = dlib.get_face_chip(image, s, size=150, padding=0.25).astype(int)
        assert np.abs(ours - theirs).mean() < 1.5, factor  # dlib truncates, OpenCV rounds


def test_dlib150_from_mesh_is_close_to_dlibs_chip(astronaut, astro_mesh, astro_dlib):
    shape, pts = astro_dlib
    dlib_matrix = alignment_matrix(pts, "dlib150")
    face = align(astronaut, keypoints_from_mesh(astro_mesh, "dlib150"), "dlib150")
    assert face.crop.shape == (150, 150, 3) and face.template == "dlib150"
    assert _mean_displacement(dlib_matrix, face.matrix) < 2.0
    theirs = dlib.get_face_chip(astronaut, shape, size=150, padding=0.25)
    corr = np.corrcoef(face.crop.astype(float).ravel(), theirs.astype(float).ravel())[0, 1]
    assert corr > 0.95
    # the calibration helps: raw mesh points land further away
    raw = alignment_matrix(keypoints_from_mesh(astro_mesh, "dlib150", calibrated=False), "dlib150")
    assert _mean_displacement(dlib_matrix, face.matrix) < _mean_displacement(dlib_matrix, raw)


def test_arcface_and_dlib_crops_put_the_eyes_on_the_template(astronaut, astro_mesh):
    for name in ("arcface112", "dlib150"):
        tpl = TEMPLATES[name]
        face = align(astronaut, keypoints_from_mesh(astro_mesh, name), name)
        assert isinstance(face, AlignedFace) and face.crop.shape == (tpl.size, tpl.size, 3)
        if name == "arcface112":
            eyes = face.to_crop(astro_mesh[[468, 473]])
        else:
            eyes = np.array([face.to_crop(astro_mesh[[33, 133]]).mean(0), face.to_crop(astro_mesh[[263, 362]]).mean(0)])
        np.testing.assert_allclose(eyes, tpl.eye_points, atol=3.0)
        # round trip
        np.testing.assert_allclose(face.to_image(face.to_crop(astro_mesh)), astro_mesh, atol=1e-6)


def test_align_face_prefers_the_mesh(astronaut, astro_mesh, mp_detector):
    mp_face = mp_detector.detect(astronaut)[0]
    from_mesh = align(astronaut, keypoints_from_mesh(astro_mesh, "dlib150"), "dlib150")
    np.testing.assert_array_equal(
        align_face(astronaut, "dlib150", mesh=astro_mesh, detection=mp_face).matrix, from_mesh.matrix
    )
    from_det = align_face(astronaut, "dlib150", detection=mp_face)
    assert not np.allclose(from_det.matrix, from_mesh.matrix)
    with pytest.raises(ValueError):
        align_face(astronaut, "dlib150")


def test_detector_keypoints_fallback(astronaut, astro_mesh, mp_detector, hog_detector):
    mp_face = mp_detector.detect(astronaut)[0]
    mesh_face = align(astronaut, keypoints_from_mesh(astro_mesh, "arcface112"), "arcface112")
    det_face = align(astronaut, keypoints_from_detection(mp_face, "arcface112"), "arcface112")
    assert _mean_displacement(mesh_face.matrix, det_face.matrix, 112) < 6.0
    # dlib150 from BlazeFace keypoints goes through the mean face (about 7 px mean error on 32 photos: BlazeFace
    # keypoints are coarse, hence Face Mesh is the recommended path); from a dlib detection it uses dlib's points
    approx = alignment_matrix(keypoints_from_detection(mp_face, "dlib150"), "dlib150")
    mesh_dlib = alignment_matrix(keypoints_from_mesh(astro_mesh, "dlib150"), "dlib150")
    assert _mean_displacement(mesh_dlib, approx) < 12.0
    hog_face = hog_detector.detect(astronaut)[0]
    np.testing.assert_array_equal(keypoints_from_detection(hog_face, "dlib150"), hog_face.dlib_points)
    # the mean face converts exactly, wherever it sits in the image
    from models.alignment import DLIB5_IN_ARCFACE112

    m = np.array([[1.5, -0.4, 30.0], [0.4, 1.5, -7.0]])
    arc = TEMPLATES["arcface112"].points @ m[:, :2].T + m[:, 2]
    np.testing.assert_allclose(
        convert_points(arc, "arcface112", "dlib150"), DLIB5_IN_ARCFACE112 @ m[:, :2].T + m[:, 2], atol=1e-9
    )


def test_large_photo_is_downscaled_before_the_warp(astronaut, astro_mesh):
    ref = align(astronaut, keypoints_from_mesh(astro_mesh, "dlib150"), "dlib150").crop.astype(float)
    factor = 5000 / 512
    big = cv2.resize(astronaut, (5000, 5000), interpolation=cv2.INTER_LINEAR)
    pts = (keypoints_from_mesh(astro_mesh, "dlib150") + 0.5) * factor - 0.5
    face = align(big, pts, "dlib150")
    crop = face.crop.astype(float)
    assert np.abs(crop - ref).mean() < 4.0
    # fine detail is averaged, not aliased: a 1-px checkerboard shrunk 8x must come out flat grey, where a plain
    # bilinear warp picks individual black and white pixels
    checker = ((np.indices((5000, 5000)).sum(0) % 2) * 255).astype(np.uint8)
    checker = np.repeat(checker[:, :, None], 3, axis=2)
    flat = align(checker, pts, "dlib150").crop.astype(float)
    naive = cv2.warpAffine(checker, face.matrix, (150, 150), flags=cv2.INTER_LINEAR).astype(float)
    assert abs(flat.mean() - 127.5) < 3 and flat.std() < 3
    assert naive.std() > 20


def test_masks_follow_the_crop(astronaut, astro_mesh):
    face = align(astronaut, keypoints_from_mesh(astro_mesh, "arcface112"), "arcface112")
    mask = np.zeros(astronaut.shape[:2], bool)
    x0, y0 = np.floor(astro_mesh.min(0)).astype(int)
    x1, y1 = np.ceil(astro_mesh.max(0)).astype(int)
    mask[y0:y1, x0:x1] = True
    warped = warp_mask(mask, face)
    assert warped.dtype == bool and warped.shape == (112, 112)
    scale = np.sqrt(abs(np.linalg.det(face.matrix[:, :2])))
    expected = min(mask.sum() * scale**2, 112 * 112)
    assert abs(warped.sum() - expected) / expected < 0.1
    # the eyes are inside the warped mask; the crop corners of a mask of the eyes only are not
    eyes = np.round(TEMPLATES["arcface112"].eye_points).astype(int)
    assert warped[eyes[:, 1], eyes[:, 0]].all()
    # and back: a crop-sized heatmap lands on the face in the photo
    heat = np.ones((112, 112), np.float32)
    back = warp_to_image(heat, face, astronaut.shape)
    assert back.shape == astronaut.shape[:2]
    cx, cy = np.round(astro_mesh[1]).astype(int)
    assert back[cy, cx] == pytest.approx(1.0) and back[5, 5] == 0.0
    np.testing.assert_array_equal(warp_to_image(warped, face, astronaut.shape)[cy, cx], True)
    # a bare matrix works the same as the AlignedFace
    np.testing.assert_array_equal(warp_mask(mask, face.matrix, 112), warped)
    np.testing.assert_array_equal(warp_to_image(heat, face.matrix, astronaut.shape), back)


def test_unknown_template_and_bad_points(astronaut):
    with pytest.raises(ValueError, match="unknown alignment template"):
        align(astronaut, np.zeros((5, 2)), "vgg224")
    with pytest.raises(ValueError, match="shape"):
        align(astronaut, np.zeros((4, 2)), "arcface112")
    with pytest.raises(ValueError, match="NaN"):
        align(astronaut, np.full((5, 2), np.nan), "arcface112")
    with pytest.raises(ValueError):
        keypoints_from_mesh(np.zeros((100, 2)), "arcface112")


def test_development_photos_align_close_to_dlib(loaded_photos, mesh, mp_detector, hog_detector):
    displacements = {}
    for name, image in loaded_photos.items():
        pts = mesh.landmarks(image, mp_detector.detect(image)[0].box)
        hog = hog_detector.detect(image)
        if pts is None or not hog:
            continue
        mine = alignment_matrix(keypoints_from_mesh(pts, "dlib150"), "dlib150")
        displacements[name] = _mean_displacement(alignment_matrix(hog[0].dlib_points, "dlib150"), mine)
        face = align(image, keypoints_from_mesh(pts, "arcface112"), "arcface112")
        np.testing.assert_allclose(face.to_crop(pts[[468, 473]]), TEMPLATES["arcface112"].eye_points, atol=4.0)
    assert len(displacements) >= 0.9 * len(loaded_photos)
    values = np.array(list(displacements.values()))
    assert values.mean() < 2.0, displacements
    assert values.max() < 3.5, displacements


@pytest.mark.parametrize("fast", [False, True])
def test_resize_scaled_reports_exact_factors(fast):
    from models.alignment import resize_scaled

    yy, xx = np.mgrid[0:1501, 0:2003]
    cx, cy = 1234.3, 567.8
    blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * 12.0**2))
    image = np.repeat((blob * 255).astype(np.uint8)[:, :, None], 3, axis=2)
    for scale in (0.3, 0.45, 0.8, 1.7):
        out, sx, sy = resize_scaled(image, scale, fast=fast)
        assert out.shape[1] == round(2003 * scale) and out.shape[0] == round(1501 * scale)
        w = out[..., 0].astype(float)
        oy, ox = np.mgrid[0 : out.shape[0], 0 : out.shape[1]]
        centroid = np.array([(ox * w).sum() / w.sum(), (oy * w).sum() / w.sum()])
        expected = (np.array([cx, cy]) + 0.5) * [sx, sy] - 0.5
        np.testing.assert_allclose(centroid, expected, atol=0.15, err_msg=f"scale {scale}")
