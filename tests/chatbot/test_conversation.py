"""Follow-up resolution, answer metadata and artifact links, export round-trips."""

from __future__ import annotations

import copy
import json

import pytest

from chatbot import Chatbot, Conversation, ConversationError


def ask_all(bot, questions):
    conv = Conversation(bot)
    return conv, [conv.ask(q) for q in questions]


def test_region_follow_up(bots):
    _conv, (nose, eyes) = ask_all(bots["match_coarse"], ["How important was the nose?", "and the eyes?"])
    assert nose.regions == ["nose"] and "The nose has importance 1" in nose.text
    assert eyes.intent == "named_region" and eyes.regions == ["eyes"] and eyes.followup == "about"
    assert "The eyes have importance 2" in eyes.text
    files = {link.file for link in eyes.links}
    assert files == {"heatmap_s0_a.png", "heatmap_s0_b.png"}
    assert all("eyes" in link.label for link in eyes.links)


def test_why_after_decision(bots):
    bot = bots["nonmatch_coarse"]
    _conv, (decision, why) = ask_all(bot, ["What is the decision?", "why?"])
    assert "is a non-match" in decision.text and decision.intent == "decision"
    assert why.followup == "why" and why.intent == "how_decided"
    assert "0.847" in why.text and "0.920" in why.text and "below" in why.text


def test_method_follow_up_keeps_the_topic(bots):
    bot = bots["match_coarse"]
    _conv, (most, s1, _region, region_s1) = ask_all(
        bot, ["Which region mattered most?", "what about S1?", "Tell me about the cheeks.", "and by S0 with black masking?"])
    assert most.intent == "most_important_region" and "nose" in most.text
    assert s1.intent == "most_important_region" and s1.methods == ["s1"]
    assert s1.text.startswith("By S1 (greedy inpaint), the most important region is the nose")
    assert region_s1.regions == ["cheeks"] and region_s1.methods == ["s0_black"]
    assert {link.file for link in region_s1.links} == {"heatmap_s0_black_a.png", "heatmap_s0_black_b.png"}


def test_pronoun_and_more_follow_ups(bots):
    bot = bots["match_coarse"]
    _conv, (_chin, it, more) = ask_all(bot, ["What about the chin?", "Did it make the faces less similar?", "tell me more"])
    assert it.regions == ["chin"] and it.followup == "pronoun" and "less similar" in it.text
    assert more.followup == "more" and more.evidence and not set(more.evidence_ids) & set(it.evidence_ids)


def test_method_not_computed_is_said(bots):
    answer = bots["match_fine_weak"].answer("Which region is most important according to S1?")
    assert "was not computed for this explanation" in answer.text and "--methods s0,s0_black,s1" in answer.text


def test_answer_metadata(bots):
    answer = bots["match_coarse"].answer("What do the heatmaps show?")
    assert answer.method == "intent" and answer.intent == "output_images"
    assert 0 < answer.score <= 1 and answer.evidence and answer.evidence_ids
    files = {link.file for link in answer.links}
    assert "legend.png" in files and "heatmap_s1_b.png" in files and "overlay_avg_a.png" in files
    assert all(link.path and link.path.endswith(link.file) for link in answer.links)


def test_out_of_scope_reply_lists_examples(bots):
    answer = bots["match_coarse"].answer("What's the weather like in Paris tomorrow?")
    assert answer.method == "reply" and answer.intent == "out_of_scope"
    assert "What is the decision?" in answer.text and "nose" in answer.text


def test_json_round_trip(bots, tmp_path):
    bot = bots["match_coarse"]
    conv, _ = ask_all(bot, ["What is the decision?", "why?", "What about the nose?", "and the eyes?", ""])
    data = conv.to_dict()
    assert data["explanation_summary"]["decision"] == "match"
    assert data["models"]["sentence"]["name"] == "minilm" and data["models"]["face_model"]["name"] == "dlib-torch"
    assert data["models"]["versions"]["sentence-transformers"]
    assert all(t["asked_at"].endswith("+00:00") for t in data["turns"])
    path = conv.save(tmp_path / "log.json")
    loaded = Conversation.load(path)
    assert loaded.to_dict() == json.loads(path.read_text())
    assert [t.answer.text for t in loaded.turns] == [t.answer.text for t in conv.turns]
    assert loaded.turns[3].answer.links == conv.turns[3].answer.links
    # the restored conversation keeps going, and follow-ups see the restored turns
    loaded.attach(bot)
    follow = loaded.ask("and the mouth?")
    assert follow.regions == ["mouth"] and follow.followup == "about"
    assert len(loaded.turns) == 6


