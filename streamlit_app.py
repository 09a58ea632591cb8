"""facex-chat: upload two face photos, see why the face model calls them a match or not, and question the answer.

Run: ``bash scripts/run.sh`` (or ``streamlit run streamlit_app.py --server.address 127.0.0.1``).

Layout of this file: plain helpers first (upload checks, the sample pair, wording, exports; no page drawing, so
tests import them directly), then the shared resources (face pipeline, engines, sentence model: loaded once per
process with ``st.cache_resource`` and used under locks, because the models inside are not thread-safe), then the
page in ``main()``.

Per browser session (``st.session_state``): ``result`` (the current :class:`ExplainedPair`), ``conversation`` (the
chatbot's Conversation over it: its ``turns`` are the one chat history shown and exported), ``chat_error`` (the
last question that could not be answered, with its message, shown under the history until the next answer),
``archive`` (earlier conversations of this session, still exportable after a new pair), ``error`` (the last error,
shown until the next success) and ``refusal`` (a :class:`RefusedPair` when the quality check refused a photo of the
last pair: no decision exists, the page shows each photo's quality components and the chat answers from them).
Uploaded photos stay in memory (bytes and arrays in this session's state); nothing is written to disk.
"""

from __future__ import annotations

import functools
import gc
import io
import json
import logging
import os
import queue
import re
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import streamlit as st

from explain_engine.methods import METHODS, drawn_methods, get_method
from explain_engine.record import ExplanationRecord, load_record
from prompts import render

log = logging.getLogger("facex.app")

MAX_UPLOAD_MB = 20
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
UPLOAD_TYPES = ("jpg", "jpeg", "png", "webp")
ENGINE_WAIT_S = 600  # how long a session waits for another session's explanation before giving up
MAX_QUESTION_CHARS = 500

SUGGESTED_QUESTIONS = (
    "Which region drove the match?",
    "How sure are you?",
    "Which region mattered least?",
    "Do the methods agree?",
    "What would change the decision?",
)
REFUSAL_QUESTIONS = (  # suggested when the quality check refused a photo: no decision exists to ask about
    "Why was this photo refused?",
    "Is the photo good enough?",
    "Is part of the face hidden?",
    "Are the eyes visible?",
)
NOT_IN_SIMILARITY_UNITS = ("occlusion",)  # the xFace map is normalised by construction: kept out of the ΔS chart
SCALE_LABELS = {"absolute": "Absolute (change of similarity)", "normalised": "Normalised per map (thesis)"}
METHOD_CHOICES = {  # sidebar label -> engine method name ("avg" comes with S0 + S1)
    "S0: one at a time": "s0",
    "S1: greedy": "s1",
    "Black-mask contrast": "s0_black",
    "FGGB: gradient maps": "fggb",  # pixel-level similarity / dissimilarity maps (not in the default selection)
    "FGGB fast: approximate gradient maps": "fggb_fast",
    "CorrRISE: random masks": "corrrise",
}
DEFAULT_METHOD_CHOICES = ["S0: one at a time", "S1: greedy", "Black-mask contrast"]
FILL_CHOICES = {  # sidebar value -> (perturbation, inpainter backend or None)
    "inpaint:telea": ("inpaint", "telea"),
    "inpaint:ns": ("inpaint", "ns"),
    "inpaint:patchmatch": ("inpaint", "patchmatch"),
    "inpaint:lama": ("inpaint", "lama"),
    "inpaint:migan": ("inpaint", "migan"),
    "inpaint:repaint": ("inpaint", "repaint"),
    "inpaint:sd-inpaint": ("inpaint", "sd-inpaint"),
    "blur": ("blur", None),
    "mean": ("mean", None),
    "black": ("black", None),
}
STAGE_LABELS = {
    "loading models": "Loading the models (first time only)",
    "preparing faces": "Finding, aligning and outlining the faces",
    "s0": "S0: hiding one region at a time",
    "s1": "S1: hiding regions greedily",
    "s0_black": "Black-mask contrast",
    "occlusion": "Patch occlusion",
    "stability": "Repeating with other seeds",
    "robustness": "Checking robustness: other fills, re-aligned faces",
    "done": "Done",
}


# ---------------------------------------------------------------------------------------------------------------
# Plain helpers
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Photo:
    """One photo held in memory: its display name, its decoded RGB array and a fingerprint of its content."""

    name: str
    image: np.ndarray
    digest: str
    sha256: str = ""  # of the uploaded file's bytes (for the case report)

    @functools.cached_property
    def preview(self) -> bytes:
        """The page's small copy (JPEG, at most PREVIEW_PX a side), encoded once: every rerun shows it again, and
        re-encoding the full photo each time delayed the start of an explanation."""
        from PIL import Image

        small = Image.fromarray(np.asarray(self.image, dtype=np.uint8)).convert("RGB")
        small.thumbnail((PREVIEW_PX, PREVIEW_PX))
        buffer = io.BytesIO()
        small.save(buffer, format="JPEG", quality=90)
        return buffer.getvalue()


PREVIEW_PX = 480  # the previews are shown 240 px wide: twice that for high-density screens


def _fingerprint(data: bytes | np.ndarray) -> str:
    import hashlib

    raw = data.tobytes() if isinstance(data, np.ndarray) else data
    return hashlib.sha256(raw).hexdigest()[:16]


