"""The app's plain helpers: upload checks, escaping, wording, and mapping chatbot links to heatmap images."""

from __future__ import annotations

import io

import numpy as np
import pytest

from models.errors import ImageError


def _encode(image: np.ndarray, fmt: str) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "fmt"), [("a.jpg", "JPEG"), ("b.JPEG", "JPEG"), ("c.png", "PNG"), ("d.webp", "WEBP")])
def test_read_upload_accepts_jpeg_png_webp_in_memory(app_module, astronaut, name, fmt):
    photo = app_module.read_upload(name, _encode(astronaut, fmt))
    assert photo.name == name
    assert photo.image.shape == astronaut.shape and photo.image.dtype == np.uint8
    assert len(photo.digest) == 16


def test_read_upload_rejects_other_types_oversized_empty_and_corrupt_files(app_module, astronaut):
    with pytest.raises(ImageError, match=r"photo\.gif: only JPEG, PNG and WEBP"):
        app_module.read_upload("photo.gif", _encode(astronaut, "GIF"))
    with pytest.raises(ImageError, match=r"disguised\.png: this is a GIF image; only JPEG, PNG and WEBP"):
        app_module.read_upload("disguised.png", _encode(astronaut, "GIF"))
    with pytest.raises(ImageError, match=r"big\.png: the file is 20\.0 MB; the limit is 20 MB"):
        app_module.read_upload("big.png", bytes(app_module.MAX_UPLOAD_BYTES + 1))
    with pytest.raises(ImageError, match=r"empty\.png: the file is empty"):
        app_module.read_upload("empty.png", b"")
    with pytest.raises(ImageError, match=r"cut\.jpg"):
        app_module.read_upload("cut.jpg", _encode(astronaut, "JPEG")[:400])


def test_sample_pair_is_the_astronaut_and_a_mirrored_shifted_brighter_copy(app_module, astronaut):
    a, b = app_module.sample_pair()
    assert np.array_equal(a.image, astronaut)
    assert b.image.mean() > a.image.mean() + 10  # brighter
    # mirrored and shifted: undoing the shift and the mirror lines the copy up with the original (minus brightness)
    undone = np.roll(b.image, shift=(-12, 10), axis=(0, 1))[:, ::-1].astype(int)
    inner = (slice(20, -20), slice(20, -20))
    assert np.abs(undone[inner] - np.clip(a.image.astype(int) + 25, 0, 255)[inner]).max() == 0


def test_escape_markdown_shows_html_and_markdown_literally(app_module):
    text = "<b>bold</b> *x* [link](http://x) `code` # h\nline2"
    escaped = app_module.escape_markdown(text)
    assert "<b>" not in escaped and "\\<b\\>" in escaped
    assert "\\*x\\*" in escaped and "\\[link\\]\\(http\\:" in escaped and "\\`code\\`" in escaped
    assert escaped.replace("\\", "").replace("  \n", "\n") == text


def test_decision_card_leads_with_the_lr_and_never_shows_100_percent(app_module):
    import json
    from pathlib import Path

    from explain_engine.calibration import load_default_calibration
    from explain_engine.evidence import compute_evidence
    from explain_engine.record import load_record

    base = json.loads((Path(__file__).parents[1] / "chatbot" / "fixtures" / "match_coarse.json").read_text())
    cal = load_default_calibration("dlib-torch")
    for similarity, identical in ((0.96, False), (0.94, False), (1.0, True)):
        decision = "match" if similarity >= cal.threshold else "non-match"
        record = {
            **base, "decision": decision, "similarity": similarity, "distance": 1 - similarity,
            "threshold": cal.threshold, "margin": similarity - cal.threshold, "confidence": 1.0, "pic_score": 1.0,
            "calibration": cal.summary(),
            "evidence": compute_evidence(similarity, cal.threshold, cal, decision=decision, identical_inputs=identical),
        }  # fmt: skip
        card = app_module.decision_summary(load_record(record).to_dict())
        text = " ".join([card["lr_statement"], *card["evidence_lines"], card["plain"], card["confidence"], card["pic"]])
        assert "100%" not in text and "very sure" not in text and "in 100" not in text
        if identical:
            assert card["lr_statement"].startswith("No likelihood ratio") and card["confidence"] == "n/a"
        else:
            assert card["lr_statement"].startswith("The observed similarity is about")
            assert card["confidence"].startswith("≥ ") and card["pic"].startswith("≥ ")


