"""The offline approximate parser (MediaPipe selfie segmentation + Face Mesh geometry) on real photos: the
astronaut, a few development photos when present, and edited copies of the astronaut that plant the known
failure modes (a bald scalp, ears hidden by hair, no person at all)."""

from __future__ import annotations

import threading

import cv2
import numpy as np
import pytest

from models import registry
from models.config import ModelConfig
from models.errors import ImageError
from models.parsing import CELEBAMASK_CLASSES, ApproximateParser, ApproximateParsingResult

NOSE_TIP, UPPER_LIP_INNER, LEFT_CHEEK, RIGHT_CHEEK, CHIN = 4, 13, 50, 280, 152
BROW_TOPS = (105, 334)
PHOTOS = ["elon/1.jpg", "obama/1.jpg", "rose_leslie/1.jpg", "jack/1.jpg", "mark/1.jpg"]


def _oval_mask(shape, landmarks) -> np.ndarray:
    from mediapipe.python.solutions.face_mesh_connections import FACEMESH_FACE_OVAL

    idx = sorted({i for edge in FACEMESH_FACE_OVAL for i in edge})
    hull = cv2.convexHull(np.round(landmarks[idx]).astype(np.int32))
    mask = np.zeros(shape, np.uint8)
    cv2.fillConvexPoly(mask, hull, 1)
    return mask.astype(bool)


def _label_at(result, point) -> str:
    x, y = np.round(point).astype(int)
    return result.class_names[result.labels[y, x]]


def _eye_line_y(landmarks) -> float:
    return float((landmarks[33][1] + landmarks[263][1]) / 2)


def _assert_ears_plausible(result, landmarks):
    """Each ear is either absent with a reason, or lies beside the face on its own side at ear height."""
    oval = _oval_mask(result.labels.shape, landmarks)
    centre_x = landmarks[:, 0].mean()
    face_width = np.ptp(landmarks[:, 0])
    top = min(landmarks[i][1] for i in BROW_TOPS) - 0.1 * face_width
    bottom = landmarks[CHIN][1]
    for name in ("l_ear", "r_ear"):
        ear = result.mask(name)
        if not ear.any():
            assert result.notes.get(name), f"{name} is empty but no reason is given"
            continue
        assert name not in result.notes
        ys, xs = np.nonzero(ear)
        assert (ear & oval).sum() <= 0.15 * ear.sum(), f"{name} lies on the face"
        assert (xs < centre_x).all() if name == "l_ear" else (xs > centre_x).all(), f"{name} on the wrong side"
        assert np.abs(xs - centre_x).min() >= 0.3 * face_width
        assert np.abs(xs - centre_x).max() <= 0.85 * face_width
        assert ys.min() >= top and ys.max() <= bottom, f"{name} is not at ear height"


@pytest.fixture(scope="module")
def hair_colour(astronaut, astronaut_parsed) -> np.ndarray:
    return np.median(astronaut[astronaut_parsed.mask("hair")], axis=0)


def test_result_is_labelled_approximate(astronaut, astronaut_parsed, approx_parser):
    result = astronaut_parsed
    assert isinstance(result, ApproximateParsingResult)
    assert result.approximate is True and approx_parser.approximate is True
    assert "approx" in result.source and "selfie segmentation" in result.source
    assert result.class_names == CELEBAMASK_CLASSES and len(result.class_names) == 19
    assert result.labels.shape == astronaut.shape[:2]
    assert result.labels.max() < 19


def test_hair_is_found_mostly_above_the_eyes(astronaut_parsed, astronaut_landmarks):
    hair = astronaut_parsed.mask("hair")
    assert hair.sum() > 3000  # the astronaut's hair covers about 8,000 px of the 512 px photo
    ys, _ = np.nonzero(hair)
    assert (ys < _eye_line_y(astronaut_landmarks)).mean() > 0.7
    # the test's oval is a convex hull, a little larger than the mesh polygon the parser fills
    assert (hair & _oval_mask(hair.shape, astronaut_landmarks)).sum() <= 0.02 * hair.sum()


def test_hair_stays_in_a_band_around_the_head(astronaut_parsed, astronaut_landmarks):
    """The person mask covers the whole suit and torso; none of that may become hair."""
    ys, xs = np.nonzero(astronaut_parsed.mask("hair"))
    face_width = np.ptp(astronaut_landmarks[:, 0])
    centre_x = astronaut_landmarks[:, 0].mean()
    assert np.abs(xs - centre_x).max() <= 1.1 * face_width
    assert ys.max() <= astronaut_landmarks[CHIN][1]
    assert astronaut_parsed.mask("cloth").sum() > 2000  # the suit below the chin is cloth, not hair


