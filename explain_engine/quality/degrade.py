"""Reproducible degraded copies of a face photo: the conditions the quality stage must catch.

Each recipe is a pure function of an RGB uint8 photo (and, where the degradation is placed on the face, its Face
Mesh landmarks in photo coordinates). They rebuild the conditions of the quality issue (rotations without an EXIF
tag, dark glasses, a face mask, darkening, a frame cut below the nose, drawn cartoon faces) and the ordinary
degradations (blur, noise, JPEG, down-scaling, over-exposure) the thresholds were measured on; tests and
``scripts/measure_quality.py`` use them. Nothing here is used at run time.
"""

from __future__ import annotations

import cv2
import numpy as np

# Face Mesh indices (canonical topology; "right" = the person's right)
RIGHT_EYE = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
LEFT_EYE = (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176,
             149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
UNDER_EYE = (230, 229, 228, 118, 117, 450, 449, 448, 347, 346)
NOSE_BASE, CHIN = 2, 152


def rotate(image: np.ndarray, degrees: int) -> np.ndarray:
    """The photo turned by a multiple of 90 degrees counter-clockwise in its pixels (no EXIF tag)."""
    k = (int(degrees) // 90) % 4
    return np.ascontiguousarray(np.rot90(image, k))


def dark_glasses(image: np.ndarray, landmarks: np.ndarray, colour=(18, 18, 22)) -> np.ndarray:
    """Solid dark ellipses over both eyes, each 1.7 eye widths wide and 1.1 eye widths high (sunglasses)."""
    out = image.copy()
    pts = np.asarray(landmarks, dtype=np.float64)
    for idx in (RIGHT_EYE, LEFT_EYE):
        eye = pts[list(idx)]
        c = eye.mean(axis=0)
        width = float(np.linalg.norm(eye[0] - eye[8]))
        angle = float(np.degrees(np.arctan2(*(pts[263] - pts[33])[::-1])))
        axes = (round(float(0.85 * width)), round(float(0.55 * width)))
        cv2.ellipse(out, (round(float(c[0])), round(float(c[1]))), axes, angle, 0, 360, colour, -1, cv2.LINE_AA)
    return out


def face_mask(image: np.ndarray, landmarks: np.ndarray, colour=(170, 205, 230)) -> np.ndarray:
    """A flat pale-blue patch from just under the eyes to below the chin, across the face (a surgical mask)."""
    out = image.copy()
    pts = np.asarray(landmarks, dtype=np.float64)
    oval = pts[list(FACE_OVAL)]
    top = pts[list(UNDER_EYE)][:, 1].max()
    chin = pts[CHIN]
    below = oval[oval[:, 1] >= top]
    drop = 0.08 * float(np.linalg.norm(pts[CHIN] - pts[10]))
    poly = np.vstack([[below[:, 0].min(), top], [below[:, 0].max(), top],
                      [below[:, 0].max(), chin[1]], [chin[0], chin[1] + drop], [below[:, 0].min(), chin[1]]])
    hull = cv2.convexHull(np.vstack([poly, below]).astype(np.float32)).reshape(-1, 2)
    hull = hull[(hull[:, 1] >= top - 1)]
    cv2.fillPoly(out, [np.round(hull).astype(np.int32).reshape(-1, 1, 2)], colour, cv2.LINE_AA)
    return out


def darken(image: np.ndarray, mean: float = 8.0) -> np.ndarray:
    """Scale the photo so that its mean pixel value is ``mean`` (of 255)."""
    img = image.astype(np.float32)
    return np.clip(img * (mean / max(float(img.mean()), 1e-6)), 0, 255).round().astype(np.uint8)


def brighten(image: np.ndarray, gain: float = 3.0) -> np.ndarray:
    """Over-exposure: multiply by ``gain`` and clip."""
    return np.clip(image.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def cut_below_nose(image: np.ndarray, landmarks: np.ndarray, margin: float = 0.04) -> np.ndarray:
    """The photo cut just below the nose (``margin`` face heights below the nose base): mouth and chin are lost."""
    pts = np.asarray(landmarks, dtype=np.float64)
    face_h = float(np.linalg.norm(pts[CHIN] - pts[10]))
    y = round(float(pts[NOSE_BASE, 1] + margin * face_h))
    return np.ascontiguousarray(image[: max(1, y)])


def blur(image: np.ndarray, sigma: float) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigma)


def noise(image: np.ndarray, sd: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(image.astype(np.float32) + rng.normal(0, sd, image.shape), 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    _, buf = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def downscale(image: np.ndarray, factor: float) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, round(w * factor)), max(1, round(h * factor))), interpolation=cv2.INTER_AREA)


def cartoon_face(size: int = 512, skin=(250, 205, 160), eyes=(40, 40, 40), background=(235, 235, 235),
                 seed: int = 0) -> np.ndarray:
    """A simple drawn face: a flat oval head, eye whites with dark pupils, brows, a triangle nose and a mouth."""
    rng = np.random.default_rng(seed)
    img = np.full((size, size, 3), background, np.uint8)
    s = size / 512
    jitter = lambda v: round(float(v * s + rng.uniform(-4, 4) * s))
    cx, cy = jitter(256), jitter(270)
    cv2.ellipse(img, (cx, cy), (jitter(150), jitter(195)), 0, 0, 360, skin, -1, cv2.LINE_AA)
    dark = tuple(int(c * 0.55) for c in skin)
    for side in (-1, 1):
        ex, ey = cx + side * jitter(58), cy - jitter(45)
        cv2.ellipse(img, (ex, ey), (jitter(32), jitter(19)), 0, 0, 360, (255, 255, 255), -1, cv2.LINE_AA)
        cv2.circle(img, (ex, ey), jitter(13), eyes, -1, cv2.LINE_AA)
        cv2.line(img, (ex - jitter(34), ey - jitter(38)), (ex + jitter(34), ey - jitter(42)), dark, max(2, jitter(9)),
                 cv2.LINE_AA)
    nose = np.array([[cx, cy - jitter(15)], [cx - jitter(24), cy + jitter(50)], [cx + jitter(24), cy + jitter(50)]])
    cv2.fillPoly(img, [nose.reshape(-1, 1, 2).astype(np.int32)], dark, cv2.LINE_AA)
    cv2.ellipse(img, (cx, cy + jitter(105)), (jitter(55), jitter(20)), 0, 0, 360, (190, 60, 70), -1, cv2.LINE_AA)
    return img


__all__ = [
    "blur",
    "brighten",
    "cartoon_face",
    "cut_below_nose",
    "dark_glasses",
    "darken",
    "downscale",
    "face_mask",
    "jpeg",
    "noise",
    "rotate",
]