def test_linked_images_follow_the_chatbots_links_with_the_panels_rendering(app_module):
    from chatbot import ArtifactLink

    maps = {"s0": {k: np.full((4, 4, 3), i, np.uint8) for i, k in enumerate(("a", "b", "overlay_a", "overlay_b"))}}
    legend = np.zeros((2, 8, 3), np.uint8)

    class Reply:
        regions: tuple = ()
        links: tuple = (
            ArtifactLink("S0 heatmap, image A", "heatmap_s0_a.png", "heatmap", "s0", "a"),
            ArtifactLink("S0 overlay, image B", "overlay_s0_b.png", "overlay", "s0", "b"),
            ArtifactLink("S1 heatmap, image A", "heatmap_s1_a.png", "heatmap", "s1", "a"),  # not drawn: skipped
            ArtifactLink("colour legend", "legend.png", "legend", None, None),
        )

    shown = app_module.linked_images(Reply(), maps, legend)
    assert [caption for _, caption in shown] == ["S0 heatmap, image A", "S0 overlay, image B", "colour legend"]
    # the heatmap panel shows overlays on the photo: the chat shows the same rendering
    assert shown[0][0] is maps["s0"]["overlay_a"] and shown[1][0] is maps["s0"]["overlay_b"] and shown[2][0] is legend


def test_chat_image_outlines_the_region_the_answer_names(app_module):
    from chatbot import ArtifactLink

    overlay = np.full((60, 60, 3), 200, np.uint8)
    maps = {"s0": {"overlay_a": overlay, "overlay_b": overlay}}
    nose = np.zeros((60, 60), bool)
    nose[20:40, 20:40] = True
    outlines = {"a": {"nose": nose, "eyes": np.zeros((60, 60), bool)}, "b": {"nose": nose}}

    class Reply:
        regions = ("nose",)
        links = (ArtifactLink("S0 overlay, image A", "overlay_s0_a.png", "overlay", "s0", "a"),)

    (image, caption), = app_module.linked_images(Reply(), maps, None, outlines)
    assert "outlined: nose" in caption
    changed = np.any(image != overlay, axis=2)
    assert changed.any()
    ys, xs = np.nonzero(changed)
    assert 15 <= ys.min() and ys.max() <= 45 and 15 <= xs.min() and xs.max() <= 45  # around the nose only
    assert not changed[28:32, 28:32].any()  # an outline, not a fill


def test_region_labels_say_whose_left(app_module):
    assert app_module.region_label("left_eye") == "eye (person's left)"
    assert app_module.region_label("right_eyebrow") == "eyebrow (person's right)"
    assert app_module.region_label("nose") == "nose"


def test_table_view_keeps_every_method_column_with_level_role_and_change(app_module):
    from explain_engine.table import explainability_table

    deltas = {"S0": {"left_eye": -0.065, "chin": 0.012, "mouth": 0.0004},
              "S0 (A only)": {"left_eye": -0.03, "chin": 0.01, "mouth": 0.0}}
    norm = {c: {r: v / 0.065 for r, v in d.items()} for c, d in deltas.items()}
    table = explainability_table(norm, by="decision", deltas=deltas, decision="non-match",
                                 summary_columns=["S0"])
    view, config = app_module.table_view(table)
    assert list(view.columns) == ["region", "S0", "S0 (A only)", "Mean", "Ratio of 1s"]
    assert list(view["region"]) == ["eye (person's left)", "chin", "mouth"]
    assert view["S0"].tolist() == ["1 ▲ 0.065", "5 ▼ 0.012", "5 ○ 0.000"]
    assert config["region"]["pinned"] is True


def test_stale_reasons_name_changed_settings_and_photos(app_module, sample_photos):
    settings = {"embedder": "dlib-torch", "fill": "inpaint:telea", "methods": ["s0"], "region_set": "coarse"}
    a, b = sample_photos
    current = app_module.ExplainedPair(None, {}, ("a", "b"), (a.digest, b.digest), 1.0, 0.5,
                                       app_module.settings_key(settings))
    assert app_module.stale_reasons(current, settings, (a, b)) == []
    assert app_module.stale_reasons(current, {**settings, "region_set": "fine"}, (a, b)) == [
        "other settings than those now chosen in the sidebar"]
    assert app_module.stale_reasons(current, settings, (b, a)) == ["the previous pair of photos"]


