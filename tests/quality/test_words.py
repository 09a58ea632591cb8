"""The quality sentences never contradict each other or overstate (explain_engine.quality.words, the refusal
chat): a photo refused as too dark or upside down has no region called visible; a warned cover is never "not
covered" nor followed by "no part is hidden"; a refusal says which side of a bound was crossed; fractions read as
percentages. Built from judged values, no model needed."""

from __future__ import annotations

import pytest

from chatbot.refusal import RefusalChatbot
from explain_engine.quality import PhotoQuality, QualityError, enforce, judge, load_policy, warning_text
from explain_engine.quality.core import RegionVisibility, worst
from explain_engine.quality.words import component_facts, sentences, unjudged
from explain_engine.record import RefusalRecord

CLEAN = {"luminance_mean": 120.0, "under_exposure": 0.01, "over_exposure": 0.0, "sharpness": 2000.0,
         "eyes_occlusion": 0.0, "mouth_occlusion": 0.0, "face_cut_off": 1.0, "in_plane_orientation": 0.0,
         "photographic": 4.0, "face_landmarks": 1.0}


def _shown(flat: float = 0.0, inside: float = 1.0, reason: str | None = None) -> RegionVisibility:
    return RegionVisibility(visible_fraction=inside, flat_fraction=flat, parser_disagreement=None,
                            covered=reason is not None, absent_reason=reason)


def _photo(name: str, values: dict, visibility: dict | None = None) -> PhotoQuality:
    policy = load_policy()
    components = judge({**CLEAN, **values}, policy)
    return PhotoQuality(name=name, outcome=worst(c.outcome for c in components), components=components,
                        visibility=dict(visibility or {}))


REGIONS = {"eyes": _shown(), "nose": _shown(), "mouth": _shown(), "cheeks": _shown()}
# the fresh user's nearly black photo: eyes and mouth measured as not flat, nose and cheeks flat (dark, not covered)
DARK = {"luminance_mean": 14.3, "under_exposure": 1.0, "sharpness": 24.0, "eyes_occlusion": 0.032,
        "mouth_occlusion": 0.154}
DARK_REGIONS = {"eyes": _shown(0.0), "mouth": _shown(0.1), "nose": _shown(0.49, reason="covered_flat"),
                "cheeks": _shown(0.73, reason="covered_flat")}


def _refusal_bot(photo: PhotoQuality, other: PhotoQuality | None = None) -> RefusalChatbot:
    with pytest.raises(QualityError) as info:
        enforce(photo)
    error = info.value
    error.side, error.names, error.other = "a", {"a": photo.name, "b": "b.png"}, other
    return RefusalChatbot(RefusalRecord.from_error(error).to_dict())


def test_a_refusal_says_which_side_of_the_brightness_bound_was_crossed():
    policy = load_policy()
    for value, said, not_said in ((14.3, "far too dark", "bright"), (250.0, "far too bright", "dark")):
        photo = _photo("p.png", {"luminance_mean": value})
        with pytest.raises(QualityError) as info:
            enforce(photo, policy)
        assert said in str(info.value) and not_said not in str(info.value).split(":", 2)[-1]
        facts = component_facts(photo.to_dict(), "luminance_mean", policy)
        assert facts["why"].startswith("the face is " + said)
        assert said in dict(sentences({"a": photo.to_dict()}))["quality.a.luminance_mean"]
    assert "unusually dark" in warning_text(_photo("dim.png", {"luminance_mean": 50.0}), policy)
    assert "or bright" not in warning_text(_photo("dim.png", {"luminance_mean": 50.0}), policy)
    assert policy.components["luminance_mean"].text("refuse") == "the face is far too dark or too bright to compare"


def test_fractions_read_as_percentages_with_their_bounds():
    photo = _photo("p.png", {"eyes_occlusion": 0.2, "under_exposure": 0.3}, REGIONS).to_dict()
    said = dict(sentences({"a": photo}))
    assert "(cover over the eyes: 20% of the eye opening in flat patches; flagged above 15%)" in said[
        "quality.a.eyes_occlusion"]
    assert "30% of face pixels at luminance 0-25; flagged above 25%" in said["quality.a.under_exposure"]
    assert "100% of the face outline's area inside the photo" in said["quality.a.face_cut_off"]
    assert "120 grey level" in said["quality.a.luminance_mean"]  # not a fraction: as measured
    assert not any("fraction" in text for text in said.values())
    facts = component_facts(_photo("d.png", DARK).to_dict(), "under_exposure")
    assert (facts["value"], facts["unit"], facts["limit"]) == ("100%", "of face pixels at luminance 0-25",
                                                                "refused above 60%")


