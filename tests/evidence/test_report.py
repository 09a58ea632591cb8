"""The case report: one self-contained HTML file (hashes, LR statement, every method's maps) and its PDF."""

from __future__ import annotations

import hashlib
import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explain_engine import evidence as ev
from explain_engine.calibration import fit_calibration
from explain_engine.report import find_chromium, write_report
from models.errors import FaceXError


class ReportParser(HTMLParser):
    """Collects every element's text by id, every image (alt, src) and the maps' method blocks."""

    def __init__(self) -> None:
        super().__init__()
        self.text_by_id: dict[str, str] = {}
        self.images: list[dict] = []
        self.methods: list[str] = []
        self.links: list[str] = []
        self._open: list[str | None] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "img":
            self.images.append(a)
            return
        if tag in ("link", "script") and (a.get("href") or a.get("src")):
            self.links.append(a.get("href") or a.get("src"))
        if a.get("data-method"):
            self.methods.append(a["data-method"])
        self._open.append(a.get("id"))
        if a.get("id"):
            self.text_by_id[a["id"]] = ""

    def handle_endtag(self, tag):
        if tag != "img" and self._open:
            self._open.pop()

    def handle_data(self, data):
        self.text.append(data)
        for ident in self._open:
            if ident:
                self.text_by_id[ident] += data


def _png(path: Path, colour) -> str:
    Image.fromarray(np.full((24, 24, 3), colour, np.uint8)).save(path)
    return path.name


@pytest.fixture(scope="module")
def explanation_folder(tmp_path_factory):
    """An explanation folder with a record and drawn maps (synthetic colours, no photos) for three methods."""
    folder = tmp_path_factory.mktemp("explanation")
    heatmaps = {}
    for k, m in enumerate(("s0", "s1", "fggb")):
        heatmaps[m] = {key: _png(folder / f"heatmap_{m}_{key}.png", (40 * k, 100, 200))
                       for key in ("a", "b", "overlay_a", "overlay_b")}
    _png(folder / "legend.png", (255, 255, 255))
    record = {
        "decision": "match", "similarity": 0.962, "threshold": 0.919, "margin": 0.043, "confidence": 1.0,
        "pic_score": 1.0, "model": "synthetic", "model_description": "a test model", "methods": ["s0", "s1", "fggb"],
        "perturbation": "black", "region_set": "coarse", "heatmaps": heatmaps, "legend": "legend.png",
        "calibration": {"name": "synthetic", "n_genuine": 120, "n_impostor": 1200, "fitted_on": "synthetic",
                        "threshold_rule": "best accuracy"},
        "table": [{"region": "eyes", "S0": 5, "S1": 4}, {"region": "nose", "S0": 2, "S1": 3}],
        "agreement": {"s0~s1": 0.8}, "warnings": ["photo B is small"], "created": "2026-01-01T00:00:00+00:00",
        "versions": {"numpy": np.__version__},
        "quality": {"a": {"outcome": "pass", "components": [{"name": "sharpness", "value": 120.5, "unit": "",
                                                           "outcome": "pass", "threshold": 50}]},
                    "b": {"outcome": "warn", "components": []}},
    }  # fmt: skip
    (folder / "explanation.json").write_text(json.dumps(record))
    inputs = []
    for side in ("a", "b"):
        p = folder / f"input_{side}.bin"
        p.write_bytes(np.random.default_rng(ord(side)).bytes(4096))
        inputs.append(p)
    return folder, record, inputs


@pytest.fixture(scope="module")
def cal():
    rng = np.random.default_rng(7)
    return fit_calibration(rng.normal(0.95, 0.02, 120), rng.normal(0.85, 0.025, 1200), model="synthetic",
                           fitted_on="synthetic", name="synthetic reference pairs")


@pytest.fixture(scope="module")
def report(explanation_folder, cal):
    folder, _record, (a, b) = explanation_folder
    conversation = [{"role": "user", "text": "What is the likelihood ratio?"},
                    {"role": "assistant", "text": "About <b>90</b> times"}]
    files = write_report(folder, image_a=a, image_b=b, calibration=cal, case_specific=True,
                         conversation=conversation, settings={"methods": ["s0", "s1"], "samples": 1}, pdf=True)
    parser = ReportParser()
    parser.feed(files.html.read_text(encoding="utf-8"))
    return files, parser


