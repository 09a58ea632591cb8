"""The quality stage: measure one prepared photo, judge each measure against the policy, decide pass/warn/refuse.

``measure_face`` computes every component's value from what the pipeline already has (the photo, the Face Mesh
landmarks, the alignment transform, the aligned crop, optionally the parsing and the region masks, and a detector
callable for re-detecting the crop); ``judge`` applies ``prompts/quality_policy.yaml``; ``assess`` does both.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from explain_engine.quality import measures as M
from explain_engine.quality.policy import OUTCOMES, QualityPolicy, load_policy
from models.errors import FaceXError


class QualityError(FaceXError):
    """A photo the face model cannot judge (turned over, covered, too dark, a drawing, ...): refused by the quality
    policy. ``component`` names the measure that refused it; ``quality`` is the photo's full :class:`PhotoQuality`."""

    def __init__(self, message: str, *, component: str | None = None, quality: PhotoQuality | None = None):
        super().__init__(message)
        self.component = component
        self.quality = quality
        # set by the engine when the photo is one of a pair (explain_engine.engine.Engine.prepare_pair)
        self.side: str | None = None  # "a" | "b": which photo of the pair was refused
        self.names: dict[str, str] = {}  # {"a": name, "b": name}: both photos' display names
        self.other: PhotoQuality | None = None  # the other photo's quality, when it was checked (and passed)

    def to_dict(self) -> dict:
        """What the app and the chat need to answer "why was this photo refused?": the photo, the refusing
        component, the one-line message and every component of the photo."""
        return {"photo": getattr(self.quality, "name", None), "outcome": "refuse", "component": self.component,
                "message": str(self), "quality": self.quality.to_dict() if self.quality is not None else None}


@dataclass
class Component:
    """One quality measure of one photo, judged."""

    name: str  # e.g. "head_pose_yaw" (OFIQ names in prompts/quality_policy.yaml)
    value: float | None  # None when it could not be measured
    unit: str
    outcome: str  # pass | warn | refuse | not_measured
    threshold: dict  # the bounds it was judged against, e.g. {"warn_below": 0.5, "refuse_below": 0.2}
    source: str  # where the thresholds come from

    def to_dict(self) -> dict:
        v = self.value
        value = None if v is None or (isinstance(v, float) and not math.isfinite(v)) else round(float(v), 4)
        return {"name": self.name, "value": value, "unit": self.unit, "outcome": self.outcome,
                "threshold": dict(self.threshold), "source": self.source}


@dataclass
class RegionVisibility:
    """How much of one region the pixels show: inside the photo, and not covered."""

    visible_fraction: float  # share of the region's mask that comes from inside the original photo
    flat_fraction: float  # share of its visible pixels in flat patches (local s.d. below the policy's level)
    parser_disagreement: float | None  # share the parser labels as something that is not this face part
    covered: bool
    absent_reason: str | None  # a code ("outside_photo" | "covered_flat" | "covered_parser") or None

    def to_dict(self) -> dict:
        r = lambda v: None if v is None else round(float(v), 4)
        return {"visible_fraction": r(self.visible_fraction), "flat_fraction": r(self.flat_fraction),
                "parser_disagreement": r(self.parser_disagreement), "covered": bool(self.covered),
                "absent_reason": self.absent_reason}


@dataclass
class PhotoQuality:
    """The quality of one photo: every component judged, the photo's outcome, and per-region visibility."""

    name: str
    outcome: str  # pass | warn | refuse (the worst component outcome)
    components: list[Component]
    visibility: dict[str, RegionVisibility] = field(default_factory=dict)
    timing_ms: float = 0.0
    reference: dict | None = None  # a reference backend's own figures (e.g. OFIQ), recorded, not judged

    def component(self, name: str) -> Component | None:
        return next((c for c in self.components if c.name == name), None)

    @property
    def refusing(self) -> list[Component]:
        return [c for c in self.components if c.outcome == "refuse"]

    @property
    def warning(self) -> list[Component]:
        return [c for c in self.components if c.outcome == "warn"]

    @property
    def calibrated(self) -> bool:
        """False when any component is outside what the face model was calibrated on (outcome warn or refuse)."""
        return self.outcome == "pass"

    def to_dict(self) -> dict:
        return {"outcome": self.outcome, "components": [c.to_dict() for c in self.components],
                "visibility": {n: v.to_dict() for n, v in self.visibility.items()},
                "timing_ms": round(float(self.timing_ms), 2), "reference": self.reference}


