"""The case report of one explanation: one self-contained HTML file (every image embedded as a data URI) and a PDF
of it printed by a headless Chromium where one is installed.

The report leads with the likelihood-ratio statement (:mod:`explain_engine.evidence`), then the decision at the
threshold with the C-score and PIC-score held to what their calibration resolves, and holds the SHA-256 of both
input files, the dates, software and model versions, all settings, the quality checks and warnings, the region
maps of every method side by side on the one fixed colour scale, the full explainability table, the method
agreement, and (from the app) the conversation. The layout is a Jinja2 template,
``explain_engine/templates/report.html``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import mimetypes
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.errors import FaceXError

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_ENV = "FACEX_CHROMIUM"  # path of a Chromium/Chrome binary to print the PDF with
PDF_TIMEOUT_S = 120
MAP_KEYS = ("a", "b", "overlay_a", "overlay_b")  # per method: the maps on the crops, then on the photos
MAP_CAPTIONS = {"a": "photo A (aligned)", "b": "photo B (aligned)", "overlay_a": "on photo A", "overlay_b": "on photo B"}


@dataclass
class ReportFiles:
    """What :func:`write_report` wrote: the HTML, the PDF (None when skipped) and why a PDF was skipped."""

    html: Path
    pdf: Path | None
    pdf_skipped: str | None = None


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def data_uri(path: str | Path, content: bytes | None = None) -> str:
    """A ``data:`` URI with the file's bytes (base64; ``content`` instead of reading ``path``), typed by its
    extension (PNG when unknown)."""
    path = Path(path)
    mime = mimetypes.guess_type(path.name)[0] or "image/png"
    data = path.read_bytes() if content is None else content
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


class _Files:
    """The explanation's files by name, from a folder or from memory ({name: bytes or a callable returning them},
    e.g. ``Explanation.files()``), so that the app renders a report without writing anything to disk."""

    def __init__(self, source: str | Path | Mapping[str, Any]) -> None:
        self.folder = None if isinstance(source, Mapping) else Path(source)
        self.mapping = source if isinstance(source, Mapping) else None

    def read(self, name: Any) -> bytes | None:
        if not isinstance(name, str) or not name:
            return None
        if self.folder is not None:
            path = self.folder / name
            return path.read_bytes() if path.is_file() else None
        value = self.mapping.get(name)
        return value() if callable(value) else value

    def uri(self, name: Any) -> str | None:
        content = self.read(name)
        if content is None:
            return None
        mime, data = fit_image(name, content)
        return f"data:{mime};base64," + base64.b64encode(data).decode("ascii") if mime else data_uri(name, data)


REPORT_MAX_SIDE = 900  # px: maps on a photo are embedded at most this large (the folder keeps the full-size files)
REPORT_JPEG_QUALITY = 90  # the photo overlays only: a photo's pixels compress ~6x better as JPEG than as PNG
PHOTO_PREFIXES = ("overlay_", "photo-", "blend_")  # maps drawn over the photo itself (the rest are flat colours)


def fit_image(name: str, content: bytes, max_side: int = REPORT_MAX_SIDE) -> tuple[str | None, bytes]:
    """What the report embeds for one image file: (None, ``content``) for a file it keeps as it is; for a map drawn
    over the photo (:data:`PHOTO_PREFIXES`), ("image/jpeg", the map reduced to ``max_side`` px, Lanczos, JPEG at
    :data:`REPORT_JPEG_QUALITY`); for another PNG larger than ``max_side``, ("image/png", reduced). The explanation
    folder keeps every file at full size and lossless: a 12-megapixel photo's overlays need not make the report
    tens of MB."""
    name = Path(str(name)).name.lower()
    if not name.endswith(".png"):
        return None, content
    import io

    from PIL import Image

    photo = name.startswith(PHOTO_PREFIXES)
    with Image.open(io.BytesIO(content)) as image:
        if max(image.size) <= max_side and not photo:
            return None, content
        image = image.convert("RGB") if photo else image.copy()
    image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    if photo:
        image.save(buffer, format="JPEG", quality=REPORT_JPEG_QUALITY)
        return "image/jpeg", buffer.getvalue()
    image.save(buffer, format="PNG", optimize=True)
    return "image/png", buffer.getvalue()


def find_chromium() -> str | None:
    """A headless-capable Chromium or Chrome binary: ``$FACEX_CHROMIUM`` or the first on PATH, else None."""
    explicit = os.environ.get(CHROMIUM_ENV)
    if explicit:
        return explicit if Path(explicit).exists() else None
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def html_to_pdf(html_path: Path, pdf_path: Path, timeout: float = PDF_TIMEOUT_S) -> str | None:
    """Print ``html_path`` to ``pdf_path`` with headless Chromium. Returns None on success, else why it was skipped.

    The PDF is printed into a temporary file and moved into place only when it is a complete PDF.
    """
    binary = find_chromium()
    if binary is None:
        return "no Chromium found (install Debian's chromium, or set FACEX_CHROMIUM)"
    with tempfile.TemporaryDirectory(prefix="facex-pdf-") as tmp:
        target = Path(tmp) / "report.pdf"
        cmd = [
            binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--no-pdf-header-footer", f"--user-data-dir={Path(tmp) / 'profile'}",
            f"--print-to-pdf={target}", html_path.resolve().as_uri(),
        ]  # fmt: skip
        try:
            run = subprocess.run(cmd, capture_output=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"Chromium could not print the PDF ({type(exc).__name__})"
        if not target.exists() or target.read_bytes()[:5] != b"%PDF-":
            tail = run.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
            return f"Chromium did not write a PDF (exit {run.returncode}: {tail[0][:200]})"
        shutil.move(str(target), pdf_path)
    return None


def _missing(value: Any) -> bool:
    import jinja2

    return value is None or isinstance(value, jinja2.Undefined)


def _fmt(value: Any, spec: str) -> str:
    if _missing(value):
        return "n/a"
    try:
        return format(float(value), spec)
    except (TypeError, ValueError):
        return str(value)


def _cell(value: Any) -> str:
    if _missing(value):
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _input_info(side: str, path: str | Path | tuple[str, bytes] | None, record: dict) -> dict:
    image = (record.get("images") or {}).get(side) or {}
    if isinstance(path, tuple):  # (name, bytes) of an upload, hashed in memory, or (name, its SHA-256 hex)
        name, content = path
        digest = content if isinstance(content, str) else hashlib.sha256(content).hexdigest()
        return {"name": name, "sha256": digest, "faces": (record.get("faces_found") or {}).get(side, "")}
    if path is not None:
        p = Path(path)
        return {"name": str(p), "sha256": sha256_file(p), "faces": (record.get("faces_found") or {}).get(side, "")}
    stored = image.get("sha256") if isinstance(image, dict) else None
    name = (image.get("name") or image.get("source")) if isinstance(image, dict) else None
    return {
        "name": name or f"photo {side.upper()}",
        "sha256": stored or "not available (the input file was not given to the report)",
        "faces": (record.get("faces_found") or {}).get(side, ""),
    }


def _quality_rows(record: dict) -> list[dict]:
    from explain_engine.quality.words import limit_text

    rows = []
    quality = record.get("quality") or {}
    for side in ("a", "b"):
        q = quality.get(side) or {}
        if not isinstance(q, dict):
            continue
        for c in q.get("components") or []:
            unit = f" {c.get('unit')}" if c.get("unit") else ""
            rows.append({
                "side": side.upper(), "name": c.get("name"), "value": f"{_cell(c.get('value'))}{unit}",
                "threshold": (limit_text(c["threshold"], "all") if isinstance(c.get("threshold"), dict)
                              else _cell(c.get("threshold"))), "outcome": c.get("outcome"),
            })  # fmt: skip
        if q.get("outcome") is not None:
            rows.append({"side": side.upper(), "name": "overall", "value": "", "threshold": "", "outcome": q["outcome"]})
    return rows


def _maps(record: dict, source: _Files) -> list[dict]:
    """Every method's region maps (record["heatmaps"] and any other method -> {key: PNG} sections) as data URIs."""
    sections = dict(record.get("heatmaps") or {})
    for key in ("pixel_maps", "maps"):
        extra = record.get(key)
        if isinstance(extra, dict):
            sections.update({m: v for m, v in extra.items() if m not in sections})
    out = []
    for method, names in sections.items():
        if not isinstance(names, dict):
            continue
        keys = [k for k in MAP_KEYS if k in names] + [k for k in names if k not in MAP_KEYS and "blend" not in k]
        images = []
        for k in keys:
            uri = source.uri(names.get(k))
            if uri is not None:
                images.append({"key": k, "uri": uri, "caption": MAP_CAPTIONS.get(k, k)})
        if images:
            out.append({"method": method, "label": method.upper().replace("_", " "), "images": images})
    return out


