"""Face Mesh landmarks on the detected face crop, in original-image coordinates."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from models.base import LandmarkDetector
from models.config import ModelConfig
from models.errors import ConfigError
from models.landmarks import FaceMeshLandmarks, connection_paths, mesh_connections
from models.registry import create


def _inside(points, box, margin) -> np.ndarray:
    x0, y0, x1, y1 = box
    mx, my = margin * (x1 - x0), margin * (y1 - y0)
    return (points[:, 0] >= x0 - mx) & (points[:, 0] <= x1 + mx) & (points[:, 1] >= y0 - my) & (points[:, 1] <= y1 + my)


def test_astronaut_mesh(mesh, mp_detector, astronaut):
    assert isinstance(mesh, LandmarkDetector)
    face = mp_detector.detect(astronaut)[0]
    pts = mesh.landmarks(astronaut, face.box)
    assert pts.shape == (478, 2)
    assert _inside(pts, face.box, 0.15).all()
    # anatomy: subject's right eye (33) left of the left eye (263), nose tip (1) between and below, chin (152)
    # below the mouth (13)
    assert pts[33, 0] < pts[1, 0] < pts[263, 0]
    assert pts[1, 1] > pts[[33, 263], 1].max() and pts[152, 1] > pts[13, 1] > pts[1, 1]
    # iris centres sit between the eye corners
    assert pts[33, 0] < pts[468, 0] < pts[133, 0] and pts[362, 0] < pts[473, 0] < pts[263, 0]
    # mesh eyes agree with the detector's eye keypoints to a few pixels
    np.testing.assert_allclose(pts[[468, 473]], face.keypoints[:2], atol=6)


def test_without_a_box_it_finds_the_face_itself(mesh, mp_detector, astronaut):
    box = mp_detector.detect(astronaut)[0].box
    np.testing.assert_allclose(mesh.landmarks(astronaut), mesh.landmarks(astronaut, box), atol=1e-6)


def test_points_are_in_original_coordinates(mesh, mp_detector, astronaut):
    # the same face at twice the size: points scale with the image (pixel-centre convention) within model noise
    ref = mesh.landmarks(astronaut, mp_detector.detect(astronaut)[0].box)
    big = cv2.resize(astronaut, (1024, 1024), interpolation=cv2.INTER_LINEAR)
    pts = mesh.landmarks(big, mp_detector.detect(big)[0].box)
    back = (pts + 0.5) / 2 - 0.5
    err = np.linalg.norm(back - ref, axis=1)
    assert np.median(err) < 0.6 and err.max() < 3
    # a shifted image shifts the points
    shifted = np.zeros_like(astronaut)
    shifted[20:, 30:] = astronaut[:-20, :-30]
    moved = mesh.landmarks(shifted, mp_detector.detect(shifted)[0].box)
    assert np.median(np.linalg.norm(moved - ref - [30, 20], axis=1)) < 0.6


def test_unrefined_mesh_has_468_points(mp_detector, astronaut):
    plain = create("landmarks", ModelConfig(), "mediapipe", refine=False)
    assert plain.landmarks(astronaut, mp_detector.detect(astronaut)[0].box).shape == (468, 2)


def test_no_face_gives_none(mesh):
    from skimage import data

    coffee = np.ascontiguousarray(data.coffee())
    assert mesh.landmarks(coffee, np.array([100, 100, 300, 300])) is None
    assert mesh.landmarks(coffee) is None


def test_tiny_and_huge_faces(mesh, mp_detector, astronaut):
    tiny = cv2.resize(astronaut, None, fx=40 / 95, fy=40 / 95, interpolation=cv2.INTER_AREA)
    box = mp_detector.detect(tiny)[0].box
    pts = mesh.landmarks(tiny, box)
    assert pts is not None and _inside(pts, box, 0.25).all()
    big = cv2.resize(astronaut, (5000, 5000), interpolation=cv2.INTER_LINEAR)
    box = mp_detector.detect(big)[0].box
    pts = mesh.landmarks(big, box)
    assert pts is not None and _inside(pts, box, 0.15).all()


def test_bad_box_and_options(mesh, astronaut):
    with pytest.raises(ValueError):
        mesh.landmarks(astronaut, np.array([200, 200, 100, 100]))
    with pytest.raises(ConfigError):
        create("landmarks", ModelConfig(), "mediapipe", margin=-1)


def test_connection_sets():
    sets = mesh_connections()
    for name in ("face_oval", "lips", "left_eye", "right_eye", "left_eyebrow", "right_eyebrow", "nose"):
        assert sets[name], name
        assert max(max(e) for e in sets[name]) < 478
    oval = connection_paths(sets["face_oval"])
    assert len(oval) == 1 and oval[0][0] == oval[0][-1] and len(oval[0]) == 37  # 36 points, closed
    lips = connection_paths(sets["lips"])
    assert len(lips) == 2 and all(p[0] == p[-1] for p in lips)  # outer and inner lip lines
    assert {61, 291} <= set(lips[0]) | set(lips[1])
    assert all(p[0] == p[-1] for p in connection_paths(sets["left_eye"]))


def test_every_development_photo_has_a_mesh_inside_its_box(loaded_photos, mesh, mp_detector):
    for name, image in loaded_photos.items():
        box = mp_detector.detect(image)[0].box
        pts = mesh.landmarks(image, box)
        assert pts is not None and pts.shape == (478, 2), name
        inside = _inside(pts, box, 0.15)
        assert inside.mean() > 0.98, f"{name}: {inside.mean():.3f} of the mesh inside the box"
        # the eyes and the nose tip are well inside the box
        assert _inside(pts[[468, 473, 1]], box, 0.0).all(), name


def test_mesh_is_safe_to_share_between_threads(mp_detector, astronaut):
    import threading

    shared = FaceMeshLandmarks()
    box = mp_detector.detect(astronaut)[0].box
    ref = shared.landmarks(astronaut, box)
    results, errors = [], []

    def work():
        try:
            for _ in range(4):
                results.append(shared.landmarks(astronaut, box))
        except Exception as exc:  # noqa: BLE001 - any failure in a thread is reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 12
    for pts in results:
        np.testing.assert_allclose(pts, ref, atol=1e-6)
