"""A pair with a photo the quality check refuses, on the command line: `explain` still exits 2 with one line and
writes nothing into --out, but `--refusal-json FILE` (and `verify --json`) keep the refusal's facts, and the chatbot
answers "why was this photo refused?" from that file without inventing a decision.

Photos are built in the test from the astronaut (darkened to a mean under 10, turned upside down).
"""

from __future__ import annotations

import contextlib
import io
import json
import sys

import pytest
from PIL import Image

from chatbot.__main__ import main as chat_main
from explain_engine.__main__ import main as engine_main
from explain_engine.quality import degrade
from explain_engine.record import RecordEditedError, RecordError, load_refusal


@pytest.fixture(scope="module")
def photos(tmp_path_factory, astronaut):
    folder = tmp_path_factory.mktemp("photos")
    out = {}
    for name, image in (("astronaut", astronaut), ("dark", degrade.darken(astronaut, 8.0)),
                        ("upside_down", degrade.rotate(astronaut, 180))):
        out[name] = folder / f"{name}.png"
        Image.fromarray(image).save(out[name])
    return out


@pytest.fixture(scope="module")
def dark_refusal(photos, tmp_path_factory):
    """(exit code, stdout, stderr, --out folder, refusal file) of `explain astronaut dark --refusal-json FILE`
    (run once for the module; capsys is per test, so the output is captured here)."""
    folder = tmp_path_factory.mktemp("run")
    out, refusal = folder / "out", folder / "refusal.json"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = engine_main(["explain", str(photos["astronaut"]), str(photos["dark"]), "--out", str(out),
                            "--refusal-json", str(refusal), "--methods", "s0", "--quiet"])
    return code, stdout.getvalue(), stderr.getvalue(), out, refusal