def test_markdown_export(bots, tmp_path):
    conv, _ = ask_all(bots["nonmatch_coarse"], ["What is the decision?", "<b>How sure are you?</b>"])
    path = conv.save(tmp_path / "log.md")
    text = path.read_text()
    assert text.startswith("# facex-chat conversation")
    assert "**non-match**" in text and "## 1. What is the decision?" in text and "## 2. How sure are you?" in text
    assert "0.97" in text and "method: intent" in text


def test_export_errors(bots, tmp_path):
    conv, _ = ask_all(bots["match_coarse"], ["What is the decision?"])
    with pytest.raises(ConversationError, match=".json or .md"):
        conv.save(tmp_path / "log.txt")
    (tmp_path / "x.json").write_text('{"format": "something else"}')
    with pytest.raises(ConversationError, match="not a saved facex-chat conversation"):
        Conversation.load(tmp_path / "x.json")
    with pytest.raises(ConversationError, match="does not exist"):
        Conversation.load(tmp_path / "missing.json")


def test_explanation_without_dissimilar_regions_or_agreement(sentence_embedder, explanation_dict):
    e = explanation_dict("match_coarse")
    for r in e["regions"]:
        if r["present"]:
            r["contribution"] = abs(r["contribution"])
    e["agreement"] = {}
    # only S0's column made positive: the other methods still mark the chin against the match, and the answer says
    # so by name instead of "no region argued against the decision"
    answer = Chatbot(copy.deepcopy(e), embedder=sentence_embedder).answer("Which regions made the faces less similar?")
    assert "By S0, no region made the two faces less similar" in answer.text
    assert "No region argued against" not in answer.text and "S1: the chin" in answer.text
    for r in e["regions"]:
        for values in (r.get("methods") or {}).values():
            for key in ("contribution", "delta"):
                if isinstance(values.get(key), (int, float)):
                    values[key] = abs(values[key])  # record delta: before minus after, positive = alike
    bot = Chatbot(e, embedder=sentence_embedder)
    answer = bot.answer("Which regions made the faces less similar?")
    assert answer.method == "intent" and "no region made the two faces less similar" in answer.text
    assert "No region argued against the decision" in answer.text
    assert "no agreement between methods" in bot.answer("Do the methods agree?").text


def test_uncalibrated_explanation(sentence_embedder, explanation_dict):
    """The engine writes confidence/pic_score null and no calibration set when the face model is uncalibrated."""
    e = explanation_dict("nonmatch_coarse")
    e.update(confidence=None, pic_score=None)
    e["calibration"] = {"name": None, "fitted_on": None, "n_genuine": 0, "n_impostor": 0, "accuracy": None,
                        "eer": None, "threshold_rule": "the face model's default threshold 0.92 (no calibration file)"}
    bot = Chatbot(e, embedder=sentence_embedder)
    sure = bot.answer("How sure are you?")
    assert "No confidence score is available" in sure.text and "None" not in sure.text
    assert "not calibrated" in bot.answer("What is the threshold?").text
    assert "is a non-match" in bot.answer("What is the decision?").text


def test_user_facts_are_answered(tmp_path, sentence_embedder, explanation_dict):
    from prompts import load_prompts

    facts = tmp_path / "site.yaml"
    facts.write_text(
        "facts:\n"
        "  - id: site.operator\n"
        "    text: \"This verification service is operated by the Example Records Office.\"\n"
        "    examples: [\"Who runs this service?\", \"Who operates the system?\"]\n"
        "    keywords: [operator, operates]\n"
        "  - id: site.retention\n"
        "    text: \"Uploaded photos are deleted from the server after 24 hours.\"\n"
    )
    bot = Chatbot(explanation_dict(), embedder=sentence_embedder, prompts=load_prompts(extra_paths=[facts]))
    who = bot.answer("Who is the operator of this service?")
    assert who.intent == "fact:site.operator" and "Example Records Office" in who.text
    kept = bot.answer("How long are uploaded photos kept on the server before deletion?")
    assert kept.method == "retrieval" and "24 hours" in kept.text
    assert "is a match" in bot.answer("What is the decision?").text


def test_one_sided_columns_are_explained(bots):
    """Which column to read for different people: the knowledge fact, not a definition of S0 or the confidence."""
    _conv, answers = ask_all(bots["nonmatch_coarse"], ["Which column should I read for different people?",
                                                      "What are the one-sided columns?"])
    for a in answers:
        assert "S0 (A only)" in a.text and "more alike" in a.text, a.text
