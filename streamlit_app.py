"""facex-chat: upload two face photos, see why the face model calls them a match or not, and question the answer.

Run: ``streamlit run streamlit_app.py --server.address 127.0.0.1`` (or ``bash scripts/run.sh``).

Layout of this file: plain helper functions first (upload checks, the sample pair, wording, exports; no Streamlit
calls, so tests import them directly), then the cached shared resources (engine and chatbot models, loaded once per
process and guarded by locks), then the page itself in ``main()``.

Per-session state (``st.session_state``):
- ``explanation``: the current :class:`ExplainedPair` (engine result + the pair's label), or absent;
- ``conversation`` / ``chat``: the chatbot conversation over that explanation and the rendered turns;
- ``archive``: earlier conversations of this session, kept so they can still be exported after a new pair;
- ``error``: the last error message, shown until the next successful action.
Uploaded photos stay in memory (bytes and arrays in this session's state); nothing is written to disk.
"""

from __future__ import annotations

import io
import json
import logging
import re
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
import streamlit as st

log = logging.getLogger("facex.app")

MAX_UPLOAD_MB = 20
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
UPLOAD_TYPES = ("jpg", "jpeg", "png", "webp")
ENGINE_WAIT_S = 600  # how long a session waits for another session's explanation before giving up

SUGGESTED_QUESTIONS = (
    "Which region drove the match?",
    "How sure are you?",
    "Which region mattered least?",
    "Do the methods agree?",
    "What would change the decision?",
)

METHOD_LABELS = {
    "s0": "S0 · one region hidden at a time",
    "s1": "S1 · regions hidden greedily",
    "avg": "Average of S0 and S1",
    "s0_black": "S0 with black masks (contrast)",
}
METHOD_CHOICES = {  # sidebar label -> engine method names
    "S0 (single region)": "s0",
    "S1 (greedy)": "s1",
    "Black-mask contrast (S0)": "s0_black",
}
STAGE_LABELS = {
    "load": "Reading the photos",
    "detect": "Finding the faces",
    "detection": "Finding the faces",
    "landmarks": "Placing face landmarks",
    "align": "Aligning the faces",
    "regions": "Outlining the face regions",
    "verify": "Comparing the faces",
    "s0": "Hiding one region at a time (S0)",
    "s1": "Hiding regions greedily (S1)",
    "s0_black": "Black-mask contrast (S0)",
    "confidence": "Estimating confidence",
    "render": "Drawing the heatmaps",
    "heatmaps": "Drawing the heatmaps",
}


# ---------------------------------------------------------------------------------------------------------------
# Plain helpers (no Streamlit calls)
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class Photo:
    """One photo held in memory: its display name, its decoded RGB array and a fingerprint of its content."""

    name: str
    image: np.ndarray
    digest: str


def _fingerprint(data: bytes | np.ndarray) -> str:
    import hashlib

    raw = data.tobytes() if isinstance(data, np.ndarray) else data
    return hashlib.sha256(raw).hexdigest()[:16]


def read_upload(name: str, data: bytes) -> Photo:
    """Check and decode one uploaded photo (in memory). Raises ``ImageError`` with a message naming the file."""
    from models.errors import ImageError
    from models.images import load_image

    suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    if suffix not in UPLOAD_TYPES:
        raise ImageError(f"{name}: only JPEG, PNG and WEBP photos are accepted (this file is .{suffix or '?'})")
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(f"{name}: the file is {len(data) / 2**20:.1f} MB; the limit is {MAX_UPLOAD_MB} MB")
    if not data:
        raise ImageError(f"{name}: the file is empty")
    buffer = io.BytesIO(data)
    buffer.name = name  # so load_image's messages name the file
    return Photo(name=name, image=load_image(buffer), digest=_fingerprint(data))


def sample_pair() -> tuple[Photo, Photo]:
    """The built-in pair: skimage's astronaut photo and an edited copy (mirrored, shifted, brighter).

    Both show the same photo of the same person, so this demonstrates the tool, not its ability to match two
    different photos of one person.
    """
    from skimage import data

    original = np.ascontiguousarray(data.astronaut())
    edited = original[:, ::-1]  # mirrored
    edited = np.roll(edited, shift=(12, -10), axis=(0, 1))  # shifted down 12 px and left 10 px
    edited = np.clip(edited.astype(np.int16) + 25, 0, 255).astype(np.uint8)  # brighter
    edited = np.ascontiguousarray(edited)
    return (
        Photo("astronaut.png", original, _fingerprint(original)),
        Photo("astronaut-edited.png", edited, _fingerprint(edited)),
    )