def _image_format(data: bytes) -> str | None:
    """The format named in the file's header (PIL reads only the header), or None when it is not an image."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.format
    except Exception:  # noqa: BLE001 (not an image: load_image gives the precise message)
        return None


def read_upload(name: str, data: bytes) -> Photo:
    """Check and decode one uploaded photo, in memory. Raises ``ImageError`` with a message naming the file."""
    from models.errors import ImageError
    from models.images import load_image

    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in UPLOAD_TYPES:
        raise ImageError(f"{name}: only JPEG, PNG and WEBP photos are accepted (this file is .{suffix or '?'})")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(f"{name}: the file is {len(data) / 2**20:.1f} MB; the limit is {MAX_UPLOAD_MB} MB")
    if not data:
        raise ImageError(f"{name}: the file is empty")
    actual = _image_format(data)
    if actual is not None and actual not in ("JPEG", "MPO", "PNG", "WEBP"):  # MPO: JPEG from some cameras
        raise ImageError(f"{name}: this is a {actual} image; only JPEG, PNG and WEBP photos are accepted")
    buffer = io.BytesIO(data)
    buffer.name = name  # load_image names the file in its messages
    import hashlib

    return Photo(name=name, image=load_image(buffer), digest=_fingerprint(data), sha256=hashlib.sha256(data).hexdigest())


@functools.lru_cache(maxsize=1)
def sample_pair() -> tuple[Photo, Photo]:
    """skimage's astronaut portrait and an edited copy of it (mirrored, shifted, brighter).

    One photo and a copy: it demonstrates the tool, not its ability to match two different photos of a person.
    """
    from skimage import data

    original = np.array(data.astronaut(), copy=True)  # our own copy, made read-only below
    edited = np.roll(original[:, ::-1], shift=(12, -10), axis=(0, 1))  # mirrored, then moved 12 px down, 10 left
    edited = np.ascontiguousarray(np.clip(edited.astype(np.int16) + 25, 0, 255).astype(np.uint8))  # brighter
    for image in (original, edited):
        image.setflags(write=False)  # cached and shared by every session: nobody may change it
    return (
        Photo("astronaut.png", original, _fingerprint(original)),
        Photo("astronaut-edited.png", edited, _fingerprint(edited)),
    )


SAMPLE_LABEL = (
    "Sample pair: NASA's public-domain portrait of astronaut Eileen Collins that ships with scikit-image (A), and "
    "an edited copy of that same photo (B: mirrored, shifted a few pixels, brightened). It is one photo and a copy "
    "of it, not two different photos of the same person, so expect a clear match."
)

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=&])")


def escape_markdown(text: object) -> str:
    """Escape every Markdown/HTML-special character so ``st.markdown`` shows the text literally (never as HTML)."""
    return _MD_SPECIAL.sub(r"\\\1", str(text)).replace("\n", "  \n")


@dataclass
class RefusedPair:
    """One session's refused pair: the quality check refused a photo, so no decision was made. ``record`` is the
    refusal record (``explain_engine.record.RefusalRecord.to_dict()``), the chat answers from it."""

    record: dict
    names: tuple[str, str]
    digests: tuple[str, str]
    settings_key: str = ""

    @property
    def title(self) -> str:
        return f"{self.names[0]} vs {self.names[1]} (photo {self.record['side'].upper()} refused)"


def quality_table(block: dict):
    """One photo's quality components as a DataFrame (component, outcome, value, unit, threshold, what it checks,
    source): refused components first, then warnings, then the rest, each in the policy's order; the words come
    from the quality policy (prompts/quality_policy.yaml)."""
    import pandas as pd

    from explain_engine.quality import load_policy
    from explain_engine.quality.words import limit_text

    policy = load_policy()
    rows = []
    for c in block.get("components") or []:
        rule = policy.components.get(c.get("name"))
        rows.append({
            "component": c.get("name"),
            "what it checks": rule.label if rule else "",
            "value": c.get("value"),
            "unit": c.get("unit"),
            "outcome": c.get("outcome"),
            "threshold": limit_text(c.get("threshold") or {}, "all"),
            "source": c.get("source"),
        })
    severity = {"refuse": 0, "warn": 1}
    rows.sort(key=lambda r: severity.get(r["outcome"], 2))  # stable: the policy's order within each outcome
    return pd.DataFrame(rows, columns=["component", "outcome", "value", "unit", "threshold", "what it checks", "source"])


def refusal_record(exc: BaseException) -> dict | None:
    """The refusal record of a pair whose photo the quality check refused (None for any other error)."""
    from explain_engine.quality import QualityError
    from explain_engine.record import RefusalRecord

    if not isinstance(exc, QualityError) or exc.quality is None or exc.component is None:
        return None
    return RefusalRecord.from_error(exc).to_dict()


def refusal_conversation(record: dict):
    """A chatbot Conversation over a refusal record (no model: it answers from the quality facts)."""
    from chatbot import Conversation
    from chatbot.refusal import RefusalChatbot

    return Conversation(RefusalChatbot(record))


def decision_summary(record: dict | ExplanationRecord) -> dict:
    """The decision card's values and sentences, read through the record schema (one renderer per sentence, the
    same as the command line's and the chatbot's)."""
    from explain_engine.evidence import decision_lines, honest_probability, percent_floor

    r = load_record(record)
    d = r.model_dump(mode="json")
    lines = decision_lines(d)  # the LR statement first (the renderer of the CLI, report and chat), then the decision
    k = next((n for n, line in enumerate(lines) if line.startswith("At the threshold")), len(lines) - 2)
    evidence = d.get("evidence") or {}
    identical = "identical_inputs" in (evidence.get("inconclusive_reasons") or [])

    def shown(value):  # never shown beyond what the calibration set resolves (no "100%")
        info = None if identical else honest_probability(value, r.decision, d.get("calibration") or {})
        if info is None or info["shown"] is None:
            return "n/a"
        return f"≥ {percent_floor(info['shown'])}" if info["capped"] else percent_floor(info["shown"])

    return {
        "decision": r.decision,
        "headline": render.card_headline(r.decision),
        "lr_statement": lines[0],
        "evidence_lines": lines[1:k],
        "conclusive": bool(evidence.get("conclusive")),
        "similarity": r.similarity,
        "threshold": r.threshold,
        "margin": r.margin,
        "confidence": shown(r.confidence),
        "pic": shown(r.pic_score),
        "confidence_meaning": render.score_meaning(r.confidence_meaning),
        "pic_meaning": render.score_meaning(r.pic_meaning),
        "plain": " ".join(lines[k + 1 :]),
        "statements": [
            text
            for text in (
                render.strength_sentence(r.strength, similarity=r.similarity, threshold=r.threshold),
                render.counterfactual_sentence(r.counterfactual, threshold=r.threshold, decision=r.decision),
            )
            if text
        ],
        "warnings": list(r.warnings),
        "model": r.model_description or r.model,
        "perturbation": r.perturbation,
        "region_set": r.region_set,
    }


def report_html(record: dict, files: dict, names: tuple[str, str], sha256: tuple[str, str], conversation=None) -> str:
    """The case report (self-contained HTML, images as data URIs), rendered in memory from the explanation's files."""
    from explain_engine.report import render_report_html

    turns = []
    if conversation is not None:
        for turn in conversation.turns:
            turns += [{"role": "user", "text": turn.question}, {"role": "assistant", "text": turn.answer.text}]
    inputs = [(n, h) if h else None for n, h in zip(names, sha256)]
    return render_report_html(record, files, image_a=inputs[0], image_b=inputs[1], conversation=turns)


def contributions_frame(record: dict):
    """Long DataFrame (region, method, contribution) of the change of similarity when each present region is
    hidden (ΔS = S_ref - S_perturbed, cosine units; positive = the region makes the faces alike)."""
    import pandas as pd

    rows = []
    drawn = set(drawn_methods())
    for region in record.get("regions", []):
        if not region.get("present"):
            continue
        for method, values in (region.get("methods") or {}).items():
            if method in drawn and method not in NOT_IN_SIMILARITY_UNITS and values.get("delta") is not None:
                rows.append(
                    {"region": region_label(region["name"]), "method": method_short(method),
                     "contribution": values["delta"]}
                )
    return pd.DataFrame(rows, columns=["region", "method", "contribution"])


def method_short(method: str) -> str:
    try:
        return get_method(method).short
    except Exception:  # noqa: BLE001 (a key this version does not know: show it as it is)
        return method.replace("_", " ")


def heatmap_range(record: dict) -> float:
    """The ± range of the absolute maps (cosine units), as the record states it; else the largest change shown."""
    scale = record.get("heatmap_scale") or {}
    if scale.get("vmax"):
        return float(scale["vmax"])
    deltas = [abs(v.get("delta") or 0.0) for r in record.get("regions", []) for v in (r.get("methods") or {}).values()]
    return max([d for d in deltas if np.isfinite(d)] + [1e-3])


def heatmaps_for(explanation: Any, scale: str) -> tuple[dict, np.ndarray]:
    """(photo overlays by method, legend) drawn on ``scale`` ("absolute" | "normalised"): only what the page shows."""
    if hasattr(explanation, "overlays_on"):
        return explanation.overlays_on(scale), explanation.legend_on(scale)
    return explanation.heatmap_images, explanation.legend


def robustness_words(record: dict) -> str | None:
    """The record's robustness verdict in words (prompts/importance.yaml), or None when it was not measured."""
    section = record.get("robustness")
    if not section:
        return None
    from explain_engine.robustness import statement

    return statement(section)


def rule_words(rule: str, record: dict) -> str:
    from explain_engine.table import rule_text

    return rule_text(rule, noise_floor=(record.get("robustness") or {}).get("noise_floor"))


def largest_change(record: dict, methods: list[str]) -> float | None:
    """The largest |change of similarity| of one region among ``methods``' region maps (cosine units), or None when
    none of them is drawn in similarity units (per-pixel maps and the occlusion baseline are normalised)."""
    pixel_level = {m for m, names in (record.get("heatmaps") or {}).items() if "photo-similarity_a" in (names or {})}
    shown = set(methods) - pixel_level - set(NOT_IN_SIMILARITY_UNITS)
    changes = [abs(float(v["delta"])) for r in record.get("regions", []) if r.get("present")
               for m, v in (r.get("methods") or {}).items()
               if m in shown and v.get("delta") is not None and np.isfinite(v["delta"])]
    return max(changes) if changes else None


def scale_reading_words(record: dict, scale: str, methods: list[str]) -> str:
    """How to read the maps' colours, with this pair's largest change (words: prompts/importance.yaml)."""
    from explain_engine.heatmaps import scale_reading

    return scale_reading(record.get("heatmap_scale"), largest_change(record, methods), scale,
                         normalised_label=SCALE_LABELS["normalised"])


def scale_words(record: dict, scale: str) -> str | None:
    from explain_engine.heatmaps import scale_text

    info = record.get("heatmap_scale")
    return scale_text(info, scale) if info or scale == "normalised" else None


