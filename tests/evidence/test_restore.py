"""Restoring a session from an exported explanation zip (+ conversation JSON), in memory, and the app's report."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from explain_engine.restore import RestoreError, load_explanation_zip

APP_FILE = Path(__file__).resolve().parents[2] / "streamlit_app.py"


@pytest.fixture(scope="module")
def explanation(engine, astronaut):
    """The astronaut against a mirrored, shifted copy, explained with S0 and a black fill."""
    from explain_engine.engine import Engine, EngineConfig

    variant = np.ascontiguousarray(np.roll(astronaut, (6, -4), axis=(0, 1))[:, ::-1])
    eng = Engine(EngineConfig(methods=("s0",), perturbation="black"), pipeline=engine.pipeline)
    return eng.explain(astronaut, variant, names=("astronaut.png", "variant.png"))


@pytest.fixture(scope="module")
def zipped(explanation) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in explanation.files().items():
            archive.writestr(name, content())
    return buffer.getvalue()


@pytest.fixture(scope="module")
def app_module():
    spec = importlib.util.spec_from_file_location("facex_streamlit_app_restore", APP_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_zip_restores_the_record_and_every_image(explanation, zipped):
    restored = load_explanation_zip(zipped)
    record = json.loads(explanation.files()["explanation.json"]())
    assert restored.record["similarity"] == record["similarity"] and restored.record["digest"] == record["digest"]
    assert restored.record["evidence"] == record["evidence"]
    for method, images in explanation.heatmap_images.items():
        for key in ("a", "b", "overlay_a", "overlay_b"):
            assert np.array_equal(restored.heatmap_images[method][key], images[key])
    assert np.array_equal(restored.aligned_faces["a"], explanation.aligned_faces["a"])
    assert list(restored.table["region"]) == list(explanation.table["region"])
    assert set(restored.files()) == set(explanation.files())


def test_edited_or_broken_zips_are_refused(zipped):
    with pytest.raises(RestoreError, match="not a zip"):
        load_explanation_zip(b"PK\x03\x04 not really")
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        files = {n: archive.read(n) for n in archive.namelist()}
    record = json.loads(files["explanation.json"])
    record["similarity"] = 0.1  # contradicts the decision and the digest
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, json.dumps(record) if name == "explanation.json" else content)
    with pytest.raises(RestoreError, match="edited"):
        load_explanation_zip(buffer.getvalue())
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("legend.png", files["legend.png"])
    with pytest.raises(RestoreError, match="no explanation.json"):
        load_explanation_zip(buffer.getvalue())


def test_app_restores_a_session_with_its_conversation(app_module, explanation, zipped):
    record = explanation.to_dict()
    conversation = app_module.new_conversation(record)
    app_module.ask_conversation(conversation, "What is the likelihood ratio?")
    as_json, _ = app_module.conversation_exports(conversation)
    current, restored = app_module.restore_session(zipped, as_json.encode("utf-8"))
    assert current.record["similarity"] == record["similarity"] and current.names == ("astronaut.png", "variant.png")
    assert [t.question for t in restored.turns] == ["What is the likelihood ratio?"]
    assert restored.turns[0].answer.text == conversation.turns[0].answer.text
    other = dict(json.loads(as_json))
    other["explanation"] = {**other["explanation"], "similarity": 0.5}
    with pytest.raises(RestoreError, match="another explanation"):
        app_module.restore_session(zipped, json.dumps(other).encode("utf-8"))


def test_app_report_is_rendered_in_memory_and_leads_with_the_lr(app_module, explanation, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    record = explanation.to_dict()
    conversation = app_module.new_conversation(record)
    app_module.ask_conversation(conversation, "Is this result conclusive?")
    html = app_module.report_html(record, explanation.files(), ("a.png", "b.png"), ("ab" * 32, "cd" * 32),
                                  conversation)
    lr = record["evidence"] and app_module.decision_summary(record)["lr_statement"]
    assert lr in html and "ab" * 32 in html and "Is this result conclusive?" in html
    assert html.count("data:image/png;base64,") >= 4 and not list(tmp_path.iterdir())  # nothing written to disk
