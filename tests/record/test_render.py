"""Statements rendered from the record's numbers (prompts/render.py + statements.yaml): the same sentence on the
command line, the app's decision card and in the chat."""

from __future__ import annotations

import copy
import importlib.util
import json
import sys
from pathlib import Path

import pytest

from explain_engine.record import load_record
from prompts import default_prompts, render

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "chatbot" / "fixtures"

# numbers of a real record (obama/1.jpg vs obama/2.jpg, dlib-torch), rounded
STRENGTH = {
    "similarity": 0.96534, "threshold": 0.91864, "margin": 0.0467, "largest_single_change": 0.02369,
    "largest_single_region": "cheeks", "s1_cumulative_change": 0.0348, "single_share": 0.5073, "s1_share": 0.745,
    "weak": False, "level": "moderate",
}  # fmt: skip
COUNTERFACTUAL = {
    "flips": False, "regions": [], "score_after": 0.93054, "source": "s1", "outcome": "no_flip",
    "tried": ["cheeks", "forehead", "nose", "eyebrows"], "similarity": 0.96534, "threshold": 0.91864,
}  # fmt: skip


def test_strength_and_counterfactual_sentences_from_numbers():
    assert render.strength_sentence(STRENGTH) == (
        "The similarity 0.965 is 0.047 above the threshold 0.919. Hiding a single region moves it towards the "
        "threshold by at most 0.024 (cheeks), about 50% of that margin. Hiding regions one after another (greedy "
        "search) moves it by 0.035 towards the threshold in total. Single regions move the score by a sizeable part "
        "of the margin, but hiding regions does not overturn the decision: the map shows which regions matter most, "
        "while the decision also rests on the rest of the face."
    )
    assert render.counterfactual_sentence(COUNTERFACTUAL) == (
        "No set of regions flips the decision: hiding the cheeks, the forehead, the nose and the eyebrows one after "
        "another only brings the similarity to 0.931, still above the threshold 0.919."
    )
    unbounded = {**STRENGTH, "single_share": None, "s1_cumulative_change": None, "level": "strong"}
    text = render.strength_sentence(unbounded)
    assert "more than all of that margin" in text and "greedy" not in text and "overturn the decision" in text
    away = {**STRENGTH, "largest_single_region": None, "level": "weak"}
    assert "moves it away from the threshold, never towards it" in render.strength_sentence(away)


@pytest.mark.parametrize(
    "section, expected",
    [
        ({"flips": True, "regions": ["right_eye"], "score_after": 0.5, "source": "s0"},
         "Hiding the right eye alone changes the similarity to 0.500 and flips the decision to non-match."),
        ({"flips": True, "regions": ["nose", "eyes"], "score_after": 0.5, "source": "s1", "tried": ["nose", "eyes"]},
         "Hiding the nose and the eyes together changes the similarity to 0.500 and flips the decision to non-match;"),
        ({"flips": False, "regions": [], "score_after": 0.95, "source": "s1", "tried": []},
         "hiding any region moves the similarity away from the threshold 0.900, not towards it."),
        ({"flips": False, "regions": [], "score_after": 0.95, "source": "s0"},
         "No single region flips the decision (sets of regions were not searched: S1 was not run)."),
    ],
)  # fmt: skip
def test_counterfactual_outcome_is_derived_when_the_code_is_missing(section, expected):
    assert expected in render.counterfactual_sentence(section, threshold=0.9, decision="match")


def test_version_1_sections_keep_their_stored_sentence():
    record = load_record(FIXTURES / "match_fine_weak.json")
    stored = json.loads((FIXTURES / "match_fine_weak.json").read_text())
    assert (
        render.strength_sentence(record.strength, similarity=record.similarity, threshold=record.threshold)
        == (stored["strength"]["statement"])
    )
    cf = render.counterfactual_sentence(record.counterfactual, threshold=record.threshold, decision=record.decision)
    assert cf == stored["counterfactual"]["statement"]


def test_confidence_bands():
    """One table of C-score bands: the chat's level word (the card and CLI give the held-back score itself)."""
    levels = default_prompts().vocabulary["confidence_levels"]
    for c, word in ((0.99, "very high"), (0.9, "high"), (0.75, "moderate"), (0.65, "low"), (0.52, "very low")):
        assert render.confidence_level(c, levels)["word"] == word
    assert render.confidence_level(None) is None