# ---------------------------------------------------------------------------------------------------------------
def measure_face(
    image: np.ndarray,
    landmarks: np.ndarray | None,
    aligned,
    *,
    landmarks_crop: np.ndarray | None = None,
    parsing=None,
    regions=None,
    detect: M.Detect | None = None,
    flat_level: float = 1.0,
) -> tuple[dict[str, float | None], dict[str, dict]]:
    """Raw component values and raw per-region visibility facts of one photo.

    Args:
        image: (H, W, 3) uint8 RGB, the photo as loaded.
        landmarks: (468|478, 2) Face Mesh points in photo pixels, or None when the mesh failed.
        aligned: ``models.base.AlignedFace`` (crop (S, S, 3) uint8 and its 2x3 photo->crop matrix).
        landmarks_crop: the mesh points in crop pixels (computed from ``aligned`` when None).
        parsing: ``models.base.ParsingResult`` of the crop, or None.
        regions: ``explain_engine.regions.Regions`` of the crop (crop coordinates), or None.
        detect: face detector callable (image -> detections with ``.score``) for re-detecting the crop; None skips
            the orientation and re-detection components.
        flat_level: local s.d. (grey levels, 5x5 box) below which a crop pixel counts as flat.

    Returns:
        ({component name: value or None}, {region: {"visible_fraction", "flat_fraction", "parser_disagreement"}}).
    """
    crop = np.asarray(aligned.crop)
    size = crop.shape[:2]
    values: dict[str, float | None] = {}
    inside = M.inside_photo_mask(aligned.inverse, size, image.shape[:2])
    lum = M.luminance(crop)
    flat = M.local_sd(lum, 5) < flat_level

    values["face_landmarks"] = 1.0 if landmarks is not None else 0.0
    if landmarks is not None:
        pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
        pts_crop = np.asarray(landmarks_crop if landmarks_crop is not None else aligned.to_crop(pts))[:, :2]
        yaw, pitch, roll = M.head_pose(pts, image.shape[:2])
        values.update(head_pose_yaw=abs(yaw), head_pose_pitch=abs(pitch), head_pose_roll=abs(roll))
        values["inter_eye_distance"] = M.inter_eye_distance(pts)
        inside_share, _sides = M.cut_off(pts, image.shape[:2])
        values["face_cut_off"] = inside_share
        face = M.polygon_mask(M.face_outline(pts_crop), size) & inside
        eyes = [_dilated(M.polygon_mask(pts_crop[list(idx)], size), 1) for idx in (M.RIGHT_EYE, M.LEFT_EYE)]
        values["eyes_occlusion"] = max(_share(flat, e & inside) for e in eyes)
        mouth = _dilated(M.polygon_mask(pts_crop[list(_LIPS)], size), 1)
        values["mouth_occlusion"] = _share(flat, mouth & inside)
    else:
        face = inside.copy()
        for k in ("head_pose_yaw", "head_pose_pitch", "head_pose_roll", "inter_eye_distance", "face_cut_off",
                  "eyes_occlusion", "mouth_occlusion"):
            values[k] = None
    mean, under, over, entropy = M.exposure(lum, face)
    values.update(luminance_mean=mean, under_exposure=under, over_exposure=over, dynamic_range=entropy)
    values["sharpness"] = M.sharpness(lum, face)
    # texture and colours at the photo's own resolution: an up-sampled small face is smooth, not drawn
    scale = float(np.sqrt(abs(np.linalg.det(np.asarray(aligned.matrix)[:2, :2]))))
    if scale > 1.05:
        n = max(16, round(float(size[0] / scale)))
        small = cv2.resize(crop, (n, n), interpolation=cv2.INTER_AREA)
        small_face = cv2.resize(face.astype(np.uint8), (n, n), interpolation=cv2.INTER_NEAREST).astype(bool)
        values["photographic"] = M.photo_texture(M.luminance(small), small_face)
    else:
        values["photographic"] = M.photo_texture(lum, face)
    if detect is not None:
        scores = M.upright_scores(crop, detect, angles=(0, 180))
        # a confident upright face (clean photos: 0.75..0.95, median 0.92) needs no look at the sides
        if not (scores[0] >= CONFIDENT_UPRIGHT and scores[0] >= scores[180]):
            scores.update(M.upright_scores(crop, detect, angles=(90, 270)))
        best = max(scores, key=lambda k: scores[k])
        values["face_redetection"] = scores[0]
        values["in_plane_orientation"] = float(best) if scores[best] > scores[0] else 0.0
    else:
        values["face_redetection"] = values["in_plane_orientation"] = None

    vis: dict[str, dict] = {}
    if regions is not None:
        for name, mask in regions.masks.items():
            n = int(mask.sum())
            seen = mask & inside
            vis[name] = {
                "visible_fraction": float(seen.sum()) / n if n else 0.0,
                "flat_fraction": _share(flat, seen),
                "parser_disagreement": _disagreement(parsing, name, seen),
            }
    return values, vis