SAMPLE_LABEL = (
    "Sample pair: the public-domain NASA portrait of astronaut Eileen Collins that ships with scikit-image (left), "
    "and an edited copy of the same photo (right: mirrored, shifted by a few pixels and brightened). It is one photo "
    "and a copy of it, not two different photos of the same person, so expect a very clear match."
)

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=])")


def escape_markdown(text: str) -> str:
    """Escape every Markdown/HTML-special character so that text is shown literally by ``st.markdown``."""
    text = _MD_SPECIAL.sub(r"\\\1", str(text))
    return text.replace("\n", "  \n")  # keep the answer's line breaks


def confidence_words(c_score: float | None) -> str:
    """The xFace C-score (0.5 = coin toss, 1 = certain) in everyday words."""
    if c_score is None:
        return "unknown"
    if c_score >= 0.95:
        return "very sure"
    if c_score >= 0.85:
        return "fairly sure"
    if c_score >= 0.7:
        return "somewhat sure"
    if c_score >= 0.6:
        return "unsure"
    return "barely better than a coin toss"


def pic_words(pic: float | None) -> str:
    """The PIC score (probability the decision is right) as a frequency a non-specialist can picture."""
    if pic is None:
        return "unknown"
    per_100 = round(100 * pic)
    return f"about {per_100} in 100 pairs with this similarity get this decision right"


def decision_summary(record: dict) -> dict:
    """The decision card's values, taken straight from the explanation record."""
    similarity, threshold = float(record["similarity"]), float(record["threshold"])
    is_match = record["decision"] == "match"
    return {
        "decision": record["decision"],
        "headline": "Match: the two photos look like the same person"
        if is_match
        else "No match: the two photos look like different people",
        "similarity": similarity,
        "threshold": threshold,
        "margin": float(record.get("margin", similarity - threshold)),
        "confidence": record.get("confidence"),
        "confidence_words": confidence_words(record.get("confidence")),
        "pic": record.get("pic_score"),
        "pic_words": pic_words(record.get("pic_score")),
        "warnings": list(record.get("warnings") or []),
    }


def contributions_frame(record: dict):
    """Long DataFrame (region, method, contribution) of signed contributions of the present regions."""
    import pandas as pd

    rows = []
    for region in record.get("regions", []):
        if not region.get("present"):
            continue
        for method, values in (region.get("methods") or {}).items():
            if values.get("contribution") is None:
                continue
            rows.append(
                {
                    "region": region["name"],
                    "method": METHOD_LABELS.get(method, method),
                    "contribution": float(values["contribution"]),
                }
            )
    return pd.DataFrame(rows, columns=["region", "method", "contribution"])