def _v2_record() -> dict:
    """The match fixture as a version-2 record: numbers and codes, no stored sentences."""
    d = json.loads((FIXTURES / "match_coarse.json").read_text())
    d["schema_version"] = 2
    d["confidence_meaning"], d["pic_meaning"] = "c_score", "pic"
    d["strength"] = {**STRENGTH, "similarity": d["similarity"], "threshold": d["threshold"], "margin": d["margin"],
                     "largest_single_region": "nose"}  # fmt: skip
    d["counterfactual"] = {**COUNTERFACTUAL, "similarity": d["similarity"], "threshold": d["threshold"],
                           "tried": ["nose", "eyes", "mouth"], "score_after": 0.93}  # fmt: skip
    return load_record(d).to_dict()


@pytest.fixture(scope="module")
def app_module():
    spec = importlib.util.spec_from_file_location("facex_streamlit_app_render", REPO / "streamlit_app.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_cli_card_and_chat_say_the_same_sentences(app_module):
    from chatbot.context import build_context
    from explain_engine.__main__ import engine_summary

    record = _v2_record()
    strength = render.strength_sentence(record["strength"])
    cf = render.counterfactual_sentence(record["counterfactual"])
    assert "0.041 above the threshold 0.920" in strength and "hiding the nose, the eyes and the mouth" in cf
    cli = engine_summary(record).splitlines()
    assert strength in cli and cf in cli
    from explain_engine.evidence import decision_lines, lr_statement

    assert cli[0] == lr_statement(record.get("evidence"))  # the strength of evidence leads (issue: forensic wording)
    assert cli[: len(decision_lines(record))] == decision_lines(record)
    card = app_module.decision_summary(copy.deepcopy(record))
    assert card["statements"] == [strength, cf]
    assert card["lr_statement"] == cli[0] and card["plain"] == decision_lines(record)[-1]
    ctx = build_context(record, default_prompts())
    assert ctx.get("strength").text == strength and ctx.get("counterfactual").text == cf
    assert ctx.get("strength_detail").text.endswith("so the evidence is moderate.")  # the record's level, as the card
    assert render.confidence_level(0.93)["word"] in ctx.text  # the chat names the card's band
    assert ctx.get("confidence_meaning").text == card["confidence_meaning"] == render.score_meaning("c_score")
    assert ctx.get("pic_meaning").text == card["pic_meaning"] == render.score_meaning("pic")
    assert render.score_meaning("c_score").startswith("The C-score (xFace) is the share of calibration pairs")
    assert render.score_meaning("an old sentence.") == "an old sentence."  # version 1 stored the words


def test_chat_says_an_allowed_edited_record_is_edited():
    from chatbot.context import build_context

    record = _v2_record()
    record["similarity"] = 0.99  # digest no longer matches, margin no longer similarity - threshold
    ctx = build_context(record, default_prompts(), allow_edited=True)
    first = ctx.sentences[0]
    assert first.id == "record.edited" and "changed after it was written" in first.text
    assert "digest does not match" in first.text


def test_table_columns_and_colour_scale_are_codes():
    assert render.column_description("s0") == "S0 single inpaint, region hidden in both photos"
    assert render.column_description("s0_a_only") == "S0 with the region hidden in photo A only"
    assert render.column_description("an old description") == "an old description"  # version 1 stored the words
    assert render.colour_scale_text("red_supports_blue_against").startswith("red = the region supports the match")
    assert render.legend_labels() == ("makes the faces more alike", "makes the faces less alike")


def test_the_digest_is_stated_in_the_conversation_report(sentence_embedder):
    from chatbot import Chatbot, Conversation
    from chatbot.export import conversation_markdown

    record = _v2_record()
    conv = Conversation(Chatbot(record, embedder=sentence_embedder))
    conv.ask("What is the decision?")
    assert f"SHA-256 digest of the explanation's content `{record['digest']}`" in conversation_markdown(conv)
    assert conv.to_dict()["explanation_summary"]["digest"] == record["digest"]


def test_a_conversation_about_an_edited_record_reloads_as_edited(sentence_embedder, tmp_path):
    from chatbot import Chatbot, Conversation

    record = _v2_record()
    record["calibration"]["accuracy"] = 0.5  # consistent, but the digest no longer matches
    conv = Conversation(Chatbot(record, embedder=sentence_embedder, allow_edited=True))
    answer = conv.ask("What is the decision?")
    assert answer.notes and "changed after it was written" in answer.notes[0]
    path = conv.save(tmp_path / "log.json")
    loaded = Conversation.load(path)
    assert loaded.explanation_edited and loaded.to_dict() == json.loads(path.read_text())
    loaded.attach(Chatbot(loaded.explanation, embedder=sentence_embedder, allow_edited=True))
    assert "changed after it was written" in loaded.ask("And the threshold?").notes[0]