def jpeg_bytes(image: np.ndarray, quality: int = 92) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).convert("RGB").save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def explanation_zip(explanation: Any) -> bytes:
    """What ``Explanation.save`` writes (its ``files()``: explanation.json, heatmap PNGs, legend, outlined crops,
    table.csv), zipped in memory so that nothing derived from an upload touches the disk."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, content in explanation.files().items():
            archive.writestr(name, content())
    return buffer.getvalue()


ROLE_MARKS = {"supports": "▲", "against": "▼", "neutral": "○"}
ROLE_HELP = "▲ supported the decision · ▼ argued against it · ○ no measurable effect (below the noise floor)"
TABLE_FIXED = ("region", "Mean", "Ratio of 1s", "Level rule")


def region_label(name: str) -> str:
    """A region's display name; the fine set's sides are the PERSON's own (left_eye -> "eye (person's left)")."""
    text = str(name)
    for side in ("left", "right"):
        if text.startswith(side + "_"):
            return f"{text[len(side) + 1:].replace('_', ' ')} (person's {side})"
    return text.replace("_", " ")


def table_view(table) -> tuple[Any, dict]:
    """(display DataFrame, st.dataframe column_config) of the explainability table: the region column (pinned),
    then one compact column per method (level, role mark, |change of similarity|; e.g. "1 ▲ 0.065"), Mean and
    Ratio of 1s. Every method column of the table is kept, the one-sided S0 columns included, so that all fit on
    screen side by side instead of running off the right edge."""
    import pandas as pd

    methods = [
        c for c in table.columns
        if c not in TABLE_FIXED and not str(c).endswith((" contribution", " role", " change"))
    ]
    view = pd.DataFrame({"region": [region_label(r) for r in table["region"]]})
    config: dict[str, Any] = {
        "region": st.column_config.TextColumn("Region", pinned=True, width="medium"),
    }
    for col in methods:
        cells = []
        for _, row in table.iterrows():
            level = row[col]
            if level is None or (isinstance(level, float) and np.isnan(level)):
                cells.append("–")
                continue
            role = row.get(f"{col} role")
            change = row.get(f"{col} change")
            text = f"{int(level)}"
            if isinstance(role, str):
                text += f" {ROLE_MARKS.get(role, '')}"
            if change is not None and not (isinstance(change, float) and np.isnan(change)):
                text += f" {float(change):.3f}"
            cells.append(text)
        view[col] = cells
        config[col] = st.column_config.TextColumn(
            col, help=f"Importance 1 (most) to 5 (least), role, and the change of similarity when the region is "
            f"hidden. {ROLE_HELP}", width="small"
        )
    for col, fmt in (("Mean", "%.1f"), ("Ratio of 1s", "%.2f")):
        if col in table.columns:
            view[col] = table[col].to_numpy()
            config[col] = st.column_config.NumberColumn(col, format=fmt, width="small")
    return view, config


def photo_masks(explanation: Any) -> dict[str, dict[str, np.ndarray]]:
    """The region masks on the photo overlays ({"a": {region: mask}, "b": ...}), for outlining in the chat."""
    getter = getattr(explanation, "overlay_masks", None)
    if getter is not None:
        return getter()
    regions = getattr(explanation, "_photo_regions", None) or {}
    return {side: dict(value[1].masks) for side, value in regions.items()}


def link_image_key(link: Any) -> str | None:
    """The ``heatmap_images[method]`` key a chatbot ArtifactLink points at ("a", "overlay_b", ...)."""
    kind, side = getattr(link, "kind", None), getattr(link, "image", None)
    if side not in ("a", "b"):
        return None
    return side if kind == "heatmap" else f"{kind}_{side}"


def linked_images(answer: Any, heatmap_images: dict, legend: np.ndarray | None = None,
                  outlines: dict[str, dict[str, np.ndarray]] | None = None) -> list[tuple[np.ndarray, str]]:
    """(image, caption) for every heatmap an answer links to, in the answer's order, drawn as the heatmap panel
    draws them (the overlay on the photo); the regions the answer names are outlined when ``outlines`` gives their
    masks on the overlays ({"a": {region: (H, W) bool}, "b": {...}})."""
    from explain_engine.heatmaps import outline_regions

    named = [r for r in (getattr(answer, "regions", None) or []) if r]
    out, seen = [], set()
    for link in getattr(answer, "links", None) or []:
        if getattr(link, "kind", None) == "legend":
            if legend is not None and "legend" not in seen:
                seen.add("legend")
                out.append((legend, "colour legend"))
            continue
        key = link_image_key(link)
        images = heatmap_images.get(getattr(link, "method", None)) or {}
        caption = str(getattr(link, "label", "") or key)
        side = key[-1] if key else None
        if key in ("a", "b", f"blend_{side}") and f"overlay_{side}" in images:  # the panel's rendering
            key = f"overlay_{side}"
        ident = (getattr(link, "method", None), key)
        if not key or images.get(key) is None or ident in seen:
            continue
        seen.add(ident)
        image = images[key]
        masks = (outlines or {}).get(side) or {}
        marked = [r for r in named if r in masks]
        if marked:
            image = outline_regions(image, {r: masks[r] for r in marked})
            caption += " · outlined: " + ", ".join(region_label(r) for r in marked)
        out.append((image, caption))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Shared resources: loaded once per process, used by every session under a lock
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Shared:
    """A model-holding object and the lock every session takes before using it."""

    value: Any
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class ExplainedPair:
    """One session's result: the engine's explanation, its record, and which pair it explains."""

    explanation: Any
    record: dict
    names: tuple[str, str]
    digests: tuple[str, str]
    seconds: float  # from the click to the results and the chat ready (what the user waited)
    engine_seconds: float = 0.0  # the engine's own time for the explanation (part of ``seconds``)
    settings_key: str = ""  # the settings it was made with: other settings on screen mark it stale
    encoded: dict = field(default_factory=dict, repr=False)  # images encoded once for the page, by key
    sha256: tuple[str, str] = ("", "")  # of the two input files (empty for a restored session)

    @property
    def title(self) -> str:
        return f"{self.names[0]} vs {self.names[1]}"

    def image(self, key: tuple, draw: Callable[[], np.ndarray], *, png: bool = False) -> bytes:
        """The page's copy of one image, encoded once per result (JPEG: quick to encode and to send; PNG for text
        such as the legend; the downloads keep the PNG files), so that reruns do not encode the panels again."""
        if key not in self.encoded:
            self.encoded[key] = (png_bytes if png else jpeg_bytes)(draw())
        return self.encoded[key]


def page_images(explanation: Any, scale: str, part: str) -> dict[tuple, bytes]:
    """The images the results panel shows at once, drawn and encoded under :meth:`ExplainedPair.image`'s keys:
    ``part`` "faces" (the outlined aligned faces) or "heatmaps" (every method's photo overlays on ``scale`` and the
    colour legend).

    Run in worker threads (:func:`start_drawing`) while the page builds the record and the chat: OpenCV, NumPy and
    Pillow release the GIL for most of this work, so it overlaps instead of adding up.
    """
    if part == "faces":
        return {("faces", side): jpeg_bytes(explanation.aligned_faces[side]) for side in ("a", "b")}
    heatmaps, legend = heatmaps_for(explanation, scale)
    out = {}
    for method, images in heatmaps.items():
        for side in ("a", "b"):
            if images.get(f"overlay_{side}") is not None:
                out[(scale, method, side)] = jpeg_bytes(images[f"overlay_{side}"])
    out[(scale, "legend")] = png_bytes(legend)
    return out


def start_drawing(explanation: Any, scale: str) -> list:
    """Futures of :func:`page_images`' two parts, drawn side by side in :func:`drawing_pool`."""
    pool = drawing_pool()
    return [pool.submit(page_images, explanation, scale, part) for part in ("heatmaps", "faces")]


def finished_images(drawing: list) -> dict[tuple, bytes]:
    """The workers' images (:func:`start_drawing`); a part that failed is left out, so that the page draws it itself
    and shows the error where it occurs."""
    out: dict[tuple, bytes] = {}
    for job in drawing:
        try:
            out.update(job.result())
        except Exception as exc:  # noqa: BLE001 (the page draws these images again, in its own error guard)
            log.warning("drawing the panel's images failed: %s", exc)
    return out


def engine_config(settings: dict):
    """The EngineConfig for the sidebar settings; everything not chosen keeps the embedded offline defaults."""
    from explain_engine import EngineConfig
    from models.config import ModelConfig

    perturbation, inpainter = FILL_CHOICES[settings["fill"]]
    overrides = {"embedder": settings["embedder"]}
    if inpainter:
        overrides["inpainter"] = inpainter
    return EngineConfig(
        models=ModelConfig.from_env(**overrides),
        perturbation=perturbation,
        methods=tuple(settings["methods"]),
        region_set=settings["region_set"],
    )