def test_a_second_session_waits_for_the_engine_lock(app_module, sample_photos):
    """Sessions share one engine: a second explanation waits (and says so) until the first releases the lock."""
    import threading

    calls = []

    class Recorder:  # stands in for the engine: this test is about the lock, not about explanations
        def explain(self, a, b, progress=None, names=None):
            calls.append(names)
            return names

    shared = app_module.Shared(Recorder())
    waited = threading.Event()
    shared.lock.acquire()  # another session is explaining
    result = {}
    worker = threading.Thread(
        target=lambda: result.setdefault(
            "value", app_module.run_explanation(shared, *sample_photos, progress=None, waiting=waited.set)
        )
    )
    worker.start()
    assert waited.wait(10)
    assert calls == []  # still waiting
    shared.lock.release()
    worker.join(10)
    assert result["value"] == ("astronaut.png", "astronaut-edited.png")
    assert not shared.lock.locked()


def test_stage_tracker_turns_engine_progress_into_steps(app_module):
    tracker = app_module.StageTracker(["preparing faces", "s0", "s1"])
    assert tracker.update("preparing faces", 0.0) == [] and tracker.overall == 0.0
    assert [label for label, _ in tracker.update("preparing faces", 0.05)] == [
        app_module.STAGE_LABELS["preparing faces"]
    ]
    assert tracker.current_label == app_module.STAGE_LABELS["s0"]
    assert [label for label, _ in tracker.update("s0", 1.0)] == [app_module.STAGE_LABELS["s0"]]
    assert tracker.update("s1", 0.5) == [] and tracker.overall == pytest.approx(2.5 / 3)
    assert [label for label, _ in tracker.update("done", 1.0)] == [app_module.STAGE_LABELS["s1"]]
    assert tracker.overall == 1.0


class _SteppingEngine:
    """Stands in for the engine: reports ``steps`` progress calls, ``pause`` seconds apart, then returns its names."""

    def __init__(self, steps: int = 3, pause: float = 0.0, error: Exception | None = None) -> None:
        self.steps, self.pause, self.error = steps, pause, error
        self.finished = False

    def explain(self, a, b, progress=None, names=None):
        import time

        for k in range(self.steps):
            time.sleep(self.pause)
            progress("s0", (k + 1) / self.steps)
        if self.error is not None:
            raise self.error
        self.finished = True
        return names


def test_explanation_runs_in_a_worker_and_the_page_draws_its_progress_in_order(app_module, sample_photos):
    import queue
    import threading

    shared = app_module.Shared(_SteppingEngine(steps=4, pause=0.01))
    events, stop = queue.Queue(), threading.Event()
    job = app_module.start_explanation(shared, sample_photos, events, stop)
    seen = []
    app_module.follow_explanation(job, events, lambda stage, f: seen.append((stage, f, threading.current_thread())),
                                  waiting=lambda: seen.append("waiting"))
    assert [(s, f) for s, f, _ in seen] == [("s0", 0.25), ("s0", 0.5), ("s0", 0.75), ("s0", 1.0)]
    assert all(t is threading.current_thread() for _, _, t in seen)  # drawn by the page's own thread
    value, seconds = job.result(timeout=10)
    assert value == ("astronaut.png", "astronaut-edited.png") and seconds > 0.03
    assert not shared.lock.locked()


def test_an_engine_error_reaches_the_page(app_module, sample_photos):
    import queue
    import threading

    from models.errors import FaceXError

    shared = app_module.Shared(_SteppingEngine(steps=1, error=FaceXError("no face found in photo A")))
    events = queue.Queue()
    job = app_module.start_explanation(shared, sample_photos, events, threading.Event())
    app_module.follow_explanation(job, events, lambda *_: None, lambda: None)
    with pytest.raises(FaceXError, match="no face found"):
        job.result(timeout=10)
    assert not shared.lock.locked()


def test_a_page_that_stops_stops_its_engine_at_the_next_step_and_frees_it(app_module, sample_photos):
    import queue
    import threading

    engine = _SteppingEngine(steps=1000, pause=0.01)
    shared = app_module.Shared(engine)
    events, stop = queue.Queue(), threading.Event()
    job = app_module.start_explanation(shared, sample_photos, events, stop)
    assert events.get(timeout=10)[0] == "progress"  # it runs
    app_module.stop_explanation(job, stop, timeout=10)  # e.g. the page reran: returns once the engine let go
    assert job.done() and not engine.finished
    with pytest.raises(app_module.Stopped):
        job.result()
    assert not shared.lock.locked()
    app_module.stop_explanation(job, stop)  # a finished job: nothing to do


