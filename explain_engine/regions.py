"""Semantic face regions (thesis §3.2.1): polygons from MediaPipe Face Mesh points, hair and ears from face parsing.

Every pixel of the face oval belongs to exactly one region, by design rather than by accident:
- eyes include the eyelids up to the brow's lower edge and the under-eye band (mesh ring 2 below each eye);
- the nose includes the bridge between the eyes and the philtrum down to the upper lip;
- the forehead is the oval above the brows' upper edge, plus the glabella between the brows down to the nasion;
- the chin is the oval below the lower lip, between lines through the mouth corners widened by 25%;
- the cheeks are every other face pixel below the brow line: cheekbones, temples beside the eyes, jaw sides and the
  folds beside nose and mouth.
Hair and ears come from a ParsingResult ("hair", "l_ear", "r_ear") and may extend outside the oval. Overlaps are
resolved by priority (first wins): mouth, eyebrows, eyes, nose, ears, hair, chin, forehead, cheeks — so hair over
the forehead counts as hair, and glasses frames stay in the eye/brow regions they cover.
"Left"/"right" in the fine set are the PERSON's own sides (MediaPipe's convention): the right eye is the one on the
image's left in a frontal photo.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

REGION_SETS: dict[str, tuple[str, ...]] = {
    "coarse": ("forehead", "eyebrows", "eyes", "nose", "cheeks", "mouth", "chin", "hair", "ears"),
    "fine": ("forehead", "left_eyebrow", "right_eyebrow", "left_eye", "right_eye", "nose", "left_cheek",
             "right_cheek", "mouth", "chin", "hair", "ears"),
}

# Face Mesh indices (canonical 468-point topology). "right" = the person's right (mesh indices of eye corner 33).
FACE_OVAL = (10, 338, 297, 332, 284, 251, 389, 356, 454, 323, 361, 288, 397, 365, 379, 378, 400, 377, 152, 148, 176,
             149, 150, 136, 172, 58, 132, 93, 234, 127, 162, 21, 54, 103, 67, 109)
LIPS_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
LOWER_LIP_OUTER = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291)
BROW_UPPER = {"right": (70, 63, 105, 66, 107), "left": (300, 293, 334, 296, 336)}
BROW_LOWER = {"right": (46, 53, 52, 65, 55), "left": (276, 283, 282, 295, 285)}
EYE_LID = {"right": (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7),
           "left": (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)}
UNDER_EYE = {"right": (226, 31, 228, 229, 230, 231, 232, 233, 244),
             "left": (446, 261, 448, 449, 450, 451, 452, 453, 464)}
NOSE = (168, 6, 197, 195, 5, 4, 1, 19, 94, 2, 98, 97, 326, 327, 294, 278, 344, 440, 275, 45, 220, 115, 48, 64,
        193, 417, 129, 358, 102, 331)
PHILTRUM = (164, 0, 37, 267)
NASION = 168

PRIORITY = ("mouth", "eyebrows", "eyes", "nose", "ears", "hair", "chin", "forehead", "cheeks")
COLOURS = {  # thesis Fig. 3.2 colours, RGB
    "forehead": (150, 60, 200), "eyebrows": (240, 210, 0), "eyes": (40, 190, 60), "nose": (255, 140, 0),
    "cheeks": (255, 120, 180), "mouth": (220, 30, 30), "chin": (0, 200, 220), "hair": (140, 90, 40),
    "ears": (150, 150, 150),
}


@dataclass
class Regions:
    """Non-overlapping region masks of one image.

    masks: {name: bool (H, W)} for the regions present (never empty); absent: {name: reason} for the others;
    approximate: names whose masks come from an approximation (e.g. a geometric face parser).
    """

    masks: dict[str, np.ndarray]
    absent: dict[str, str] = field(default_factory=dict)
    approximate: tuple[str, ...] = ()
    region_set: str = "coarse"

    @property
    def names(self) -> list[str]:
        """Present regions in the region set's order."""
        order = REGION_SETS.get(self.region_set, tuple(self.masks))
        return [n for n in order if n in self.masks] + [n for n in self.masks if n not in order]

    @property
    def shape(self) -> tuple[int, int]:
        return next(iter(self.masks.values())).shape if self.masks else (0, 0)

    def area_fraction(self) -> dict[str, float]:
        """Each present region's share of all region pixels (the face incl. hair and ears)."""
        total = sum(int(m.sum()) for m in self.masks.values())
        return {n: (int(self.masks[n].sum()) / total if total else 0.0) for n in self.names}

    def label_image(self) -> np.ndarray:
        """(H, W) int: index into ``names`` + 1, 0 = no region."""
        lab = np.zeros(self.shape, dtype=np.int32)
        for i, n in enumerate(self.names, start=1):
            lab[self.masks[n]] = i
        return lab


