"""The Streamlit page driven by streamlit.testing.v1.AppTest, on the real engine and chatbot (embedded defaults).

One module-scoped app session goes through the story in order: sample pair -> Explain -> decision card checked
against an independent Engine.verify -> two questions (the second a follow-up) with linked heatmaps -> exports ->
bad uploads (errors shown, chat kept) -> a photo without a face (error, chat kept) -> a new uploaded pair (new
conversation, the old one still exportable). Runs S0 only, to keep the suite short on two cores.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

APP_FILE = Path(__file__).resolve().parents[2] / "streamlit_app.py"
STEP_TIMEOUT = 420  # seconds for one script run that loads models and explains (2 busy cores); others are quick
FIRST_QUESTION = "Which region drove the match?"
FOLLOW_UP = "why?"


@pytest.fixture(scope="module")
def downloads():
    """Every download button's bytes by file name, recorded as the page hands them to Streamlit's media store."""
    recorded: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def recording(self, path_or_data, mimetype, kind, filename=None):
        if filename and isinstance(path_or_data, bytes):
            recorded[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    mp = pytest.MonkeyPatch()
    mp.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    yield recorded
    mp.undo()


@pytest.fixture(scope="module")
def app(downloads):
    at = AppTest.from_file(str(APP_FILE), default_timeout=60)
    at.run()
    assert not at.exception
    at.sidebar.radio(key="source").set_value("sample").run()
    at.sidebar.multiselect(key="methods").set_value(["S0: one at a time"]).run()
    at.button(key="explain").click().run(timeout=STEP_TIMEOUT)
    return at


@pytest.fixture(scope="module")
def reference(sample_photos):
    """The engine's own verdict on the sample pair, computed outside the app."""
    from explain_engine import Engine, EngineConfig

    a, b = sample_photos
    return Engine(EngineConfig(methods=("s0",))).verify(a.image, b.image)


def _metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def _plain(markdown: str) -> str:
    return markdown.replace("\\", "")


def _assistant_messages(at):
    return [m for m in at.chat_message if m.name == "assistant"]


def test_sample_pair_decision_card_matches_the_engine(app, reference, app_module):
    assert not app.exception
    assert [e.value for e in app.error] == []
    assert app.status[0].label.startswith("Explained in")
    # the progress was shown stage by stage inside the status box
    steps = [m.value for m in app.status[0].markdown]
    assert any("Finding, aligning and outlining the faces" in m for m in steps), steps
    assert any("S0: hiding one region at a time" in m for m in steps), steps
    assert any("Loading the models (first time only)" in m for m in steps), steps  # the first time: it is
    assert _metric(app, "Similarity") == f"{reference.similarity:.3f}"
    assert _metric(app, "Threshold") == f"{reference.threshold:.3f}"
    card = app_module.decision_summary(app.session_state["result"].record)
    assert _metric(app, "Confidence (C-score)") == card["confidence"] and "100" not in card["confidence"]
    assert _metric(app, "Chance the decision is right (PIC)") == card["pic"] and "100" not in card["pic"]
    # the card leads with the likelihood-ratio statement, before the decision's headline
    texts = [m.value.replace("\\", "") for m in app.markdown]
    assert any(t.startswith(("#### The observed similarity is about", "#### No likelihood ratio")) for t in texts), texts[:5]
    # the decision is styled neutrally: a heading in the card, never a success or warning box
    card_text = " ".join(_plain(m.value) for m in app.markdown)
    assert ("Match:" if reference.decision == "match" else "No match:") in card_text
    assert not any("Match:" in w.value or "No match:" in w.value for w in list(app.success) + list(app.warning))
    # the time shown runs from the click to the results, the engine's own time is part of it
    result = app.session_state["result"]
    assert result.seconds >= result.engine_seconds > 0
    record = app.session_state["result"].record
    assert record["decision"] == reference.decision
    # aligned faces (2) + S0 overlays (2) + legend, all drawn; the table has one row per present region
    assert len(app.image) >= 5
    present = [r["name"] for r in record["regions"] if r["present"]]
    table = app.dataframe[0].value
    assert list(table["region"]) == [app_module_region_label(n) for n in present]
    # every method column of the explainability table is on screen, the one-sided S0 columns included
    assert {"S0", "S0 (A only)", "S0 (B only)", "Mean", "Ratio of 1s"} <= set(table.columns)
    assert all(c in table.columns for c in result.explanation.table.columns
               if not str(c).endswith((" contribution", " role", " change")) and c != "Level rule")
    # robustness is on the card
    assert any("Robustness:" in _plain(m.value) for m in app.markdown)
    # the heatmaps say how to read their fixed colour scale, with this pair's own largest change
    largest = app_module.largest_change(record, record["methods"] + record.get("one_sided_methods", []))
    reading = next(_plain(m.value) for m in app.markdown if "How to read the colours" in m.value)
    assert f"{largest:.3f}" in reading and f"({record['heatmap_scale']['vmax']:.3f})" in reading
    # nothing on the page is rendered as HTML
    assert all(not m.proto.allow_html for m in app.markdown)