def _ask(capsys, path, *questions) -> list[dict]:
    qfile = path.parent / "questions.txt"
    qfile.write_text("\n".join(questions) + "\n")
    capsys.readouterr()
    assert chat_main(["ask", "--explanation", str(path), "--questions", str(qfile), "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]


def test_explain_refuses_in_one_line_writes_nothing_to_out_and_keeps_the_refusal(dark_refusal):
    code, stdout, stderr, out, refusal = dark_refusal
    assert code == 2
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: dark.png: refused by the quality check luminance_mean")
    assert not out.exists() or not any(out.iterdir())  # nothing half-written
    assert f"wrote {refusal}" in stdout
    record = load_refusal(refusal)  # digest checked
    assert record.side == "b" and record.photo == "dark.png" and record.component == "luminance_mean"
    assert record.names == {"a": "astronaut.png", "b": "dark.png"}
    lum = next(c for c in record.quality["b"]["components"] if c["name"] == "luminance_mean")
    assert lum["outcome"] == "refuse" and lum["value"] < 35 and lum["threshold"]["refuse_below"] == 35
    assert record.quality["a"]["outcome"] == "pass"  # photo A was checked before B and passed
    assert "eyes" in record.quality["b"]["visibility"]  # explain measures region visibility


def test_chat_answers_why_the_photo_was_refused_and_states_no_decision(dark_refusal, capsys):
    refusal = dark_refusal[4]
    value = next(c["value"] for c in load_refusal(refusal).refused["components"] if c["name"] == "luminance_mean")
    why, good, eyes, hidden, decision, region = _ask(
        capsys, refusal, "Why was this photo refused?", "Is the photo good enough?", "Are the eyes visible?",
        "Is part of the face hidden?", "What is the decision?", "Which region drove the match?")
    assert "Photo B (dark.png) was refused" in why["answer"] and "brightness of the face" in why["answer"]
    assert f"{value:.3g}" in why["answer"] and "refused below 35" in why["answer"]
    assert why["refusal"] is None and why["intent"] == "refused:why"
    assert "the photo was refused; no decision was made" in good["answer"] and "too dark" in good["answer"]
    assert "Photo A (astronaut.png): the photo is inside" in good["answer"]
    assert eyes["regions"] == ["eyes"] and "The eyes: in photo A 100% inside the frame" in eyes["answer"]
    # photo B is too dark for any region to be judged; photo A passed and shows every region
    assert "Whether any part of the face in photo B is visible, hidden, covered or cut off cannot be judged" in hidden[
        "answer"] and "far too dark" in hidden["answer"] and "No part of either face" not in hidden["answer"]
    assert "No part of the face in photo A is hidden" in hidden["answer"]
    assert "in photo B 100%" not in eyes["answer"] and "in photo B it cannot be judged" in eyes["answer"]
    for row in (decision, region):
        assert row["refusal"] == "photo_refused"
        assert row["answer"].startswith("No decision, score or explanation exists for this pair: photo B (dark.png)")
        assert "brightness of the face" in row["answer"] and "another photo" in row["answer"]
        assert "match" not in row["answer"].lower()


def test_verify_json_prints_the_refusal_of_an_upside_down_photo(photos, capsys, tmp_path):
    capsys.readouterr()
    code = engine_main(["verify", str(photos["astronaut"]), str(photos["upside_down"]), "--json"])
    captured = capsys.readouterr()
    assert code == 2 and captured.err.count("\n") == 1 and "in_plane_orientation" in captured.err
    record = load_refusal(json.loads(captured.out))
    assert record.component == "in_plane_orientation" and record.side == "b"
    assert record.quality["b"]["visibility"] == {}  # verify builds no regions
    path = tmp_path / "refusal.json"
    path.write_text(captured.out)
    why, eyes, sure = _ask(capsys, path, "why was this photo refused?", "are the eyes visible?", "how sure are you?")
    assert "face orientation in the pixels" in why["answer"] and "180" in why["answer"]
    # upside down: no region of photo B can be judged, whatever its cover measures say
    assert "Whether any part of the face in photo B is visible, hidden, covered or cut off cannot be judged" in eyes[
        "answer"] and "upside down" in eyes["answer"]
    assert "Photo B: the eyes are visible" not in eyes["answer"]
    assert sure["refusal"] == "photo_refused"


def test_refusal_file_is_not_written_when_both_photos_pass(photos, tmp_path, capsys):
    path = tmp_path / "refusal.json"
    assert engine_main(["verify", str(photos["astronaut"]), str(photos["astronaut"]), "--refusal-json",
                        str(path)]) == 0
    assert not path.exists()


def test_refusal_file_inside_out_is_refused_before_any_work(photos, tmp_path, capsys):
    out = tmp_path / "out"
    code = engine_main(["explain", str(photos["astronaut"]), str(photos["dark"]), "--out", str(out),
                        "--refusal-json", str(out / "refusal.json"), "--quiet"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: --refusal-json") and "outside --out" in err
    assert not out.exists()


def test_an_edited_refusal_record_is_refused_by_the_chat(dark_refusal, tmp_path, capsys):
    data = json.loads(dark_refusal[4].read_text())
    data["component"] = "under_exposure"  # another refusing component: well-formed, but not what was written
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(data))
    with pytest.raises(RecordEditedError):
        load_refusal(edited)
    questions = tmp_path / "q.txt"
    questions.write_text("why was this photo refused?\n")
    capsys.readouterr()
    assert chat_main(["ask", "--explanation", str(edited), "--questions", str(questions)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "edited" in err and "\n" not in err
    data["component"] = "photographic"  # a component that passed cannot be the refusing one
    with pytest.raises(RecordError, match="not a refusing component"):
        load_refusal(data)


def test_interactive_chat_on_a_refusal_and_its_log(dark_refusal, tmp_path, monkeypatch, capsys):
    from chatbot.conversation import Conversation

    log_md, log_json = tmp_path / "chat.md", tmp_path / "chat.json"
    monkeypatch.setattr(sys, "stdin", io.StringIO(
        f"/help\nwhy was this photo refused?\nis it a match?\n/export {log_md}\n/export {log_json}\n/quit\n"))
    capsys.readouterr()
    assert chat_main(["chat", "--explanation", str(dark_refusal[4])]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"Loaded {dark_refusal[4]}: no decision. dark.png: refused by the quality check")
    assert out.count("No decision, score or explanation exists") == 2  # /help and "is it a match?"
    markdown = log_md.read_text()
    assert "- No decision: photo B was refused by the quality check (luminance_mean)" in markdown
    assert "Decision: **" not in markdown and "## 2. is it a match?" in markdown
    restored = Conversation.load(log_json)  # a saved refusal conversation loads back and goes on
    assert len(restored.turns) == 2
    assert "the photo was refused" in restored.ask("is the photo good enough?").text


def test_explain_batch_keeps_the_refusal_in_the_failed_pairs_folder(pipeline, photos):
    from explain_engine.batch import BatchPair, PairExplainer
    from explain_engine.engine import Engine, EngineConfig

    explainer = PairExplainer(Engine(EngineConfig(methods=("s0",)), pipeline=pipeline))
    out = explainer(BatchPair(0, "upside_down.png", "astronaut.png", photos["upside_down"], photos["astronaut"]))
    assert out["status"] == "failed" and "in_plane_orientation" in out["error"]
    assert list(out["files"]) == ["refusal.json"]
    record = load_refusal(json.loads(out["files"]["refusal.json"]))
    assert record.side == "a" and record.component == "in_plane_orientation" and "b" not in record.quality


def test_a_region_named_alone_gets_its_visibility_and_no_decision(dark_refusal):
    from chatbot.conversation import Conversation
    from chatbot.refusal import RefusalChatbot

    chat = Conversation(RefusalChatbot.from_file(dark_refusal[4]))
    chat.ask("Is the photo good enough?")
    answer = chat.ask("and the mouth?")
    assert answer.regions == ["mouth"] and answer.refusal == "photo_refused"
    assert answer.text.startswith("No decision, score or explanation exists") and "The mouth: in photo A" in answer.text
    ranked = chat.ask("Is the nose the most important region?")
    assert ranked.refusal == "photo_refused" and "most important" not in ranked.text


def test_dark_glasses_refusal_answers_the_visibility_questions(pipeline, astronaut, astro_landmarks):
    from chatbot.refusal import RefusalChatbot
    from explain_engine.engine import Engine, EngineConfig
    from explain_engine.quality import QualityError
    from explain_engine.record import RefusalRecord

    engine = Engine(EngineConfig(methods=("s0",)), pipeline=pipeline)
    with pytest.raises(QualityError) as info:
        engine.prepare_pair(degrade.dark_glasses(astronaut, astro_landmarks), astronaut, regions=True,
                            names=["glasses.png", "astronaut.png"])
    bot = RefusalChatbot(RefusalRecord.from_error(info.value).to_dict())
    eyes = bot.answer("Are the eyes visible?").text
    assert "The eyes: in photo A not compared" in eyes and "Photo A: the eyes are covered" in eyes
    hidden = bot.answer("Is part of the face hidden?").text
    assert "Hidden, covered or cut off: in photo A the eyes" in hidden and "mouth is visible" in hidden
    why = bot.answer("Why was this photo refused?").text
    assert "refused for cover over the eyes" in why and "Photo A (glasses.png) was refused" in why