def test_the_panels_images_are_drawn_ahead_under_the_pages_keys(app_module):
    """start_drawing draws what the results panel shows first (faces, overlays, legend) under the keys that
    ExplainedPair.image looks up; a part that fails is left for the page to draw (and report) itself."""
    face = np.full((30, 30, 3), 90, np.uint8)

    class Drawn:
        def __init__(self) -> None:
            self.aligned_faces = {"a": face, "b": face}

        def overlays_on(self, scale):
            return {"s0": {"overlay_a": face, "overlay_b": face}, "s0_a_only": {"overlay_a": face}}

        def legend_on(self, scale):
            return np.zeros((5, 20, 3), np.uint8)

    encoded = app_module.finished_images(app_module.start_drawing(Drawn(), "normalised"))
    assert set(encoded) == {("faces", "a"), ("faces", "b"), ("normalised", "s0", "a"), ("normalised", "s0", "b"),
                            ("normalised", "s0_a_only", "a"), ("normalised", "legend")}
    assert encoded[("normalised", "legend")].startswith(b"\x89PNG") and encoded[("faces", "a")][:2] == b"\xff\xd8"
    current = app_module.ExplainedPair(None, {}, ("a", "b"), ("x", "y"), 1.0, encoded=encoded)
    assert current.image(("faces", "a"), lambda: pytest.fail("drawn again")) == encoded[("faces", "a")]

    class Broken(Drawn):
        def overlays_on(self, scale):
            raise RuntimeError("no maps")

    assert set(app_module.finished_images(app_module.start_drawing(Broken(), "absolute"))) == {
        ("faces", "a"), ("faces", "b")}


def test_contribution_chart_is_a_valid_vega_lite_spec_on_the_maps_range(app_module):
    import altair as alt
    import pandas as pd

    frame = pd.DataFrame({"region": ["nose", "nose", "eyes", "eyes"], "method": ["S0", "S1", "S0", "S1"],
                          "contribution": [0.02, 0.03, -0.01, 0.0]})
    spec = app_module.contribution_chart_spec(frame, 0.146)
    alt.Chart.from_dict({**spec, "data": {"values": frame.to_dict("records")}})  # raises on a schema error
    encoding = spec["encoding"]
    assert encoding["x"]["scale"]["domain"] == [-0.146, 0.146]  # the heatmaps' absolute range, not stretched
    assert encoding["y"]["sort"] == ["nose", "eyes"]  # largest mean change first
    assert encoding["color"]["scale"]["domain"] == ["S0", "S1"]
    assert all(c.lower() not in ("red", "blue") for c in encoding["color"]["scale"]["range"])


def test_largest_change_counts_only_region_maps_drawn_in_similarity_units(app_module):
    record = {
        "heatmaps": {"fggb": {"photo-similarity_a": "x.png"}},
        "regions": [
            {"name": "nose", "present": True, "methods": {"s0": {"delta": -0.031}, "s1": {"delta": 0.012},
                                                          "occlusion": {"delta": 0.9}, "fggb": {"delta": 0.5}}},
            {"name": "ears", "present": False, "methods": {"s0": {"delta": 0.2}}},
            {"name": "chin", "present": True, "methods": {"s0": {"delta": None}, "s0_a_only": {"delta": 0.02}}},
        ],
    }
    assert app_module.largest_change(record, ["s0", "s1", "s0_a_only", "occlusion", "fggb"]) == 0.031
    assert app_module.largest_change(record, ["s1"]) == 0.012
    assert app_module.largest_change(record, ["occlusion", "fggb"]) is None
    words = app_module.scale_reading_words({**record, "heatmap_scale": {"vmax": 0.146}}, "absolute", ["s0"])
    assert "0.031, 21% of full colour (0.146)" in words and app_module.SCALE_LABELS["normalised"] in words


def test_photo_preview_is_small_and_encoded_once(app_module):
    from PIL import Image

    wide = np.zeros((300, 900, 3), np.uint8)
    wide[:, 450:] = 200
    photo = app_module.read_upload("wide.png", _encode(wide, "PNG"))
    preview = photo.preview
    assert photo.preview is preview  # every rerun shows the same bytes
    with Image.open(io.BytesIO(preview)) as shown:
        assert shown.format == "JPEG" and shown.size == (app_module.PREVIEW_PX, app_module.PREVIEW_PX // 3)


def test_settle_heap_keeps_the_loaded_objects_out_of_later_collections(app_module):
    import gc

    try:
        app_module.settle_heap()
        assert gc.get_freeze_count() > 0  # the objects alive now are skipped by every later collection
        garbage = []
        garbage.append(garbage)  # a reference cycle made afterwards is still collected
        del garbage
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