def test_face_parts_sit_on_their_landmarks(astronaut_parsed, astronaut_landmarks):
    result, lm = astronaut_parsed, astronaut_landmarks
    assert _label_at(result, lm[NOSE_TIP]) == "nose"
    assert result.mask("skin", "nose")[tuple(np.round(lm[NOSE_TIP][::-1]).astype(int))]
    assert _label_at(result, lm[LEFT_CHEEK]) == "skin" and _label_at(result, lm[RIGHT_CHEEK]) == "skin"
    assert _label_at(result, lm[UPPER_LIP_INNER] - [0, 2]) == "u_lip"
    oval = _oval_mask(result.labels.shape, lm)
    for names in (("l_eye",), ("r_eye",), ("l_brow",), ("r_brow",)):
        part = result.mask(*names)
        assert part.sum() > 30, names
        assert (part & oval).sum() >= 0.95 * part.sum(), f"{names} outside the face"
        assert np.nonzero(part)[0].mean() < lm[NOSE_TIP][1], f"{names} below the nose tip"
    # image-left parts have the smaller x (project-wide convention)
    for part in ("eye", "brow"):
        assert np.nonzero(result.mask(f"l_{part}"))[1].mean() < np.nonzero(result.mask(f"r_{part}"))[1].mean()
    brows_y = np.nonzero(result.mask("l_brow", "r_brow"))[0].mean()
    eyes_y = np.nonzero(result.mask("l_eye", "r_eye"))[0].mean()
    assert brows_y < eyes_y


def test_ears_are_beside_the_face_or_absent_with_a_reason(astronaut_parsed, astronaut_landmarks):
    _assert_ears_plausible(astronaut_parsed, astronaut_landmarks)


def test_ears_hidden_by_hair_are_reported_absent(approx_parser, astronaut, astronaut_landmarks, hair_colour):
    """Paint hair over both ear areas: no ear label may land on it, and the reason says why."""
    lm = astronaut_landmarks
    face_width = np.ptp(lm[:, 0])
    edited = astronaut.copy()
    rng = np.random.default_rng(0)
    y0, y1 = int(lm[105][1]), int(lm[0][1])
    for x0, x1 in ((lm[234][0] - 0.3 * face_width, lm[234][0] + 0.02 * face_width),
                   (lm[454][0] - 0.02 * face_width, lm[454][0] + 0.3 * face_width)):  # fmt: skip
        block = edited[y0:y1, int(x0) : int(x1)]
        block[:] = np.clip(hair_colour + rng.normal(0, 6, block.shape), 0, 255).astype(np.uint8)
    result = approx_parser.parse(edited, lm)
    for name in ("l_ear", "r_ear"):
        assert not result.mask(name).any()
        assert result.notes[name] == "covered by hair"
    assert result.mask("hair").sum() > astronaut.shape[0]  # the painted hair is hair


def test_bald_scalp_is_skin_not_hair(approx_parser, astronaut, astronaut_parsed, astronaut_landmarks):
    """Replace the hair with shaded cheek-coloured skin: it must not come back as hair."""
    lm = astronaut_landmarks
    x, y = np.round(lm[LEFT_CHEEK]).astype(int)
    skin_colour = np.median(astronaut[y - 4 : y + 5, x - 6 : x + 7].reshape(-1, 3), axis=0)
    hair = cv2.dilate(astronaut_parsed.mask("hair").astype(np.uint8), np.ones((5, 5), np.uint8)).astype(bool)
    shade = np.linspace(1.05, 0.85, astronaut.shape[0])[:, None, None]  # lit from above
    scalp = np.broadcast_to(skin_colour * shade, astronaut.shape)
    rng = np.random.default_rng(1)
    bald = astronaut.copy()
    bald[hair] = np.clip(scalp[hair] + rng.normal(0, 4, (hair.sum(), 3)), 0, 255).astype(np.uint8)
    result = approx_parser.parse(bald, lm)
    assert result.mask("hair").sum() <= 0.1 * hair.sum()
    assert (result.mask("skin") & hair).sum() >= 0.5 * hair.sum()  # the scalp is skin


def test_no_person_gives_background(approx_parser, astronaut_landmarks):
    from skimage import data

    coffee = np.ascontiguousarray(data.coffee())  # a cup of coffee: no face, no person
    result = approx_parser.parse(coffee)
    assert (result.labels == 0).all() and "face" in result.notes and result.approximate
    # landmarks given but nobody there: only the landmark polygons, no hair, ears, neck or cloth
    blank = np.full((512, 512, 3), 200, np.uint8)
    result = approx_parser.parse(blank, astronaut_landmarks)
    assert "person" in result.notes
    assert not result.mask("hair", "l_ear", "r_ear", "neck", "cloth").any()
    assert result.mask("skin").any()


def test_parse_without_landmarks_runs_face_mesh(approx_parser, astronaut, astronaut_parsed):
    result = approx_parser.parse(astronaut)
    assert (result.labels == astronaut_parsed.labels).mean() > 0.98