@st.cache_resource(max_entries=2, show_spinner=False)
def shared_pipeline(embedder: str, region_set: str) -> Shared:
    """Detector, Face Mesh, parser and face model, loaded once per (face model, region set) for all sessions."""
    from explain_engine import EngineConfig
    from explain_engine.pipeline import FacePipeline
    from models.config import ModelConfig

    defaults = EngineConfig(models=ModelConfig.from_env(embedder=embedder), region_set=region_set)
    pipeline = FacePipeline(
        defaults.models,
        region_set=region_set,
        min_face_pixels=defaults.min_face_pixels,
        small_face_pixels=defaults.small_face_pixels,
    )
    _ = (pipeline.landmark_detector, pipeline.parser)  # load the lazy models now, not mid-explanation
    return Shared(pipeline)


@st.cache_resource(max_entries=6, show_spinner=False)
def shared_engine(settings_key: str, _settings: dict) -> Shared:
    """An Engine per distinct settings, built on the shared pipeline; shares the pipeline's lock."""
    from explain_engine import Engine

    pipeline = shared_pipeline(_settings["embedder"], _settings["region_set"])
    engine = Engine(engine_config(_settings), pipeline=pipeline.value)
    return Shared(engine, pipeline.lock)


@st.cache_resource(show_spinner=False)
def shared_sentence_models() -> Shared:
    """The chatbot's sentence embedder (and QA model when one is configured), shared by every conversation."""
    from models import registry
    from models.config import ModelConfig

    config = ModelConfig.from_env()
    embedder = registry.create("sentence", config)
    qa = registry.create("qa", config) if config.qa else None
    return Shared({"embedder": embedder, "qa": qa})


@st.cache_resource(show_spinner=False)
def explain_pool():
    """Threads that run the engine for the pages (:func:`start_explanation`), shared by all sessions and reused:
    the engines take one explanation at a time anyway (their lock), and the libraries' per-thread buffers are kept."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=4, thread_name_prefix="facex-explain")


@st.cache_resource(show_spinner=False)
def drawing_pool():
    """Worker threads that draw a new explanation's images (:func:`start_drawing`), shared by all sessions."""
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="facex-draw")


@st.cache_resource(show_spinner=False)
def loaded_settings() -> set[str]:
    """Settings whose models this process has loaded, so "first time only" shows only the first time (a cached
    resource: module globals are reset on every script run)."""
    return set()


# The engine reports ("preparing faces", 0.05) once both faces are prepared (its later stages run from 0.05 to 1).
FINISHED_AT = {"preparing faces": 0.05}


class StageTracker:
    """Turns the engine's progress calls into finished steps and one overall fraction for the progress bar.

    The engine calls ``progress(stage, fraction)`` as work ends, stage after stage; a stage is finished when its
    fraction reaches 1 or a later stage reports. ``expected`` lists the stages in order (unknown ones are added).
    """

    def __init__(self, expected: list[str]) -> None:
        self.expected = list(dict.fromkeys(expected))
        self.finished: list[str] = []
        self.fraction = 0.0  # of the stage now running
        self.restart_clock()

    def restart_clock(self) -> None:
        self._since = time.perf_counter()

    def _finish(self, stage: str) -> tuple[str, float]:
        self.finished.append(stage)
        now = time.perf_counter()
        seconds, self._since = now - self._since, now
        return STAGE_LABELS.get(stage, stage.replace("_", " ").capitalize()), seconds

    def update(self, stage: str, fraction: float) -> list[tuple[str, float]]:
        """Record one call; returns (label, seconds) of each stage that it finished."""
        if stage == "done":
            pending = [s for s in self.expected if s not in self.finished]
            return [self._finish(s) for s in pending]
        if stage not in self.expected:
            self.expected.append(stage)
        done = []
        for earlier in self.expected[: self.expected.index(stage)]:
            if earlier not in self.finished:
                done.append(self._finish(earlier))
        self.fraction = min(max(float(fraction), 0.0), 1.0)
        if self.fraction >= FINISHED_AT.get(stage, 1.0) and stage not in self.finished:
            done.append(self._finish(stage))
            self.fraction = 0.0
        return done

    @property
    def overall(self) -> float:
        return min(1.0, (len(self.finished) + self.fraction) / max(1, len(self.expected)))

    @property
    def current_label(self) -> str:
        running = next((s for s in self.expected if s not in self.finished), None)
        return "Finishing" if running is None else STAGE_LABELS.get(running, running.replace("_", " ").capitalize())


@st.cache_resource(show_spinner=False)
def warm_up() -> threading.Thread:
    """Once per process, load the default models in the background while the first visitor picks photos.

    The same cached loaders serve the page; one that is still loading makes the page wait for it, never load twice.
    """
    from models.config import ModelConfig

    def load() -> None:
        try:
            from explain_engine.calibration import preload_lir

            preload_lir()  # first: scikit-learn imported from two threads at once can deadlock
            shared_pipeline(ModelConfig.from_env().embedder, "coarse")
            shared_sentence_models()
        except Exception:  # the page reports the same error when it needs the model
            log.exception("background model loading failed")
        settle_heap()

    thread = threading.Thread(target=load, name="facex-warm-up", daemon=True)
    thread.start()
    return thread


def settle_heap() -> None:
    """Keep the objects alive now (libraries, loaded models) out of the garbage collector's later scans.

    Streamlit runs a full garbage collection after every script run (``runner.postScriptGC``), holding the GIL: with
    the face models in memory it walks about a million objects (about 0.35 s on a desktop), and the page's last
    messages and a chat answer wait behind it. Called once the models are loaded; ``gc.freeze`` (after a collection,
    so that no garbage is kept) moves the survivors to a generation the collector skips. They are still freed by
    reference counting; only reference cycles among them would now stay until the process ends.
    """
    gc.collect()
    gc.freeze()


def run_explanation(shared: Shared, photo_a: Photo, photo_b: Photo, progress: Callable, waiting: Callable):
    """Explain a pair under the engine's lock; ``waiting()`` is called once when another session holds it."""
    from models.errors import FaceXError

    if not shared.lock.acquire(blocking=False):
        waiting()
        if not shared.lock.acquire(timeout=ENGINE_WAIT_S):
            raise FaceXError("the explainer is busy with other people's photos; please try again in a minute")
    try:
        return shared.value.explain(photo_a.image, photo_b.image, progress=progress, names=(photo_a.name, photo_b.name))
    finally:
        shared.lock.release()


class Stopped(Exception):
    """The page that asked for an explanation stopped (a rerun or a closed tab): the engine stops at its next step."""


def start_explanation(shared: Shared, photos: tuple[Photo, Photo], events: queue.Queue, stop: threading.Event):
    """Explain ``photos`` in a worker thread (:func:`explain_pool`); returns a Future of (explanation, the engine's
    own seconds).

    The engine's progress goes into ``events`` as ("progress", stage, fraction), ("waiting",) when another session
    holds the engine and ("done",) last, however the job ends; once ``stop`` is set, the next progress call raises
    :class:`Stopped` in the worker. Nothing here draws on the page: the script thread does
    (:func:`follow_explanation`).
    """

    def progress(stage: str, fraction: float) -> None:
        if stop.is_set():
            raise Stopped("the page stopped this explanation")
        events.put(("progress", stage, fraction))

    def work():
        try:
            engine_started = time.perf_counter()
            explanation = run_explanation(shared, *photos, progress=progress, waiting=lambda: events.put(("waiting",)))
            return explanation, time.perf_counter() - engine_started
        finally:
            events.put(("done",))  # wakes the page at once

    return explain_pool().submit(work)


def follow_explanation(job, events: queue.Queue, progress: Callable[[str, float], None],
                       waiting: Callable[[], None], poll_s: float = 0.25) -> None:
    """Hand the worker's events to ``progress`` / ``waiting`` (in this, the script's thread) until its last one,
    ("done",), arrives: the job has finished then and every event it sent has been drawn."""
    while True:
        try:
            event = events.get(timeout=poll_s)
        except queue.Empty:
            if job.done() and events.empty():  # a job that ended without its "done" (not expected)
                return
            continue
        if event[0] == "done":
            return
        if event[0] == "waiting":
            waiting()
        else:
            progress(event[1], event[2])