CONFIDENT_UPRIGHT = 0.85  # re-detection score at 0 degrees above which 90 and 270 are not tried
_LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
# parser classes that no face part can be (what covers a face or lies beside it)
_FOREIGN = ("background", "cloth", "hat", "neck", "neck_l")
_PARSER_PARTS = {
    "eyes": ("l_eye", "r_eye", "eye_g", "skin", "l_brow", "r_brow"),
    "mouth": ("mouth", "u_lip", "l_lip", "skin"),
}


def _share(flat: np.ndarray, mask: np.ndarray) -> float:
    n = int(mask.sum())
    return float(flat[mask].mean()) if n else float("nan")


def _dilated(mask: np.ndarray, k: int) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), np.ones((2 * k + 1, 2 * k + 1), np.uint8)).astype(bool)


def _disagreement(parsing, region: str, mask: np.ndarray) -> float | None:
    """Share of ``mask`` that a learned parser labels as background, clothing, a hat or the neck (None for an
    approximate parser, whose labels come from the same landmarks and cannot disagree with them)."""
    if parsing is None or getattr(parsing, "approximate", False) or not mask.any():
        return None
    labels = np.asarray(parsing.labels)
    if labels.shape[:2] != mask.shape:
        labels = cv2.resize(labels.astype(np.int32), mask.shape[::-1], interpolation=cv2.INTER_NEAREST)
    if region in ("hair", "ears"):
        return None
    ids = [parsing.class_names.index(c) for c in _FOREIGN if c in parsing.class_names]
    return float(np.isin(labels[mask], ids).mean())


# ---------------------------------------------------------------------------------------------------------------
def judge(values: dict[str, float | None], policy: QualityPolicy) -> list[Component]:
    """Each measured value against its policy bounds, in the policy's order."""
    out: list[Component] = []
    for name, rule in policy.components.items():
        if name not in values:
            continue
        v = values[name]
        out.append(Component(name=name, value=v, unit=rule.unit, outcome=rule.outcome(v),
                             threshold=rule.bounds(), source=rule.source))
    return out


def judge_visibility(vis: dict[str, dict], policy: QualityPolicy) -> dict[str, RegionVisibility]:
    out: dict[str, RegionVisibility] = {}
    for name, facts in vis.items():
        visible = facts["visible_fraction"]
        flat = facts["flat_fraction"]
        dis = facts["parser_disagreement"]
        reason = None
        if visible < policy.min_visible_fraction:
            reason = "outside_photo"
        elif math.isfinite(flat) and flat > policy.covered_flat_fraction(name):
            reason = "covered_flat"
        elif dis is not None and dis > policy.max_parser_disagreement:
            reason = "covered_parser"
        out[name] = RegionVisibility(visible_fraction=visible, flat_fraction=flat, parser_disagreement=dis,
                                     covered=reason in ("covered_flat", "covered_parser"), absent_reason=reason)
    return out


def worst(outcomes) -> str:
    order = {o: i for i, o in enumerate(OUTCOMES)}
    ranked = [o for o in outcomes if o in order]
    return max(ranked, key=lambda o: order[o]) if ranked else "pass"


