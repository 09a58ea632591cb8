"""Accuracy of the embedded default (no QA model) on a bank of differently worded questions, checked against the
facts of the explanation each question is asked about. Target: >= 95% per kind on the development bank; the
held-out questions are reported (and must stay well above the paper's 68.75% for "What is the decision?")."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

from chatbot.context import method_name, readable_region
from prompts import default_prompts

BANK = yaml.safe_load((Path(__file__).resolve().parent / "question_bank.yaml").read_text())
FINE_GROUPS = {"eyes": ["left_eye", "right_eye"], "eyebrows": ["left_eyebrow", "right_eyebrow"],
               "cheeks": ["left_cheek", "right_cheek"]}


def states_decision(text: str, decision: str) -> bool:
    """The text asserts ``decision`` as this pair's decision."""
    article = "a non-match" if decision == "non-match" else "a match"
    return re.search(rf"\b(is|was) {article}\b", text) is not None


def contradicts(text: str, decision: str) -> bool:
    other = "match" if decision == "non-match" else "non-match"
    if states_decision(text, other):
        return True
    if decision == "non-match":
        return re.search(r"\b(same person|one person)\b", text) is not None and "different people" not in text \
            and "belong to one person" not in text
    return re.search(r"\bdifferent (people|persons)\b", text) is not None


def expected_regions(e: dict, coarse: str) -> list[str]:
    names = [r["name"] for r in e["regions"]]
    if coarse in names:
        return [coarse]
    return [n for n in FINE_GROUPS.get(coarse, []) if n in names]


def check(kind: str, answer, e: dict, target: str | None = None) -> bool:
    t = answer.text
    low = t.lower()
    if kind == "decision":
        return states_decision(t, e["decision"])
    if kind == "how_decided":
        return f"{e['similarity']:.3f}" in t and f"{e['threshold']:.3f}" in t and states_decision(t, e["decision"])
    if kind == "confidence":
        return f"{e['confidence']:.2f}" in t and "confidence" in low
    if kind == "most_important_region":
        return f"most important region for this decision is the {readable_region(e['most_important_region'])}" in t
    if kind == "least_important_region":
        return f"least important region for this decision is the {readable_region(e['least_important_region'])}" in t
    if kind == "xai":
        return "explainable ai" in low and "understandable" in low
    if kind == "output_images":
        files = {link.file for link in answer.links}
        return "heatmap" in low and "red" in low and "blue" in low and any(f.startswith("heatmap_") for f in files)
    if kind == "similarity":
        return "similarity score" in low and f"{e['similarity']:.3f}" in t
    if kind == "threshold":
        return "threshold" in low and f"{e['threshold']:.3f}" in t
    if kind == "named_region":
        regions = {r["name"]: r for r in e["regions"]}
        wanted = expected_regions(e, target)
        ok = bool(wanted)
        for name in wanted:
            r = regions[name]
            if r["present"]:
                ok &= f"the {readable_region(name)} " in low and f"importance {r['importance']} by s0" in low
                files = {link.file for link in answer.links}
                ok &= {e["heatmaps"]["s0"]["a"], e["heatmaps"]["s0"]["b"]} <= files
            else:
                ok &= "not visible" in low
        return ok
    if kind == "dissimilar_regions" and answer.intent == "facts:against":
        # "which regions argued against the decision?": every method's regions against the decision, each named
        from chatbot.facts import Facts

        facts = Facts(e)
        marked = {m: facts.marked(m, "against") for m in facts.methods}
        if not any(marked.values()):
            return "no region argued against the decision" in low
        return all(f"the {readable_region(r)}" in low for rs in marked.values() for r in rs) and all(
            method_name(m, default_prompts().vocabulary, short=True).lower() in low for m, rs in marked.items() if rs)
    if kind == "dissimilar_regions":
        negative = [r["name"] for r in e["regions"] if r["present"] and r["contribution"] < 0]
        if not negative:
            return "no region made the two faces less similar" in low
        return "less similar" in low and all(f"the {readable_region(n)}" in low for n in negative)
    if kind == "face_model":
        return e["model"] in t and "face model" in low
    if kind == "explanation_method":
        return "inpaint" in low and "s0" in low
    raise AssertionError(kind)


def run_bank(bots, split: str):
    """{(explanation, kind): (correct, total)}, failures, contradictions."""
    results: dict = defaultdict(lambda: [0, 0])
    failures, contradictions = [], []
    questions = [item.split(" | ", 1)[-1] for items in BANK[split].values() for item in items]
    next(iter(bots.values())).prepare(questions)  # one batch through the sentence model (shared by the bots)
    for name, bot in bots.items():
        e = bot.explanation
        for kind, questions in BANK[split].items():
            for item in questions:
                target, question = (item.split(" | ", 1) if kind == "named_region" else (None, item))
                answer = bot.answer(question)
                ok = check(kind, answer, e, target)
                results[(name, kind)][0] += ok
                results[(name, kind)][1] += 1
                if not ok:
                    failures.append((name, kind, question, answer.intent, answer.text[:160]))
                if contradicts(answer.text, e["decision"]):
                    contradictions.append((name, question, answer.text))
    return results, failures, contradictions


def per_kind(results) -> dict[str, tuple[int, int]]:
    table: dict = defaultdict(lambda: [0, 0])
    for (_, kind), (ok, n) in results.items():
        table[kind][0] += ok
        table[kind][1] += n
    return {k: tuple(v) for k, v in table.items()}


def print_table(title: str, results) -> None:
    print(f"\n{title}")
    for kind, (ok, n) in per_kind(results).items():
        print(f"  {kind:24s} {ok:4d}/{n:<4d} {100 * ok / n:6.1f}%")


def test_bank_size():
    assert sum(len(v) for v in BANK["bank"].values()) >= 150
    assert len(BANK["bank"]) >= 12
    dev = {q for v in BANK["bank"].values() for q in v}
    for split in ("held_out", "held_out_2"):
        assert set(BANK[split]) == set(BANK["bank"])
        assert not dev & {q for v in BANK[split].values() for q in v}
    exemplars = {q.lower() for spec in default_prompts().intents.values() for q in spec["examples"]}
    overlap = {q for q in dev if q.split(" | ")[-1].lower() in exemplars}
    assert len(overlap) <= len(BANK["bank"]), overlap  # at most the one canonical question per kind is shared


def test_development_bank_accuracy(bots):
    results, failures, contradictions = run_bank(bots, "bank")
    print_table("development bank (per kind, over all fixture explanations)", results)
    for f in failures:
        print("  FAIL", f)
    assert not contradictions, contradictions
    for kind, (ok, n) in per_kind(results).items():
        assert ok / n >= 0.95, f"{kind}: {ok}/{n} correct; failures: {[f for f in failures if f[1] == kind]}"


@pytest.mark.parametrize("split", ["held_out", "held_out_2"])
def test_held_out_accuracy(bots, split):
    results, failures, contradictions = run_bank(bots, split)
    print_table(f"{split} questions (per kind, over all fixture explanations)", results)
    for f in failures:
        print("  FAIL", f)
    assert not contradictions, contradictions
    overall = sum(ok for ok, _ in per_kind(results).values()) / sum(n for _, n in per_kind(results).values())
    assert overall >= 0.85, f"held-out accuracy {overall:.1%}"
    for kind, (ok, n) in per_kind(results).items():
        assert ok / n > 0.6875, f"{kind}: {ok}/{n}"
