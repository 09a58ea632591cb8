"""The pieces behind computed answers: the facts table, the question parser (refusals that share the domain's words,
spelling tolerance, slots), the language check, the dialogue state, and the chatbot CLI's one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatbot.dialogue import DialogueState
from chatbot.facts import Facts, independent
from chatbot.language import other_language
from chatbot.questions import QuestionParser, load_lexicon
from prompts import default_prompts

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ROOT = Path(__file__).resolve().parents[2]


def record(name: str) -> dict:
    path = FIXTURES / f"{name}.json"
    if not path.is_file():
        path = FIXTURES / "sections" / f"{name}.json"
    return json.loads(path.read_text())


def current(name: str) -> dict:
    """The fixture as the chatbot sees it: loaded through the record schema (v1 keys migrated)."""
    from chatbot.context import read_record

    return read_record(record(name)).model_dump(mode="json")


@pytest.fixture(scope="module")
def parser():
    e = record("match_sections")
    return QuestionParser(default_prompts(), [r["name"] for r in e["regions"]], "coarse")


# --- facts -----------------------------------------------------------------------------------------------------
def test_facts_table_has_every_method_column_and_the_one_sided_ones():
    f = Facts(current("match_sections"))
    assert {"s0", "s1", "avg", "s0_black", "fggb", "s0_a_only", "s0_b_only"} <= set(f.methods)
    assert f.delta("nose", "s0") == pytest.approx(-0.0089)
    assert f.delta("nose", "s0_a_only") == pytest.approx(-0.0089 * 0.62, abs=1e-5)
    assert f.importance("ears", "s0") is None and "ears" not in f.present
    assert f.value("hair", "visible_fraction_b") == pytest.approx(0.3)
    assert f.value("ears", "absent_reason") == "hidden by hair in both photos"


def test_rankings_by_importance_and_by_change_differ_where_the_record_says_so():
    f = Facts(record("match_coarse"))
    by_level, by_change = f.ranking("avg"), f.ranking("s0", by="change")
    assert by_level[:3] == ["nose", "eyes", "mouth"]
    # the chin changes the score more than the forehead but ranks lower by level ties: the two orders are distinct
    assert by_change.index("chin") < by_change.index("forehead")
    assert [abs(f.delta(r, "s0")) for r in by_change] == sorted((abs(f.delta(r, "s0")) for r in by_change), reverse=True)


def test_agreement_leaves_out_avg_with_its_parts():
    assert not independent("s0", "avg") and not independent("avg", "s1") and not independent("s0", "s0_a_only")
    assert independent("s0", "s1") and independent("s1", "s0_black")
    e = record("match_coarse")
    e["agreement"] = {"s0~s1": 0.6, "s0~avg": 0.99, "s1~avg": 0.95}
    pairs, mean = Facts(e).independent_agreement()
    assert pairs == [("s0", "s1", 0.6)] and mean == pytest.approx(0.6)


def test_score_after_a_set_uses_measured_values_only():
    f = Facts(current("match_sections"))
    assert f.score_after(["nose", "eyes"]) == (pytest.approx(0.9472), "s1_path")
    assert f.score_after(["nose", "chin"]) is None  # never measured together
    near = Facts(current("near_threshold"))
    after, how = near.score_after(["nose"])
    assert after == pytest.approx(0.9236 - 0.0089) and how == "single" and near.flips(after)


def test_effect_follows_the_decision():
    match, nonmatch = Facts(record("match_coarse")), Facts(record("nonmatch_coarse"))
    assert match.effect("nose", "s0") == "supports" and match.effect("chin", "s0") == "against"
    assert nonmatch.effect("eyes", "s0") == "supports" and nonmatch.effect("mouth", "s0") == "against"


# --- parsing ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("question,reason", [
    ("who is this person?", "identity"),
    ("What is the name of the woman in photo B?", "identity"),
    ("Is the person in photo A a woman?", "demographics"),
    ("How old is the person in the second photo?", "demographics"),
    ("What is the ethnicity of the face in image A?", "demographics"),
    ("Can I write that this is a positive identification?", "legal"),
    ("Does the match prove it is the same person?", "legal"),
])
def test_refusals_of_questions_that_share_the_domain_words(parser, question, reason):
    q = parser.parse(question.lower())
    assert q is not None and q.operation == "refuse" and q.subject == reason


@pytest.mark.parametrize("question", [
    "Are these the same person?", "Do these images show the same man?", "Is the person in photo A the same as in B?",
    "What is the decision?", "Which region was the most important?", "Is the face in photo B small?",
])
def test_on_topic_questions_are_not_refused(parser, question):
    q = parser.parse(question.lower())
    assert q is None or q.operation != "refuse"


def test_spelling_tolerance_reads_domain_typos_and_keeps_real_words(parser):
    _, changes = parser.correct("what is the treshold, is it a mtach, how confidant are you")
    assert ("treshold", "threshold") in changes and ("mtach", "match") in changes
    assert ("confidant", "confident") in changes
    assert parser.correct("what is the difference between them")[1] == []


def test_slots(parser):
    q = parser.parse("list the top 4 regions by s1")
    assert (q.operation, q.k, q.methods) == ("top_k", 4, ["s1"])
    q = parser.parse("if the threshold were 0.95, would it still be a match?")
    assert (q.operation, q.number) == ("whatif_threshold", 0.95)
    q = parser.parse("why is the mouth blue in the heatmap?")
    assert (q.operation, q.regions, q.colour) == ("colour", ["mouth"], "blue")
    assert parser.parse("which region came third?").k == 3


def test_elliptical_follow_ups_repeat_the_last_operation(parser):
    state = DialogueState(operation="change", subject="scores", regions=["mouth"], methods=["s0"])
    q = parser.parse("and by the greedy method?", state)
    assert (q.operation, q.regions, q.methods, q.followup) == ("change", ["mouth"], ["s1"], "repeat")
    q = parser.parse("and in photo a only?", state)
    assert (q.operation, q.regions, q.side) == ("change", ["mouth"], "a")
    assert load_lexicon()["one_sided_methods"]["a"] == "s0_a_only"
    q = parser.parse("how much?", DialogueState(regions=["nose"]))
    assert (q.operation, q.regions, q.followup) == ("change", ["nose"], "state")
    assert parser.parse("how much?") is None  # nothing to refer to


def test_latin_script_languages_are_recognised():
    settings = load_lexicon()["language"]
    assert other_language("Quelle est la décision ?", settings) == "fr"
    assert other_language("Welche Region war am wichtigsten?", settings) == "de"
    for english in ("is that a lot?", "mtach?", "and by the greedy method?", "what is the LR", "Why?"):
        assert other_language(english, settings) is None


# --- answers through the chatbot -------------------------------------------------------------------------------
def test_absent_sections_are_said_to_be_absent_and_present_ones_answered(sentence_embedder):
    from chatbot import Chatbot

    bare, full = Chatbot(record("match_coarse"), embedder=sentence_embedder), Chatbot(
        record("match_sections"), embedder=sentence_embedder)
    for question in ("what is the likelihood ratio?", "why was this photo refused?", "would another fill change it?"):
        assert bare.answer(question).refusal == "not_in_explanation"
        assert full.answer(question).refusal is None
    assert "likelihood ratio 380" in full.answer("what is the likelihood ratio?").text
    missing = bare.answer("what does FGGB show?")
    assert missing.refusal == "not_computed" and "--methods s0,s1,s0_black,fggb" in missing.text


def test_premise_is_corrected(sentence_embedder):
    from chatbot import Chatbot

    bot = Chatbot(record("match_coarse"), embedder=sentence_embedder)
    answer = bot.answer("why is the mouth blue in the heatmap?")
    assert "is not blue" in answer.text and "it is red" in answer.text
    assert "The decision is not a non-match" in bot.answer("why is it a non-match?").text


def test_reliability_is_not_the_decision_confidence(sentence_embedder):
    from chatbot import Chatbot

    bot = Chatbot(record("match_coarse"), embedder=sentence_embedder)
    explanation = bot.answer("how sure can I be about the explanation itself, not the decision?")
    decision = bot.answer("How sure are you about the decision?")
    assert explanation.intent == "facts:reliability" and decision.intent == "confidence"
    assert "0.57" in explanation.text  # mean of S0~S1, S0~S0 black, S1~S0 black; AVG left out


# --- CLI -------------------------------------------------------------------------------------------------------
def run_cli(args: list[str], env: dict | None = None, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "chatbot", *args], check=False, cwd=ROOT, input=stdin, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def test_cli_empty_questions_file(tmp_path):
    empty = tmp_path / "q.txt"
    empty.write_text("\n  \n")
    out = run_cli(["ask", "--explanation", str(FIXTURES / "match_coarse.json"), "--questions", str(empty)])
    assert out.returncode == 2 and "no questions" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("env,words", [({"FACEX_THREADS": "abc"}, "FACEX_THREADS"),
                                       ({"FACEX_DEVICE": "gpu9"}, "FACEX_DEVICE")])
def test_cli_bad_environment_is_one_line(tmp_path, env, words):
    questions = tmp_path / "q.txt"
    questions.write_text("What is the decision?\n")
    out = run_cli(["ask", "--explanation", str(FIXTURES / "match_coarse.json"), "--questions", str(questions)], env)
    assert out.returncode == 2 and words in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_cli_cuda_without_cuda_is_one_line(tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    questions = tmp_path / "q.txt"
    questions.write_text("What is the decision?\n")
    out = run_cli(["ask", "--explanation", str(FIXTURES / "match_coarse.json"), "--questions", str(questions)],
                  {"FACEX_DEVICE": "cuda"})
    assert out.returncode == 2 and "CUDA" in out.stderr and "Traceback" not in out.stderr


def test_context_agreement_sentence_leaves_out_avg():
    from chatbot.context import general_fields

    e = record("match_coarse")
    e["agreement"] = {"s0~s1": 0.6, "s0~avg": 0.98, "s1~avg": 0.95}
    fields = general_fields(e, default_prompts().vocabulary)
    assert fields["agreement_list"] == "S0 and S1 0.60" and fields["agreement_word"] == "agree partly"
