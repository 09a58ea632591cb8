"""The chat on records the engine wrote (not fixtures): robustness, agreement, reliability, a region's role and size,
the most important region (also when the record has none). Two development pairs, a match (obama/1 vs obama/2) and
a non-match (obama/1 vs biden/1); skips without /work/shared/faces (the photos are never in the repository).

Every expected figure is read from the saved explanation.json, so the tests hold for whatever the engine measured."""

from __future__ import annotations

import copy
import json

import pytest

PAIRS = {"match": ("obama/1.jpg", "obama/2.jpg"), "non-match": ("obama/1.jpg", "biden/1.jpg")}


def readable(name: str) -> str:
    from chatbot.context import readable_region

    return readable_region(name)


@pytest.fixture(scope="module")
def records(faces_dir, tmp_path_factory):
    from explain_engine import Engine, EngineConfig

    engine = Engine(EngineConfig(methods=("s0", "s1", "s0_black")))
    out = {}
    for label, (a, b) in PAIRS.items():
        exp = engine.explain(faces_dir / a, faces_dir / b)
        folder = exp.save(tmp_path_factory.mktemp(label.replace("-", "")))
        out[label] = folder / "explanation.json"
    return out


@pytest.fixture(scope="module")
def engine_bots(records, sentence_embedder):
    from chatbot import Chatbot

    return {label: (Chatbot.from_file(path, embedder=sentence_embedder), json.loads(path.read_text()))
            for label, path in records.items()}


@pytest.fixture(params=list(PAIRS))
def case(request, engine_bots):
    return engine_bots[request.param]


def region_row(record: dict, name: str) -> dict:
    return next(r for r in record["regions"] if r["name"] == name)


def test_the_record_has_the_engine_shape(case):
    _, e = case
    rob = e["robustness"]
    assert rob["rule"] == "leading_robust_v2" and isinstance(rob["checks"], dict)
    assert rob["leading_robust"] == (rob["leading_region"] is not None)
    assert all("role" in v and "abs_change" in v for r in e["regions"] if r["present"] for v in r["methods"].values())


def test_reliability_gives_the_engines_verdict_and_the_agreement(case):
    from explain_engine.robustness import statement

    bot, e = case
    rob = e["robustness"]
    a = bot.answer("Is this explanation reliable?")
    assert a.intent == "facts:reliability"
    assert statement(rob) in a.text  # the card's sentence, word for word
    assert f"{rob['method_agreement']['mean_independent']:.2f}" in a.text
    assert "not about how sure the decision is" in a.text
    if rob["leading_region"]:
        assert a.text.count(f"The {readable(rob['leading_region'])} leads robustly") == 1
    else:
        assert "No region leads" in a.text


def test_agreement_states_every_independent_pair_and_the_records_verdict(case):
    bot, e = case
    agreement = e["robustness"]["method_agreement"]
    a = bot.answer("Do the methods agree?")
    assert a.intent == "facts:agreement"
    for p in agreement["pairs"]:
        if p["spearman"] is not None:
            assert f"{p['spearman']:.2f}" in a.text
    assert f"mean {agreement['mean_independent']:.2f}" in a.text
    verdict = "so the rankings agree" if agreement["rankings_agree"] else "so the rankings disagree"
    assert verdict in a.text
    if not agreement["rankings_agree"]:  # the chat's own level never contradicts the record's verdict
        assert "so they agree poorly" in a.text
    for region in agreement["leading_regions"].values():
        if region:
            assert readable(region) in a.text
    assert "AVG and" not in a.text and "and AVG" not in a.text