def stop_explanation(job, stop: threading.Event, timeout: float = ENGINE_WAIT_S) -> None:
    """Stop an unfinished job (the page left it) and wait until its engine has let go, so that a new explanation
    does not find the engine busy with a discarded one. Does nothing to a finished job."""
    stop.set()
    if job is not None and not job.done():
        from concurrent.futures import wait

        wait([job], timeout=timeout)


def new_conversation(record: dict):
    """A chatbot Conversation over ``record``, using the shared sentence models."""
    from chatbot import Chatbot, Conversation

    models = shared_sentence_models()
    with models.lock:  # building the bot embeds the context sentences
        bot = Chatbot(record, embedder=models.value["embedder"], qa=models.value["qa"])
    return Conversation(bot)


def ask_conversation(conversation, question: str):
    with shared_sentence_models().lock:
        return conversation.ask(question)


def conversation_exports(conversation) -> tuple[str, str]:
    """(JSON, Markdown) of a conversation, in the chatbot's own export formats."""
    from chatbot.export import conversation_json, conversation_markdown

    return conversation_json(conversation), conversation_markdown(conversation)


def user_message(exc: BaseException) -> str:
    """A clear one-line message for the page; the traceback goes to the server log only."""
    from models.errors import FaceXError

    if isinstance(exc, FaceXError):
        return str(exc)
    log.error("unexpected error", exc_info=exc)
    return f"Something went wrong ({type(exc).__name__}: {exc}). Your photos and conversation are kept."


# ---------------------------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------------------------
def main() -> None:
    st.session_state["_run_started"] = time.perf_counter()
    st.set_page_config(page_title="facex-chat: why do these faces match?", page_icon="🔎", layout="wide")
    for key, value in {"result": None, "refusal": None, "conversation": None, "chat_error": None, "archive": [],
                       "error": None}.items():
        st.session_state.setdefault(key, value)
    try:
        _page()
    except Exception as exc:  # noqa: BLE001 (never a traceback in the page; session state is untouched)
        st.error(escape_markdown(user_message(exc)), icon=":material/error:")


def _page() -> None:
    warm_up()
    settings, source = _sidebar()

    st.title("Why do these two faces match, or not?")
    st.caption(
        "A face-recognition model compares two photos. facex-chat then hides one face region at a time (eyes, "
        "nose, mouth, ...) and measures how the model's similarity changes, to show which parts of the face drove "
        "the decision. Ask questions about it in the chat below."
    )
    photos = _inputs(source)
    clicked = st.button(
        "Explain",
        type="primary",
        key="explain",
        disabled=photos is None,
        help=None if photos else "Choose two photos first (or the sample pair in the sidebar).",
    )
    if clicked and photos is not None:
        _mark("page_to_explain", time.perf_counter() - st.session_state["_run_started"])
        _explain(settings, photos)

    if st.session_state.error:
        st.error(escape_markdown(st.session_state.error), icon=":material/error:")

    current: ExplainedPair | None = st.session_state.result
    refused: RefusedPair | None = st.session_state.refusal
    if refused is not None:
        _refusal_panel(refused)
        _chat()
    elif current is not None:
        stale = stale_reasons(current, settings, photos)
        if stale:
            with st.container(key="stale-marker", border=True):
                st.markdown(
                    "**Out of date:** the results below were made with "
                    + " and ".join(stale)
                    + ". Press **Explain** to bring them up to date."
                )
        t = time.perf_counter()
        _results(current)
        _mark("results_drawn", time.perf_counter() - t)
        _chat()
    _mark("whole_run", time.perf_counter() - st.session_state["_run_started"])
    _archive()
    _restore_panel()


def settings_key(settings: dict) -> str:
    return json.dumps(settings, sort_keys=True)


def stale_reasons(current: ExplainedPair, settings: dict, photos: tuple[Photo, Photo] | None) -> list[str]:
    """Why the shown results no longer match the page: other settings, other photos (empty = up to date)."""
    reasons = []
    if current.settings_key and current.settings_key != settings_key(settings):
        reasons.append("other settings than those now chosen in the sidebar")
    if photos is not None and (photos[0].digest, photos[1].digest) != current.digests:
        reasons.append("the previous pair of photos")
    return reasons


def _sidebar() -> tuple[dict, str]:
    from models.config import ModelConfig
    from models.registry import BACKENDS

    defaults = ModelConfig.from_env()
    with st.sidebar:
        st.header("Photos")
        source = st.radio(
            "Which photos?",
            ["upload", "sample"],
            key="source",
            format_func=lambda s: "Upload two photos" if s == "upload" else "Sample pair (a photo and an edited copy)",
        )
        st.caption(
            f"JPEG, PNG or WEBP, up to {MAX_UPLOAD_MB} MB each. Photos stay in this browser session's "
            "memory and are never saved."
        )
        st.header("Settings")
        embedders = list(BACKENDS["embedder"])
        embedder = st.selectbox(
            "Face model",
            embedders,
            key="embedder",
            index=embedders.index(defaults.embedder) if defaults.embedder in embedders else 0,
            help="The face-recognition model whose decision is explained. dlib-torch runs offline; the others "
            "need model files (see `python -m models`).",
        )
        default_fill = f"inpaint:{defaults.inpainter}"
        fills = list(FILL_CHOICES)
        fill = st.selectbox(
            "How a hidden region is filled",
            fills,
            key="fill",
            index=fills.index(default_fill) if default_fill in fills else 0,
            format_func=lambda f: f.replace("inpaint:", "inpainting: "),
            help="Each region is hidden by painting over it, and the change in similarity is measured. "
            "telea/ns are fast smooth fills; patchmatch copies real skin texture (slower); lama, migan, repaint "
            "and sd-inpaint need model files; blur, mean and black are simple baselines.",
        )
        chosen = st.multiselect(
            "Methods",
            list(METHOD_CHOICES),
            default=DEFAULT_METHOD_CHOICES,
            key="methods",
            help="S0 hides one region at a time; S1 hides regions one after another, greedily (with S0 it also "
            "gives their average); the black-mask contrast repeats S0 with black patches to show how much the "
            "fill itself matters. FGGB (needs a face model with gradients, e.g. dlib-torch) and CorrRISE (slower) add "
            "pixel-level similarity and dissimilarity maps.",
        )
        region_set = st.radio(
            "Face regions",
            ["coarse", "fine"],
            key="region_set",
            horizontal=True,
            format_func=lambda r: "9 regions" if r == "coarse" else "12 (person's left/right split)",
        )
        st.toggle(
            "Show how each answer was found",
            key="debug",
            help="For developers: the chatbot's route (intent, score, follow-up) under each answer.",
        )
    methods = [METHOD_CHOICES[c] for c in chosen if c in METHOD_CHOICES] or ["s0"]
    if "s1" in methods and "s0" not in methods:
        methods.insert(0, "s0")  # the engine needs S0 for S1's ranking and the average
    settings = {"embedder": embedder, "fill": fill, "methods": methods, "region_set": region_set}
    return settings, source