def test_large_images_are_parsed_at_work_size(approx_parser, astronaut, astronaut_landmarks, astronaut_parsed):
    big = cv2.resize(astronaut, (1024, 1024), interpolation=cv2.INTER_CUBIC)
    result = approx_parser.parse(big, astronaut_landmarks * 2)
    assert result.labels.shape == (1024, 1024)
    small = cv2.resize(result.labels, (512, 512), interpolation=cv2.INTER_NEAREST)
    face = astronaut_parsed.labels > 0
    assert (small[face] == astronaut_parsed.labels[face]).mean() > 0.9


def test_concurrent_calls_are_safe(approx_parser, astronaut, astronaut_landmarks, astronaut_parsed):
    results: list = [None] * 4

    def work(i):
        results[i] = approx_parser.parse(astronaut, astronaut_landmarks).labels

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for labels in results:
        assert np.array_equal(labels, astronaut_parsed.labels)


def test_bad_input_is_a_clear_error(approx_parser, astronaut, astronaut_landmarks):
    with pytest.raises(ImageError):
        approx_parser.parse(astronaut[..., 0], astronaut_landmarks)
    with pytest.raises(ImageError):
        approx_parser.parse(astronaut.astype(np.float32), astronaut_landmarks)
    with pytest.raises(ValueError, match="468 or 478"):
        approx_parser.parse(astronaut, astronaut_landmarks[:5])
    with pytest.raises(ValueError, match="NaN"):
        approx_parser.parse(astronaut, np.full((478, 2), np.nan))


def test_registry_default_and_describe():
    config = ModelConfig()
    assert config.parser == "approx"
    parser = registry.create("parser", config)
    assert isinstance(parser, ApproximateParser) and parser.name == "approx"
    info = ApproximateParser.describe(config, "approx")
    assert info.available and "selfie" in info.source
    with pytest.raises(Exception, match="model_selection"):
        registry.create("parser", config, "approx", model_selection=3)


@pytest.mark.parametrize("photo", PHOTOS)
def test_development_photos(faces_dir, approx_parser, mesh, load_small, photo):
    if not (faces_dir / photo).exists():
        pytest.skip(f"{photo} not present")
    image = load_small(faces_dir / photo)
    lm = mesh(image)
    assert lm is not None, f"Face Mesh found no face in {photo}"
    result = approx_parser.parse(image, lm)
    hair = result.mask("hair")
    assert hair.sum() > 0.05 * np.ptp(lm[:, 0]) ** 2, "everyone in PHOTOS has visible hair"
    ys = np.nonzero(hair)[0]
    assert ys.min() < min(lm[i][1] for i in BROW_TOPS)  # hair crowns the head...
    assert ys.mean() < lm[CHIN][1]  # ...and long hair does not make it sit below the chin on average
    assert _label_at(result, lm[NOSE_TIP]) == "nose"
    _assert_ears_plausible(result, lm)


def test_tight_face_chip(approx_parser, astronaut, astronaut_landmarks):
    """The engine parses small aligned chips (dlib's 150 px, the crown cut off): hair and parts still come out."""
    lm = astronaut_landmarks
    x0, y0 = lm.min(0) - 0.15 * np.ptp(lm[:, 0])
    x1, y1 = lm.max(0) + 0.15 * np.ptp(lm[:, 0])
    scale = 150 / max(x1 - x0, y1 - y0)
    matrix = np.array([[scale, 0, -x0 * scale], [0, scale, -y0 * scale]])
    chip = cv2.warpAffine(astronaut, matrix, (150, 150), flags=cv2.INTER_AREA)
    chip_lm = lm * scale - [x0 * scale, y0 * scale]
    result = approx_parser.parse(chip, chip_lm)
    assert result.labels.shape == (150, 150)
    assert _label_at(result, chip_lm[NOSE_TIP]) == "nose"
    hair = result.mask("hair")
    assert hair.sum() > 300 and (np.nonzero(hair)[0] < _eye_line_y(chip_lm)).mean() > 0.7
    _assert_ears_plausible(result, chip_lm)


def test_tilted_head_keeps_hair_on_top(approx_parser, astronaut, astronaut_landmarks):
    """Geometry follows the face's own axes: rotate the photo 30 degrees and hair stays above the eyes."""
    centre = tuple(astronaut_landmarks.mean(0))
    matrix = cv2.getRotationMatrix2D(centre, 30, 1.0)
    rotated = cv2.warpAffine(astronaut, matrix, astronaut.shape[1::-1], flags=cv2.INTER_LINEAR)
    lm = astronaut_landmarks @ matrix[:, :2].T + matrix[:, 2]
    result = approx_parser.parse(rotated, lm)
    eyes = (lm[33] + lm[263]) / 2
    up = (eyes - lm[CHIN]) / np.linalg.norm(eyes - lm[CHIN])  # chin -> eyes: the face's own "up"
    ys, xs = np.nonzero(result.mask("hair"))
    along_up = (np.stack([xs, ys], 1) - eyes) @ up
    assert len(xs) > 3000 and (along_up > 0).mean() > 0.7
    assert _label_at(result, lm[NOSE_TIP]) == "nose"