@pytest.mark.parametrize("question", ["Would another fill change the answer?", "Which region leads robustly?"])
def test_fills_and_leading_region_come_from_the_robustness_section(case, question):
    from explain_engine.robustness import statement

    bot, e = case
    rob = e["robustness"]
    a = bot.answer(question)
    assert a.intent == "facts:section"
    assert a.text.startswith(statement(rob))
    for fill, v in rob["fills"].items():
        assert f"{fill}: {readable(v['leading_region'])}" in a.text if v["leading_region"] else fill in a.text
    candidate = rob["candidate_region"]
    if candidate:
        for fill, change in rob["per_region"][candidate]["by_fill"].items():
            assert f"{fill} {change:+.4f}" in a.text
        assert f"{rob['per_region'][candidate]['sd_fill']:.4f}" in a.text
    lead = rob["leading_region"]
    assert (f"The {readable(lead)} leads robustly" in a.text) if lead else ("No region leads" in a.text)


def test_how_important_is_the_nose_gives_its_role_and_size(case):
    bot, e = case
    nose = region_row(e, "nose")
    a = bot.answer("How important is the nose?")
    stance = {"supports": "supported", "against": "argued against", "neutral": "did not measurably affect"}[nose["role"]]
    assert f"{stance} the decision" in a.text
    assert f"{nose['abs_change']:.4f}" in a.text
    # hiding lowered the score when ΔS = S_ref - S_perturbed > 0
    assert ("lowered" if nose["methods"]["s0"]["delta"] > 0 else "raised") in a.text


def test_role_answer_has_the_recorded_role_change_and_noise_floor(case):
    from explain_engine.table import importance_words

    bot, e = case
    method = e["importance_by"]
    nose = region_row(e, "nose")["methods"][method]
    a = bot.answer("Does the nose support the decision?")
    assert a.intent == "facts:role"
    assert f"{-nose['delta']:+.4f}" in a.text  # the change of the similarity when hidden: after minus before
    assert f"{nose['abs_change']:.4f}" in a.text and f"{e['noise_floor']:.4f}" in a.text
    assert importance_words()["roles"][nose["role"]] in a.text
    others = [v.get("role") for m, v in region_row(e, "nose")["methods"].items() if m != method]
    corrected = nose["role"] != "supports" and "supports" not in others  # no method supports it: a flat "No:"
    assert a.text.startswith("No:") == corrected
    if nose["role"] != "supports" and not corrected:  # another method does: the answer says the methods differ
        assert "differ on it" in a.text


def test_score_after_hiding_uses_the_engines_sign(case):
    bot, e = case
    delta = region_row(e, "nose")["methods"]["s0"]["delta"]  # S_ref - S_perturbed
    a = bot.answer("How much did hiding the nose change the score?")
    assert f"{e['similarity'] - delta:.4f}" in a.text and f"{-delta:+.4f}" in a.text
    # the hiding and the region kept apart: hiding it lowered/raised the score, so the nose itself made the faces
    # more/less alike
    assert f"{'lowered' if delta > 0 else 'raised'} the similarity by {abs(delta):.4f}" in a.text
    assert f"made them {'more' if delta > 0 else 'less'} alike" in a.text


def test_most_important_region_is_the_records(case):
    bot, e = case
    a = bot.answer("What is the most important region?")
    top = e["most_important_region"]
    if top is None:
        assert "No region stands out" in a.text
    else:
        assert f"most important region for this decision is the {readable(top)}" in a.text


def test_no_most_important_region_and_no_leader(engine_bots, sentence_embedder):
    """The record's null case: the engine's own rule applied to the match's changes scaled under the noise floor."""
    from chatbot import Chatbot
    from explain_engine.robustness import robustness_section, statement

    _, record = engine_bots["match"]
    e = copy.deepcopy(record)
    e.pop("digest")
    main = {r: 0.01 * v["change"] for r, v in e["robustness"]["per_region"].items()}
    e["robustness"] = robustness_section(main, e["decision"], floor=e["noise_floor"])
    e["most_important_region"] = None
    bot = Chatbot(e, embedder=sentence_embedder)
    a = bot.answer("What is the most important region?")
    assert "No region stands out" in a.text and f"{e['noise_floor']:.4f}" in a.text
    a = bot.answer("Which region leads robustly?")
    assert a.text.startswith(statement(e["robustness"])) and "No region leads" in a.text
    a = bot.answer("Is this explanation reliable?")
    assert statement(e["robustness"]) in a.text
