"""Face image quality measures, as pure functions over what the pipeline already has.

The names follow ISO/IEC 29794-5 as its reference implementation OFIQ names its measures (OFIQ 1.x,
``ofiq_config.jaxn``: HeadPoseYaw/Pitch/Roll, LuminanceMean, UnderExposurePrevention, OverExposurePrevention,
DynamicRange, Sharpness, InterEyeDistance, EyesVisible, MouthOcclusionPrevention, LeftwardCropOfTheFaceImage and
its three siblings). OFIQ computes them with its own learned models (ADNet landmarks, BiSeNet segmentation, a
random-forest sharpness model); here each is computed from the offline stack — Face Mesh geometry, the aligned
crop's pixels, the parsing, and a re-detection of the aligned crop — so the *values* are this project's own and
the thresholds in ``prompts/quality_policy.yaml`` were measured for them (``scripts/measure_quality.py``), not taken
from OFIQ. Two measures go beyond ISO/IEC 29794-5: the crop's in-plane orientation (is the face upright in the
pixels, as the face model needs) and whether the face is a photograph rather than a drawing.

Every function takes numpy arrays and returns plain floats; nothing here loads a model. The detector used for
re-detection is passed in as a callable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import cv2
import numpy as np

# Face Mesh indices (canonical 468-point topology; "right" = the person's right, image left when upright)
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176,
             149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
RIGHT_EYE = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
LEFT_EYE = (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)
RIGHT_IRIS, LEFT_IRIS = 468, 473

# Six points of a generic 3-D head (millimetres, x to the person's left, y up, z towards the camera), the model of
# the common solvePnP head-pose recipe (nose tip, chin, outer eye corners, mouth corners), and their Face Mesh ids.
_POSE_MODEL = np.array([[0.0, 0.0, 0.0], [0.0, -63.6, -12.5], [-43.3, 32.7, -26.0], [43.3, 32.7, -26.0],
                        [-28.9, -28.9, -24.1], [28.9, -28.9, -24.1]])
_POSE_MESH = (1, 152, 33, 263, 61, 291)

Detect = Callable[[np.ndarray], Sequence]


def luminance(image: np.ndarray) -> np.ndarray:
    """(H, W) float32 luma (ITU-R BT.601, as ``cv2.COLOR_RGB2GRAY``) of an RGB uint8 image, 0-255."""
    if image.ndim == 2:
        return image.astype(np.float32)
    return cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2GRAY).astype(np.float32)


def local_sd(lum: np.ndarray, size: int = 5) -> np.ndarray:
    """(H, W) standard deviation of ``lum`` in a ``size`` x ``size`` box around each pixel (grey levels)."""
    mean = cv2.boxFilter(lum, cv2.CV_32F, (size, size), borderType=cv2.BORDER_REFLECT)
    sq = cv2.boxFilter(lum * lum, cv2.CV_32F, (size, size), borderType=cv2.BORDER_REFLECT)
    return np.sqrt(np.maximum(sq - mean * mean, 0.0))


def polygon_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    cv2.fillPoly(m, [np.round(np.asarray(points) * 4).astype(np.int32).reshape(-1, 1, 2)], 1, cv2.LINE_8, shift=2)
    return m.astype(bool)


def polygon_area(points: np.ndarray) -> float:
    x, y = np.asarray(points, dtype=np.float64).T
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def inside_photo_mask(inverse: np.ndarray, crop_shape: tuple[int, int], photo_shape: tuple[int, int]) -> np.ndarray:
    """(h, w) bool over the aligned crop: True where the pixel comes from inside the original photo.

    Args:
        inverse: (2, 3) affine map from crop to photo coordinates (``AlignedFace.inverse``).
        crop_shape: (h, w) of the crop; photo_shape: (H, W) of the photo.
    """
    h, w = int(crop_shape[0]), int(crop_shape[1])
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    m = np.asarray(inverse, dtype=np.float64)
    px = m[0, 0] * xx + m[0, 1] * yy + m[0, 2]
    py = m[1, 0] * xx + m[1, 1] * yy + m[1, 2]
    hh, ww = photo_shape[:2]
    return (px >= -0.5) & (px <= ww - 0.5) & (py >= -0.5) & (py <= hh - 0.5)


def eye_centres(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(person's right eye, left eye) centres: the iris points when refined (478 points), else the lid centroids."""
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.shape[0] >= 478:
        return pts[RIGHT_IRIS, :2], pts[LEFT_IRIS, :2]
    return pts[list(RIGHT_EYE), :2].mean(axis=0), pts[list(LEFT_EYE), :2].mean(axis=0)


