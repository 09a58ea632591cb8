"""The ``approx`` parser backend (offline default): CelebAMask-HQ classes approximated from MediaPipe selfie
segmentation plus Face Mesh geometry.

Face parts come from landmark polygons; hair and ears, which the mesh does not cover, come from the person mask
restricted to a band around the head and separated from skin by colour. Its results say ``approximate=True``.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from models.base import ModelInfo, ParsingResult
from models.config import ModelConfig
from models.errors import ConfigError
from models.parsing.common import CELEBAMASK_CLASSES, CLASS_INDEX, check_image


@dataclass(frozen=True)
class ApproximateParsingResult(ParsingResult):
    """A :class:`ParsingResult` with the reasons why some parts are missing (e.g. ``{"l_ear": "covered by hair"}``)."""

    notes: dict[str, str] = field(default_factory=dict)


# --------------------------------------------------------------------------------------------------------------
# Approximate parser: MediaPipe selfie segmentation + Face Mesh geometry


def _connections_to_paths(connections) -> list[list[int]]:
    """Chain an undirected edge set into ordered vertex paths (a closed loop repeats no vertex)."""
    neighbours: dict[int, list[int]] = {}
    for a, b in connections:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    seen: set[int] = set()
    paths: list[list[int]] = []
    # open paths start at their ends; loops anywhere
    starts = [v for v, n in neighbours.items() if len(n) == 1] + sorted(neighbours)
    for start in starts:
        if start in seen:
            continue
        path, prev, cur = [start], None, start
        seen.add(start)
        while True:
            nxt = [n for n in neighbours[cur] if n != prev and n not in seen]
            if not nxt:
                break
            prev, cur = cur, nxt[0]
            path.append(cur)
            seen.add(cur)
        paths.append(path)
    return paths


def _split_loop(loop: list[int], a: int, b: int) -> tuple[list[int], list[int]]:
    """The two arcs of a closed loop between vertices ``a`` and ``b``, both running from ``a`` to ``b``."""
    i = loop.index(a)
    rolled = loop[i:] + loop[:i]
    j = rolled.index(b)
    return rolled[: j + 1], [a] + rolled[j:][::-1]


@functools.cache
def _mesh_topology() -> dict[str, list[int]]:
    """Face Mesh polygons (vertex index lists) built from mediapipe's own connection sets."""
    from mediapipe.python.solutions import face_mesh_connections as fmc

    def loop(connections) -> list[int]:
        return max(_connections_to_paths(connections), key=len)

    def band(connections) -> list[int]:
        # eyebrows are two open curves (upper, lower): join them into one outline
        upper, lower = sorted(_connections_to_paths(connections), key=len)[-2:]
        return upper + lower[::-1] if upper[-1] != lower[-1] else upper + lower[-2::-1]

    lips = _connections_to_paths(fmc.FACEMESH_LIPS)
    outer = next(p for p in lips if 61 in p)
    inner = next(p for p in lips if 78 in p)
    # mouth corners: 61/291 on the outer lip line, 78/308 on the inner one
    outer_a, outer_b = _split_loop(outer, 61, 291)
    inner_a, inner_b = _split_loop(inner, 78, 308)
    outer_upper, outer_lower = (outer_a, outer_b) if 0 in outer_a else (outer_b, outer_a)  # 0: upper lip top
    inner_upper, inner_lower = (inner_a, inner_b) if 13 in inner_a else (inner_b, inner_a)  # 13: upper lip inside
    nose = sorted({i for edge in fmc.FACEMESH_NOSE for i in edge})
    return {
        "oval": loop(fmc.FACEMESH_FACE_OVAL),
        "subject_left_eye": loop(fmc.FACEMESH_LEFT_EYE),
        "subject_right_eye": loop(fmc.FACEMESH_RIGHT_EYE),
        "subject_left_brow": band(fmc.FACEMESH_LEFT_EYEBROW),
        "subject_right_brow": band(fmc.FACEMESH_RIGHT_EYEBROW),
        "nose": nose,
        "u_lip": outer_upper + inner_upper[::-1],
        "l_lip": outer_lower + inner_lower[::-1],
        "mouth": inner,
        "lips_outer": outer,
    }


def _fill(shape: tuple[int, int], points: np.ndarray, convex: bool = False) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    pts = np.round(points * 4).astype(np.int32)  # 2 fractional bits: sub-pixel polygon edges
    if convex:
        cv2.fillConvexPoly(mask, cv2.convexHull(pts), 1, cv2.LINE_8, 2)
    else:
        cv2.fillPoly(mask, [pts], 1, cv2.LINE_8, 2)
    return mask.astype(bool)