def test_sample_pair_is_labelled_as_one_photo_and_an_edited_copy(app, sample_photos):
    label = next(i.value for i in app.info if "Sample pair" in i.value)
    assert "same photo" in label and "not two different photos" in label
    a, b = sample_photos
    assert a.image.shape == b.image.shape and a.digest != b.digest


def test_two_questions_answered_with_linked_heatmaps_and_exported(app, downloads, app_module):
    record = app.session_state["result"].record
    app.button(key=f"suggest {FIRST_QUESTION}").click().run()
    app.chat_input(key="chat_question").set_value(FOLLOW_UP).run()
    assert not app.exception

    users = [m for m in app.chat_message if m.name == "user"]
    answers = _assistant_messages(app)
    assert [_plain(u.markdown[0].value) for u in users] == [FIRST_QUESTION, FOLLOW_UP]
    assert len(answers) == 2
    top = record["most_important_region"].replace("_", " ")
    assert top in _plain(answers[0].markdown[0].value)
    # the answer is about a region: its heatmaps are shown inside the message
    assert len(answers[0].get("image")) >= 1
    assert len(answers[1].get("image")) >= 1
    # the router's internals stay out of the chat unless the debug toggle is on
    assert not any("answered by" in _plain(c.value) for a in answers for c in a.caption)
    app.sidebar.toggle(key="debug").set_value(True).run()
    assert any("follow-up" in _plain(c.value) for c in _assistant_messages(app)[1].caption)
    app.sidebar.toggle(key="debug").set_value(False).run()
    assert _plain(answers[1].markdown[0].value).strip()

    # the conversation's download buttons build their files when pressed (the browser test presses one)
    as_json, markdown = app_module.conversation_exports(app.session_state["conversation"])
    exported = json.loads(as_json)
    assert [t["question"] for t in exported["turns"]] == [FIRST_QUESTION, FOLLOW_UP]
    assert all(t["answer"]["text"] for t in exported["turns"])
    assert FIRST_QUESTION in markdown and FOLLOW_UP in markdown
    assert json.loads(downloads["explanation.json"])["similarity"] == pytest.approx(record["similarity"])


def test_changed_settings_mark_the_results_stale_until_rerun(app):
    assert not [c for c in app.markdown if "Out of date" in c.value]
    app.sidebar.radio(key="region_set").set_value("fine").run()
    assert any("Out of date" in c.value and "settings" in c.value for c in app.markdown)
    app.sidebar.radio(key="region_set").set_value("coarse").run()
    assert not [c for c in app.markdown if "Out of date" in c.value]


def app_module_region_label(name: str) -> str:
    for side in ("left", "right"):
        if name.startswith(side + "_"):
            return f"{name[len(side) + 1:].replace('_', ' ')} (person's {side})"
    return name.replace("_", " ")


def test_each_session_has_its_own_state(app):
    other = AppTest.from_file(str(APP_FILE), default_timeout=60).run()
    assert not other.exception
    assert other.session_state["result"] is None and other.session_state["conversation"] is None
    assert len(other.chat_message) == 0 and len(other.metric) == 0
    assert len(_assistant_messages(app)) == 2  # the first session is untouched


