"""``explain --report`` end to end: report.html (and report.pdf) from the CLI, the LR statement first in the
output, and a case-specific calibration named as such. No output words a confidence as 100%."""

from __future__ import annotations

import hashlib
import json
import re

import cv2
import numpy as np
import pytest

from explain_engine import evidence as ev
from explain_engine.__main__ import main
from explain_engine.calibration import fit_calibration
from explain_engine.report import find_chromium

from .test_report import ReportParser

OVERSTATED = re.compile(r"100\s*%|100 in 100|very sure|\bcertain(ly)?\b", re.IGNORECASE)


@pytest.fixture(scope="module")
def photos(tmp_path_factory, astronaut):
    from PIL import Image

    root = tmp_path_factory.mktemp("report_photos")
    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    variant = cv2.warpAffine(flipped, np.float32([[1, 0, 6], [0, 1, -4]]), (512, 512), borderMode=cv2.BORDER_REFLECT)
    paths = []
    for name, image in (("astronaut.png", astronaut), ("variant.png", variant)):
        paths.append(root / name)
        Image.fromarray(image).save(paths[-1])
    return paths


@pytest.fixture(scope="module")
def run(engine, photos, tmp_path_factory):
    out = tmp_path_factory.mktemp("report_run") / "out"
    import contextlib
    import io

    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        rc = main(["explain", str(photos[0]), str(photos[1]), "--out", str(out), "--methods", "s0,s1",
                   "--perturbation", "black", "--max-steps", "2", "--report", "--quiet"])
    return rc, out, stdout.getvalue()


def test_explain_prints_the_lr_statement_first(run):
    rc, out, printed = run
    assert rc == 0
    record = json.loads((out / "explanation.json").read_text())
    lines = printed.splitlines()
    assert lines[0] == ev.lr_statement(record["evidence"])
    decision = next(n for n, line in enumerate(lines) if line.startswith("At the threshold"))
    assert decision > 0 and f"the decision is {record['decision']}" in lines[decision]
    assert not OVERSTATED.search(printed), printed


def test_report_html_has_hashes_lr_statement_and_every_methods_map(run, photos):
    _, out, printed = run
    record = json.loads((out / "explanation.json").read_text())
    html = (out / "report.html").read_text(encoding="utf-8")
    parsed = ReportParser()
    parsed.feed(html)
    for side, path in zip(("a", "b"), photos):
        assert parsed.text_by_id[f"sha256-{side}"].strip() == hashlib.sha256(path.read_bytes()).hexdigest()
    assert parsed.text_by_id["lr-statement"].strip() == ev.lr_statement(record["evidence"])
    drawn = [m for m in record["heatmaps"] if m != "legend"]
    assert drawn and parsed.methods == drawn
    for method in drawn:
        srcs = [i["src"] for i in parsed.images if i.get("alt", "").startswith(f"{method} ")]
        assert len(srcs) == 4 and all(s.startswith(("data:image/png;base64,", "data:image/jpeg;base64,")) for s in srcs)
    body = " ".join(parsed.text)
    assert "shipped calibration" in body and not OVERSTATED.search(body)
    assert "refused below 35" in body and "refuse_below" not in body  # quality limits in words, not raw dicts
    assert "wrote " + str(out / "report.html") in printed
    if find_chromium() is not None:
        assert (out / "report.pdf").read_bytes()[:5] == b"%PDF-"


def test_case_specific_calibration_is_used_and_named(engine, photos, tmp_path):
    rng = np.random.default_rng(11)
    cal = fit_calibration(rng.normal(0.96, 0.015, 60), rng.normal(0.80, 0.04, 600), model=engine.model_name,
                          fitted_on="60 + 600 reference pairs of the case's kind", name="case reference set")
    path = cal.save(tmp_path / "case.json")
    out = tmp_path / "out"
    rc = main(["explain", str(photos[0]), str(photos[1]), "--out", str(out), "--methods", "s0",
               "--perturbation", "black", "--calibration", str(path), "--report", "--quiet"])
    assert rc == 0
    record = json.loads((out / "explanation.json").read_text())
    assert record["evidence"]["calibration"]["name"] == "case reference set"
    assert record["evidence"]["calibration"]["case_specific"] is True
    assert record["evidence"]["calibration"]["n_impostor"] == 600
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "calibration given for this case" in html and "case reference set" in html


def test_chat_answers_about_confidence_never_say_100_percent(run):
    from chatbot import Chatbot, Conversation

    _, out, _ = run
    conversation = Conversation(Chatbot(json.loads((out / "explanation.json").read_text())))
    for question in ("How confident is the model?", "What is the PIC score?", "How sure is this decision?",
                     "How was the threshold calibrated?"):
        answer = conversation.ask(question)
        assert not OVERSTATED.search(answer.text), (question, answer.text)