def _agreement_rows(record: dict) -> list[tuple[str, str]]:
    rows = []
    agreement = record.get("agreement") or {}
    if isinstance(agreement, dict):
        for k, v in agreement.items():
            if isinstance(v, (int, float)) or v is None:
                rows.append((k.replace("~", " vs "), "undefined" if v is None else f"Spearman {v:+.2f}"))
    robustness = (record.get("robustness") or {}).get("method_agreement") or {}
    for p in robustness.get("pairs") or []:
        rho = p.get("spearman")
        rows.append((f"{p.get('a')} vs {p.get('b')} (robustness)", "undefined" if rho is None else f"Spearman {rho:+.2f}"))
    return rows


def _flatten(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        out = []
        for k, v in value.items():
            out += _flatten(f"{prefix}.{k}" if prefix else str(k), v)
        return out
    return [(prefix, json.dumps(value) if not isinstance(value, str) else value)]


def render_report_html(
    record: dict,
    folder: str | Path | Mapping[str, Any],
    *,
    image_a: str | Path | tuple[str, bytes] | None = None,
    image_b: str | Path | tuple[str, bytes] | None = None,
    settings: dict | None = None,
    conversation: list[dict] | None = None,
    calibration=None,
    case_specific: bool | None = None,
) -> str:
    """The report's HTML (a string) for ``record`` with its images from ``folder``.

    Args:
        record: explanation.json as a dict.
        folder: the folder holding the record's PNG files, or {name: bytes | callable} (``Explanation.files()``).
        image_a, image_b: the input files, or (name, bytes) of uploads (their SHA-256 is computed here), or
            (name, SHA-256 hex); None: taken from the record if stored.
        settings: the run's settings (e.g. EngineConfig.to_dict()); default the record's "settings"/"config".
        conversation: [{"role": "user" | "assistant", "text": ...}] from the app.
        calibration: the Calibration used, for its plots (Tippett, LR curve) and the evidence when the record has
            none.
        case_specific: whether the calibration was given for this case; default from the record's evidence.
    """
    import jinja2

    from explain_engine import evidence as ev
    from explain_engine.calibration import plot_calibration

    evidence = record.get("evidence")
    if evidence is None and calibration is not None and record.get("similarity") is not None:
        evidence = ev.compute_evidence(
            float(record["similarity"]), float(record["threshold"]), calibration, decision=record.get("decision"),
            case_specific=bool(case_specific), quality=record.get("quality"),
            identical_inputs=any("identical" in str(w) for w in record.get("warnings") or []),
        )
    cal_block = {**((evidence or {}).get("calibration") or {}), **(record.get("calibration") or {})}
    for key in ("cllr", "cllr_min"):  # the evidence's figures where the record's calibration block lacks them
        if cal_block.get(key) is None and ((evidence or {}).get("calibration") or {}).get(key) is not None:
            cal_block[key] = evidence["calibration"][key]
    if case_specific is None:
        case_specific = bool(((evidence or {}).get("calibration") or {}).get("case_specific"))
    decision = record.get("decision", "n/a")
    words = ev.load_words()
    decision_line = (
        f"At the threshold {_fmt(record.get('threshold'), '.4f')} the decision is {decision}: similarity "
        f"{_fmt(record.get('similarity'), '.4f')}, margin {_fmt(record.get('margin'), '+.4f')}."
    )
    cscore = record.get("confidence")
    pic = record.get("pic_score")
    cscore_text = ev.probability_text(cscore, decision, cal_block, words) if cscore is not None else "not available"
    pic_text = ev.probability_text(pic, decision, cal_block, words) if pic is not None else "not available"
    calibration_plots = []
    if calibration is not None:
        with tempfile.TemporaryDirectory(prefix="facex-report-") as tmp:
            files = plot_calibration(calibration, tmp)
            for kind in ("lr_curve", "tippett"):
                if kind in files:
                    calibration_plots.append((kind.replace("_", " "), data_uri(Path(tmp) / files[kind])))
    run_settings = settings if settings is not None else (record.get("settings") or record.get("config") or {})
    table_rows = record.get("table") or []
    table_columns = list(table_rows[0].keys()) if table_rows and isinstance(table_rows[0], dict) else []
    files = _Files(folder)
    outlines = []
    for side, name in (record.get("region_outlines") or {"a": "regions_a.png", "b": "regions_b.png"}).items():
        uri = files.uri(name)
        if uri is not None:
            outlines.append((side, uri))
    legend = files.uri(record.get("legend") or "legend.png")
    try:
        from importlib import metadata

        software = f"facex-chat {metadata.version('facex-chat')}"
    except Exception:  # noqa: BLE001 - not installed as a distribution (source checkout)
        software = "facex-chat"
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)), autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.ChainableUndefined,
    )
    template = env.get_template("report.html")
    return template.render(
        record=record,
        software=software,
        generated=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        digest=record.get("digest"),
        inputs={"a": _input_info("a", image_a, record), "b": _input_info("b", image_b, record)},
        evidence=evidence,
        evidence_lines=ev.evidence_lines(evidence, words),
        inconclusive_line=None if (evidence or {}).get("conclusive") else (
            ev.conclusiveness_statement(evidence, words) if evidence else None),
        decision_line=decision_line,
        cscore_text=cscore_text,
        pic_text=pic_text,
        calibration=cal_block,
        case_specific=case_specific,
        calibration_plots=calibration_plots,
        quality_rows=_quality_rows(record),
        warnings=list(record.get("warnings") or []),
        max_side=REPORT_MAX_SIDE, colour_scale=record.get("colour_scale") or "",
        legend=legend,
        outlines=outlines,
        maps=_maps(record, files),
        table_rows=table_rows,
        table_columns=table_columns,
        agreement_rows=_agreement_rows(record),
        settings=_flatten("", run_settings) if run_settings else [],
        versions=sorted((record.get("versions") or {}).items()),
        conversation=[
            {"role": str(t.get("role", "")), "text": str(t.get("text") or t.get("content") or "")}
            for t in (conversation or []) if isinstance(t, dict)
        ],
        fmt=_fmt,
        cell=_cell,
    )