def test_explanation_zip_holds_the_json_and_every_heatmap(app, app_module):
    import io
    import zipfile

    result = app.session_state["result"]
    data = app_module.explanation_zip(result.explanation)
    names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    expected = {f for m in result.record["methods"] for f in result.record["heatmaps"].get(m, {}).values()}
    assert expected and expected <= names
    assert {"explanation.json", "legend.png", "table.csv", "regions_a.png", "regions_b.png"} <= names


def test_bad_uploads_show_clear_errors_and_keep_the_chat(app):
    app.sidebar.radio(key="source").set_value("upload").run()
    app.file_uploader(key="upload_a").set_value(("broken.png", b"this is not an image", "image/png"))
    too_big = b"\xff\xd8" + bytes(20 * 1024 * 1024)  # just over the 20 MB limit
    app.file_uploader(key="upload_b").set_value(("huge.jpg", too_big, "image/jpeg"))
    app.run()
    assert not app.exception
    errors = [_plain(e.value) for e in app.error]
    assert any("broken.png" in e and "not an image" in e for e in errors), errors
    assert any("huge.jpg" in e and "20 MB" in e for e in errors), errors
    assert app.button(key="explain").disabled
    assert len(_assistant_messages(app)) == 2
    assert len(app.session_state["conversation"].turns) == 2


def test_photo_without_a_face_is_an_error_and_keeps_the_chat(app, to_png, sample_photos):
    before = _metric(app, "Similarity")
    blank = np.full((240, 240, 3), 128, np.uint8)
    app.file_uploader(key="upload_a").set_value(("blank.png", to_png(blank), "image/png"))
    app.file_uploader(key="upload_b").set_value(("astronaut.png", to_png(sample_photos[0].image), "image/png"))
    app.run()
    app.button(key="explain").click().run(timeout=STEP_TIMEOUT)
    assert not app.exception
    assert any("no face" in _plain(e.value) for e in app.error), [e.value for e in app.error]
    assert app.status[0].label == "Could not explain this pair"
    assert _metric(app, "Similarity") == before  # the earlier result stays
    assert len(_assistant_messages(app)) == 2
    # the chat still works after the error
    app.chat_input(key="chat_question").set_value("How sure are you?").run()
    assert len(_assistant_messages(app)) == 3


def test_missing_model_is_an_error_and_keeps_the_chat(app):
    app.sidebar.selectbox(key="embedder").set_value("arcface").run()
    app.button(key="explain").click().run(timeout=STEP_TIMEOUT)
    assert not app.exception
    errors = [_plain(e.value) for e in app.error]
    assert any("not found" in e or "not available" in e or "cannot" in e for e in errors), errors
    assert len(_assistant_messages(app)) == 3
    app.sidebar.selectbox(key="embedder").set_value("dlib-torch").run()


def test_new_pair_starts_a_new_conversation_and_the_old_one_stays_exportable(app, to_png, sample_photos, downloads):
    a, b = sample_photos
    app.file_uploader(key="upload_a").set_value(("me.png", to_png(a.image), "image/png"))
    app.file_uploader(key="upload_b").set_value(("me-edited.png", to_png(b.image), "image/png"))
    app.run()
    app.button(key="explain").click().run(timeout=STEP_TIMEOUT)
    assert not app.exception
    assert [e.value for e in app.error] == []
    assert app.session_state["result"].names == ("me.png", "me-edited.png")
    # the same settings again: the models are loaded, and the status box does not claim to load them
    steps = [m.value for m in app.status[0].markdown]
    assert app.status[0].label.startswith("Explained in")
    assert any("S0: hiding one region at a time" in m for m in steps), steps
    assert not any("first time" in m for m in steps), steps
    assert len(app.chat_message) == 0  # a new conversation
    assert len(app.session_state["conversation"].turns) == 0
    archived = json.loads(downloads["conversation-1.json"])
    assert [t["question"] for t in archived["turns"]] == [FIRST_QUESTION, FOLLOW_UP, "How sure are you?"]
    assert "conversation-1.md" in downloads