def inter_eye_distance(landmarks: np.ndarray) -> float:
    """Distance between the eye centres in photo pixels (ISO/IEC 29794-5 / OFIQ InterEyeDistance)."""
    r, l = eye_centres(landmarks)
    return float(np.linalg.norm(l - r))


def head_pose(landmarks: np.ndarray, photo_shape: tuple[int, int]) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from six Face Mesh points and a generic 3-D head (cv2.solvePnP).

    Yaw is positive when the person turns to their left, pitch positive when they look up; roll is the angle of
    the eye line in the photo (positive clockwise in the pixels), taken from the landmarks directly so that it
    covers the whole circle. A pinhole camera with focal length = the photo's longer side is assumed.
    """
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    r, l = eye_centres(pts)
    roll = float(np.degrees(np.arctan2(l[1] - r[1], l[0] - r[0])))
    h, w = photo_shape[:2]
    f = float(max(h, w))
    cam = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]], dtype=np.float64)
    # the model in camera axes (x right, y down, z away from the camera): an upright frontal face has R = I
    model = _POSE_MODEL * [1.0, -1.0, -1.0]
    ok, rvec, _ = cv2.solvePnP(model, pts[list(_POSE_MESH)], cam, None, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return float("nan"), float("nan"), roll
    rot, _ = cv2.Rodrigues(rvec)
    # R = Rz(roll) Ry(yaw) Rx(pitch); read yaw and pitch, keep the roll measured from the eye line
    yaw = float(np.degrees(np.arcsin(np.clip(-rot[2, 0], -1.0, 1.0))))
    pitch = float(np.degrees(np.arctan2(rot[2, 1], rot[2, 2])))
    return yaw, pitch, roll


def exposure(lum: np.ndarray, mask: np.ndarray) -> tuple[float, float, float, float]:
    """(mean luminance, fraction <= 25, fraction >= 247, entropy in bits) of the luminance under ``mask``.

    OFIQ's LuminanceMean, UnderExposurePrevention and OverExposurePrevention (luminance bands [0, 25] and
    [247, 255]) and DynamicRange (entropy of the 256-bin histogram of the face's luminance).
    """
    values = lum[mask]
    if values.size == 0:
        return float("nan"), float("nan"), float("nan"), float("nan")
    v = np.clip(np.round(values), 0, 255).astype(np.int64)
    hist = np.bincount(v, minlength=256).astype(np.float64)
    p = hist[hist > 0] / v.size
    entropy = float(-(p * np.log2(p)).sum())
    return float(values.mean()), float((v <= 25).mean()), float((v >= 247).mean()), entropy


def sharpness(lum: np.ndarray, mask: np.ndarray) -> float:
    """Variance of the 3x3 Laplacian of the luminance under ``mask`` (grey levels squared), on the aligned crop so
    that every face is judged at the same scale (OFIQ's Sharpness measures the same property with a learned
    model)."""
    lap = cv2.Laplacian(lum, cv2.CV_32F, ksize=3)
    inner = cv2.erode(mask.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    v = lap[inner]
    return float(v.var()) if v.size else float("nan")


def flat_fraction(flat: np.ndarray, mask: np.ndarray) -> float:
    """Share of ``mask``'s pixels that are flat (``flat`` is a bool map, e.g. local s.d. below a level)."""
    n = int(mask.sum())
    return float(flat[mask].mean()) if n else float("nan")


def photo_texture(lum: np.ndarray, mask: np.ndarray, percentile: float = 75.0) -> float:
    """The ``percentile`` of the local s.d. (3x3) of the luminance after removing a 5x5-median-smoothed copy, under
    ``mask``: the fine grain (skin texture, pores, sensor noise) that a photograph of skin has and a flat-shaded
    drawing lacks (grey levels). The 75th percentile rather than the median, so that a mask or dark glasses
    covering half the face do not make a photograph look drawn."""
    med = cv2.medianBlur(np.clip(lum, 0, 255).astype(np.uint8), 5).astype(np.float32)
    resid = lum - med
    sd = local_sd(resid, 3)
    v = sd[mask]
    return float(np.percentile(v, percentile)) if v.size else float("nan")


def upright_scores(crop: np.ndarray, detect: Detect, pad: float = 0.25, angles: Sequence[int] = (0, 90, 180, 270)
                   ) -> dict[int, float]:
    """Re-detection of the aligned crop turned by each of ``angles`` (multiples of 90 degrees, counter-clockwise):
    {angle: best face score, 0 if none}.

    The crop is padded by ``pad`` of its size on every side (replicated edge) so that the detector sees some
    context. A crop aligned from a face that is upright in the pixels is found best at 0; Face Mesh fits an
    upright mesh onto a face turned 180 degrees in the pixels, and that crop is found best at 180 (or, when the
    mesh was placed askew, at 90 or 270). Four BlazeFace short-range runs on a 225 px image take about 2-8 ms in
    all on 2 CPU cores (``benchmarks/bench_quality.py``).
    """
    p = round(float(pad * crop.shape[0]))
    padded = cv2.copyMakeBorder(np.ascontiguousarray(crop), p, p, p, p, cv2.BORDER_REPLICATE)
    scores: dict[int, float] = {}
    for angle in angles:
        img = np.ascontiguousarray(np.rot90(padded, (int(angle) // 90) % 4))
        faces = list(detect(img))
        scores[int(angle)] = max((float(f.score) for f in faces), default=0.0)
    return scores


def face_outline(landmarks: np.ndarray) -> np.ndarray:
    """(36, 2) Face Mesh face-oval points."""
    return np.asarray(landmarks, dtype=np.float64)[list(FACE_OVAL), :2]


def cut_off(landmarks: np.ndarray, photo_shape: tuple[int, int]) -> tuple[float, dict[str, float]]:
    """Share of the face oval's area inside the photo, and per side (left, right, top, bottom) the share of the
    oval's width/height that lies outside it (OFIQ's Leftward/RightwardCropOfTheFaceImage and
    MarginAbove/BelowOfTheFaceImage, which measure the same margins from the eye centres)."""
    oval = face_outline(landmarks)
    h, w = photo_shape[:2]
    area = polygon_area(oval)
    clipped = _clip_polygon(oval, 0.0, 0.0, float(w), float(h))
    inside = polygon_area(clipped) / area if area > 0 and len(clipped) >= 3 else 0.0
    x0, y0 = oval.min(axis=0)
    x1, y1 = oval.max(axis=0)
    fw, fh = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
    sides = {
        "left": float(max(0.0, -x0) / fw), "right": float(max(0.0, x1 - w) / fw),
        "top": float(max(0.0, -y0) / fh), "bottom": float(max(0.0, y1 - h) / fh),
    }
    return float(min(1.0, inside)), sides


def _clip_polygon(poly: np.ndarray, x0: float, y0: float, x1: float, y1: float) -> np.ndarray:
    """Sutherland-Hodgman clipping of a polygon to an axis-aligned rectangle."""
    out = [tuple(p) for p in poly]
    for axis, bound, keep_greater in ((0, x0, True), (0, x1, False), (1, y0, True), (1, y1, False)):
        src, out = out, []
        if not src:
            break
        for i, cur in enumerate(src):
            prev = src[i - 1]
            cin = cur[axis] >= bound if keep_greater else cur[axis] <= bound
            pin = prev[axis] >= bound if keep_greater else prev[axis] <= bound
            if cin != pin:
                t = (bound - prev[axis]) / (cur[axis] - prev[axis])
                out.append(tuple(prev[j] + t * (cur[j] - prev[j]) for j in range(2)))
            if cin:
                out.append(cur)
    return np.asarray(out, dtype=np.float64).reshape(-1, 2)