def _poly_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    m = np.zeros(shape, dtype=np.uint8)
    pts = np.round(np.asarray(points, dtype=np.float64) * 4).astype(np.int32)  # 2 bits of sub-pixel precision
    cv2.fillPoly(m, [pts.reshape(-1, 1, 2)], 1, lineType=cv2.LINE_8, shift=2)
    return m.astype(bool)


def _hull_mask(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    hull = cv2.convexHull(np.asarray(points, dtype=np.float32)).reshape(-1, 2)
    return _poly_mask(hull, shape)


def _face_frame(pts: np.ndarray):
    """Unit vectors along the eye line (person's right eye -> left eye) and downwards, for orientation-free
    geometry on rotated faces."""
    right_eye = pts[list(EYE_LID["right"])].mean(axis=0)
    left_eye = pts[list(EYE_LID["left"])].mean(axis=0)
    u = left_eye - right_eye
    u = u / max(np.linalg.norm(u), 1e-9)
    v = np.array([-u[1], u[0]])
    if np.dot(v, pts[152] - pts[10]) < 0:  # point from forehead (10) towards chin (152)
        v = -v
    return u, v


def _from_frame(origin, u, v, coords):
    coords = np.asarray(coords, dtype=np.float64)
    return origin + coords[:, :1] * u + coords[:, 1:2] * v


def build_regions(landmarks: np.ndarray, shape: tuple[int, int], parsing=None, region_set: str = "coarse", *,  # noqa: C901 -- one region recipe after another, in the order they claim pixels; split, the shared frame would travel through every helper
                  min_area: float = 0.004) -> Regions:
    """Region masks for one image (usually an aligned crop).

    landmarks: (468 | 478, 2) Face Mesh points in the image's pixel coordinates; shape: (H, W); parsing: a
    models.base.ParsingResult on the same image (resized with nearest neighbour if its size differs) or None (then
    hair and ears are absent, with that reason). region_set: "coarse" or "fine". A region whose visible area is below
    ``min_area`` x the face-oval area (e.g. ears hidden by hair, a region cut off by the crop) goes to ``absent``
    with a reason instead of an empty mask.
    """
    from models.errors import ConfigError

    if region_set not in REGION_SETS:
        raise ConfigError(f"unknown region set {region_set!r}; choose one of {', '.join(REGION_SETS)}")
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] < 2 or pts.shape[0] < 468:
        raise ValueError(f"expected (468|478, 2) Face Mesh landmarks, got shape {pts.shape}")
    pts = pts[:468, :2]
    h, w = int(shape[0]), int(shape[1])
    shape = (h, w)
    u, v = _face_frame(pts)
    scale = float(np.linalg.norm(pts[152] - pts[10]))  # face height, for margins

    oval = _poly_mask(pts[list(FACE_OVAL)], shape)
    oval_area = float(_polygon_area(pts[list(FACE_OVAL)]))  # full oval, even where the crop cuts it

    raw: dict[str, np.ndarray] = {}
    # Mouth: outer lip contour, dilated by ~1% of the face height so the lip border is included.
    mouth = _poly_mask(pts[list(LIPS_OUTER)], shape)
    k = max(1, round(0.01 * scale))
    raw["mouth"] = cv2.dilate(mouth.astype(np.uint8), np.ones((2 * k + 1, 2 * k + 1), np.uint8)).astype(bool)
    side: dict[str, dict[str, np.ndarray]] = {"eyebrows": {}, "eyes": {}}
    for s in ("right", "left"):
        side["eyebrows"][s] = _poly_mask(pts[list(BROW_UPPER[s]) + list(BROW_LOWER[s])[::-1]], shape)
        # Eye socket: lid contour + everything between the brow's lower edge and the under-eye band.
        side["eyes"][s] = _hull_mask(pts[list(BROW_LOWER[s]) + list(UNDER_EYE[s]) + list(EYE_LID[s])], shape)
    raw["eyebrows"] = side["eyebrows"]["right"] | side["eyebrows"]["left"]
    raw["eyes"] = side["eyes"]["right"] | side["eyes"]["left"]
    raw["nose"] = _hull_mask(pts[list(NOSE) + list(PHILTRUM)], shape) & oval

    # Chin: below the lower lip, between the mouth-corner lines widened by 25%, inside the oval.
    origin = pts[NASION]
    rel = lambda idx: np.stack([(pts[list(idx)] - origin) @ u, (pts[list(idx)] - origin) @ v], axis=1)
    corners = rel((61, 291))
    uc, hw = corners[:, 0].mean(), abs(corners[1, 0] - corners[0, 0]) / 2
    lower = rel(LOWER_LIP_OUTER)
    far = 3 * scale
    chin_poly = np.vstack([[[uc - 1.25 * hw, lower[0, 1]]], lower, [[uc + 1.25 * hw, lower[-1, 1]]],
                           [[uc + 1.25 * hw, far], [uc - 1.25 * hw, far]]])
    raw["chin"] = _poly_mask(_from_frame(origin, u, v, chin_poly), shape) & oval

    # Forehead: above the brows' upper edges (extended sideways), plus the glabella down to the nasion.
    top = rel(BROW_UPPER["right"] + (55, NASION, 285) + BROW_UPPER["left"][::-1])
    fh_poly = np.vstack([[[-far, top[0, 1]]], top, [[far, top[-1, 1]]], [[far, -far], [-far, -far]]])
    raw["forehead"] = _poly_mask(_from_frame(origin, u, v, fh_poly), shape) & oval
    raw["cheeks"] = oval.copy()

    reasons: dict[str, str] = {}
    approximate: tuple[str, ...] = ()
    if parsing is not None:
        labels_shape = np.asarray(parsing.labels).shape[:2]

        def parsed(*names):
            m = parsing.mask(*names)
            if labels_shape != shape:
                m = cv2.resize(m.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
            return m

        raw["hair"] = parsed("hair")
        raw["ears"] = parsed("l_ear", "r_ear")
        if getattr(parsing, "approximate", False):
            approximate = ("hair", "ears")
    else:
        reasons["hair"] = reasons["ears"] = "no face parser was used, so hair and ears were not located"

    taken = np.zeros(shape, dtype=bool)
    final: dict[str, np.ndarray] = {}
    for name in PRIORITY:
        if name not in raw:
            continue
        m = raw[name] & ~taken
        taken |= m
        final[name] = m

    # Fine set: split the paired regions by the face midline (through the nasion, perpendicular to the eye line).
    if region_set == "fine":
        yy, xx = np.mgrid[0:h, 0:w]
        rel_u = (xx - origin[0]) * u[0] + (yy - origin[1]) * u[1]
        mid_u = 0.0  # the nasion is the origin
        person_right = rel_u < mid_u  # the person's right eye (mesh 33) sits at negative u by construction
        for s in ("right", "left"):
            half = person_right if s == "right" else ~person_right  # one split line for all: a partition
            final[f"{s}_eyebrow"] = final["eyebrows"] & half
            final[f"{s}_eye"] = final["eyes"] & half
            final[f"{s}_cheek"] = final["cheeks"] & half
        del final["eyebrows"], final["eyes"], final["cheeks"]

    min_px = max(1.0, min_area * oval_area)
    masks: dict[str, np.ndarray] = {}
    for name in REGION_SETS[region_set]:
        if name in reasons:
            continue
        m = final.get(name)
        n = int(m.sum()) if m is not None else 0
        if n < min_px:
            note = _parser_note(parsing, name)
            if note:
                reasons[name] = f"{name} not visible ({n} px): {note}"
            elif name == "ears":
                reasons[name] = (f"ears not visible ({n} px): hidden by hair, turned away or outside the crop")
            elif name == "hair":
                reasons[name] = f"no hair visible ({n} px): bald, covered, or outside the crop"
            else:
                reasons[name] = f"{name.replace('_', ' ')} not visible ({n} px in the image): outside the crop or covered"
        else:
            masks[name] = m
    return Regions(masks=masks, absent=reasons, approximate=tuple(a for a in approximate if a in masks),
                   region_set=region_set)


def _parser_note(parsing, name: str) -> str:
    """The parser's own reason for a missing part (ApproximateParsingResult.notes), if it gave one."""
    notes = getattr(parsing, "notes", None) or {}
    keys = ("l_ear", "r_ear") if name == "ears" else (name,)
    return "; ".join(f"{notes[k]}" for k in keys if k in notes)


def _polygon_area(p: np.ndarray) -> float:
    x, y = p[:, 0], p[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))))