def restore_session(zip_bytes: bytes, conversation_bytes: bytes | None = None):
    """(ExplainedPair, Conversation | None) from an exported explanation zip and, optionally, the conversation JSON
    exported with it; both are read in memory only. Raises RestoreError (a FaceXError) with a plain message."""
    from explain_engine.restore import RestoreError, check_conversation_matches, load_explanation_zip

    restored = load_explanation_zip(zip_bytes)
    record = restored.record
    images = record.get("images") or {}
    names = tuple(str((images.get(side) or {}).get("name") or f"photo {side.upper()}") for side in ("a", "b"))
    current = ExplainedPair(restored, record, names, ("restored", "restored"), 0.0)
    conversation = None
    if conversation_bytes:
        from chatbot import Chatbot, Conversation

        try:
            data = json.loads(conversation_bytes.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise RestoreError(f"the conversation file is not JSON ({exc})") from None
        check_conversation_matches(data, record)
        models = shared_sentence_models()
        with models.lock:
            bot = Chatbot(record, embedder=models.value["embedder"], qa=models.value["qa"])
        try:
            conversation = Conversation.from_dict(data, bot)
        except Exception as exc:  # noqa: BLE001 (a chatbot error: its message)
            raise RestoreError(f"the conversation cannot be restored: {user_message(exc)}") from None
    return current, conversation


def _restore_panel() -> None:
    with st.expander("Restore an earlier session"):
        st.caption(
            "Streamlit forgets a session when the page reloads, and nothing is stored on the server. Upload the "
            "explanation zip (and the conversation JSON) you downloaded to continue."
        )
        zipped = st.file_uploader("Explanation (zip)", type=["zip"], key="restore_zip")
        st.file_uploader("Conversation (JSON, optional)", type=["json"], key="restore_chat")
        st.button("Restore", key="restore", disabled=zipped is None, on_click=_restore)


def _restore() -> None:
    """Button callback (runs before the page is drawn again): the uploaded zip and conversation become the session."""
    zipped, chat = st.session_state.get("restore_zip"), st.session_state.get("restore_chat")
    if zipped is None:
        return
    try:
        current, conversation = restore_session(zipped.getvalue(), chat.getvalue() if chat else None)
    except Exception as exc:  # noqa: BLE001 (a plain message; the page stays as it was)
        st.session_state.error = user_message(exc)
        return
    _archive_current()
    st.session_state.result = current
    st.session_state.conversation = conversation or _new_conversation_or_none(current.record)
    turns = conversation.turns if conversation else []
    st.session_state.chat = [{"question": t.question, "answer": t.answer, "error": None} for t in turns]
    st.session_state.error = None


def _new_conversation_or_none(record: dict):
    try:
        return new_conversation(record)
    except Exception:  # noqa: BLE001 (the restored results stay usable without the chat)
        return None


def _inputs(source: str) -> tuple[Photo, Photo] | None:
    """The two photos to explain, decoded in memory, or None until both are ready. Shows previews."""
    left, right = st.columns(2)
    if source == "sample":
        photo_a, photo_b = sample_pair()
        st.info(SAMPLE_LABEL, icon=":material/info:")
        left.image(photo_a.preview, caption="A: the original photo", width=240)
        right.image(photo_b.preview, caption="B: an edited copy of the same photo", width=240)
        return photo_a, photo_b

    photos: list[Photo | None] = []
    for column, key, label in ((left, "upload_a", "Photo A"), (right, "upload_b", "Photo B")):
        with column:
            uploaded = st.file_uploader(
                f"{label}: JPEG, PNG or WEBP, up to {MAX_UPLOAD_MB} MB",
                type=list(UPLOAD_TYPES),
                key=key,
                max_upload_size=MAX_UPLOAD_MB,
            )
            photo = None
            if uploaded is not None:
                try:
                    photo = _decoded(key, uploaded)
                except Exception as exc:  # noqa: BLE001 (a bad file is a message, and keeps everything else)
                    st.error(escape_markdown(user_message(exc)), icon=":material/error:")
                else:
                    st.image(photo.preview, caption=escape_markdown(photo.name), width=240)
            photos.append(photo)
    if photos[0] is None or photos[1] is None:
        return None
    return photos[0], photos[1]


def _decoded(slot: str, uploaded) -> Photo:
    """Decode an upload once per session (reruns reuse it); only the latest file per slot is kept in memory."""
    cache = st.session_state.setdefault("decoded", {})
    ident = (uploaded.file_id, uploaded.name, uploaded.size)
    if slot not in cache or cache[slot][0] != ident:
        cache.pop(slot, None)
        cache[slot] = (ident, read_upload(uploaded.name, uploaded.getvalue()))
    return cache[slot][1]


def _explain(settings: dict, photos: tuple[Photo, Photo]) -> None:
    """Run the engine with live progress; on success start a new conversation (archiving the old one).

    The engine runs in a worker thread (:func:`start_explanation`) and reports its progress through a queue; this
    script thread draws it. With the models already loaded the worker starts before the status box is drawn, since
    Streamlit pauses 50 ms to open one.
    """
    photo_a, photo_b = photos
    started = time.perf_counter()  # the click: this run starts when the button is pressed
    key = settings_key(settings)
    first_time = key not in loaded_settings()
    tracker = StageTracker(["preparing faces", *settings["methods"]])
    events: queue.Queue = queue.Queue()
    stop = threading.Event()
    job = None
    if not first_time:
        try:
            job = start_explanation(shared_engine(key, settings), photos, events, stop)
        except Exception:  # noqa: BLE001 (tried again in the status box below, which reports the error)
            job = None
    status = st.status("Explaining the pair…", expanded=True)
    with status:
        bar = st.progress(0.0, text=STAGE_LABELS["loading models"] if first_time else "Starting")
        last_bar = [0.0]

        def progress(stage: str, fraction: float) -> None:
            finished = tracker.update(stage, fraction)
            for label, seconds in finished:
                st.write(f"✓ {label} ({seconds:.1f} s)")
            now = time.perf_counter()
            if finished or now - last_bar[0] >= 0.2:  # at most 5 bar updates a second: each is a message to draw
                last_bar[0] = now
                bar.progress(tracker.overall, text=f"{tracker.current_label} · {now - started:.0f} s")

        def waiting() -> None:
            status.update(label="Waiting for another person's explanation to finish…")

        try:
            if job is None:
                shared = shared_engine(key, settings)
                if first_time:
                    st.write(f"✓ {STAGE_LABELS['loading models']} ({time.perf_counter() - started:.1f} s)")
                    loaded_settings().add(key)
                tracker.restart_clock()
                job = start_explanation(shared, photos, events, stop)
            follow_explanation(job, events, progress, waiting)
            explanation, engine_seconds = job.result()
            # the panel's images are drawn in a worker while the record and the chat are built here
            drawing = start_drawing(explanation, st.session_state.get("heatmap_scale") or "absolute")
            record_started = time.perf_counter()
            record = explanation.to_dict()
            _mark("engine", engine_seconds, "record", time.perf_counter() - record_started)
        except Exception as exc:  # noqa: BLE001 (FaceXError: its message; anything else: logged, summarised)
            status.update(label="Could not explain this pair", state="error", expanded=False)
            st.session_state.error = user_message(exc)
            if (refusal := refusal_record(exc)) is not None:  # no decision: the chat answers why, from the facts
                status.update(label="A photo was refused by the quality check: no decision")
                _archive_current()
                st.session_state.result = None
                st.session_state.refusal = RefusedPair(refusal, (photo_a.name, photo_b.name),
                                                       (photo_a.digest, photo_b.digest), key)
                st.session_state.conversation = refusal_conversation(refusal)
                st.session_state.chat_error = None
            return
        finally:
            stop_explanation(job, stop)  # when the page stopped this run: the engine stops at its next step
        bar.progress(1.0, text="Preparing the chat")
        chat_started = time.perf_counter()
        try:
            conversation, chat_error = new_conversation(record), None
            st.write(f"✓ Preparing the chat ({time.perf_counter() - chat_started:.1f} s)")
        except Exception as exc:  # noqa: BLE001 (the results stay usable without the chat)
            conversation, chat_error = None, f"The chat could not start: {user_message(exc)}"
        encoded = finished_images(drawing)
        seconds = time.perf_counter() - started
        _mark("explain_run", seconds)
        status.update(label=f"Explained in {seconds:.1f} s", state="complete", expanded=False)

    _archive_current()
    st.session_state.refusal = None
    st.session_state.result = ExplainedPair(
        explanation, record, (photo_a.name, photo_b.name), (photo_a.digest, photo_b.digest), seconds,
        sha256=(photo_a.sha256, photo_b.sha256), engine_seconds=engine_seconds, settings_key=key, encoded=encoded,
    )
    st.session_state.chat_error = None
    st.session_state.conversation = conversation
    st.session_state.error = chat_error


def _archive_current() -> None:
    """Keep the finished conversation exportable after a new pair replaces it."""
    current: ExplainedPair | RefusedPair | None = st.session_state.result or st.session_state.refusal
    conversation = st.session_state.conversation
    if current is None or conversation is None or not conversation.turns:
        return
    as_json, as_markdown = conversation_exports(conversation)
    st.session_state.archive.append(
        {"title": current.title, "json": as_json, "markdown": as_markdown, "turns": len(conversation.turns)}
    )


def _results(current: ExplainedPair) -> None:
    record, explanation = current.record, current.explanation
    card = decision_summary(record)
    st.divider()
    with st.container(border=True, key="decision-card"):
        st.markdown(f"#### {escape_markdown(card['lr_statement'])}")  # the strength of evidence leads
        for line in card["evidence_lines"]:
            st.markdown(escape_markdown(line))
        # the same neutral style for both decisions: a non-match is a finding, not a warning
        st.markdown(f"### {escape_markdown(card['headline'])}")
        c1, c2, c3, c4 = st.columns(4)
        c1.metric(
            "Similarity",
            f"{card['similarity']:.3f}",
            f"{card['margin']:+.3f} vs threshold",
            delta_color="off",
            help="Cosine similarity of the two faces' embeddings (1 = identical).",
        )
        c2.metric("Threshold", f"{card['threshold']:.3f}", help="Pairs at or above this similarity are a match.")
        c3.metric("Confidence (C-score)", card["confidence"], help=card["confidence_meaning"])
        c4.metric("Chance the decision is right (PIC)", card["pic"], help=card["pic_meaning"])
        st.markdown(escape_markdown(card["plain"]))
        for statement in card["statements"]:
            st.markdown(escape_markdown(statement))
        robust = robustness_words(record)
        if robust:
            with st.container(key="robustness"):
                st.markdown("**Robustness:** " + escape_markdown(robust))
        for warning in card["warnings"]:
            st.warning(escape_markdown(warning), icon=":material/warning:")
        timing = f"results in {current.seconds:.2f} s from the click"
        if current.engine_seconds:
            timing += f" (explanation {current.engine_seconds:.2f} s)"
        st.caption(
            escape_markdown(
                f"Face model: {card['model']} · hidden regions filled by "
                f"{card['perturbation']} · {card['region_set']} regions · {timing}"
            )
        )

    left, right = st.columns([1, 1], gap="large")
    with left:
        st.subheader("Aligned faces and regions")
        a, b = st.columns(2)
        for column, side, name in ((a, "a", current.names[0]), (b, "b", current.names[1])):
            column.image(
                current.image(("faces", side), lambda side=side: explanation.aligned_faces[side]),
                caption=escape_markdown(f"{side.upper()}: {name}"),
                width="stretch",
                output_format="JPEG",  # as encoded: Streamlit need not open the bytes to find out
            )
        st.caption(
            "The model sees these aligned crops; the outlines are the regions that were hidden one by one. "
            "L and R mark the person's own left and right (on the viewer's right and left)."
        )
    with right:
        st.subheader("Region contributions")
        frame = contributions_frame(record)
        if not frame.empty:
            _contribution_chart(frame, heatmap_range(record))

    _heatmap_panel(current)

    st.subheader("Explainability table")
    table = explanation.table
    view, config = table_view(table)
    rule = str(table["Level rule"].iloc[0]) if "Level rule" in table.columns and len(table) else None
    st.caption(
        escape_markdown(
            "Per method: importance 1 (most) to 5 (least), then " + ROLE_HELP + ", then the change of similarity "
            "when the region is hidden. Mean: mean importance over the methods; Ratio of 1s: share of methods "
            "giving level 1." + (f" {rule_words(rule, record)}" if rule else "")
        )
    )
    with st.container(key="importance-table"):
        st.dataframe(view, hide_index=True, width="stretch", column_config=config)

    downloads = st.container(horizontal=True)
    _download(
        downloads,
        "Explanation (JSON)",
        json.dumps(record, indent=2),
        "explanation.json",
        "application/json",
        key="dl_explanation_json",
    )
    _download(
        downloads,
        "Heatmap PNGs + JSON (zip)",
        lambda: explanation_zip(explanation),
        "explanation.zip",
        "application/zip",
        key="dl_explanation_zip",
    )
    _download(
        downloads,
        "Case report (HTML)",
        lambda: report_html(
            record, explanation.files(), current.names, current.sha256, st.session_state.get("conversation")
        ),
        "report.html",
        "text/html",
        key="dl_report_html",
    )
    st.caption(
        "The case report is one self-contained HTML file (print it to PDF from the browser; "
        "`python -m explain_engine explain --report` writes the PDF too). To continue after a reload, keep the zip "
        "and the conversation (JSON) and restore them at the bottom of the page."
    )


def _refusal_panel(refused: RefusedPair) -> None:
    """Why no decision was made: each checked photo's quality components, the refused photo first."""
    record = refused.record
    side = record["side"]
    st.divider()
    with st.container(border=True, key="refusal-card"):
        st.markdown(f"#### No decision: photo {side.upper()} ({escape_markdown(record['photo'])}) was refused by "
                    "the image-quality check")  # the one-line message is the error just above
        for s in sorted(record["quality"], key=lambda k: k != side):
            name = (record["images"].get(s) or {}).get("name", s.upper())
            outcome = "refused" if s == side else record["quality"][s].get("outcome", "")
            st.markdown(f"**Photo {s.upper()}: {escape_markdown(name)}** ({escape_markdown(outcome)})")
            st.dataframe(quality_table(record["quality"][s]), hide_index=True, width="stretch", key=f"quality-{s}")
        for s in ("a", "b"):
            if s not in record["quality"]:
                st.caption(f"Photo {s.upper()} was not checked: the comparison stopped at the refused photo.")
    st.download_button("Refusal record (JSON)", data=json.dumps(record, indent=2, ensure_ascii=False),
                       file_name="refusal.json", mime="application/json", on_click="ignore",
                       icon=":material/download:", key="dl_refusal")


def _heatmap_panel(current: ExplainedPair) -> None:
    """Every drawn method side by side, photo A above photo B, all on one colour scale with its legend."""
    explanation, record = current.explanation, current.record
    st.subheader("Heatmaps")
    scale = st.radio(
        "Colour scale",
        list(SCALE_LABELS),
        key="heatmap_scale",
        horizontal=True,
        format_func=SCALE_LABELS.get,
        help="Absolute: colour = change of similarity, on a range fixed for the face model, so a weak map looks "
        "weak. Normalised: each map divided by its own largest change (the thesis' maps), so every map reaches "
        "full colour.",
    )
    heatmaps, legend = heatmaps_for(explanation, scale)
    methods = [m for m in record.get("methods", []) + record.get("one_sided_methods", []) if m in heatmaps]
    methods += [m for m in heatmaps if m not in methods]
    # the legend and how to read it come first: on the fixed scale most maps are pale, and that is the finding
    # output_format: Streamlit would otherwise re-encode a PNG without alpha as JPEG on every run (and blur the text)
    st.image(current.image((scale, "legend"), lambda: legend, png=True), width=640, output_format="PNG")
    with st.container(key="scale-reading"):
        st.markdown(escape_markdown(scale_reading_words(record, scale, methods)))
    words = scale_words(record, scale)
    if words:
        st.caption(escape_markdown(words))
    with st.container(key="heatmaps"):
        for side, name in (("a", current.names[0]), ("b", current.names[1])):
            columns = st.columns(max(1, len(methods)))
            for column, method in zip(columns, methods):
                if heatmaps[method].get(f"overlay_{side}") is None:
                    continue
                column.image(
                    current.image((scale, method, side), lambda m=method, s=side: heatmaps[m][f"overlay_{s}"]),
                    caption=escape_markdown(f"{method_short(method)} · {side.upper()}: {name}"),
                    width="stretch",
                    output_format="JPEG",
                )
    names = record.get("heatmaps") or {}
    pixel_level = [m for m in methods if "photo-similarity_a" in (names.get(m) or {})]
    if pixel_level:
        heatmaps = explanation.heatmaps_on(scale)[0]  # these maps are drawn with the saved files
    for method in pixel_level:  # pixel-level maps: similarity and dissimilarity apart
        with st.expander(f"{method_short(method)}: similarity and dissimilarity maps"):
            st.caption("Similarity map (red: pixels that make the faces alike) and dissimilarity map "
                       "(blue: pixels that set them apart), for each photo; each map on its own [-1, 1] scale.")
            keys = ("photo-similarity_a", "photo-dissimilarity_a", "photo-similarity_b", "photo-dissimilarity_b")
            captions = ("A: similarity", "A: dissimilarity", "B: similarity", "B: dissimilarity")
            for col, key, caption in zip(st.columns(4), keys, captions):
                col.image(current.image((scale, method, key), lambda m=method, k=key: heatmaps[m][k]),
                          caption=caption, width="stretch")


def contribution_chart_spec(frame, vmax: float) -> dict:
    """The Vega-Lite spec of the contributions chart (bars per region, one per method, on the maps' ±``vmax`` range).

    Written as a plain spec for ``st.vega_lite_chart``: building the same chart with Altair validated it against
    the Vega-Lite schema on every run, about as long as drawing the rest of the results.
    """
    order = frame.groupby("region")["contribution"].mean().sort_values(ascending=False).index.tolist()
    colours = {m.short: m.colour for m in METHODS if m.drawn}
    shown = [m for m in colours if m in set(frame["method"])]
    return {
        "mark": {"type": "bar"},
        "encoding": {
            "x": {
                "field": "contribution",
                "type": "quantitative",
                "title": "change of similarity: ← makes the faces less alike · more alike →",
                "scale": {"domain": [-vmax, vmax], "clamp": True},
            },
            "y": {"field": "region", "type": "nominal", "sort": order, "title": None},
            "yOffset": {"field": "method", "type": "nominal"},
            # method colours stay clear of the red/blue that means support/against in the heatmaps
            "color": {
                "field": "method",
                "type": "nominal",
                "title": None,
                "scale": {"domain": shown, "range": [colours[m] for m in shown]},
                "legend": {"orient": "bottom", "columns": 4},
            },
            "tooltip": [
                {"field": "region", "type": "nominal"},
                {"field": "method", "type": "nominal"},
                {"field": "contribution", "type": "quantitative", "format": "+.3f"},
            ],
        },
        "height": max(240, 14 * len(frame)),
    }


def _contribution_chart(frame, vmax: float) -> None:
    st.vega_lite_chart(frame, contribution_chart_spec(frame, vmax), width="stretch")


def _ask(question: str) -> None:
    """Answer one question. A widget callback: it runs before the page is drawn, so the turn shows at once."""
    question = (question or "").strip()
    conversation = st.session_state.conversation
    started = time.perf_counter()
    if not question:
        return
    if conversation is None:
        st.session_state.error = "Explain a pair first; then ask about it."
        return
    try:
        ask_conversation(conversation, question[:MAX_QUESTION_CHARS])  # the answer joins conversation.turns
        st.session_state.chat_error = None
    except Exception as exc:  # noqa: BLE001 (the conversation so far is kept)
        st.session_state.chat_error = {"question": question, "error": user_message(exc)}
    else:
        _answer_images(len(conversation.turns) - 1)  # drawn and encoded once per answer, not on every rerun
    st.session_state.last_ask = {"started": started, "answer_s": time.perf_counter() - started, "reported": False}


def _on_chat_input() -> None:
    _ask(st.session_state.get("chat_question") or "")


@st.fragment
def _chat() -> None:
    """The chat. A fragment: asking a question reruns only this part, not the results above it."""
    try:
        _chat_body()
    except Exception as exc:  # noqa: BLE001 (a fragment rerun bypasses main()'s guard: never a traceback)
        st.error(escape_markdown(user_message(exc)), icon=":material/error:")


def _chat_body() -> None:  # noqa: C901 -- the chat panel top to bottom (history, pending question, suggestions, export); Streamlit layout reads in page order
    current: ExplainedPair | None = st.session_state.result
    refused = st.session_state.refusal is not None
    if current is None and not refused:
        return
    st.divider()
    st.subheader("Ask why the photo was refused" if refused else "Ask about this decision")
    conversation = st.session_state.conversation
    for index, turn in enumerate(conversation.turns if conversation is not None else []):
        with st.chat_message("user"):
            st.markdown(escape_markdown(turn.question))
        with st.chat_message("assistant"):
            answer = turn.answer
            st.markdown(escape_markdown(answer.text))
            images = _answer_images(index)
            if images:
                columns = st.columns(4)
                for k, (image, caption) in enumerate(images):
                    columns[k % 4].image(image, caption=escape_markdown(caption), width="stretch",
                                         output_format="PNG" if image.startswith(b"\x89PNG") else "JPEG")
            if st.session_state.get("debug"):  # the router's internals only on request
                details = [f"answered by {answer.method}", f"score {answer.score:.2f}"]
                if answer.followup:
                    details.append(f"follow-up ({answer.followup})")
                st.caption(escape_markdown(" · ".join(details)))
            if answer.evidence:
                with st.expander("Facts from the quality check" if refused else "Evidence from the explanation"):
                    for sentence in answer.evidence:
                        st.markdown("- " + escape_markdown(sentence))
    if failed := st.session_state.chat_error:
        with st.chat_message("user"):
            st.markdown(escape_markdown(failed["question"]))
        with st.chat_message("assistant"):
            st.error(escape_markdown(failed["error"]))

    _report_timing()
    if st.session_state.conversation is not None:
        st.caption("Try one of these:")
        with st.container(horizontal=True):
            for question in REFUSAL_QUESTIONS if refused else SUGGESTED_QUESTIONS:
                st.button(question, key=f"suggest {question}", on_click=_ask, args=(question,))

    conversation = st.session_state.conversation
    if conversation is not None and conversation.turns:
        # built when the button is pressed, not on every rerun of the chat (keeps answers quick)
        downloads = st.container(horizontal=True)
        _download(
            downloads, "Conversation (JSON)", lambda: conversation_exports(conversation)[0], "conversation.json",
            "application/json", key="dl_chat_json",
        )
        _download(
            downloads, "Conversation (Markdown)", lambda: conversation_exports(conversation)[1], "conversation.md",
            "text/markdown", key="dl_chat_md",
        )
    st.chat_input(
        "Ask why the photo was refused, e.g. “Are the eyes visible?”" if refused
        else "Ask about the decision, e.g. “Which region drove the match?”",
        key="chat_question",
        on_submit=_on_chat_input,
        max_chars=MAX_QUESTION_CHARS,
        disabled=conversation is None,
    )


def _answer_images(index: int) -> list[tuple[bytes, str]]:
    """(encoded image, caption) for the answer of turn ``index``: the heatmaps it links to as the panel draws them,
    with the regions it names outlined; drawn once per answer and kept in this session's state."""
    cache = st.session_state.setdefault("chat_images", {})
    current: ExplainedPair | None = st.session_state.result
    if current is None:  # a refused pair: no heatmaps exist
        return []
    conversation = st.session_state.conversation
    key = (id(conversation), index)
    if key not in cache:
        images: list[tuple[bytes, str]] = []
        try:
            answer = conversation.turns[index].answer
            heatmaps, legend = heatmaps_for(current.explanation, st.session_state.get("heatmap_scale") or "absolute")
            for image, caption in linked_images(answer, heatmaps, legend, photo_masks(current.explanation)):
                images.append((png_bytes(image) if caption == "colour legend" else jpeg_bytes(image), caption))
        except Exception as exc:  # noqa: BLE001 (the answer's text still shows)
            log.warning("could not draw the answer's images: %s", exc)
        cache[key] = images
    return cache[key]


def _mark(*pairs) -> None:
    """With FACEX_APP_TIMING=1 (benchmarks/bench_app.py): print named durations (seconds) to the server log."""
    if os.environ.get("FACEX_APP_TIMING"):
        print("facex-timing " + " ".join(f"{pairs[i]}={pairs[i + 1]:.3f}" for i in range(0, len(pairs), 2)),
              flush=True)


def _report_timing() -> None:
    """With FACEX_APP_TIMING=1 (benchmarks/bench_app.py), print once per answer the server's share of the wait:
    the chatbot's answer and its images, and the whole chat drawn (seconds since the question arrived)."""
    last = st.session_state.get("last_ask")
    if not last or not os.environ.get("FACEX_APP_TIMING") or last["reported"]:
        return
    last["reported"] = True
    print(f"facex-timing answer_s={last['answer_s']:.3f} drawn_s={time.perf_counter() - last['started']:.3f}",
          flush=True)


def _download(container, label: str, data, file_name: str, mime: str, *, key: str) -> None:
    """A download button that does not rerun the script, so the page and the chat stay as they are."""
    container.download_button(
        label, data=data, file_name=file_name, mime=mime, on_click="ignore", icon=":material/download:", key=key
    )


def _archive() -> None:
    archive = st.session_state.archive
    if not archive:
        return
    with st.expander(f"Earlier conversations in this session ({len(archive)})"):
        for index, item in enumerate(archive, start=1):
            st.markdown(escape_markdown(f"{index}. {item['title']}: {item['turns']} question(s)"))
            downloads = st.container(horizontal=True)
            _download(
                downloads,
                "JSON",
                item["json"],
                f"conversation-{index}.json",
                "application/json",
                key=f"dl_archive_json_{index}",
            )
            _download(
                downloads,
                "Markdown",
                item["markdown"],
                f"conversation-{index}.md",
                "text/markdown",
                key=f"dl_archive_md_{index}",
            )


if __name__ == "__main__":
    main()
