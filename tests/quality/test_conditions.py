"""Every condition of the quality issue's table, built from the astronaut or generated (development photos only
where present), ends as a refusal naming the right component or as a flagged result; the photos that work today
still pass."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest

from explain_engine.quality import QualityError, degrade
from models.errors import FaceXError, NoFaceError

from .conftest import refusal


def test_astronaut_passes_every_component(astro_face):
    q = astro_face.quality
    assert q.outcome == "pass", [(c.name, c.value, c.outcome) for c in q.components if c.outcome != "pass"]
    assert all(c.outcome == "pass" for c in q.components)
    assert {n: v.absent_reason for n, v in q.visibility.items() if v.absent_reason} == {}
    assert all(v.visible_fraction == 1.0 and not v.covered for v in q.visibility.values())


@pytest.mark.parametrize("angle", [90, 180, 270])
def test_rotated_face_is_refused(pipeline, astronaut, angle):
    err = refusal(pipeline, degrade.rotate(astronaut, angle), f"rot{angle}")
    assert err is not None, f"a face turned {angle} degrees in the pixels was accepted"
    if isinstance(err, QualityError):
        assert err.component in ("in_plane_orientation", "head_pose_roll", "face_redetection", "face_landmarks")
    else:
        assert isinstance(err, NoFaceError)


def test_upside_down_astronaut_is_refused_for_orientation(pipeline, astronaut):
    err = refusal(pipeline, degrade.rotate(astronaut, 180))
    assert isinstance(err, QualityError) and err.component == "in_plane_orientation"
    assert "upside down" in str(err) and "\n" not in str(err)


def test_dark_glasses_are_refused_as_covered_eyes(pipeline, astronaut, astro_landmarks):
    err = refusal(pipeline, degrade.dark_glasses(astronaut, astro_landmarks))
    assert isinstance(err, QualityError) and err.component == "eyes_occlusion"
    assert err.quality.visibility["eyes"].covered


def test_face_mask_is_refused_as_covered_mouth(pipeline, astronaut, astro_landmarks):
    err = refusal(pipeline, degrade.face_mask(astronaut, astro_landmarks))
    assert isinstance(err, QualityError) and err.component == "mouth_occlusion"
    vis = err.quality.visibility
    assert vis["mouth"].covered and vis["chin"].covered and not vis["eyes"].covered
    assert not vis["forehead"].covered


@pytest.mark.parametrize("rel", ["obama/1.jpg", "rose_leslie/1.jpg"])
def test_dark_glasses_and_mask_on_two_more_people(pipeline, dev_photo, rel):
    image = dev_photo(rel)
    face = pipeline.prepare(image, rel)
    assert face.quality.outcome == "pass"
    glasses = refusal(pipeline, degrade.dark_glasses(image, face.landmarks))
    mask = refusal(pipeline, degrade.face_mask(image, face.landmarks))
    assert isinstance(glasses, QualityError) and glasses.component == "eyes_occlusion"
    assert isinstance(mask, QualityError) and mask.component == "mouth_occlusion"


@pytest.mark.parametrize("skin,seed", [((250, 205, 160), 0), ((120, 200, 120), 1), ((200, 170, 230), 2)])
def test_drawn_cartoon_faces_are_refused(pipeline, skin, seed):
    err = refusal(pipeline, degrade.cartoon_face(skin=skin, seed=seed))
    assert err is not None, "a drawn cartoon face was accepted as a photograph"
    if isinstance(err, QualityError):
        assert err.component == "photographic"


@pytest.mark.parametrize("mean", [4.0, 9.0])
def test_darkened_photo_is_refused(pipeline, astronaut, mean):
    dark = degrade.darken(astronaut, mean)
    assert dark.mean() < 10
    err = refusal(pipeline, dark)
    assert err is not None
    if isinstance(err, QualityError):
        assert err.component in ("luminance_mean", "under_exposure")


def test_photo_cut_below_the_nose_is_flagged_and_loses_mouth_and_chin(pipeline, astronaut, astro_landmarks):
    face = pipeline.prepare(degrade.cut_below_nose(astronaut, astro_landmarks), "cut.png")
    q = face.quality
    assert q.outcome == "warn" and not q.calibrated
    assert q.component("face_cut_off").outcome == "warn" and q.component("face_cut_off").value < 0.9
    assert any("calibrated" in w and "cut.png" in w for w in face.warnings)
    for region in ("mouth", "chin"):
        assert region not in face.regions.masks
        assert "outside the photo" in face.regions.absent[region]
        assert q.visibility[region].absent_reason == "outside_photo"
        assert q.visibility[region].visible_fraction < 0.5
    assert {"eyes", "forehead", "nose"} <= set(face.regions.masks)


def test_blurred_photo_is_flagged_not_refused(pipeline, astronaut):
    face = pipeline.prepare(degrade.blur(astronaut, 2.0), "blur.png")
    assert face.quality.outcome in ("warn", "refuse") or face.quality.component("sharpness").value < 1000
    assert face.quality.component("photographic").outcome == "pass"  # blurred is not drawn


# --- rows that work today must keep working --------------------------------------------------------------------
def _encode(image: np.ndarray, fmt: str, **kw) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format=fmt, **kw)
    return buf.getvalue()


def test_formats_that_work_today_still_pass(pipeline, astronaut):
    from PIL import Image

    stored = np.ascontiguousarray(np.rot90(astronaut, 1))  # EXIF 6: rotate 90 degrees clockwise to display
    exif = Image.Exif()
    exif[0x0112] = 6
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    rgba[:, :120, 3] = 0
    cmyk = io.BytesIO()
    Image.fromarray(astronaut).convert("CMYK").save(cmyk, format="JPEG", quality=95)
    cases = {
        "exif": _encode(stored, "JPEG", quality=95, exif=exif.tobytes()),
        "gray": _encode(cv2.cvtColor(astronaut, cv2.COLOR_RGB2GRAY), "PNG"),
        "cmyk": cmyk.getvalue(),
        "rgba": _encode(rgba, "PNG"),
    }
    for name, data in cases.items():
        face = pipeline.prepare(data, name)
        assert face.quality.outcome == "pass", (name, [(c.name, c.value) for c in face.quality.warning])


def test_prealigned_112_crop_and_several_faces_and_a_large_photo(pipeline, astronaut, astro_landmarks):
    from models.alignment import align, keypoints_from_mesh

    crop = align(astronaut, keypoints_from_mesh(astro_landmarks, "arcface112"), "arcface112").crop
    assert pipeline.prepare(crop, "crop112").quality.outcome in ("pass", "warn")
    two = np.full((512, 900, 3), 128, np.uint8)
    two[:, :512] = astronaut
    two[100:400, 560:860] = cv2.resize(astronaut, (300, 300), interpolation=cv2.INTER_AREA)
    face = pipeline.prepare(two, "two")
    assert face.faces_found == 2 and face.quality.outcome == "pass"
    big = cv2.resize(astronaut, (6400, 6400), interpolation=cv2.INTER_CUBIC)  # 41 MP
    assert pipeline.prepare(big, "big").quality.outcome == "pass"


def test_tiny_face_is_still_refused_or_warned(pipeline, astronaut):
    tiny = cv2.resize(astronaut, (128, 128), interpolation=cv2.INTER_AREA)
    with pytest.raises(FaceXError):
        pipeline.prepare(tiny, "tiny")


def test_quality_stage_can_be_switched_off(astronaut):
    from explain_engine.pipeline import FacePipeline

    off = FacePipeline(quality=False)
    face = off.prepare(degrade.rotate(astronaut, 180), "rot180", regions=False)
    assert face.quality is None


# --- the counter-check: the development photos pass ------------------------------------------------------------
def test_all_development_photos_pass(pipeline, faces_dir):
    photos = sorted(p for p in faces_dir.glob("*/*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    assert len(photos) == 30
    bad = {}
    for p in photos:
        face = pipeline.prepare(p, f"{p.parent.name}/{p.name}")
        if face.quality.outcome != "pass" or face.regions.absent.keys() - {"hair", "ears"}:
            bad[face.name] = ([(c.name, c.value) for c in face.quality.components if c.outcome != "pass"],
                              face.regions.absent)
    assert bad == {}