def warp_regions(regions: Regions, matrix: np.ndarray, shape: tuple[int, int]) -> Regions:
    """Map masks through a 2x3 affine ``matrix`` (e.g. AlignedFace.inverse: crop -> original image) onto an image of
    ``shape`` (H, W), nearest neighbour so masks stay boolean and still do not overlap. Regions that leave the target
    image entirely become absent."""
    h, w = int(shape[0]), int(shape[1])
    m = np.asarray(matrix, dtype=np.float64)[:2]
    masks, absent = {}, dict(regions.absent)
    for name, mask in regions.masks.items():
        out = cv2.warpAffine(mask.astype(np.uint8), m, (w, h), flags=cv2.INTER_NEAREST, borderValue=0).astype(bool)
        if out.any():
            masks[name] = out
        else:
            absent[name] = f"{name} falls outside the image"
    return Regions(masks=masks, absent=absent, approximate=tuple(a for a in regions.approximate if a in masks),
                   region_set=regions.region_set)


def region_colour(name: str) -> tuple[int, int, int]:
    base = name.split("_", 1)[-1] if name.startswith(("left_", "right_")) else name
    base = {"eyebrow": "eyebrows", "eye": "eyes", "cheek": "cheeks"}.get(base, base)
    return COLOURS.get(base, (255, 255, 255))