def assess(
    image: np.ndarray,
    landmarks: np.ndarray | None,
    aligned,
    *,
    name: str = "image",
    landmarks_crop: np.ndarray | None = None,
    parsing=None,
    regions=None,
    detect: M.Detect | None = None,
    policy: QualityPolicy | None = None,
) -> PhotoQuality:
    """Measure and judge one photo against the policy (ISO/IEC 29794-5 components as OFIQ names them, plus
    orientation and photograph-or-drawing; thresholds and their sources in ``prompts/quality_policy.yaml``).

    Args:
        image: (H, W, 3) uint8 RGB photo as loaded; landmarks: (468|478, 2) Face Mesh points in photo pixels or
            None; aligned: ``models.base.AlignedFace`` ((S, S, 3) crop, 2x3 photo->crop matrix).
        name: the photo's display name (for messages).
        landmarks_crop, parsing, regions, detect: see :func:`measure_face`.
        policy: the policy to judge by (default: :func:`load_policy`).

    Returns:
        :class:`PhotoQuality`: every component judged (policy order), the worst outcome, per-region visibility and
        the time taken (ms). Never raises for quality: a refusal is the returned outcome; :func:`enforce` turns it
        into a :class:`QualityError`.
    """
    t0 = time.perf_counter()
    policy = policy or load_policy()
    values, vis = measure_face(image, landmarks, aligned, landmarks_crop=landmarks_crop, parsing=parsing,
                               regions=regions, detect=detect, flat_level=policy.flat_level)
    components = judge(values, policy)
    return PhotoQuality(name=name, outcome=worst(c.outcome for c in components), components=components,
                        visibility=judge_visibility(vis, policy), timing_ms=1000 * (time.perf_counter() - t0))


def enforce(quality: PhotoQuality, policy: QualityPolicy | None = None) -> PhotoQuality:
    """Raise on a refused photo; return it unchanged otherwise.

    Args:
        quality: a judged photo (:func:`assess`); policy: for the message's words (default: the shipped one).

    Returns:
        ``quality`` when its outcome is pass or warn.

    Raises:
        QualityError: the outcome is refuse; the one-line message names the first refusing component in the
            policy's order, its value and the limit it crossed (``.component``, ``.quality``, ``.to_dict()``).
    """
    if quality.outcome != "refuse":
        return quality
    policy = policy or load_policy()
    first = quality.refusing[0]
    raise QualityError(policy.refusal_message(quality.name, first), component=first.name, quality=quality)


def apply_visibility(regions, quality: PhotoQuality, policy: QualityPolicy | None = None):
    """Drop the regions the pixels do not show.

    Args:
        regions: ``explain_engine.regions.Regions`` of the crop; quality: the photo's :class:`PhotoQuality` (its
            ``visibility``); policy: for the reasons' words (``texts.absent_reasons``).

    Returns:
        A new Regions in which every region less than ``visibility.min_visible_fraction`` inside the photo, or
        covered (flat beyond its ``covered_flat_fraction``, or labelled foreign by a learned parser), is moved from
        ``masks`` to ``absent`` with its reason, so that it is neither filled nor ranked. ``regions`` is unchanged.
    """
    from explain_engine.regions import drop_regions

    policy = policy or load_policy()
    reasons: dict[str, str] = {}
    for name, vis in quality.visibility.items():
        if vis.absent_reason is None or name not in regions.masks:
            continue
        share = {"outside_photo": vis.visible_fraction, "covered_flat": vis.flat_fraction,
                 "covered_parser": vis.parser_disagreement or 0.0}[vis.absent_reason]
        template = policy.texts.get("absent_reasons", {}).get(vis.absent_reason, "{region}: {code}")
        reasons[name] = template.format(region=name.replace("_", " "), percent=100 * share, code=vis.absent_reason)
    return drop_regions(regions, reasons)


def warning_text(quality: PhotoQuality, policy: QualityPolicy | None = None) -> str | None:
    """The one-line warning for a photo whose outcome is warn (None otherwise): what each warning component found
    wrong, in its own warn text of the side it crossed ("the mouth seems partly covered", "the face is unusually
    dark"), never the name of the check, which reads as the opposite ("mouth visible")."""
    if quality.outcome != "warn":
        return None
    policy = policy or load_policy()
    found = "; ".join(policy.components[c.name].text("warn", c.value) for c in quality.warning
                      if c.name in policy.components)
    return policy.texts["warning"].format(photo=quality.name, components=found)


def pair_record(quality_a: PhotoQuality | None, quality_b: PhotoQuality | None) -> tuple[dict | None, bool]:
    """The record's ``quality`` section ({"a": ..., "b": ...}) and its ``outside_calibration`` flag (True when
    either photo's outcome is warn: every wording of a confidence must then say it is not a certainty)."""
    if quality_a is None and quality_b is None:
        return None, False
    section = {side: q.to_dict() for side, q in (("a", quality_a), ("b", quality_b)) if q is not None}
    return section, any(q is not None and not q.calibrated for q in (quality_a, quality_b))


def caveat() -> str:
    """The clause every confidence wording adds when the input is outside the calibration (worded in
    ``prompts/statements.yaml``, rendered by ``prompts.render.caveat`` for the CLI, the card and the chat alike)."""
    from prompts.render import caveat as rendered

    return rendered()
