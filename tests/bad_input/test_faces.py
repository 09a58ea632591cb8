"""Two faces (a large one and one a third its size) are both counted; a tiny face with an inflated box is refused.

Built from skimage's astronaut (public domain). The short-range BlazeFace model alone sees one face in the
two-face picture; the merged detector (short range, full range and the full-range pass over four quarters)
sees both.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from models.base import FACE_PER_EYE_DISTANCE, FaceDetection
from models.errors import FaceTooSmallError


@pytest.fixture(scope="module")
def detectors():
    from models.detection import MediaPipeDetector

    return MediaPipeDetector("mediapipe"), MediaPipeDetector("mediapipe-short")


@pytest.fixture(scope="module")
def pipeline():
    from explain_engine.pipeline import FacePipeline

    return FacePipeline()


def two_faces(astronaut, fraction: float = 1 / 3) -> np.ndarray:
    side = int(512 * fraction)
    canvas = np.full((512, 512 + side + 40, 3), 128, np.uint8)
    canvas[:, :512] = astronaut
    canvas[150 : 150 + side, 532 : 532 + side] = cv2.resize(astronaut, (side, side), interpolation=cv2.INTER_AREA)
    return canvas


def tiny_face(astronaut, face_px: float = 17, canvas: int = 1200) -> np.ndarray:
    scale = face_px / 95.3  # the astronaut's face box is 95 px across
    small = cv2.resize(astronaut, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    out = np.full((canvas, canvas, 3), 128, np.uint8)
    h, w = small.shape[:2]
    out[canvas // 3 : canvas // 3 + h, canvas // 3 : canvas // 3 + w] = small
    return out


def test_second_smaller_face_is_counted(astronaut, detectors):
    merged, short = detectors
    image = two_faces(astronaut)
    assert len(short.detect(image)) == 1  # what the detector reported before: it stopped at the first model
    faces = merged.detect(image)
    assert len(faces) == 2
    big, small = faces
    assert big.box[2] <= 512 and small.box[0] >= 512  # one on each side
    assert 0.25 < small.size / big.size < 0.45


def test_two_faces_give_a_warning(astronaut, pipeline):
    face, count, warnings = pipeline.detect(two_faces(astronaut), "two.png")
    assert count == 2 and face.box[2] <= 512  # the largest is used
    assert any("2 faces found" in w for w in warnings)


def test_one_face_photos_are_unchanged(astronaut, detectors):
    merged, short = detectors
    a, b = merged.detect(astronaut), short.detect(astronaut)
    assert len(a) == len(b) == 1
    np.testing.assert_allclose(a[0].box, b[0].box)
    np.testing.assert_allclose(a[0].keypoints, b[0].keypoints)


def test_judged_size_follows_the_eyes():
    eyes = np.array([[10.0, 10.0], [20.0, 10.0], [15, 15], [12, 20], [18, 20]])
    inflated = FaceDetection(box=np.array([0.0, 0.0, 65.0, 65.0]), score=0.9, keypoints=eyes)
    assert inflated.eye_distance == pytest.approx(10.0)
    assert inflated.judged_size == pytest.approx(10.0 * FACE_PER_EYE_DISTANCE)
    normal = FaceDetection(box=np.array([0.0, 0.0, 20.0, 20.0]), score=0.9, keypoints=eyes)
    assert normal.judged_size == pytest.approx(20.0)  # never larger than the box


def test_tiny_face_with_inflated_box_is_refused(astronaut, pipeline, detectors):
    image = tiny_face(astronaut)
    faces = detectors[0].detect(image)
    assert faces, "the detector should find something in this picture (its box is inflated)"
    assert faces[0].size >= pipeline.min_face_pixels  # the box alone would have passed the 32 px refusal
    with pytest.raises(FaceTooSmallError, match="the face is only"):
        pipeline.detect(image, "tiny.png")


def test_normal_face_passes(astronaut, pipeline):
    face, count, warnings = pipeline.detect(astronaut, "astronaut.png")
    assert count == 1 and face.judged_size > 80 and warnings == []