def png_bytes(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def explanation_zip(record: dict, heatmap_images: dict, legend: np.ndarray | None = None) -> bytes:
    """explanation.json plus every heatmap PNG under the file names the record gives, zipped in memory."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("explanation.json", json.dumps(record, indent=2, default=str))
        names = record.get("heatmaps") or {}
        for method, images in heatmap_images.items():
            if not isinstance(images, dict):
                continue
            files = names.get(method) or {}
            for kind, image in images.items():
                file_name = files.get(kind) or f"heatmap_{method}_{kind}.png"
                archive.writestr(file_name, png_bytes(image))
        if legend is not None:
            archive.writestr(names.get("legend") or "legend.png", png_bytes(legend))
    return buffer.getvalue()


def turns_to_json(turns: list[dict], record: dict | None, title: str) -> str:
    """The conversation as JSON: the pair, the decision and every turn (question, answer, evidence, links)."""
    return json.dumps(
        {
            "title": title,
            "exported": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "decision": None
            if record is None
            else {k: record.get(k) for k in ("decision", "similarity", "threshold", "confidence", "pic_score")},
            "turns": turns,
        },
        indent=2,
        default=str,
    )


def turns_to_markdown(turns: list[dict], record: dict | None, title: str) -> str:
    lines = [f"# {title}", ""]
    if record is not None:
        lines += [
            (
                f"Decision: **{record.get('decision')}** (similarity {record.get('similarity', 0):.3f}, "
                f"threshold {record.get('threshold', 0):.3f})"
            ),
            "",
        ]
    for turn in turns:
        lines += [f"**Q:** {turn['question']}", "", f"**A:** {turn['answer']}", ""]
        if turn.get("evidence"):
            lines += ["Evidence:", *[f"- {e}" for e in turn["evidence"]], ""]
    return "\n".join(lines)


def answer_fields(answer: Any) -> dict:
    """Normalise a chatbot answer into the turn record the page shows and exports."""
    if isinstance(answer, dict):
        get = answer.get
    else:

        def get(key, default=None):
            return getattr(answer, key, default)

    evidence = get("evidence") or []
    if isinstance(evidence, str):
        evidence = [evidence]
    return {
        "answer": str(get("text", "") or ""),
        "score": get("score"),
        "method": get("method"),
        "evidence": [str(e) for e in evidence],
        "links": heatmap_links(answer),
    }


def heatmap_links(answer: Any) -> list[dict]:
    """[{"method": m, "region": r or None}] the answer is about, for showing its heatmaps in the chat."""
    get = answer.get if isinstance(answer, dict) else (lambda k, d=None: getattr(answer, k, d))
    links = []
    raw = get("heatmaps") or get("links") or []
    if isinstance(raw, dict):
        raw = [raw]
    for item in raw:
        if isinstance(item, str):
            links.append({"method": item, "region": get("region")})
        elif isinstance(item, dict) and item.get("method"):
            links.append({"method": item["method"], "region": item.get("region")})
    if not links and (get("heatmap_method") or get("region")):
        links.append({"method": get("heatmap_method"), "region": get("region")})
    return links


# ---------------------------------------------------------------------------------------------------------------
# Shared resources: loaded once per process, used by every session
# ---------------------------------------------------------------------------------------------------------------
@dataclass
class SharedEngine:
    """An engine and the lock every session takes before using it (the models inside are not thread-safe)."""

    engine: Any
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass
class ExplainedPair:
    """One session's result: the engine's explanation, its record, and which pair it explains."""

    explanation: Any
    record: dict
    title: str
    digests: tuple[str, str]
    names: tuple[str, str]
    seconds: float


def engine_settings_key(settings: dict) -> tuple:
    return tuple(sorted((k, tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in settings.items()))


def build_engine(settings: dict):
    """An Engine for the sidebar settings, on the embedded offline defaults for everything not chosen."""
    from explain_engine import Engine, EngineConfig
    from models.config import ModelConfig

    models = ModelConfig.from_env(embedder=settings["embedder"], inpainter=settings["inpainter"])
    config = EngineConfig(
        models=models,
        perturbation=settings["perturbation"],
        methods=tuple(settings["methods"]),
        region_set=settings["region_set"],
    )
    return Engine(config)


def run_explanation(shared: SharedEngine, photo_a: Photo, photo_b: Photo, progress: Callable, waiting: Callable):
    """Explain a pair under the engine's lock; ``waiting()`` is called once if another session holds it."""
    from models.errors import FaceXError

    if not shared.lock.acquire(blocking=False):
        waiting()
        if not shared.lock.acquire(timeout=ENGINE_WAIT_S):
            raise FaceXError("the explainer is busy with other requests; please try again in a minute")
    try:
        return shared.engine.explain(_named(photo_a), _named(photo_b), progress=progress)
    finally:
        shared.lock.release()


def _named(photo: Photo) -> np.ndarray:
    return photo.image


# ---------------------------------------------------------------------------------------------------------------
# The page
# ---------------------------------------------------------------------------------------------------------------
def main() -> None:
    st.set_page_config(page_title="facex-chat: why do these faces match?", page_icon="🙂", layout="wide")
    _init_state()
    settings, source = _sidebar()

    st.title("Why do these two faces match — or not?")
    st.caption(
        "Upload two face photos. A face-recognition model compares them; facex-chat then hides one face region "
        "at a time to see which parts of the face moved the decision, and you can ask questions about it."
    )

    photos = _inputs(source)
    explain_clicked = st.button("Explain", type="primary", disabled=photos is None, key="explain")
    if explain_clicked and photos is not None:
        _explain(settings, photos)
    elif explain_clicked:
        st.session_state.error = "Choose two photos first (or the sample pair)."

    if st.session_state.error:
        st.error(st.session_state.error)

    current: ExplainedPair | None = st.session_state.explanation
    if current is not None:
        if photos is not None and (photos[0].digest, photos[1].digest) != current.digests:
            st.info("The results below are for the previous pair. Press **Explain** to explain the new one.")
        _results(current)
        _chat(current)
    _archive()


def _init_state() -> None:
    defaults = {"explanation": None, "conversation": None, "chat": [], "archive": [], "error": None}
    for key, value in defaults.items():
        if key not in st.session_state:
            st.session_state[key] = value


def _sidebar() -> tuple[dict, str]:
    from models.config import ModelConfig
    from models.registry import BACKENDS

    defaults = ModelConfig.from_env()
    with st.sidebar:
        st.header("Photos")
        source = st.radio(
            "Which photos?",
            ["Upload two photos", "Sample pair (one photo and an edited copy)"],
            key="source",
        )
        st.header("Settings")
        embedders = list(BACKENDS["embedder"])
        embedder = st.selectbox(
            "Face model",
            embedders,
            index=embedders.index(defaults.embedder) if defaults.embedder in embedders else 0,
            help="The face-recognition model whose decision is explained. The default runs offline.",
            key="embedder",
        )
        inpainters = list(BACKENDS["inpainter"])
        inpainter = st.selectbox(
            "How hidden regions are filled",
            inpainters,
            index=inpainters.index(defaults.inpainter) if defaults.inpainter in inpainters else 0,
            help="Each face region is hidden by painting it over with this method (inpainting), and the "
            "change in similarity is measured. telea and ns are fast; patchmatch copies real skin texture.",
            key="inpainter",
        )
        chosen = st.multiselect(
            "Methods",
            list(METHOD_CHOICES),
            default=list(METHOD_CHOICES),
            help="S0 hides one region at a time; S1 hides regions one after another, greedily; the black-mask "
            "contrast repeats S0 with black patches to show how much the fill matters.",
            key="methods",
        )
        region_set = st.radio(
            "Face regions",
            ["coarse", "fine"],
            format_func=lambda r: "9 regions (coarse)" if r == "coarse" else "12 regions (left/right split)",
            key="region_set",
            horizontal=True,
        )
        st.caption(f"Photos: JPEG, PNG or WEBP, up to {MAX_UPLOAD_MB} MB each. They stay in this browser "
                   "session's memory and are never saved.")
    methods = [METHOD_CHOICES[c] for c in chosen] or ["s0"]
    settings = {
        "embedder": embedder,
        "inpainter": inpainter,
        "perturbation": "inpaint",
        "methods": methods,
        "region_set": region_set,
    }
    return settings, ("sample" if source.startswith("Sample") else "upload")


def _inputs(source: str) -> tuple[Photo, Photo] | None:
    """The two photos to explain (decoded in memory), or None when not both are ready; shows previews."""
    from models.errors import FaceXError

    if source == "sample":
        photo_a, photo_b = sample_pair()
        st.info(SAMPLE_LABEL)
        left, right = st.columns(2)
        left.image(photo_a.image, caption="Photo A: original", width=260)
        right.image(photo_b.image, caption="Photo B: edited copy of the same photo", width=260)
        return photo_a, photo_b

    left, right = st.columns(2)
    photos: list[Photo | None] = []
    for column, key, label in ((left, "upload_a", "Photo A"), (right, "upload_b", "Photo B")):
        with column:
            uploaded = st.file_uploader(
                f"{label} (JPEG, PNG or WEBP, up to {MAX_UPLOAD_MB} MB)",
                type=list(UPLOAD_TYPES),
                key=key,
                max_upload_size=MAX_UPLOAD_MB,
            )
            photo = None
            if uploaded is not None:
                try:
                    photo = read_upload(uploaded.name, uploaded.getvalue())
                except FaceXError as exc:
                    st.error(str(exc))
                else:
                    st.image(photo.image, caption=photo.name, width=260)
            photos.append(photo)
    if photos[0] is None or photos[1] is None:
        return None
    return photos[0], photos[1]


def _explain(settings: dict, photos: tuple[Photo, Photo]) -> None:
    """Run the engine with live progress; on success start a new conversation, archiving the old one."""
    from models.errors import FaceXError

    photo_a, photo_b = photos
    started = time.perf_counter()
    status = st.status("Explaining the pair…", expanded=True)
    with status:
        bar = st.progress(0.0, text="Loading the models (only the first time)…")
        seen: list[str] = []

        def progress(stage: str, fraction: float) -> None:
            label = STAGE_LABELS.get(stage, stage.replace("_", " ").capitalize())
            if stage not in seen:
                seen.append(stage)
                st.write(f"⏳ {label}")
            fraction = min(max(float(fraction), 0.0), 1.0)
            bar.progress(fraction, text=f"Step {len(seen)}: {label} ({fraction:.0%})")

        try:
            shared = _shared_engine(settings)
            bar.progress(0.0, text="Models ready; starting…")
            explanation = run_explanation(
                shared,
                photo_a,
                photo_b,
                progress=progress,
                waiting=lambda: status.update(label="Waiting for another explanation to finish…"),
            )
            record = explanation.to_dict()
        except FaceXError as exc:
            status.update(label="Could not explain this pair", state="error", expanded=False)
            st.session_state.error = str(exc)
            return
        except Exception as exc:  # never a traceback in the page; the details go to the server log
            log.exception("explanation failed")
            status.update(label="Could not explain this pair", state="error", expanded=False)
            st.session_state.error = f"Something went wrong while explaining the pair ({type(exc).__name__}: {exc})."
            return
        seconds = time.perf_counter() - started
        status.update(label=f"Explained in {seconds:.1f} s", state="complete", expanded=False)

    _archive_current()
    st.session_state.explanation = ExplainedPair(
        explanation=explanation,
        record=record,
        title=f"{photo_a.name} vs {photo_b.name}",
        digests=(photo_a.digest, photo_b.digest),
        names=(photo_a.name, photo_b.name),
        seconds=seconds,
    )
    st.session_state.chat = []
    st.session_state.conversation = None
    st.session_state.error = None
    try:
        st.session_state.conversation = _new_conversation(record)
    except Exception as exc:  # the results stay usable without the chat
        log.exception("chatbot failed to start")
        st.session_state.error = f"The chat could not start ({type(exc).__name__}: {exc}); the results are below."


def _archive_current() -> None:
    """Keep the finished conversation exportable after a new pair replaces it."""
    current: ExplainedPair | None = st.session_state.explanation
    if current is None or not st.session_state.chat:
        return
    turns = list(st.session_state.chat)
    st.session_state.archive.append(
        {
            "title": current.title,
            "json": turns_to_json(turns, current.record, current.title),
            "markdown": turns_to_markdown(turns, current.record, current.title),
            "turns": len(turns),
        }
    )


def _shared_engine(settings: dict) -> SharedEngine:
    return _cached_engine(engine_settings_key(settings), settings)


def _new_conversation(record: dict):
    from chatbot import Conversation

    return Conversation(record)


@st.cache_resource(max_entries=2, show_spinner=False)
def _cached_engine(key: tuple, _settings: dict) -> SharedEngine:
    """One engine per distinct settings, shared by every session of this process (``key`` is what is hashed)."""
    return SharedEngine(build_engine(_settings))


def _results(current: ExplainedPair) -> None:
    record = current.record
    explanation = current.explanation
    card = decision_summary(record)
    st.divider()
    st.subheader("Decision")
    with st.container(border=True, key="decision-card"):
        if card["decision"] == "match":
            st.success(f"**{card['headline']}**", icon="✅")
        else:
            st.warning(f"**{card['headline']}**", icon="❌")
        c1, c2, c3, c4 = st.columns(4)
        c1.metric("Similarity", f"{card['similarity']:.3f}", f"{card['margin']:+.3f} vs threshold",
                  delta_color="normal" if card["decision"] == "match" else "inverse")
        c2.metric("Threshold", f"{card['threshold']:.3f}", help="Pairs at or above this similarity are a match.")
        if card["confidence"] is not None:
            c3.metric("Confidence (C-score)", f"{card['confidence']:.2f}", help=record.get("confidence_meaning"))
        if card["pic"] is not None:
            c4.metric("Chance the decision is right (PIC)", f"{card['pic']:.0%}", help=record.get("pic_meaning"))
        st.markdown(
            escape_markdown(
                f"In plain words: the model is {card['confidence_words']} of this decision; {card['pic_words']}."
            )
        )
        if record.get("strength", {}).get("statement"):
            st.caption(escape_markdown(record["strength"]["statement"]))
        for warning in card["warnings"]:
            st.warning(escape_markdown(warning), icon="⚠️")
        st.caption(
            escape_markdown(
                f"Face model: {record.get('model_description') or record.get('model')}; hidden regions filled by "
                f"{record.get('perturbation')}; explained in {current.seconds:.1f} s."
            )
        )

    st.subheader("Aligned faces and regions")
    faces = getattr(explanation, "aligned_faces", {}) or {}
    cols = st.columns(2)
    for column, side, name in zip(cols, ("a", "b"), current.names):
        if side in faces:
            column.image(faces[side], caption=f"{name}: aligned, with the face regions outlined", width=300)

    st.subheader("Heatmaps")
    st.caption(
        "Warm colours: regions whose hiding lowers the similarity (they support the match). "
        "Cool colours: regions whose hiding raises it (they count against the match)."
    )
    heatmaps = getattr(explanation, "heatmap_images", {}) or {}
    methods = [m for m in record.get("methods", []) if m in heatmaps] or list(heatmaps)
    if methods:
        tabs = st.tabs([METHOD_LABELS.get(m, m) for m in methods])
        for tab, method in zip(tabs, methods):
            with tab:
                a, b = st.columns(2)
                images = heatmaps[method]
                a.image(images.get("overlay_a", images.get("a")), caption=f"{current.names[0]} · {method}", width=300)
                b.image(images.get("overlay_b", images.get("b")), caption=f"{current.names[1]} · {method}", width=300)
    legend = _legend_image(explanation)
    if legend is not None:
        st.image(legend, caption="Colour legend: contribution of a region to the similarity", width=420)

    st.subheader("Region contributions")
    frame = contributions_frame(record)
    if not frame.empty:
        _contribution_chart(frame)
    table = getattr(explanation, "table", None)
    st.markdown("**Explainability table** (importance per method: 1 = most important, 5 = least)")
    if table is not None:
        st.dataframe(table, hide_index=True)
    else:
        st.dataframe(record.get("table", []), hide_index=True)

    st.subheader("Download")
    d1, d2 = st.columns(2)
    d1.download_button(
        "Explanation (JSON)",
        data=json.dumps(record, indent=2, default=str),
        file_name="explanation.json",
        mime="application/json",
        on_click="ignore",
        key="dl_explanation_json",
    )
    d2.download_button(
        "Explanation with heatmap PNGs (zip)",
        data=lambda: explanation_zip(record, heatmaps, legend),
        file_name="explanation.zip",
        mime="application/zip",
        on_click="ignore",
        key="dl_explanation_zip",
    )


def _legend_image(explanation) -> np.ndarray | None:
    images = getattr(explanation, "heatmap_images", {}) or {}
    legend = images.get("legend") if isinstance(images, dict) else None
    if isinstance(legend, np.ndarray):
        return legend
    legend = getattr(explanation, "legend", None)
    return legend if isinstance(legend, np.ndarray) else None


def _contribution_chart(frame) -> None:
    import altair as alt

    order = (
        frame.groupby("region")["contribution"].mean().sort_values(ascending=False).index.tolist()
    )
    chart = (
        alt.Chart(frame)
        .mark_bar()
        .encode(
            x=alt.X("contribution:Q", title="signed contribution (positive = supports the similarity)",
                    scale=alt.Scale(domain=[-1, 1])),
            y=alt.Y("region:N", sort=order, title=None),
            yOffset="method:N",
            color=alt.Color("method:N", title="method", legend=alt.Legend(orient="bottom")),
            tooltip=["region", "method", alt.Tooltip("contribution:Q", format="+.2f")],
        )
        .properties(height=max(220, 22 * len(frame)))
    )
    st.altair_chart(chart, width="stretch")


def _ask(question: str) -> None:
    """Answer one question (a widget callback: runs before the page is drawn, so the turn shows at once)."""
    question = (question or "").strip()
    if not question:
        return
    conversation = st.session_state.conversation
    if conversation is None:
        st.session_state.error = "Explain a pair first; then ask about it."
        return
    try:
        with _chat_lock():
            answer = conversation.ask(question)
        turn = {"question": question, **answer_fields(answer)}
    except Exception as exc:
        log.exception("chat answer failed")
        turn = {
            "question": question,
            "answer": f"Sorry, I could not answer that ({type(exc).__name__}: {exc}).",
            "score": None,
            "method": "error",
            "evidence": [],
            "links": [],
        }
    st.session_state.chat = [*st.session_state.chat, turn]
    st.session_state.error = None


def _on_chat_input() -> None:
    _ask(st.session_state.get("chat_question") or "")


def _chat(current: ExplainedPair) -> None:
    st.divider()
    st.subheader("Ask about this decision")
    heatmaps = getattr(current.explanation, "heatmap_images", {}) or {}
    for index, turn in enumerate(st.session_state.chat):
        with st.chat_message("user"):
            st.markdown(escape_markdown(turn["question"]))
        with st.chat_message("assistant"):
            st.markdown(escape_markdown(turn["answer"]))
            details = []
            if turn.get("score") is not None:
                details.append(f"answer confidence {float(turn['score']):.2f}")
            if turn.get("method"):
                details.append(f"answered by {turn['method']}")
            if details:
                st.caption(escape_markdown(" · ".join(details)))
            for link in turn.get("links", []):
                method = link.get("method") or _default_method(current.record, heatmaps)
                if method not in heatmaps:
                    continue
                images = heatmaps[method]
                region = link.get("region")
                cols = st.columns(2)
                for col, side, name in zip(cols, ("a", "b"), current.names):
                    image = images.get(f"overlay_{side}", images.get(side))
                    if image is not None:
                        caption = f"{name} · {METHOD_LABELS.get(method, method)}"
                        col.image(image, caption=caption + (f" · region: {region}" if region else ""), width=220)
            if turn.get("evidence"):
                with st.expander("Evidence"):
                    for item in turn["evidence"]:
                        st.markdown("- " + escape_markdown(item))

    st.caption("Suggested questions")
    cols = st.columns(len(SUGGESTED_QUESTIONS))
    for col, question in zip(cols, SUGGESTED_QUESTIONS):
        col.button(question, key=f"suggest_{question}", on_click=_ask, args=(question,))

    if st.session_state.chat:
        record = current.record
        turns = st.session_state.chat
        c1, c2 = st.columns(2)
        c1.download_button(
            "Conversation (JSON)",
            data=turns_to_json(turns, record, current.title),
            file_name="conversation.json",
            mime="application/json",
            on_click="ignore",
            key="dl_chat_json",
        )
        c2.download_button(
            "Conversation (Markdown)",
            data=turns_to_markdown(turns, record, current.title),
            file_name="conversation.md",
            mime="text/markdown",
            on_click="ignore",
            key="dl_chat_md",
        )
    st.chat_input("Ask about the decision, e.g. “Which region drove the match?”", key="chat_question",
                  on_submit=_on_chat_input, max_chars=500)


def _default_method(record: dict, heatmaps: dict) -> str | None:
    for method in ("avg", "s0", *record.get("methods", [])):
        if method in heatmaps:
            return method
    return None


def _archive() -> None:
    archive = st.session_state.archive
    if not archive:
        return
    with st.expander(f"Earlier conversations in this session ({len(archive)})"):
        for index, item in enumerate(archive):
            st.markdown(escape_markdown(f"{item['title']}: {item['turns']} question(s)"))
            c1, c2 = st.columns(2)
            c1.download_button("JSON", data=item["json"], file_name=f"conversation-{index + 1}.json",
                               mime="application/json", on_click="ignore", key=f"dl_archive_json_{index}")
            c2.download_button("Markdown", data=item["markdown"], file_name=f"conversation-{index + 1}.md",
                               mime="text/markdown", on_click="ignore", key=f"dl_archive_md_{index}")


_CHAT_LOCK = threading.Lock()


def _chat_lock() -> threading.Lock:
    return _CHAT_LOCK


if __name__ == "__main__":
    main()