def test_report_holds_both_input_hashes(report, explanation_folder):
    _, _, (a, b) = explanation_folder
    _, parsed = report
    assert parsed.text_by_id["sha256-a"].strip() == hashlib.sha256(a.read_bytes()).hexdigest()
    assert parsed.text_by_id["sha256-b"].strip() == hashlib.sha256(b.read_bytes()).hexdigest()


def test_report_leads_with_the_lr_statement(report, explanation_folder, cal):
    _, record, _ = explanation_folder
    _, parsed = report
    expected = ev.lr_statement(ev.compute_evidence(record["similarity"], record["threshold"], cal,
                                                   decision="match", case_specific=True,
                                                   quality=record["quality"]))
    assert parsed.text_by_id["lr-statement"].strip() == expected
    assert expected.startswith("The observed similarity is about")
    body = "".join(parsed.text)
    assert body.index(expected) < body.index("Decision at the threshold")
    assert "given for this case" in body


def test_report_shows_every_methods_maps_embedded(report, explanation_folder):
    _, record, _ = explanation_folder
    _, parsed = report
    assert parsed.methods == list(record["heatmaps"])
    for method in record["heatmaps"]:
        srcs = [i["src"] for i in parsed.images if i.get("alt", "").startswith(f"{method} ")]
        assert len(srcs) == 4 and all(s.startswith(("data:image/png;base64,", "data:image/jpeg;base64,")) for s in srcs)
    # self-contained: every image is a data URI, no external links
    assert all(i["src"].startswith("data:") for i in parsed.images) and not parsed.links


def test_report_has_quality_warnings_table_agreement_settings_and_conversation(report):
    _, parsed = report
    body = " ".join(parsed.text)
    for text in ("sharpness", "photo B is small", "eyes", "Spearman +0.80", "samples", "What is the likelihood ratio?",
                 "About <b>90</b> times", "numpy"):
        assert text in body, text


def test_report_never_shows_a_probability_as_100_percent(report):
    _, parsed = report
    body = " ".join(parsed.text)
    assert "100%" not in body and "100.0%" not in body
    assert "no error among 1200 impostor calibration pairs" in body


def test_pdf_is_written_or_skipped_cleanly(report):
    files, _ = report
    if find_chromium() is None:
        assert files.pdf is None and "Chromium" in files.pdf_skipped
        pytest.skip("no Chromium here: the PDF is skipped cleanly")
    assert files.pdf_skipped is None, files.pdf_skipped
    assert files.pdf.read_bytes()[:5] == b"%PDF-" and files.pdf.stat().st_size > 10_000


def test_missing_chromium_skips_the_pdf(explanation_folder, monkeypatch, tmp_path):
    folder, _, _ = explanation_folder
    monkeypatch.setenv("FACEX_CHROMIUM", str(tmp_path / "no-such-browser"))
    files = write_report(folder, pdf=True)
    assert files.html.exists() and files.pdf is None and "Chromium" in files.pdf_skipped


def test_report_without_an_explanation_is_a_clear_error(tmp_path):
    with pytest.raises(FaceXError, match="explanation.json"):
        write_report(tmp_path)


def test_large_maps_are_embedded_reduced_small_ones_untouched():
    import io

    from explain_engine.report import REPORT_MAX_SIDE, fit_image

    def png(w, h):
        buffer = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (h, w, 3), dtype=np.uint8)).save(buffer, "PNG")
        return buffer.getvalue()

    small = png(120, 80)
    assert fit_image("heatmap_s0_a.png", small) == (None, small)  # a flat-colour map at its size stays as it is
    mime, big = fit_image("heatmap_s0_a.png", png(2400, 1600))
    with Image.open(io.BytesIO(big)) as image:
        assert mime == "image/png" and image.format == "PNG" and image.size == (REPORT_MAX_SIDE, 600)
    mime, over = fit_image("overlay_s0_a.png", png(2400, 1600))  # drawn over the photo: JPEG, reduced
    with Image.open(io.BytesIO(over)) as image:
        assert mime == "image/jpeg" and image.format == "JPEG" and max(image.size) == REPORT_MAX_SIDE
    mime, over_small = fit_image("overlay_s0_a.png", small)
    assert mime == "image/jpeg" and Image.open(io.BytesIO(over_small)).size == (120, 80)
    assert fit_image("table.csv", b"a,b\n") == (None, b"a,b\n")
