"""Face alignment: similarity transforms onto canonical templates, as pure functions over arrays.

Two templates (see :data:`TEMPLATES`):

- ``arcface112``: insightface's ``arcface_dst`` five points on a 112x112 crop (eye centres, nose tip, mouth
  corners), the input of ArcFace models.
- ``dlib150``: the 150x150 chip ``dlib.get_face_chip(image, shape, size=150, padding=0.25)`` cuts from the
  five points of ``shape_predictor_5_face_landmarks`` (outer and inner eye corners, base of the nose), the input
  of dlib's ResNet. The chip geometry reproduces dlib's ``get_face_chip_details`` / ``extract_image_chip``
  exactly, including two details that move the chip by up to a pixel: dlib fits the similarity from chip to
  image (not the reverse), and its sampling rectangle is ``size * scale - 1`` pixels wide with pixel centres at
  the corners, so the template lands half a pixel up-left of ``(padding + p) / (1 + 2 padding) * size`` and the
  effective scale depends slightly on the face size. Checked against dlib on the astronaut: the same mapping to
  0.02 px while the face is up to twice the chip size, within 0.5 px beyond (where dlib samples through its image
  pyramid); pixels differ by about 0.5 grey levels (dlib truncates, OpenCV rounds).

Recommended path: points from Face Mesh (:func:`keypoints_from_mesh`, or :func:`align_face` with ``mesh=``).
Face Mesh points 263, 362, 33, 133, 2 correspond to dlib's five; aligned that way, dlib150 chips sit on average
1.4 px (chip pixels, mean over the chip; worst photo about 3 px) from the chips dlib cuts from its own predictor,
over 32 photos. :func:`keypoints_from_detection` is the fallback when no mesh is available: BlazeFace has no mouth
corners and no eye corners, so they are predicted from a mean face, and chips land about 7 px away on average.

Coordinates: points are (x, y) with integer values at pixel centres (OpenCV's and dlib's convention).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.base import AlignedFace, FaceDetection

# --- templates ---------------------------------------------------------------------------------------------

# insightface.utils.face_align.arcface_dst, 112x112, ArcFace order (subject's right eye = image left first).
_ARCFACE112 = np.array(
    [
        [38.2946, 51.6963],
        [73.5318, 51.5014],
        [56.0252, 71.7366],
        [41.5493, 92.3655],
        [70.7299, 92.2041],
    ]
)

# dlib's mean-face positions of the five shape_predictor_5 points on the unit square, in the predictor's order:
# subject's left eye outer corner, left eye inner, right eye outer, right eye inner, base of the nose
# (dlib/image_transforms/interpolation.h, get_face_chip_details).
DLIB5_UNIT = np.array(
    [
        [0.8595674595992, 0.2134981538014],
        [0.6460604764104, 0.2289674387677],
        [0.1205750620789, 0.2137274526848],
        [0.3340850613712, 0.2290642403242],
        [0.4901123135679, 0.6277975316475],
    ]
)
DLIB_PADDING = 0.25
DLIB_SIZE = 150

# Where dlib's five points fall on the arcface112 crop of an average face: measured with Face Mesh
# (points 263, 362, 33, 133, 2 after aligning mesh points 468, 473, 1, 61, 291 onto arcface_dst) over the
# astronaut and 31 press photos; per-point s.d. 0.8-1.8 px. Used to predict one point set from the other.
DLIB5_IN_ARCFACE112 = np.array(
    [
        [80.35, 52.44],
        [65.31, 53.24],
        [31.48, 52.44],
        [46.54, 53.16],
        [56.05, 78.63],
    ]
)

# Calibration of Face Mesh points against dlib's predictor, on dlib150 chips cut from dlib's own five points
# (astronaut + 31 press photos): mean positions of mesh points 263, 362, 33, 133, 2 and of dlib's five points.
# Mesh's inner eye corners sit about 1-2 px wider and its nose base 1.4 px higher than dlib's. Mapping mesh points
# through these means (see keypoints_from_mesh) brings mesh-aligned chips from 1.70 to 1.37 px (mean
# displacement over the chip, leave-one-out) of dlib's own.
MESH5_IN_DLIB150 = np.array([[111.14, 46.17], [88.36, 47.29], [36.75, 45.97], [59.68, 47.08], [74.11, 85.88]])
DLIB5_IN_DLIB150 = np.array([[110.28, 46.51], [89.22, 46.97], [36.72, 46.54], [57.78, 46.86], [73.55, 87.24]])

# Face Mesh indices (subject-based: "right" is the subject's right, image left for an upright face).
MESH_RIGHT_IRIS, MESH_LEFT_IRIS = 468, 473  # only with refine_landmarks=True (478 points)
MESH_RIGHT_EYE_CORNERS = (33, 133)  # outer, inner
MESH_LEFT_EYE_CORNERS = (263, 362)  # outer, inner
MESH_NOSE_TIP = 1
MESH_NOSE_BASE = 2
MESH_MOUTH_CORNERS = (61, 291)  # subject's right, left
MESH_DLIB5 = (263, 362, 33, 133, 2)


@dataclass(frozen=True)
class Template:
    """A canonical crop: its size, and where its five points land (crop pixel coordinates)."""

    name: str
    size: int
    points: np.ndarray  # (5, 2) destination points, in ``point_names`` order
    point_names: tuple[str, ...]
    mesh_indices: str  # how the points are read from Face Mesh, for the record
    description: str
    dlib_chip: bool = False  # reproduce dlib's chip geometry (fit chip -> image, size*scale-1 rectangle)

    @property
    def eye_points(self) -> np.ndarray:
        """(2, 2) eye positions on the crop (centre of each eye): (image-left eye, image-right eye), in crop pixels."""
        if self.dlib_chip:
            p = self.points
            return np.array([(p[2] + p[3]) / 2, (p[0] + p[1]) / 2])
        return self.points[:2].copy()


def _dlib_template_points(size: int = DLIB_SIZE, padding: float = DLIB_PADDING) -> np.ndarray:
    # dlib places p at (padding + p) / (2 padding + 1) * size in its own chip frame; its sampling puts that frame's
    # point size/2 at pixel (size - 1)/2, i.e. half a pixel up-left at unit scale (see module docstring).
    return (padding + DLIB5_UNIT) / (2 * padding + 1) * size - 0.5


TEMPLATES: dict[str, Template] = {
    "arcface112": Template(
        name="arcface112",
        size=112,
        points=_ARCFACE112,
        point_names=("right_eye", "left_eye", "nose_tip", "mouth_right", "mouth_left"),
        mesh_indices="iris centres 468/473 (eye-corner midpoints without refinement), nose tip 1, mouth 61/291",
        description="insightface ArcFace 112x112 (arcface_dst)",
    ),
    "dlib150": Template(
        name="dlib150",
        size=DLIB_SIZE,
        points=_dlib_template_points(),
        point_names=("left_eye_outer", "left_eye_inner", "right_eye_outer", "right_eye_inner", "nose_base"),
        mesh_indices="263, 362, 33, 133, 2",
        description="dlib get_face_chip(size=150, padding=0.25) from shape_predictor_5 points",
        dlib_chip=True,
    ),
}


def get_template(template: str | Template) -> Template:
    """The :class:`Template` named ``template`` (a Template is returned as is).

    Args:
        template: ``"arcface112"``, ``"dlib150"`` or a :class:`Template`.

    Returns:
        The template.

    Raises:
        ValueError: an unknown template name.
    """
    if isinstance(template, Template):
        return template
    try:
        return TEMPLATES[template]
    except KeyError:
        raise ValueError(f"unknown alignment template {template!r}; choose one of {', '.join(TEMPLATES)}") from None


# --- transforms --------------------------------------------------------------------------------------------


def _as_points(points, n: int | None = None, what: str = "points") -> np.ndarray:
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2 or (n is not None and pts.shape[0] != n):
        raise ValueError(f"{what} must have shape ({n or 'N'}, 2), got {pts.shape}")
    if not np.isfinite(pts).all():
        raise ValueError(f"{what} contain NaN or infinite values")
    return pts


def estimate_similarity(src_pts, dst_pts) -> np.ndarray:
    """Least-squares similarity transform (rotation, uniform scale, translation) mapping ``src`` onto ``dst``.

    Umeyama's closed form through scikit-image (Umeyama, "Least-squares estimation of transformation parameters
    between two point patterns", IEEE TPAMI 13(4), 1991); no outlier rejection (five reliable points, every one
    counts).

    Args:
        src_pts: (N, 2) source points (x, y), N >= 2.
        dst_pts: (N, 2) destination points, in the same order.

    Returns:
        (2, 3) float64 matrix for ``cv2.warpAffine`` (dst = M[:, :2] @ src + M[:, 2]).

    Raises:
        ValueError: wrong shapes, NaN or infinite values, fewer than two points, or degenerate (coincident or
            collinear) points.
    """
    from skimage.transform import SimilarityTransform

    src = _as_points(src_pts, what="source points")
    dst = _as_points(dst_pts, src.shape[0], what="destination points")
    if src.shape[0] < 2:
        raise ValueError("a similarity transform needs at least two points")
    if hasattr(SimilarityTransform, "from_estimate"):  # scikit-image >= 0.26
        tform = SimilarityTransform.from_estimate(src, dst)
        ok = bool(tform)
    else:  # pragma: no cover - older scikit-image
        tform = SimilarityTransform()
        ok = tform.estimate(src, dst)
    if not ok or not np.isfinite(tform.params).all() or abs(np.linalg.det(tform.params[:2, :2])) < 1e-12:
        raise ValueError("points are degenerate (coincident or collinear); cannot estimate an alignment")
    return np.array(tform.params[:2], dtype=np.float64)


def _invert(matrix: np.ndarray) -> np.ndarray:
    return np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]


def alignment_matrix(points, template: str | Template = "arcface112") -> np.ndarray:
    """The 2x3 image -> crop transform that puts ``points`` (the template's point set) on the template.

    For ``dlib150`` it reproduces dlib's chip geometry (``get_face_chip_details`` / ``extract_image_chip`` in
    dlib/image_transforms/interpolation.h; see the module docstring).

    Args:
        points: (5, 2) the template's five points in image pixels, in ``point_names`` order.
        template: template name or :class:`Template`.

    Returns:
        (2, 3) float64 image -> crop similarity matrix.

    Raises:
        ValueError: an unknown template, points of the wrong shape, degenerate points, or (``dlib150``) a face
            so small that the whole chip spans under one image pixel.
    """
    tpl = get_template(template)
    pts = _as_points(points, len(tpl.points), what=f"{tpl.name} points")
    if not tpl.dlib_chip:
        return estimate_similarity(pts, tpl.points)
    # dlib: fit chip -> image onto the unshifted template, then sample a (size*scale - 1)-wide rectangle whose
    # corner pixels sit on its corners (interpolation.h, chip_details and extract_image_chips).
    size = tpl.size
    chip_to_image = estimate_similarity(tpl.points + 0.5, pts)
    scale = float(np.hypot(*chip_to_image[:, 0]))  # image pixels per template unit
    if size * scale <= 1.0:
        raise ValueError("face is too small to align (under one pixel per chip)")
    k = scale * (size - 1) / (size * scale - 1.0)
    image_to_chip = _invert(chip_to_image)  # image -> dlib's chip frame u
    # crop c = (size - 1)/2 + k (u - size/2)
    matrix = k * image_to_chip
    matrix[:, 2] += (size - 1) / 2.0 - k * size / 2.0
    return matrix


def resize_scaled(image: np.ndarray, scale: float, *, fast: bool = False) -> tuple[np.ndarray, float, float]:
    """Resize by about ``scale``: area interpolation down (no aliasing), bilinear up.

    Large reductions go through OpenCV's fast integer-factor area path first, which may drop up to k-1 pixels at
    the right and bottom edges (the returned factors account for it); ``fast`` does the remaining reduction, under
    2x, bilinearly (for detector inputs: a 1414x1264 photo to 640 px takes 2 ms instead of 13 ms with plain area
    resizing).

    Args:
        image: (H, W) or (H, W, C) array.
        scale: output pixels per input pixel (1.0 returns the image unchanged, made contiguous).
        fast: bilinear instead of area interpolation for the last, under-2x, reduction.

    Returns:
        ``(resized, sx, sy)``: the resized array (round(W * scale) x round(H * scale), at least 1 px) and the exact
        factors, so that resized = original * s in continuous pixel coordinates, i.e. ``(x + 0.5) * s - 0.5`` for
        pixel-centre coordinates.
    """
    import cv2

    h, w = image.shape[:2]
    if scale == 1.0:
        return np.ascontiguousarray(image), 1.0, 1.0
    out_w, out_h = max(1, round(w * scale)), max(1, round(h * scale))
    if scale > 1.0:
        return (
            np.ascontiguousarray(cv2.resize(image, (out_w, out_h), interpolation=cv2.INTER_LINEAR)),
            out_w / w,
            out_h / h,
        )
    k = int(1.0 / scale)
    fx = fy = 1.0
    if k >= 2 and w // k >= out_w and h // k >= out_h:
        image = image[: (h // k) * k, : (w // k) * k]
        image = cv2.resize(image, (w // k, h // k), interpolation=cv2.INTER_AREA)
        fx = fy = 1.0 / k
    if image.shape[1] != out_w or image.shape[0] != out_h:
        fx *= out_w / image.shape[1]
        fy *= out_h / image.shape[0]
        interp = cv2.INTER_LINEAR if fast else cv2.INTER_AREA
        image = cv2.resize(image, (out_w, out_h), interpolation=interp)
    return np.ascontiguousarray(image), fx, fy


def matrix_scale(matrix: np.ndarray) -> float:
    """Crop pixels per image pixel of a similarity matrix.

    Args:
        matrix: (2, 3) (or (3, 3)) similarity matrix.

    Returns:
        sqrt(|det M[:2, :2]|), the uniform scale factor.
    """
    return float(np.sqrt(abs(np.linalg.det(np.asarray(matrix)[:2, :2]))))


def warp_image(
    image: np.ndarray,
    matrix: np.ndarray,
    size: int,
    *,
    border: str = "constant",
    border_value: int = 0,
) -> np.ndarray:
    """``cv2.warpAffine`` into a ``size`` x ``size`` crop without aliasing.

    When the crop is much smaller than the face in the image (scale under 0.67), the covered region is first
    shrunk with area interpolation (as dlib does with its image pyramid), then warped bilinearly at about one to
    one.

    Args:
        image: (H, W) or (H, W, 3) array.
        matrix: (2, 3) image -> crop matrix.
        size: crop side in pixels.
        border: ``"constant"``, ``"replicate"`` or ``"reflect"`` (OpenCV's BORDER_REFLECT_101) outside the image.
        border_value: grey level of the constant border.

    Returns:
        (size, size[, 3]) crop of ``image``'s dtype.

    Raises:
        ValueError: an unknown ``border``.
    """
    import cv2

    matrix = np.asarray(matrix, dtype=np.float64)
    flags_border = {
        "constant": cv2.BORDER_CONSTANT,
        "replicate": cv2.BORDER_REPLICATE,
        "reflect": cv2.BORDER_REFLECT_101,
    }
    if border not in flags_border:
        raise ValueError(f"border must be one of {', '.join(flags_border)}, not {border!r}")
    value = (border_value,) * 3 if image.ndim == 3 else border_value
    scale = matrix_scale(matrix)
    if scale < 0.67:
        # region of the image the crop covers (plus the bilinear footprint), shrunk to about crop resolution
        inv = _invert(matrix)
        corners = np.array([[-1, -1], [size, -1], [-1, size], [size, size]], dtype=np.float64)
        img_corners = corners @ inv[:, :2].T + inv[:, 2]
        h, w = image.shape[:2]
        x0, y0 = np.floor(img_corners.min(0)).astype(int) - 2
        x1, y1 = np.ceil(img_corners.max(0)).astype(int) + 3
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 >= 2 and y1 - y0 >= 2:
            small, fx, fy = resize_scaled(image[y0:y1, x0:x1], scale)
            # small pixel (u, v) <-> image ((u + 0.5)/fx - 0.5 + x0, (v + 0.5)/fy - 0.5 + y0)
            to_image = np.array([[1 / fx, 0, 0.5 / fx - 0.5 + x0], [0, 1 / fy, 0.5 / fy - 0.5 + y0], [0, 0, 1]])
            matrix = matrix @ to_image
            image = small
    return cv2.warpAffine(
        image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=flags_border[border], borderValue=value
    )


def align(
    image: np.ndarray,
    points,
    template: str | Template = "arcface112",
    *,
    border: str = "constant",
) -> AlignedFace:
    """Warp ``image`` so that ``points`` land on ``template``.

    Args:
        image: (H, W) or (H, W, 3) array, usually RGB uint8.
        points: (5, 2) the template's five points in image pixels (e.g. from :func:`keypoints_from_mesh`).
        template: template name or :class:`Template`.
        border: as for :func:`warp_image`.

    Returns:
        :class:`AlignedFace` with the (size, size[, 3]) crop and the image -> crop matrix.

    Raises:
        ValueError: an empty or non-image array, an unknown template, or points that cannot be aligned.
    """
    tpl = get_template(template)
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0:
        raise ValueError("image must be a non-empty (H, W) or (H, W, 3) array")
    matrix = alignment_matrix(points, tpl)
    crop = warp_image(image, matrix, tpl.size, border=border)
    return AlignedFace(crop=crop, matrix=matrix, template=tpl.name)


def align_face(
    image: np.ndarray,
    template: str | Template = "arcface112",
    *,
    mesh: np.ndarray | None = None,
    detection: FaceDetection | None = None,
    border: str = "constant",
) -> AlignedFace:
    """Align from Face Mesh points when given (the recommended, precise path), else from a detection's keypoints.

    Args:
        image: (H, W, 3) RGB uint8.
        template: template name or :class:`Template`.
        mesh: (468 or 478, 2) Face Mesh points in image pixels.
        detection: a :class:`FaceDetection`, used when ``mesh`` is None.
        border: as for :func:`warp_image`.

    Returns:
        :class:`AlignedFace`.

    Raises:
        ValueError: neither ``mesh`` nor ``detection`` given, or points that cannot be aligned.
    """
    if mesh is not None:
        return align(image, keypoints_from_mesh(mesh, template), template, border=border)
    if detection is not None:
        return align(image, keypoints_from_detection(detection, template), template, border=border)
    raise ValueError("align_face needs mesh landmarks or a detection")


def warp_mask(mask: np.ndarray, matrix_or_face, size: int | None = None) -> np.ndarray:
    """Warp an image mask into the crop with the same matrix (nearest neighbour).

    Args:
        mask: (H, W) bool (or 0/1) mask in image pixels.
        matrix_or_face: an :class:`AlignedFace`, or a (2, 3) image -> crop matrix.
        size: crop side in pixels; required with a bare matrix.

    Returns:
        (size, size) bool mask; False outside the image.

    Raises:
        ValueError: ``mask`` is not 2-d, or a bare matrix without ``size``.
    """
    import cv2

    matrix, size = _matrix_and_size(matrix_or_face, size)
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be (H, W), got shape {m.shape}")
    out = cv2.warpAffine(m.astype(np.uint8), matrix, (size, size), flags=cv2.INTER_NEAREST, borderValue=0)
    return out.astype(bool)


def warp_to_image(values: np.ndarray, matrix_or_face, image_shape, *, nearest: bool = False) -> np.ndarray:
    """Map a crop-sized array (a heatmap, a mask) back onto the original image; outside the crop gives 0.

    Args:
        values: (size, size) array on the crop; bool arrays stay bool, float64 becomes float32.
        matrix_or_face: an :class:`AlignedFace`, or its (2, 3) image -> crop matrix.
        image_shape: the original image's shape (H, W[, ...]).
        nearest: nearest-neighbour instead of bilinear interpolation (always nearest for bool).

    Returns:
        (H, W) array in original-image pixels.
    """
    import cv2

    matrix = matrix_or_face.matrix if isinstance(matrix_or_face, AlignedFace) else matrix_or_face
    matrix = np.asarray(matrix, dtype=np.float64)
    h, w = image_shape[:2]
    v = np.asarray(values)
    is_bool = v.dtype == np.bool_
    src = v.astype(np.uint8) if is_bool else v
    if src.dtype == np.float64:
        src = src.astype(np.float32)
    flags = cv2.INTER_NEAREST if (nearest or is_bool) else cv2.INTER_LINEAR
    out = cv2.warpAffine(src, _invert(matrix), (w, h), flags=flags, borderValue=0)
    return out.astype(bool) if is_bool else out


def _matrix_and_size(matrix_or_face, size):
    if isinstance(matrix_or_face, AlignedFace):
        return np.asarray(matrix_or_face.matrix, dtype=np.float64), matrix_or_face.size
    if size is None:
        raise ValueError("size is required when passing a bare matrix")
    return np.asarray(matrix_or_face, dtype=np.float64), int(size)


# --- point sets --------------------------------------------------------------------------------------------


def keypoints_from_mesh(mesh, template: str | Template = "arcface112", *, calibrated: bool = True) -> np.ndarray:
    """The template's five points read from 468 or 478 Face Mesh landmarks (image coordinates).

    ``arcface112``: eye centres (iris centres 468/473 when refined, else eye-corner midpoints), nose tip 1, mouth
    corners 61/291. ``dlib150``: points 263, 362, 33, 133, 2 (dlib's eye corners and nose base), corrected for
    the mean offset between Face Mesh and dlib's predictor on these points (``MESH5_IN_DLIB150`` ->
    ``DLIB5_IN_DLIB150``, measured on 32 photos).

    Args:
        mesh: (468 or 478, 2) Face Mesh points in image pixels.
        template: template name or :class:`Template`.
        calibrated: apply that correction (``dlib150`` only); False returns the raw mesh points.

    Returns:
        (5, 2) float64 points in image pixels, in the template's ``point_names`` order.

    Raises:
        ValueError: not 468 or 478 finite points, or an unknown template.
    """
    tpl = get_template(template)
    pts = _as_points(mesh, what="mesh landmarks")
    if pts.shape[0] not in (468, 478):
        raise ValueError(f"expected 468 or 478 Face Mesh landmarks, got {pts.shape[0]}")
    if tpl.dlib_chip:
        raw = pts[list(MESH_DLIB5)]
        if not calibrated:
            return raw.copy()
        m = estimate_similarity(MESH5_IN_DLIB150, raw)  # mean chip -> this image, fitted on the mesh points
        return DLIB5_IN_DLIB150 @ m[:, :2].T + m[:, 2]
    if pts.shape[0] == 478:
        right_eye, left_eye = pts[MESH_RIGHT_IRIS], pts[MESH_LEFT_IRIS]
    else:
        right_eye = pts[list(MESH_RIGHT_EYE_CORNERS)].mean(0)
        left_eye = pts[list(MESH_LEFT_EYE_CORNERS)].mean(0)
    return np.array([right_eye, left_eye, pts[MESH_NOSE_TIP], pts[MESH_MOUTH_CORNERS[0]], pts[MESH_MOUTH_CORNERS[1]]])


def keypoints_from_detection(det: FaceDetection, template: str | Template = "arcface112") -> np.ndarray:
    """The template's five points from a detection.

    ``arcface112``: the detection's keypoints. ``dlib150``: dlib's own five points when the detection carries them
    (``dlib-hog``), else predicted from the ArcFace keypoints through a mean face (about 1-2 px of error per point
    on a 150 px chip).

    Args:
        det: a :class:`FaceDetection` (or :class:`models.detection.DlibFaceDetection`).
        template: template name or :class:`Template`.

    Returns:
        (5, 2) float64 points in image pixels, in the template's ``point_names`` order.

    Raises:
        ValueError: keypoints of the wrong shape or not finite, or an unknown template.
    """
    tpl = get_template(template)
    if not tpl.dlib_chip:
        return _as_points(det.keypoints, 5, what="detection keypoints").copy()
    dlib_points = getattr(det, "dlib_points", None)
    if dlib_points is not None:
        return _as_points(dlib_points, 5, what="dlib points").copy()
    return convert_points(det.keypoints, "arcface112", "dlib150")


_MEAN_FACE = {"arcface112": _ARCFACE112, "dlib150": DLIB5_IN_ARCFACE112}


def convert_points(points, from_template: str, to_template: str) -> np.ndarray:
    """Predict one template's point set from another's through the mean face (approximate).

    Args:
        points: (5, 2) points of ``from_template`` in image pixels.
        from_template: ``"arcface112"`` or ``"dlib150"``.
        to_template: ``"arcface112"`` or ``"dlib150"``.

    Returns:
        (5, 2) float64 predicted points of ``to_template`` in image pixels.

    Raises:
        ValueError: an unknown template, or points of the wrong shape or degenerate.
    """
    src_set, dst_set = _MEAN_FACE[get_template(from_template).name], _MEAN_FACE[get_template(to_template).name]
    pts = _as_points(points, 5)
    m = estimate_similarity(src_set, pts)
    return dst_set @ m[:, :2].T + m[:, 2]