def test_a_warned_cover_is_named_for_what_is_wrong_and_never_followed_by_nothing_hidden():
    photo = _photo("cheekpaint.png", {"mouth_occlusion": 0.28}, {**REGIONS, "cheeks": _shown(0.2)})
    assert photo.outcome == "warn"
    warning = warning_text(photo)
    assert "(the mouth seems partly covered)" in warning and "mouth visible" not in warning
    said = dict(sentences({"a": photo.to_dict(), "b": _photo("b.png", {}, REGIONS).to_dict()}))
    hidden = said["quality.hidden"]
    assert "No part" not in hidden and "the mouth seems partly covered" in hidden
    assert "not covered" not in said["visibility.a.mouth"] and "partly covered" in said["visibility.a.mouth"]
    assert "in photo A 100% inside the frame, but the mouth seems partly covered" in said["region.mouth.visibility"]
    assert "in photo B 100% inside the frame and not covered" in said["region.mouth.visibility"]
    # nothing absent and no hiding component flagged: then, and only then, nothing is hidden
    clean = dict(sentences({"a": _photo("a.png", {}, REGIONS).to_dict(), "b": _photo("b.png", {}, REGIONS).to_dict()}))
    assert clean["quality.hidden"] == "No part of either face is hidden, covered or cut off by the frame."
    # the painted cheeks: 20% flat, under the 40% at which a region counts as covered, so compared; never "not covered"
    assert said["visibility.a.cheeks"] == ("The cheeks in photo A: 100% inside the frame; 20% of it in flat patches, "
                                           "under the 40% at which it counts as covered.")
    assert "in photo A 100% inside the frame, 20% in flat patches (counted as covered from 40%)" in said[
        "region.cheeks.visibility"]
    cut = dict(sentences({"a": _photo("a.png", {"face_cut_off": 0.8}, REGIONS).to_dict()}))
    assert "No part" not in cut["quality.hidden"] and "cut off by the photo's frame" in cut["quality.hidden"]


def test_a_region_already_left_out_is_not_also_listed_as_flagged():
    photo = _photo("glasses.png", {"eyes_occlusion": 0.9}, {**REGIONS, "eyes": _shown(0.6, reason="covered_flat")})
    hidden = dict(sentences({"a": photo.to_dict()}))["quality.hidden"]
    assert hidden.count("eyes") == 2 and "Flagged" not in hidden  # "the eyes (covered by ... of the eyes flat)"


def test_a_photo_refused_as_too_dark_has_no_region_called_visible_or_covered():
    dark = _photo("dark.jpg", DARK, DARK_REGIONS)
    assert unjudged(dark.to_dict())["name"] == "luminance_mean"
    said = dict(sentences({"a": dark.to_dict()}))
    side_a = {k: v for k, v in said.items() if ".a." in k or k.startswith("region.") or k == "quality.hidden"}
    for sid, text in side_a.items():
        assert "inside the frame" not in text and "Photo A: the eyes are visible" not in text, sid
        assert "Photo A: the mouth is visible" not in text and "whole face is inside" not in text, sid
        assert "flat, uniform patch" not in text, sid  # dark, not covered: the flat measure cannot be read
    for region in DARK_REGIONS:  # every region alike: the eyes do not read better than the nose
        assert "cannot be judged" in said[f"visibility.a.{region}"] and "far too dark" in said[f"visibility.a.{region}"]
    assert "cannot be judged" in said["quality.a.eyes_occlusion"]
    assert said["quality.hidden"].startswith("Whether any part of the face in photo A is visible, hidden, covered")
    assert "the eyes are visible" not in said["quality.a.issues"]


@pytest.mark.parametrize("values", [DARK, {"in_plane_orientation": 180.0}, {"face_landmarks": 0.0}])
def test_the_refusal_chat_leads_with_the_refusal_for_every_region(values):
    bot = _refusal_bot(_photo("dark.jpg", values, DARK_REGIONS), other=_photo("b.png", {}, REGIONS))
    eyes, nose, hidden = (bot.answer(q).text for q in ("Are the eyes visible?", "Is the nose visible?",
                                                       "Is part of the face hidden?"))
    for text in (eyes, nose, hidden):
        assert "Whether any part of the face in photo A is visible, hidden, covered or cut off cannot be judged" in text
        assert "in photo A 100% inside the frame" not in text and "in photo A not compared" not in text
        assert "Photo A: the eyes are visible" not in text and "No part of either face" not in text
    lead = eyes.index("cannot be judged")
    assert lead < eyes.index("in photo B 100% inside the frame and not covered")  # photo B passed: it is said
    assert "No part of the face in photo B is hidden" in hidden


def test_a_refusal_for_a_cover_still_answers_region_by_region():
    photo = _photo("glasses.png", {"eyes_occlusion": 0.9}, {**REGIONS, "eyes": _shown(0.6, reason="covered_flat")})
    bot = _refusal_bot(photo)
    eyes, mouth = bot.answer("Are the eyes visible?").text, bot.answer("Is the mouth visible?").text
    assert "cannot be judged" not in eyes + mouth
    assert "The eyes: in photo A not compared" in eyes and "refused above 40%" in eyes
    assert "The mouth: in photo A 100% inside the frame and not covered" in mouth
    assert "refused for cover over the eyes (90% of the eye opening" in bot.answer("Why was this photo refused?").text