def outline_image(image: np.ndarray, regions: Regions, *, labels: bool = True, thickness: int | None = None,
                  min_side: int = 450) -> np.ndarray:
    """RGB copy of ``image`` with each region's outline in its colour (thesis Fig. 3.2) and, optionally, its name
    at the region's centre. Small images (aligned crops are 112-150 px) are enlarged by a whole factor to at least
    ``min_side`` so that outlines and labels stay legible."""
    out = np.ascontiguousarray(np.asarray(image, dtype=np.uint8).copy())
    h, w = out.shape[:2]
    if not regions.masks:
        return out
    factor = int(np.ceil(min_side / max(h, w))) if max(h, w) < min_side else 1
    if factor > 1:
        out = cv2.resize(out, (w * factor, h * factor), interpolation=cv2.INTER_CUBIC)
        regions = Regions(
            masks={n: np.repeat(np.repeat(m, factor, axis=0), factor, axis=1) for n, m in regions.masks.items()},
            absent=regions.absent, approximate=regions.approximate, region_set=regions.region_set,
        )
        h, w = out.shape[:2]
    # line and text sizes follow the face, not the photo: a small face in a large photo keeps readable labels
    cols = np.nonzero(np.any(np.stack(list(regions.masks.values())).any(axis=0), axis=0))[0]
    face_w = float(cols.max() - cols.min() + 1) if cols.size else float(min(h, w))
    t = thickness or max(1, round(face_w / 160))
    scale = max(0.25, face_w / 600)
    text_t = max(1, round(scale * 1.5))
    for name in regions.names:
        mask = regions.masks[name].astype(np.uint8)
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, region_colour(name), t, lineType=cv2.LINE_AA)
    if labels:
        for name in regions.names:
            ys, xs = np.nonzero(regions.masks[name])
            # label at the mask pixel nearest the centroid, so it lands inside non-convex regions
            cy, cx = ys.mean(), xs.mean()
            i = int(np.argmin((ys - cy) ** 2 + (xs - cx) ** 2))
            text = name.replace("_", " ")
            (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
            x = int(np.clip(xs[i] - tw // 2, 0, max(0, w - tw)))
            y = int(np.clip(ys[i] + th // 2, th, h - 1))
            cv2.putText(out, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), text_t + 1, cv2.LINE_AA)
            cv2.putText(out, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, region_colour(name), text_t, cv2.LINE_AA)
    return out


def drop_regions(regions: Regions, reasons: dict[str, str]) -> Regions:
    """A copy of ``regions`` with the regions named in ``reasons`` ({name: why}) moved from ``masks`` to ``absent``
    (e.g. regions the quality stage found covered or outside the photo)."""
    masks = {n: m for n, m in regions.masks.items() if n not in reasons}
    absent = dict(regions.absent)
    absent.update({n: r for n, r in reasons.items() if n in regions.masks})
    return Regions(masks=masks, absent=absent, approximate=tuple(a for a in regions.approximate if a in masks),
                   region_set=regions.region_set)
