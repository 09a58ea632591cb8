"""Faults a fresh examiner found in the chat, each as the whole kind of fault: confidences never printed as 1.00,
"no region argued against" only when no method of the record marks one, follow-ups scoped to a method computed
from that method, the hiding and the region kept apart in change answers, the calibration caveat next to the
scores, and the examiner questions that had no real answer."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def record(name: str) -> dict:
    path = FIXTURES / f"{name}.json"
    if not path.is_file():
        path = FIXTURES / "sections" / f"{name}.json"
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def bot_for(sentence_embedder):
    """A chatbot on a record changed by the test, signed again (its digest covers its content)."""
    from chatbot import Chatbot
    from explain_engine.record import record_digest

    def make(e: dict):
        if "digest" in e:
            e["digest"] = record_digest(e)
        return Chatbot(e, embedder=sentence_embedder, base_dir=FIXTURES)
    return make


def certain(name: str) -> dict:
    """A record whose C-score and PIC are 1.0 (as the engine writes them when no calibration pair was wrong)."""
    e = record(name)
    e["confidence"], e["pic_score"] = 1.0, 0.99999999996
    return e


# --- 1: no confidence shown as 1.00 / 100% --------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["match_sections", "nonmatch_sections"])
@pytest.mark.parametrize("question", ["is this explanation reliable?", "could the decision be wrong?",
                                      "how sure are you?", "what is the PIC score?"])
def test_no_chat_answer_prints_a_confidence_as_certain(bot_for, name, question):
    from explain_engine.evidence import probability_text

    e = certain(name)
    text = bot_for(copy.deepcopy(e)).answer(question).text
    shown = re.compile(r"(C-score|confidence|PIC|probability)\W[^.;]{0,60}(\b1\.00?\b|\b100(\.0)?%)", re.IGNORECASE)
    assert not shown.search(text), text
    held = probability_text(1.0, e["decision"], e["calibration"])
    assert "cannot resolve a value closer to certainty" in held and held in text


# --- 12: the calibration caveat next to the scores ------------------------------------------------------------------
def test_scores_carry_the_shipped_calibration_caveat(bot_for):
    e = record("nonmatch_sections")
    assert not e["evidence"]["calibration"]["case_specific"]
    for question in ("how sure are you?", "what is the PIC score?", "could the decision be wrong?"):
        assert "calibration shipped with the software" in bot_for(copy.deepcopy(e)).answer(question).text
    e["evidence"]["calibration"]["case_specific"] = True  # a calibration given for the case: no caveat
    assert "shipped with the software" not in bot_for(e).answer("how sure are you?").text


# --- 10: no "this likelihood ratio comes from ..." when none is given -----------------------------------------------
def test_cli_lines_do_not_describe_a_likelihood_ratio_that_was_not_given():
    from explain_engine.evidence import decision_lines

    e = record("nonmatch_sections")
    assert any("This likelihood ratio comes from" in line for line in decision_lines(e))
    e["evidence"].update(log10_lr=None, lr=None, conclusive=False, inconclusive_reason="identical_inputs",
                         inconclusive_reasons=["identical_inputs"])
    lines = decision_lines(e)
    assert any(line.startswith("No likelihood ratio is given") for line in lines)
    assert not any("This likelihood ratio comes from" in line for line in lines)


# --- 2: "no region argued against" considers every method -----------------------------------------------------------
def test_against_answers_name_every_method_that_marks_a_region(bot_for):
    e = record("nonmatch_sections")  # S0 marks no region against the non-match; S0 (B only) marks the eyes
    by_method = {r["name"]: {m: v.get("role") for m, v in r["methods"].items()} for r in e["regions"] if r["present"]}
    against = {m for roles in by_method.values() for m, role in roles.items() if role == "against"}
    assert "s0_b_only" in against
    bot = bot_for(e)
    for question in ("Which regions work against the decision?", "which regions argued against the non-match?"):
        a = bot.answer(question)
        assert a.intent == "facts:against"
        assert "No region argued against" not in a.text
        for m in against:
            marked = [name for name, roles in by_method.items() if roles.get(m) == "against"]
            assert any(f"the {name}" in a.text for name in marked)
        assert "S0 (B only): the eyes" in a.text
    # the intent-routed wordings say which method says what too
    a = bot.answer("Which regions made the faces less similar?")
    assert "No region argued against" not in a.text and "S0 (B only)" in a.text


def test_no_region_against_only_when_no_method_marks_one(bot_for):
    e = record("nonmatch_sections")
    for r in e["regions"]:
        for v in (r.get("methods") or {}).values():
            if v.get("role") == "against":
                v["role"] = "neutral"
    a = bot_for(e).answer("Which regions work against the decision?")
    assert "No region argued against the decision" in a.text and "S0 (B only)" in a.text  # every method named


def test_role_of_a_region_says_when_the_methods_differ(bot_for):
    e = record("nonmatch_sections")  # the eyes: S0 supports the non-match, S0 (B only) argues against it
    a = bot_for(e).answer("Do the eyes work against the decision?")
    assert not a.text.startswith("No:") and "differ on it" in a.text
    assert "by S0 (B only) it argues against the decision" in a.text


# --- 7: a follow-up scoped to a method computes its figures from that method --------------------------------------
def test_scoped_follow_up_uses_its_own_method_for_the_largest_change_and_the_maps(bot_for):
    from chatbot.facts import Facts

    e = record("nonmatch_sections")
    e["heatmaps"]["s0_a_only"] = {"a": "heatmap_s0_a_only_a.png", "b": "heatmap_s0_a_only_b.png"}
    facts = Facts(e)
    bot = bot_for(e)
    history = [bot.answer("how much did hiding the mouth change the score?")]
    history.append(bot.answer("is that a lot?", history))
    followup = bot.answer("and in photo A only?", history)
    top = facts.ranking("s0_a_only", by="change")[0]
    largest = abs(facts.delta(top, "s0_a_only"))
    assert f"by S0 (A only) in this explanation was {largest:.4f} (the {top})" in followup.text
    assert followup.text.startswith(  # whose change the follow-up judges
        f"Hiding the mouth (S0 (A only)) changed the similarity by {facts.delta('mouth', 's0_a_only'):+.4f}.")
    assert {link.method for link in followup.links} == {"s0_a_only"}
    assert {link.file for link in followup.links} == {"heatmap_s0_a_only_a.png", "heatmap_s0_a_only_b.png"}


# --- 8: the hiding and the region kept apart ------------------------------------------------------------------------
def test_change_answers_keep_the_hiding_and_the_region_apart(bot_for):
    from chatbot.facts import Facts

    e = record("nonmatch_sections")
    facts = Facts(e)
    bot = bot_for(e)
    for region, method, question in (("eyes", "s0", "how much did hiding the eyes change the score?"),
                                     ("eyes", "s0_b_only", "how much did hiding the eyes in photo B only change the score?")):
        d = facts.delta(region, method)
        text = bot.answer(question).text
        assert f"{'lowered' if d < 0 else 'raised'} the similarity by {abs(d):.4f}" in text
        assert f"without the eyes the faces look {'less' if d < 0 else 'more'} alike" in text
        assert f"the eyes themselves made them {'more' if d < 0 else 'less'} alike" in text
        assert "; it made the faces" not in text


# --- 6: examiner questions with real answers from the record ---------------------------------------------------------
def with_fggb(e: dict) -> dict:
    """nonmatch_sections with FGGB and FGGB fast columns (invented numbers: FGGB the reverse of S0's order)."""
    present = [r for r in e["regions"] if r["present"]]
    order = sorted(present, key=lambda r: r["methods"]["s0"]["contribution"])
    for i, r in enumerate(order):
        c = round(-0.9 + 0.2 * i, 3)
        r["methods"]["fggb"] = {"contribution": -c, "importance": min(5, 1 + i // 2), "delta": c / 10,
                                "role": "supports" if -c < 0 else "against", "abs_change": abs(c) / 10}
        r["methods"]["fggb_fast"] = dict(r["methods"]["fggb"])
    e["methods"] = [*e["methods"], "fggb", "fggb_fast"]
    e.pop("digest", None)
    return e


def test_two_named_methods_get_their_own_agreement(bot_for):
    from chatbot.facts import Facts

    e = record("nonmatch_sections")
    a = bot_for(copy.deepcopy(e)).answer("do S1 and S0 agree?")
    assert "S1 and S0 rank the regions with a Spearman rho of 1.00 (the record's agreement figure" in a.text
    assert "S0 black" not in a.text  # not the all-pairs table
    e = with_fggb(e)
    facts = Facts(e)
    rho, source = facts.spearman("fggb", "s0")
    assert source == "table" and rho < -0.9  # FGGB's order is the reverse of S0's
    a = bot_for(e).answer("do FGGB and S0 agree?")
    assert f"Spearman rho of {rho:.2f} (computed from their columns" in a.text and "agree poorly" in a.text


def test_fast_variant_question_answers_from_the_record_and_the_measured_fidelity(bot_for):
    e = record("nonmatch_sections")
    a = bot_for(copy.deepcopy(e)).answer("is FGGB fast as good as FGGB?")
    assert a.intent == "facts:variant" and "does not have both FGGB fast and FGGB" in a.text
    assert "Spearman rho of 0.98" in a.text and "5 of 5 pairs" in a.text  # the README's measured fidelity
    a = bot_for(with_fggb(e)).answer("is FGGB fast as good as FGGB?")
    assert "FGGB fast and FGGB rank the regions with a Spearman rho of 1.00" in a.text


def test_what_would_make_it_a_match_reads_the_counterfactual(bot_for):
    e = record("match_fine_weak")  # its counterfactual: hiding the right eye and the nose flips it
    bot = bot_for(e)
    a = bot.answer("what would make it a non-match?")
    assert a.intent == "facts:counterfactual" and "right eye" in a.text and "nose" in a.text
    a = bot.answer("what would make it a match?")
    assert a.text.startswith("The decision already is a match") and "right eye" in a.text


@pytest.mark.parametrize("question", ["is the match certain?", "Are you 100% sure these are the same person?"])
def test_certainty_questions_get_the_decision_the_evidence_and_a_caveat(bot_for, question):
    from explain_engine.evidence import lr_statement, probability_text

    e = record("nonmatch_sections")
    a = bot_for(copy.deepcopy(e)).answer(question)
    assert a.intent == "facts:certainty" and a.text.startswith("No comparison result is certain.")
    assert lr_statement(e["evidence"]) in a.text
    assert probability_text(e["confidence"], e["decision"], e["calibration"]) in a.text
    assert "calibration shipped with the software" in a.text and "qualified examiner" in a.text
    if "match certain" in question:  # a match asked about a non-match: the premise is corrected
        assert "The decision is not a match: it is a non-match" in a.text


@pytest.mark.parametrize("question", ["is this Barack Obama?", "is this the same person as Barack Obama?",
                                      "Is the person in photo A Angela Merkel?", "is this the same man as john smith?"])
def test_identity_questions_are_declined(bot_for, question):
    a = bot_for(record("match_coarse")).answer(question)
    assert a.refusal == "identity" and "does not identify people" in a.text


@pytest.mark.parametrize("question", ["Is the Nose More Important Than The Eyes?", "Is this the same person?",
                                      "Is the match the same as in photo A?"])
def test_capitalised_or_same_person_questions_are_not_identity(bot_for, question):
    assert bot_for(record("match_coarse")).answer(question).refusal != "identity"


def test_no_flip_counterfactual_is_said_in_the_engines_words(bot_for):
    """A current record stores the counterfactual's outcome code, not a sentence: the answer renders it."""
    from prompts.render import counterfactual_sentence

    e = record("match_sections")
    e["counterfactual"] = {"flips": False, "regions": [], "score_after": 0.931, "source": "s1", "outcome": "no_flip",
                           "tried": ["nose", "eyes"], "similarity": e["similarity"], "threshold": e["threshold"],
                           "statement": None}
    expected = counterfactual_sentence(e["counterfactual"], threshold=e["threshold"], decision=e["decision"])
    assert expected and "0.931" in expected
    bot = bot_for(e)
    for question in ("what would make it a non-match?", "what would make it a match?"):
        text = bot.answer(question).text
        assert text.endswith(expected) and not text.rstrip().endswith(":")


def test_which_photo_sets_them_apart_reads_the_one_sided_columns(bot_for):
    from chatbot.facts import Facts

    e = record("nonmatch_sections")
    facts = Facts(e)
    a = bot_for(copy.deepcopy(e)).answer("which photo sets them apart, A or B?")
    assert a.intent == "facts:which_photo"
    for side, column in (("A", "s0_a_only"), ("B", "s0_b_only")):
        for r in facts.marked(column, "dissimilar"):
            assert f"the {r} ({facts.delta(r, column):+.4f})" in a.text
    assert "one photo as a whole" in a.text
    del e["one_sided_methods"]
    for r in e["regions"]:
        for column in ("s0_a_only", "s0_b_only"):
            r["methods"].pop(column, None)
    e.pop("digest", None)
    assert bot_for(e).answer("which photo sets them apart, A or B?").refusal == "not_computed"
