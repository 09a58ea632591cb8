"""Context building from explanation.json, validation of malformed records, and prompts as data."""

from __future__ import annotations

import json

import pytest

from chatbot import ExplanationError, build_context, load_explanation, validate_explanation
from chatbot.context import REQUIRED_KEYS
from prompts import PromptsError, default_prompts, load_prompts


@pytest.mark.parametrize("name", ["match_coarse", "nonmatch_coarse", "match_fine_weak"])
def test_context_states_the_facts(explanation_dict, name):
    e = explanation_dict(name)
    ctx = build_context(e, default_prompts())
    text = ctx.text
    assert f"{e['similarity']:.3f}" in text and f"{e['threshold']:.3f}" in text
    assert f"{e['confidence']:.2f}" in text and f"{e['pic_score']:.2f}" in text
    assert e["model"] in text
    assert "None" not in text and "{" not in text  # no half-filled templates
    phrase = "a non-match" if e["decision"] == "non-match" else "a match"
    assert ctx.get("decision").text.startswith(f"The decision for this pair is {phrase}")
    # every present region has a summary and a per-method sentence; absent ones say so
    for r in e["regions"]:
        if r["present"]:
            assert ctx.get(f"region.{r['name']}.summary") is not None
            assert ctx.get(f"region.{r['name']}.methods") is not None
        else:
            assert "not visible" in ctx.get(f"region.{r['name']}.absent").text
    # table columns per method appear, and the regions against the decision are named
    for m in e["methods"]:
        assert ctx.get(f"method.{m}.ranking") is not None
    kinds = {s.kind for s in ctx.sentences}
    assert kinds == {"fact", "table", "knowledge"}
    for k in ("k.xai", "k.s0", "k.inpainting", "heatmap_colours"):
        assert ctx.get(k) is not None


def test_against_decision_depends_on_the_decision(explanation_dict):
    match = build_context(explanation_dict("match_coarse"), default_prompts())
    nonmatch = build_context(explanation_dict("nonmatch_coarse"), default_prompts())
    assert "the chin" in match.get("against_decision").text and "less alike" in match.get("against_decision").text
    against = nonmatch.get("against_decision").text
    assert "the mouth" in against and "more alike" in against and "the eyes" not in against


def test_missing_keys_are_named(explanation_dict):
    e = explanation_dict()
    del e["decision"], e["regions"], e["heatmaps"]
    with pytest.raises(ExplanationError) as info:
        validate_explanation(e)
    message = str(info.value)
    for key in ("decision", "regions", "heatmaps"):
        assert key in message


@pytest.mark.parametrize("breakage, expected", [
    (lambda e: e.update(decision="maybe"), "decision"),
    (lambda e: e.update(similarity="high"), "similarity"),
    (lambda e: e["regions"][0].pop("importance"), "regions[0]"),
    (lambda e: e.update(regions=[]), "regions"),
    (lambda e: e.update(schema_version=7), "schema_version"),
    (lambda e: e.update(heatmaps=[]), "heatmaps"),
])
def test_malformed_values_are_reported(explanation_dict, breakage, expected):
    e = explanation_dict()
    breakage(e)
    with pytest.raises(ExplanationError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        validate_explanation(e)


def test_not_a_dict_and_unreadable_files(tmp_path):
    with pytest.raises(ExplanationError):
        validate_explanation(["not", "a", "dict"])
    with pytest.raises(ExplanationError, match="does not exist"):
        load_explanation(tmp_path / "nope.json")
    bad = tmp_path / "explanation.json"
    bad.write_text("{not json")
    with pytest.raises(ExplanationError, match="not valid JSON"):
        load_explanation(tmp_path)  # a folder finds its explanation.json
    bad.write_text(json.dumps({"schema_version": 1}))
    with pytest.raises(ExplanationError) as info:
        load_explanation(bad)
    assert all(k in str(info.value) for k in REQUIRED_KEYS if k != "schema_version")


def test_user_facts_without_code(tmp_path, monkeypatch, explanation_dict):
    facts = tmp_path / "site.yaml"
    facts.write_text(
        "facts:\n"
        "  - id: site.operator\n"
        "    text: \"This verification service is operated by the Example Records Office.\"\n"
        "    examples: [\"Who runs this service?\", \"Who operates the system?\"]\n"
        "    keywords: [operator, operates, runs]\n"
    )
    prompts = load_prompts(extra_paths=[facts])
    assert "site.operator" in prompts.facts and "fact:site.operator" in prompts.intents
    ctx = build_context(explanation_dict(), prompts)
    assert "Example Records Office" in ctx.text
    monkeypatch.setenv("FACEX_CHAT_FACTS", str(tmp_path))
    assert "site.operator" in load_prompts().facts
    # shipped prompts stay untouched
    assert "site.operator" not in default_prompts().facts


def test_bad_prompts_files_are_clear(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("facts:\n  - text: no id here\n")
    with pytest.raises(PromptsError, match="needs an 'id'"):
        load_prompts(extra_paths=[bad])
    with pytest.raises(PromptsError, match="does not exist"):
        load_prompts(extra_paths=[tmp_path / "missing.yaml"])
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(PromptsError, match="not valid json"):
        load_prompts(extra_paths=[broken])