@dataclass(frozen=True)
class _ColourModel:
    """A robust axis-aligned Gaussian in CIE Lab (OpenCV's 8-bit scaling). Lightness gets a floor and a looser
    scale than chroma: shading and highlights move it most."""

    median: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, samples: np.ndarray) -> _ColourModel:
        """The model of (M, 3) Lab samples: per-channel median and 1.4826 x MAD (floored), lightness scale x 1.5."""
        median = np.median(samples, axis=0)
        spread = 1.4826 * np.median(np.abs(samples - median), axis=0)
        scale = np.maximum(spread, np.array([10.0, 3.0, 3.0])) * np.array([1.5, 1.0, 1.0])
        return cls(median.astype(np.float32), scale.astype(np.float32))

    def distance(self, lab: np.ndarray) -> np.ndarray:
        """(...,) scaled Euclidean distance of (..., 3) Lab values from the median."""
        d = (lab - self.median) / self.scale
        return np.sqrt((d * d).sum(-1))

    def nll(self, lab: np.ndarray, distance: np.ndarray | None = None) -> np.ndarray:
        """Negative log-likelihood up to a constant: compares models of different spread fairly."""
        d = self.distance(lab) if distance is None else distance
        return 0.5 * d * d + float(np.log(self.scale).sum())


@dataclass(frozen=True)
class _HeadFrame:
    """A face-aligned frame: ``s`` runs across the face in oval half-widths (positive towards the subject's
    left), ``t`` runs up in oval half-heights, both from the face oval's centre."""

    centre: np.ndarray  # (x, y)
    across: np.ndarray  # unit vector from the subject's right eye to their left eye
    up: np.ndarray  # unit vector towards the forehead
    half_w: float
    half_h: float
    t_eye: float
    t_mouth: float
    t_chin: float
    t_top: float

    @property
    def width(self) -> float:
        """The face oval's width in image pixels."""
        return 2 * self.half_w

    @classmethod
    def from_landmarks(cls, points: np.ndarray, topo: dict) -> _HeadFrame:
        """The frame of (468 or 478, 2) Face Mesh points; ValueError when both eyes coincide."""
        left_eye = points[topo["subject_left_eye"]].mean(0)
        right_eye = points[topo["subject_right_eye"]].mean(0)
        across = left_eye - right_eye
        norm = float(np.linalg.norm(across))
        if norm < 1e-6:
            raise ValueError("degenerate landmarks: both eyes at the same point")
        across = across / norm
        up = np.array([across[1], -across[0]])  # across (1, 0) -> up (0, -1): towards smaller rows
        oval = points[topo["oval"]]
        centre = oval.mean(0)
        proj_s, proj_t = (oval - centre) @ across, (oval - centre) @ up
        half_w = max(1.0, float(proj_s.max() - proj_s.min()) / 2)
        half_h = max(1.0, float(proj_t.max() - proj_t.min()) / 2)

        def t_of(p):
            return float((p - centre) @ up / half_h)

        return cls(
            centre, across, up, half_w, half_h,
            t_eye=t_of((left_eye + right_eye) / 2),
            t_mouth=t_of(points[topo["lips_outer"]].mean(0)),
            t_chin=float(proj_t.min() / half_h),
            t_top=float(proj_t.max() / half_h),
        )  # fmt: skip

    def to_image(self, s: np.ndarray, t: np.ndarray) -> np.ndarray:
        """(..., 2) image (x, y) of face-frame coordinates ``s`` and ``t``."""
        s, t = np.asarray(s, np.float64)[..., None], np.asarray(t, np.float64)[..., None]
        return self.centre + s * self.half_w * self.across + t * self.half_h * self.up

    def coords(
        self, shape: tuple[int, int], origin: tuple[int, int], scale: np.ndarray | tuple[float, float] = (1.0, 1.0)
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per-pixel (s, t) for a window of ``shape`` whose top-left corner is image pixel ``origin`` (x, y),
        sampled ``scale`` (x, y) window pixels per image pixel."""
        ys, xs = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
        dx = (xs + 0.5) / np.float32(scale[0]) - 0.5 + np.float32(origin[0] - self.centre[0])
        dy = (ys + 0.5) / np.float32(scale[1]) - 0.5 + np.float32(origin[1] - self.centre[1])
        s = (dx * np.float32(self.across[0]) + dy * np.float32(self.across[1])) / np.float32(self.half_w)
        t = (dx * np.float32(self.up[0]) + dy * np.float32(self.up[1])) / np.float32(self.half_h)
        return s, t


@dataclass(frozen=True)
class _HeadView:
    """The window around the head at analysis resolution (at most ``analysis_size`` px), and the per-pixel
    arrays every labelling step reads: face-frame coordinates, Lab colour, face and feature polygons, distance
    from the face oval and the person mask."""

    frame: _HeadFrame
    origin: tuple[int, int]  # (x0, y0): the window's top-left image pixel
    roi_shape: tuple[int, int]  # the window's (height, width) in image pixels
    shape: tuple[int, int]  # the window's (height, width) in analysis pixels
    scale: np.ndarray  # (x, y) analysis pixels per image pixel
    s: np.ndarray  # (h, w) across the face, in oval half-widths
    t: np.ndarray  # (h, w) up the face, in oval half-heights
    width: float  # face width in analysis pixels
    reach: float  # how far hair may reach, in oval half-widths
    top: float  # how high hair may reach, in oval half-heights
    lab: np.ndarray  # (h, w, 3) float32 blurred CIE Lab (OpenCV's 8-bit scaling)
    face: np.ndarray  # (h, w) bool: inside the face oval
    features: np.ndarray  # (h, w) bool: nose, lips, mouth, eyes, brows
    outside: np.ndarray  # (h, w) float32: analysis pixels from the face oval
    person: np.ndarray  # (h, w) bool: person probability above the threshold
    person_loose: np.ndarray  # (h, w) bool: above half the threshold
    above: np.ndarray  # (h, w) bool: the upper head ellipse (above the oval centre, within reach and top)


class ApproximateParser:
    """Offline approximation of CelebAMask-HQ parsing from MediaPipe selfie segmentation and Face Mesh landmarks.

    - skin, brows, eyes, nose, lips, mouth: Face Mesh polygons (face oval, eye and brow contours, nose hull,
      outer/inner lip lines), drawn at full resolution;
    - hair: person-mask pixels outside the face oval, inside a band around the head (from just below the chin up,
      at most ``hair_reach`` oval half-widths from the centre line), that are not skin-coloured (a second colour
      model, sampled at the top of the head's silhouette, separates skin-hued hair from skin; a bald scalp gives
      no such model and stays skin), in pieces that touch the face and reach above the eyes (background blobs
      that selfie segmentation pulls in, collars and shoulders are dropped);
    - ears: skin-coloured person pixels in strips beside the face oval between eye and mouth height. An ear that
      hair covers, or that lies outside the person mask or the image, is reported absent (with the reason in
      ``notes``) instead of labelling a strip of hair as ear;
    - neck and cloth: skin-coloured / other person pixels below the chin, inside the window around the head.

    ``parse`` takes landmarks from the caller (or runs Face Mesh itself when given none), segments the frame at
    most at ``work_size`` px on the longer side, judges colours at most at ``analysis_size`` px over a window
    around the head, and draws the landmark polygons at the input's full resolution. Known limits: hair with the
    skin's colour that differs from the crown's can still pass for skin (and then for ears); glasses are not
    labelled (``eye_g`` stays empty), nor are hats, earrings or necklaces.

    Args:
        model_selection: MediaPipe selfie segmentation model, 0 (general) or 1 (landscape).
        threshold: person probability above which a pixel is the person, in (0, 1).
        work_size: longest side, in pixels, of the frame the segmenter sees.
        hair_reach: how far hair may reach from the face's centre line, in face-oval half-widths.
        skin_tolerance: skin-colour distance (robust z-score in Lab) under which a pixel is skin-like.
        ear_min_fraction: smallest ear piece kept, as a fraction of a typical ear's area.
        hair_contrast: smallest skin-colour distance of the crown's colour for a separate hair-colour model.
        analysis_size: longest side, in pixels, of the window around the head where colours are judged.
        hair_tolerance: hair-colour distance under which a pixel is hair-like.

    Raises:
        ConfigError: ``model_selection`` not 0 or 1, or ``threshold`` outside (0, 1).
    """

    name = "approx"
    approximate = True

    def __init__(
        self,
        *,
        model_selection: int = 0,
        threshold: float = 0.5,
        work_size: int = 512,
        hair_reach: float = 1.9,
        skin_tolerance: float = 3.0,
        ear_min_fraction: float = 0.3,
        hair_contrast: float = 1.2,
        analysis_size: int = 256,
        hair_tolerance: float = 4.0,
    ):
        if model_selection not in (0, 1):
            raise ConfigError("model_selection must be 0 (general) or 1 (landscape)")
        if not 0.0 < threshold < 1.0:
            raise ConfigError("threshold must lie in (0, 1)")
        self.model_selection = model_selection
        self.threshold = threshold
        self.work_size = int(work_size)
        self.hair_reach = float(hair_reach)
        self.skin_tolerance = float(skin_tolerance)
        self.ear_min_fraction = float(ear_min_fraction)
        self.hair_contrast = float(hair_contrast)
        self.analysis_size = int(analysis_size)
        self.hair_tolerance = float(hair_tolerance)
        self._lock = threading.Lock()  # MediaPipe graphs are not safe to call from several threads at once
        self._segmenter = None
        self._mesh = None

    @classmethod
    def from_config(cls, config: ModelConfig, backend: str = "approx", **options: Any) -> ApproximateParser:
        """Build from configuration (the registry's entry point).

        Args:
            config: the model configuration (unused: the weights ship in the mediapipe wheel).
            backend: the registered name (``approx``).
            **options: the constructor options.

        Returns:
            The parser (MediaPipe graphs are created on first use).

        Raises:
            ConfigError: an unknown option or a value out of range.
        """
        try:
            return cls(**options)
        except TypeError as exc:
            raise ConfigError(f"bad option for the approx parser: {exc}") from exc

    @classmethod
    def describe(cls, config: ModelConfig, backend: str = "approx") -> ModelInfo:
        """Whether this backend can run here and where it loads from, without loading it.

        Args:
            config: the model configuration (unused).
            backend: the registered name.

        Returns:
            :class:`ModelInfo` for ``python -m models``.
        """
        import importlib.util

        available = importlib.util.find_spec("mediapipe") is not None
        return ModelInfo(
            "parser",
            backend,
            available,
            "mediapipe (bundled selfie_segmentation.tflite) + Face Mesh geometry",
            licence="Apache-2.0 (MediaPipe)",
            detail="approximation of CelebAMask-HQ classes; hair and ears are geometric guesses"
            + ("" if available else "; mediapipe is not installed"),
        )

    # -- MediaPipe graphs, created on first use (worker processes must be forked before this)

    def _segment(self, image: np.ndarray) -> np.ndarray:
        with self._lock:
            if self._segmenter is None:
                import mediapipe as mp

                self._segmenter = mp.solutions.selfie_segmentation.SelfieSegmentation(
                    model_selection=self.model_selection
                )
            result = self._segmenter.process(image)
        mask = result.segmentation_mask
        if mask is None:
            return np.zeros(image.shape[:2], np.float32)
        return np.asarray(mask, np.float32)

    def _find_landmarks(self, image: np.ndarray) -> np.ndarray | None:
        with self._lock:
            if self._mesh is None:
                import mediapipe as mp

                self._mesh = mp.solutions.face_mesh.FaceMesh(
                    static_image_mode=True, max_num_faces=1, refine_landmarks=True
                )
            result = self._mesh.process(image)
        if not result.multi_face_landmarks:
            return None
        h, w = image.shape[:2]
        return np.array([(p.x * w, p.y * h) for p in result.multi_face_landmarks[0].landmark], np.float64)

    # -- parsing

    def parse(self, image: np.ndarray, landmarks: np.ndarray | None = None) -> ApproximateParsingResult:
        """Approximate CelebAMask-HQ labels for ``image`` at its own size.

        Args:
            image: (H, W, 3) RGB uint8, at least 8 x 8 pixels.
            landmarks: (468 or 478, 2) Face Mesh points in ``image`` pixels; None runs Face Mesh here.

        Returns:
            :class:`ApproximateParsingResult`: (H, W) uint8 labels indexing ``CELEBAMASK_CLASSES``,
            ``approximate=True``, and ``notes`` saying why parts are absent (e.g. ``{"l_ear": "covered by hair"}``).
            When no face is found, every pixel is background and ``notes["face"]`` says so.

        Raises:
            ImageError: not an RGB uint8 array, or smaller than 8 x 8 pixels.
            ValueError: landmarks of another shape, with NaN or infinite values, or degenerate (both eyes at one point).
        """
        image = check_image(image)
        h, w = image.shape[:2]
        if landmarks is None:
            landmarks = self._find_landmarks(image)
            if landmarks is None:
                labels = np.zeros((h, w), np.uint8)
                notes = {"face": "no face found by Face Mesh: every pixel is background"}
                return ApproximateParsingResult(labels, CELEBAMASK_CLASSES, True, self._source(notes), notes)
        landmarks = np.asarray(landmarks, np.float64)
        if landmarks.ndim != 2 or landmarks.shape[1] != 2 or landmarks.shape[0] not in (468, 478):
            raise ValueError(f"landmarks must be Face Mesh points of shape (468 or 478, 2), got {landmarks.shape}")
        if not np.isfinite(landmarks).all():
            raise ValueError("landmarks contain NaN or infinite values")

        # The segmenter sees the whole frame (it needs the context) at most at work_size px; it runs at 256 px
        # inside anyway. Everything else works in a window around the head.
        scale = min(1.0, self.work_size / max(h, w))
        small = (
            image
            if scale == 1.0
            else cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        )
        probability = self._segment(small)
        labels, notes = self._parse_work(image, landmarks, probability)
        return ApproximateParsingResult(labels, CELEBAMASK_CLASSES, True, self._source(notes), notes)

    def _source(self, notes: dict[str, str]) -> str:
        text = "approx: mediapipe selfie segmentation + Face Mesh geometry (hair/ears approximated)"
        if notes:
            text += "; " + "; ".join(f"{k}: {v}" for k, v in notes.items())
        return text

    def _parse_work(
        self, image: np.ndarray, points: np.ndarray, probability_small: np.ndarray
    ) -> tuple[np.ndarray, dict[str, str]]:
        """Labels for ``image`` from its landmarks and the person probability of a (possibly) smaller copy."""
        topo = _mesh_topology()
        frame = _HeadFrame.from_landmarks(points, topo)
        notes: dict[str, str] = {}
        full_h, full_w = image.shape[:2]
        labels_full = np.zeros((full_h, full_w), np.uint8)
        view = self._head_view(image, points, probability_small, frame, topo)
        if view is None:
            notes["face"] = "the landmarks lie outside the image: every pixel is background"
            return labels_full, notes
        if not view.person.any():
            notes["person"] = "selfie segmentation found no person: hair, ears, neck and cloth are absent"
        shape, s, t, width, outside, face, person = (
            view.shape, view.s, view.t, view.width, view.outside, view.face, view.person
        )
        skin_distance, skin_like, closer_to_skin, hair_like = self._colour_tests(view, notes)

        # the head band: around the face, from just below the chin up, at most `reach` half-widths across
        beside = (t < 0) & (t >= frame.t_chin - 0.15) & (np.abs(s) <= view.reach)
        candidates = person & (view.above | beside) & ~face
        # skin outside the oval (forehead above the mesh, bald scalp, ears): solid skin-coloured areas joined to
        # the face. Opening first drops skin-coloured speckles inside hair (highlights, blonde strands).
        skin_out = _open(candidates & skin_like, max(1, round(0.015 * width)))
        skin_out = _keep_near(skin_out, outside <= 0.03 * width)
        non_skin = candidates & ~skin_out
        hair_coloured = non_skin & (hair_like | (t >= frame.t_mouth))  # colour-checked where collars reach

        ear_like = view.person_loose & (skin_distance < 1.6 * self.skin_tolerance) & closer_to_skin
        ears = self._ears(view, points, topo, ear_like, hair_coloured, (full_h, full_w), notes)

        # hair: the rest of the head band's person pixels, in pieces that touch the face and reach above the eyes
        # (selfie segmentation's background blobs, collars and shoulders do neither)
        hair = hair_coloured
        for ear in ears.values():
            hair &= ~ear
        hair = _open(hair, max(1, round(0.01 * width)))
        hair = _keep_near(hair, outside <= 0.08 * width, min_area=(0.05 * width) ** 2, also=t > frame.t_eye)
        if not hair.any():
            notes["hair"] = "no hair-coloured person pixels around the head (bald, covered or cropped)"

        below_chin = t < frame.t_chin + 0.05
        neck = person & skin_like & below_chin & (np.abs(s) <= 1.2) & ~face & ~hair
        neck = _keep_near(neck, outside <= 0.05 * width)
        cloth = person & (t < frame.t_chin) & ~face & ~hair & ~neck & ~skin_out

        # labels outside the face at analysis resolution; inside the low-resolution oval they read "skin", so
        # the full-resolution oval drawn next meets them without a gap
        labels = np.zeros(shape, np.uint8)
        for name, mask in (("cloth", cloth), ("neck", neck), ("hair", hair), ("skin", skin_out), *ears.items(),
                           ("skin", face)):  # fmt: skip
            labels[mask] = CLASS_INDEX[name]
        x0, y0 = view.origin
        labels_full[y0 : y0 + view.roi_shape[0], x0 : x0 + view.roi_shape[1]] = self._draw_face_parts(
            labels, view, points, topo
        )
        return labels_full, notes

    def _head_view(
        self, image: np.ndarray, points: np.ndarray, probability_small: np.ndarray, frame: _HeadFrame, topo: dict
    ) -> _HeadView | None:
        """The window around the head at analysis resolution, or None when it lies outside the image."""
        full_h, full_w = image.shape[:2]
        reach = self.hair_reach
        top = frame.t_top + 0.55 * reach  # hair rises above the mesh's top row (about the hairline)
        corners = frame.to_image([-reach - 0.1, reach + 0.1, -reach - 0.1, reach + 0.1],
                                 [top + 0.1, top + 0.1, frame.t_chin - 0.8, frame.t_chin - 0.8])  # fmt: skip
        x0, y0 = np.floor(corners.min(0)).astype(int).clip(0, [full_w, full_h])
        x1, y1 = np.ceil(corners.max(0)).astype(int).clip(0, [full_w, full_h])
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        roi_shape = (y1 - y0, x1 - x0)

        # Colour and person-mask analysis runs at most at analysis_size px (the segmenter's own resolution is
        # 256 px); the landmark polygons are drawn afterwards at full resolution.
        k = min(1.0, self.analysis_size / max(roi_shape))
        shape = (max(2, round(roi_shape[0] * k)), max(2, round(roi_shape[1] * k)))
        roi = image[y0:y1, x0:x1]
        if shape != roi_shape:
            roi = cv2.resize(roi, shape[::-1], interpolation=cv2.INTER_AREA)
        ps_y, ps_x = probability_small.shape[0] / full_h, probability_small.shape[1] / full_w
        probability = probability_small[
            int(y0 * ps_y) : max(int(y0 * ps_y) + 1, round(y1 * ps_y)),
            int(x0 * ps_x) : max(int(x0 * ps_x) + 1, round(x1 * ps_x)),
        ]
        if probability.shape != shape:
            probability = cv2.resize(probability, shape[::-1], interpolation=cv2.INTER_LINEAR)
        scale = np.array([shape[1] / roi_shape[1], shape[0] / roi_shape[0]])
        pts = (points - np.array([x0, y0])) * scale
        s, t = frame.coords(shape, (x0, y0), scale)
        width = frame.width * float(scale.mean())  # face width in analysis pixels

        face = _fill(shape, pts[topo["oval"]])
        features = np.zeros(shape, bool)
        for name in ("nose", "u_lip", "l_lip", "mouth", "subject_left_eye", "subject_right_eye",
                     "subject_left_brow", "subject_right_brow"):  # fmt: skip
            features |= _fill(shape, pts[topo[name]], convex=name == "nose")
        sigma = max(0.5, 0.006 * width)  # smooth hair texture and sensor noise before judging colour
        return _HeadView(
            frame=frame, origin=(int(x0), int(y0)), roi_shape=roi_shape, shape=shape, scale=scale, s=s, t=t,
            width=width, reach=reach, top=top,
            lab=cv2.cvtColor(cv2.GaussianBlur(roi, (0, 0), sigma), cv2.COLOR_RGB2LAB).astype(np.float32),
            face=face, features=features,
            outside=cv2.distanceTransform((~face).astype(np.uint8), cv2.DIST_L2, 3),  # px from the face oval
            person=probability > self.threshold,
            # the mask is soft at ears (thin, at the silhouette's edge): they need only a weak person probability,
            # since the skin-colour test does the real work there
            person_loose=probability > 0.5 * self.threshold,
            above=(t >= 0) & ((s / reach) ** 2 + (t / top) ** 2 <= 1.0),
        )  # fmt: skip

    def _colour_tests(
        self, view: _HeadView, notes: dict[str, str]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(distance to the skin colour, skin-like, closer to skin than to hair, hair-like) per analysis pixel."""
        frame, lab, s, t, face, width = view.frame, view.lab, view.s, view.t, view.face, view.width
        # skin colour from the cheeks (between eye and mouth height, away from nose and eyes). The forehead joins
        # only when it agrees with the cheeks: bangs would otherwise pull the model towards the hair colour.
        inner_face = face & ~view.features
        cheeks = inner_face & (t < frame.t_eye - 0.1) & (t > frame.t_mouth) & (np.abs(s) > 0.3) & (np.abs(s) < 0.85)
        forehead = inner_face & (t > frame.t_eye + 0.25) & (np.abs(s) < 0.5)
        sample = lab[cheeks] if cheeks.sum() >= 20 else lab[inner_face if inner_face.sum() >= 20 else face]
        if len(sample) < 20:
            sample = lab.reshape(-1, 3)
        skin_model = _ColourModel.fit(sample)
        if forehead.sum() >= 20:
            forehead_median = np.median(lab[forehead], axis=0)
            if skin_model.distance(forehead_median) < self.skin_tolerance:
                skin_model = _ColourModel.fit(np.concatenate([sample, lab[forehead]]))
        skin_distance = skin_model.distance(lab)
        skin_like = skin_distance < self.skin_tolerance
        # A second colour model for hair, from the top of the head's silhouette (where hair almost always is; the
        # mesh's top row is mid-forehead, so just above it is often skin). Pixels likelier under it than under
        # the skin model are not skin even when within the skin tolerance: blonde, ginger and light-brown hair
        # share skin's hue. It is used only when that sample's typical colour differs from the skin's: a bald
        # scalp gives no such model, and the scalp stays skin.
        # Tight crops cut the top off, so the sample also takes the sides of the upper head, away from the
        # forehead and temples.
        person, above = view.person, view.above
        column = person & above & ~face & (np.abs(s) < 0.5) & (t > frame.t_top)
        crown = person & above & (t > frame.t_eye + 0.3) & (view.outside >= 0.08 * width)
        if column.sum() >= 20:
            crown |= column & (t > float(np.percentile(t[column], 98)) - 0.3)
        closer_to_skin = np.ones(view.shape, bool)
        hair_like = np.ones(view.shape, bool)
        if crown.sum() >= max(20, 0.002 * width * width):
            hair_model = _ColourModel.fit(lab[crown])
            if skin_model.distance(hair_model.median) >= self.hair_contrast:
                hair_distance = hair_model.distance(lab)
                closer_to_skin = skin_model.nll(lab, skin_distance) < hair_model.nll(lab, hair_distance)
                skin_like &= closer_to_skin
                # far from both colours below the mouth: a collar, a shoulder, background
                hair_like = hair_distance < self.hair_tolerance
            else:
                notes["hair_colour"] = "the top of the head has the skin's colour: treated as bald (scalp is skin)"
        return skin_distance, skin_like, closer_to_skin, hair_like

    def _ears(
        self,
        view: _HeadView,
        points: np.ndarray,
        topo: dict,
        ear_like: np.ndarray,
        hair_coloured: np.ndarray,
        image_shape: tuple[int, int],
        notes: dict[str, str],
    ) -> dict[str, np.ndarray]:
        """Ear masks by image-side label (``l_ear``, ``r_ear``); an absent ear gets an empty mask and a note."""
        # ears: skin strips just outside the oval between eye and mouth height. Ears are often shaded or redder
        # than the cheeks, so the colour test is looser there, but a pixel nearer the hair colour never counts.
        # An ear is present when its skin piece is at least a fraction of a typical ear's area; otherwise it is
        # reported absent (covered by hair, out of the person mask or the image) instead of labelling hair as ear.
        frame, outside, width, s, t = view.frame, view.outside, view.width, view.s, view.t
        near_face = (outside > 0) & (outside <= 0.2 * width)
        close_to_face = (outside > 0) & (outside <= 0.1 * width)
        ear_rows = (t <= frame.t_eye + 0.1) & (t >= frame.t_mouth - 0.05)
        ear_height = (frame.t_eye - frame.t_mouth + 0.15) * frame.half_h * float(view.scale.mean())
        min_ear_area = self.ear_min_fraction * 0.12 * width * ear_height
        ears: dict[str, np.ndarray] = {}
        for side_name, sign in (("subject_left", 1.0), ("subject_right", -1.0)):
            strip = near_face & ear_rows & (s * sign > 0)
            ear = _open(strip & ear_like, max(1, round(0.01 * width)))
            ear = _keep_near(ear, outside <= 0.02 * width)
            label = self._image_side_label("ear", side_name, points, topo)
            reason = None
            if not self._ear_in_image(frame, points[topo["oval"]], sign, image_shape):
                reason = "outside the image"
            elif ear.sum() < min_ear_area:
                reason = _missing_ear_reason(strip & close_to_face, hair_coloured, ear_like, view.person_loose)
            if reason:
                notes[label] = reason
                ear = np.zeros(view.shape, bool)
            ears[label] = ear
        return ears

    def _draw_face_parts(self, labels: np.ndarray, view: _HeadView, points: np.ndarray, topo: dict) -> np.ndarray:
        """``labels`` brought to the window's full resolution with the landmark polygons drawn over them."""
        if view.shape != view.roi_shape:
            labels = cv2.resize(labels, view.roi_shape[::-1], interpolation=cv2.INTER_NEAREST)
        pts_full = points - np.array(view.origin, np.float64)
        face_parts = [("skin", "oval", False), ("nose", "nose", True)]
        for part in ("brow", "eye"):
            for side_name in ("subject_left", "subject_right"):
                face_parts.append((self._image_side_label(part, side_name, points, topo), f"{side_name}_{part}", False))
        face_parts += [("u_lip", "u_lip", False), ("l_lip", "l_lip", False), ("mouth", "mouth", False)]
        for name, polygon, convex in face_parts:
            labels[_fill(view.roi_shape, pts_full[topo[polygon]], convex)] = CLASS_INDEX[name]
        return labels

    @staticmethod
    def _ear_in_image(frame: _HeadFrame, oval: np.ndarray, sign: float, shape: tuple[int, int]) -> bool:
        """Whether the place an ear would be (just beyond the oval's side at eye-to-mouth height) is in the image."""
        rel = oval - frame.centre
        s_pts = rel @ frame.across / frame.half_w
        t_pts = rel @ frame.up / frame.half_h
        rows = (t_pts <= frame.t_eye + 0.1) & (t_pts >= frame.t_mouth - 0.05) & (np.sign(s_pts) == sign)
        if not rows.any():
            return False
        side = oval[rows][np.argmax(s_pts[rows] * sign)]
        probe = side + sign * frame.across * 0.1 * frame.width
        return bool(0 <= probe[0] < shape[1] and 0 <= probe[1] < shape[0])

    @staticmethod
    def _image_side_label(part: str, side_name: str, points: np.ndarray, topo: dict) -> str:
        subj_left_x = points[topo["subject_left_eye"]].mean(0)[0]
        subj_right_x = points[topo["subject_right_eye"]].mean(0)[0]
        subject_left_is_image_left = subj_left_x < subj_right_x
        is_image_left = (side_name == "subject_left") == subject_left_is_image_left
        return f"{'l' if is_image_left else 'r'}_{part}"


def _missing_ear_reason(
    inner_strip: np.ndarray, hair_coloured: np.ndarray, ear_like: np.ndarray, person_loose: np.ndarray
) -> str:
    """Why an ear's skin piece is too small, judged on the strip right beside the face oval."""
    hair_share = (inner_strip & hair_coloured & ~ear_like).sum() / max(1, inner_strip.sum())
    person_share = (inner_strip & person_loose).sum() / max(1, inner_strip.sum())
    if hair_share >= 0.3:
        return "covered by hair"
    if person_share < 0.3:
        return "not visible (outside the person mask: turned away or cut off)"
    return "no skin-coloured area beside the face"


def _open(mask: np.ndarray, radius: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_OPEN, kernel).astype(bool)


def _keep_near(mask: np.ndarray, near: np.ndarray, min_area: float = 1.0, also: np.ndarray | None = None) -> np.ndarray:
    """Connected pieces of ``mask`` that overlap ``near``, have at least ``min_area`` pixels and, when ``also``
    is given, overlap it too."""
    if not mask.any():
        return mask
    count, pieces, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(count, bool)
    keep[np.unique(pieces[near & mask])] = True
    if also is not None:
        overlapping = np.zeros(count, bool)
        overlapping[np.unique(pieces[also & mask])] = True
        keep &= overlapping
    keep[0] = False
    keep &= stats[:, cv2.CC_STAT_AREA] >= min_area
    return keep[pieces]
