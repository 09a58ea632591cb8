"""Region masks on the astronaut (MediaPipe Face Mesh run directly; the approximate parser for hair and ears)."""

from __future__ import annotations

import numpy as np
import pytest

from explain_engine.regions import FACE_OVAL, REGION_SETS, Regions, build_regions, outline_image, warp_regions
from models.errors import ConfigError

mp = pytest.importorskip("mediapipe")


@pytest.fixture(scope="module")
def mesh(astronaut):
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True) as fm:
        res = fm.process(astronaut)
    assert res.multi_face_landmarks, "Face Mesh found no face on the astronaut"
    h, w = astronaut.shape[:2]
    return np.array([[p.x * w, p.y * h] for p in res.multi_face_landmarks[0].landmark])


@pytest.fixture(scope="module")
def aligned(astronaut, mesh):
    from models.alignment import align, keypoints_from_mesh

    face = align(astronaut, keypoints_from_mesh(mesh, "dlib150"), "dlib150")
    return face, face.to_crop(mesh)


def at(mask, point):
    x, y = np.round(point).astype(int)
    return bool(mask[y, x])


def assert_partition(regions: Regions):
    stack = np.stack(list(regions.masks.values()))
    assert stack.sum(axis=0).max() <= 1, "region masks overlap"
    assert all(m.any() and m.dtype == bool for m in regions.masks.values())
    assert set(regions.masks).isdisjoint(regions.absent)


def test_coarse_regions_on_the_aligned_crop(aligned):
    face, pts = aligned
    regions = build_regions(pts, face.crop.shape[:2], None, "coarse")
    assert_partition(regions)
    assert regions.names == ["forehead", "eyebrows", "eyes", "nose", "cheeks", "mouth", "chin"]
    assert set(regions.absent) == {"hair", "ears"} and "no face parser" in regions.absent["hair"]
    m = regions.masks
    assert at(m["nose"], pts[1])  # nose tip
    assert at(m["nose"], (pts[2] + pts[0]) / 2)  # philtrum, between nose base and upper lip
    assert at(m["eyes"], pts[468]) and at(m["eyes"], pts[473])  # iris centres
    assert at(m["eyes"], (pts[159] + pts[65]) / 2)  # upper eyelid, between lid and brow
    assert at(m["mouth"], (pts[13] + pts[14]) / 2)
    assert at(m["chin"], (pts[17] + pts[152]) / 2)
    assert at(m["forehead"], (pts[9] + pts[10]) / 2)
    assert at(m["eyebrows"], pts[[105, 52]].mean(0))
    # every pixel of the face oval belongs to a region: no holes at temples, eyelids or philtrum
    from explain_engine.regions import _poly_mask

    oval = _poly_mask(pts[list(FACE_OVAL)], face.crop.shape[:2])
    covered = np.any(np.stack(list(m.values())), axis=0)
    assert covered[oval].all()
    assert sum(regions.area_fraction().values()) == pytest.approx(1.0)


def test_fine_regions_split_sides_by_the_persons_own_left_and_right(aligned):
    face, pts = aligned
    regions = build_regions(pts, face.crop.shape[:2], None, "fine")
    assert_partition(regions)
    assert set(regions.masks) == set(REGION_SETS["fine"]) - {"hair", "ears"}
    m = regions.masks
    assert at(m["left_eye"], pts[473]) and at(m["right_eye"], pts[468])
    cx = lambda mask: np.nonzero(mask)[1].mean()
    # a frontal photo shows the person's left on the image's right
    assert cx(m["left_cheek"]) > cx(m["right_cheek"]) and cx(m["left_eyebrow"]) > cx(m["right_eyebrow"])
    coarse = build_regions(pts, face.crop.shape[:2], None, "coarse").masks
    assert ((m["left_eye"] | m["right_eye"]) == coarse["eyes"]).all()


def test_hair_and_ears_from_the_parser(aligned):
    parsing_mod = pytest.importorskip("models.parsing")
    face, pts = aligned
    parsing = parsing_mod.ApproximateParser().parse(face.crop, pts)
    regions = build_regions(pts, face.crop.shape[:2], parsing, "coarse")
    assert_partition(regions)
    assert "hair" in regions.masks and "hair" in regions.approximate
    # hair lies above the eyes; ears are either present beside the face or absent with a reason
    assert np.nonzero(regions.masks["hair"])[0].mean() < pts[468][1]
    assert "ears" in regions.masks or regions.absent["ears"]
    # face parts keep priority over the parser's hair label
    assert at(regions.masks["eyes"], pts[468]) and at(regions.masks["nose"], pts[1])


def test_regions_cut_off_by_the_crop_are_absent_not_empty(aligned):
    face, pts = aligned
    h, w = face.crop.shape[:2]
    top_half = build_regions(pts, (int(pts[1][1]), w), None, "coarse")  # the image ends at the nose tip
    assert "mouth" in top_half.absent and "chin" in top_half.absent
    assert "not visible" in top_half.absent["mouth"]
    assert_partition(top_half)
    with pytest.raises(ConfigError, match="region set"):
        build_regions(pts, (h, w), None, "medium")
    with pytest.raises(ValueError):
        build_regions(pts[:100], (h, w))


def test_warp_to_the_original_photo_and_outline(astronaut, aligned, mesh):
    face, pts = aligned
    regions = build_regions(pts, face.crop.shape[:2], None, "coarse")
    big = warp_regions(regions, face.inverse, astronaut.shape[:2])
    assert_partition(big)
    assert big.names == regions.names
    assert at(big.masks["nose"], mesh[1]) and at(big.masks["eyes"], mesh[468])
    ratio = big.masks["cheeks"].sum() / regions.masks["cheeks"].sum()
    assert ratio == pytest.approx(1 / np.linalg.det(face.matrix[:, :2]), rel=0.1)
    drawn = outline_image(face.crop, regions, min_side=0)
    assert drawn.shape == face.crop.shape and (drawn != face.crop).any()
    # Small crops are enlarged by a whole factor so labels stay legible; the picture itself is the same face.
    enlarged = outline_image(face.crop, regions, labels=False)
    factor = enlarged.shape[0] // face.crop.shape[0]
    assert enlarged.shape == (face.crop.shape[0] * factor, face.crop.shape[1] * factor, 3) and factor * 150 >= 450
    assert (outline_image(face.crop, Regions({}, {})) == face.crop).all()


@pytest.mark.parametrize("region_set", ["coarse", "fine"])
def test_regions_follow_a_tilted_face(mesh, astronaut, region_set):
    """Geometry is built in the face's own frame (eye line), so a head tilted by 30 degrees keeps its regions."""
    import cv2

    h, w = astronaut.shape[:2]
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), 30, 1.0)
    pts = mesh @ rot[:, :2].T + rot[:, 2]
    regions = build_regions(pts, (h, w), None, region_set)
    assert_partition(regions)
    m = regions.masks
    assert at(m["nose"], pts[1]) and at(m["mouth"], (pts[13] + pts[14]) / 2)
    assert at(m["chin"], (pts[17] + pts[152]) / 2) and at(m["forehead"], (pts[9] + pts[10]) / 2)
    if region_set == "fine":
        assert at(m["left_eye"], pts[473]) and at(m["right_eye"], pts[468])
