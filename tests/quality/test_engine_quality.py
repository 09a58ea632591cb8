"""The quality stage through the engine and the CLI: verify and explain agree, a refusal is one line with exit 2 and
nothing written, a warning flags the record (``outside_calibration``) and every confidence wording, and the record
carries the quality components and the per-region visibility facts."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from explain_engine.quality import QualityError, degrade


@pytest.fixture(scope="module")
def engine():
    from explain_engine.__main__ import _engine
    from explain_engine.engine import EngineConfig

    return _engine(EngineConfig(methods=("s0",)))


@pytest.fixture(scope="module")
def files(tmp_path_factory, astronaut, astro_landmarks):
    from PIL import Image

    root = tmp_path_factory.mktemp("quality_images")
    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    variant = cv2.warpAffine(flipped, np.float32([[1, 0, 6], [0, 1, -4]]), (512, 512), borderMode=cv2.BORDER_REFLECT)
    images = {
        "astronaut": astronaut,
        "variant": variant,
        "upside_down": degrade.rotate(astronaut, 180),
        "cut": degrade.cut_below_nose(astronaut, astro_landmarks),
        "glasses": degrade.dark_glasses(astronaut, astro_landmarks),
        "cartoon": degrade.cartoon_face(),
    }
    out = {}
    for name, image in images.items():
        out[name] = root / f"{name}.png"
        Image.fromarray(image).save(out[name])
    return out


@pytest.mark.parametrize("bad", ["upside_down", "glasses", "cartoon"])
def test_verify_and_explain_refuse_alike(engine, files, bad):
    with pytest.raises(QualityError) as v:
        engine.verify(files["astronaut"], files[bad])
    with pytest.raises(QualityError) as e:
        engine.explain(files["astronaut"], files[bad])
    assert v.value.component == e.value.component
    assert str(v.value) == str(e.value)


def test_cli_refusal_is_one_line_exit_2_and_writes_nothing(engine, files, tmp_path, capsys):
    from explain_engine.__main__ import main

    out = tmp_path / "never"
    rc = main(["explain", str(files["astronaut"]), str(files["upside_down"]), "--out", str(out), "--quiet"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert not out.exists()
    assert any("in_plane_orientation" in line and "upside_down.png" in line for line in err)
    rc = main(["verify", str(files["astronaut"]), str(files["cartoon"])])
    err = capsys.readouterr().err
    assert rc == 2 and "photographic" in err


def test_cut_photo_gives_a_flagged_decision_with_mouth_and_chin_absent(engine, files, tmp_path, capsys):
    from explain_engine.__main__ import main

    v = engine.verify(files["astronaut"], files["cut"])
    assert v.outside_calibration and v.quality["b"]["outcome"] == "warn" and v.quality["a"]["outcome"] == "pass"
    assert "not a certainty" in v.statement()
    out = tmp_path / "cut"
    assert main(["explain", str(files["astronaut"]), str(files["cut"]), "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "not a certainty" in printed
    d = json.loads((out / "explanation.json").read_text())
    assert d["outside_calibration"] is True
    comp = {c["name"]: c for c in d["quality"]["b"]["components"]}
    assert comp["face_cut_off"]["outcome"] == "warn"
    assert set(comp["face_cut_off"]) == {"name", "value", "unit", "outcome", "threshold", "source"}
    assert comp["face_cut_off"]["threshold"]["warn_below"] > comp["face_cut_off"]["value"]
    rows = {r["name"]: r for r in d["regions"]}
    for region in ("mouth", "chin"):
        assert rows[region]["present"] is False
        assert rows[region]["visible_fraction_b"] < 0.5 and rows[region]["visible_fraction_a"] == 1.0
        assert "outside the photo" in d["absent_regions"][region]
    assert rows["eyes"]["present"] and rows["eyes"]["covered_a"] is False and rows["eyes"]["covered_b"] is False
    assert "mouth" not in {r["region"] for r in d["table"]}
    assert any("calibrated" in w for w in d["warnings"])


def test_clean_pair_passes_and_is_not_flagged(engine, files):
    v = engine.verify(files["astronaut"], files["variant"])
    assert v.outside_calibration is False
    assert v.quality["a"]["outcome"] == v.quality["b"]["outcome"] == "pass"
    assert "not a certainty" not in v.statement()
    names = [c["name"] for c in v.quality["a"]["components"]]
    assert {"head_pose_yaw", "in_plane_orientation", "photographic", "eyes_occlusion"} <= set(names)
    assert v.quality["a"]["timing_ms"] < 1000


def test_card_cli_and_verify_word_a_flagged_confidence_as_not_certain(engine, files):
    import streamlit_app
    from prompts import render

    flagged = engine.explain(files["astronaut"], files["cut"]).to_dict()
    clean = engine.explain(files["astronaut"], files["variant"]).to_dict()
    assert flagged["outside_calibration"] and not clean["outside_calibration"]
    plain = streamlit_app.decision_summary(flagged)["plain"]
    assert "not a certainty" in plain and plain.endswith(".")
    assert "not a certainty" not in streamlit_app.decision_summary(clean)["plain"]
    from explain_engine.evidence import decision_lines  # the CLI's (and the card's) decision renderer

    assert decision_lines(flagged)[-1] == render.caveat_sentence()
    assert render.caveat_sentence() not in decision_lines(clean)


def test_quality_sentences_answer_the_chat_questions(engine, files):
    from explain_engine.quality.words import sentences

    v = engine.verify(files["astronaut"], files["cut"])
    said = dict(sentences(v.quality, {"a": "astronaut.png", "b": "cut.png"}))
    assert "outside what the face model was calibrated on" in said["quality.b"]
    assert "inside what the face model was calibrated on" in said["quality.a"]
    assert "cut off" in said["quality.b.face_cut_off"] and "flagged below 95%" in said["quality.b.face_cut_off"]
    assert "the eyes are visible" in said["quality.a.eyes_occlusion"]
    assert "photograph of a real face" in said["quality.b.photographic"]
    assert dict(sentences(None)) == {"quality": "No quality check was recorded for this comparison."}
    e = engine.explain(files["astronaut"], files["cut"])
    said = dict(sentences(e.to_dict()["quality"]))
    assert "not compared" in said["visibility.b.mouth"] and "outside the photo" in said["visibility.b.mouth"]
    assert "100% inside the frame, not covered" in said["visibility.a.eyes"]


def test_refusal_sentences(engine, files):
    from explain_engine.quality.words import sentences

    with pytest.raises(QualityError) as info:
        engine.verify(files["astronaut"], files["glasses"])
    d = info.value.to_dict()
    said = dict(sentences({"b": d["quality"]}))
    assert "refused" in said["quality.b"] and "eyes are covered" in said["quality.b.eyes_occlusion"]


def test_chat_context_carries_quality_facts_and_the_caveat(engine, files):
    from chatbot.context import build_context
    from prompts import load_prompts

    prompts = load_prompts()
    e = engine.explain(files["astronaut"], files["cut"])
    ctx = build_context(e.to_dict(), prompts)
    ids = {s.id: s for s in ctx.sentences}
    assert "not a certainty" in ids["confidence"].text
    assert "cut off" in ids["quality.b.face_cut_off"].text
    assert ids["visibility.b.mouth"].regions == ("mouth",) and "not compared" in ids["visibility.b.mouth"].text
    assert ids["quality.a.eyes_occlusion"].regions == ("eyes",)
    clean = build_context(engine.explain(files["astronaut"], files["variant"]).to_dict(), prompts)
    assert "not a certainty" not in next(s for s in clean.sentences if s.id == "confidence").text


def test_chat_answers_the_quality_questions(engine, files):
    from chatbot import Chatbot
    from models import registry
    from models.config import ModelConfig

    embedder = registry.create("sentence", ModelConfig(sentence="minilm", qa=None))
    bot = Chatbot(engine.explain(files["astronaut"], files["cut"]).to_dict(), embedder=embedder)
    hidden = bot.answer("Is part of the face hidden?").text
    assert "mouth" in hidden and "chin" in hidden and "outside the photo" in hidden
    good = bot.answer("Is the photo good enough?").text
    assert "outside what the face model was calibrated on" in good and "cut off" in good
    eyes = bot.answer("Are the eyes visible?").text
    assert "100% inside the frame and not covered" in eyes
    mouth = bot.answer("Is the mouth visible?").text
    assert "outside the photo" in mouth
    sure = bot.answer("How confident is the system?").text
    assert "not a certainty" in sure