def write_report(
    folder: str | Path,
    *,
    image_a: str | Path | None = None,
    image_b: str | Path | None = None,
    record: dict | None = None,
    settings: dict | None = None,
    conversation: list[dict] | None = None,
    calibration=None,
    case_specific: bool | None = None,
    pdf: bool = True,
) -> ReportFiles:
    """Write ``report.html`` (and ``report.pdf`` when a Chromium is available) into ``folder``.

    ``folder`` is an explanation's output folder (explanation.json and its PNGs); ``record`` defaults to its
    explanation.json. Returns the paths; ``pdf_skipped`` says why no PDF was written.

    Raises:
        FaceXError: the folder has no explanation.json and no record was given.
    """
    folder = Path(folder)
    if record is None:
        path = folder / "explanation.json"
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise FaceXError(f"{path}: not found; the report needs an explanation folder") from None
        except (OSError, ValueError) as exc:
            raise FaceXError(f"{path}: cannot be read ({exc})") from None
    html = render_report_html(
        record, folder, image_a=image_a, image_b=image_b, settings=settings, conversation=conversation,
        calibration=calibration, case_specific=case_specific,
    )
    html_path = folder / "report.html"
    tmp = html_path.with_name("report.html.partial")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(html_path)
    if not pdf:
        return ReportFiles(html_path, None, "not asked for")
    pdf_path = folder / "report.pdf"
    skipped = html_to_pdf(html_path, pdf_path)
    return ReportFiles(html_path, None if skipped else pdf_path, skipped)
