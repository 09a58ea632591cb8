"""Questions that need the explanation's facts combined (chat_bank.yaml), graded against each fixture record.

The grader computes what a right answer must contain from the record itself (rankings, changes, shares, what-ifs,
sections), independently of chatbot/facts.py. Goal: >= 95% per kind on the built part and no answer that
contradicts the record; the held-aside part is measured and reported (``-s`` prints the tables).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest
import yaml

HERE = Path(__file__).resolve().parent
BANK = yaml.safe_load((HERE / "chat_bank.yaml").read_text())
EXPLANATIONS = ("match_coarse", "nonmatch_coarse", "match_fine_weak", "match_sections", "nonmatch_sections",
                "near_threshold")
FINE = {"eyes": ["left_eye", "right_eye"], "eyebrows": ["left_eyebrow", "right_eyebrow"],
        "cheeks": ["left_cheek", "right_cheek"]}


# --- the record, read directly -----------------------------------------------------------------------------------
def readable(name: str) -> str:
    return name.replace("_", " ")


def main_method(e: dict) -> str:
    return e.get("importance_by") or ("avg" if "avg" in e["methods"] else "s0")


def change_method(e: dict) -> str:
    m = main_method(e)
    return "s0" if m == "avg" else m


def computed(e: dict) -> list[str]:
    return list(e["methods"]) + list(e.get("one_sided_methods") or [])


def expand(e: dict, concept: str) -> list[str]:
    names = [r["name"] for r in e["regions"]]
    return [concept] if concept in names else [n for n in FINE.get(concept, []) if n in names]


def row(e: dict, region: str) -> dict:
    return next(r for r in e["regions"] if r["name"] == region)


def cell(e: dict, region: str, method: str, key: str):
    """A region's per-method value; "delta" is the change of the similarity when the region is hidden (after minus
    before), the negative of the record's ΔS = S_ref - S_perturbed."""
    value = ((row(e, region).get("methods") or {}).get(method) or {}).get(key)
    if key == "delta" and value is not None:
        return -value
    return value


def ranking(e: dict, method: str) -> list[str]:
    rows = [(cell(e, r["name"], method, "importance"), -abs(cell(e, r["name"], method, "contribution") or 0), r["name"])
            for r in e["regions"] if r["present"] and cell(e, r["name"], method, "importance") is not None]
    return [n for *_, n in sorted(rows)]


def by_change(e: dict, method: str) -> list[str]:
    rows = [(-abs(cell(e, r["name"], method, "delta")), r["name"]) for r in e["regions"]
            if r["present"] and cell(e, r["name"], method, "delta") is not None]
    return [n for _, n in sorted(rows)]


def in_order(text: str, names: list[str]) -> bool:
    pos, start = [], 0
    for n in names:
        i = text.find(f"the {readable(n)} ", start)
        if i < 0:
            i = text.find(f"the {readable(n)}", start)
        if i < 0:
            return False
        pos.append(i)
        start = i + 1
    return pos == sorted(pos)


def decision_states(text: str, decision: str) -> bool:
    article = "a non-match" if decision == "non-match" else "a match"
    return re.search(rf"\b(is|was) {article}\b", text) is not None


def contradicts(text: str, decision: str) -> bool:
    other = "match" if decision == "non-match" else "non-match"
    return bool(re.search(rf"\bThe decision for this pair is a {other}\b", text)) or bool(
        re.search(rf"\bthe decision is {'a non-match' if other == 'non-match' else 'a match'}\b", text)
        and not re.search(r"\bnot\b", text.split("the decision is")[0][-40:]))


def method_or_main(e: dict, spec: dict, changes: bool = False) -> str:
    side = spec.get("side")
    if side:  # v1 records name the one-sided columns s0_a / s0_b; current ones s0_a_only / s0_b_only
        return f"s0_{side}_only" if f"s0_{side}_only" in computed(e) else f"s0_{side}"
    if spec.get("method"):
        return spec["method"]
    return change_method(e) if changes else main_method(e)


def not_computed(answer, method: str) -> bool:
    return answer.refusal == "not_computed"


def colour(e: dict, region: str, method: str) -> str:
    c = cell(e, region, method, "contribution")
    return "white" if abs(c) < 0.1 else ("red" if c > 0 else "blue")


def independent_mean(e: dict) -> float | None:
    rob = e.get("robustness") or {}
    agreement = rob.get("method_agreement")
    if agreement and agreement.get("mean_independent") is not None:
        return agreement["mean_independent"]
    pairs = [v for k, v in (e.get("agreement") or {}).items() if "avg" not in k.split("~")]
    return sum(pairs) / len(pairs) if pairs else None


# --- grading ---------------------------------------------------------------------------------------------------
def grade(check: dict, answer, e: dict, history: list) -> bool:
    (kind, spec), = check.items()
    spec = spec or {}
    t = answer.text
    margin = e["margin"]
    if kind in ("top_k", "bottom_k", "position", "level", "rank_of", "order_change"):
        m = method_or_main(e, spec, changes=kind == "order_change")
        if m not in computed(e):
            return not_computed(answer, m)
        rank = ranking(e, m)
        if kind == "top_k":
            return in_order(t, rank[: spec["k"]]) and answer.intent in ("facts:top_k", "facts:list_regions")
        if kind == "bottom_k":
            return in_order(t, rank[-spec["k"]:]) and answer.intent == "facts:bottom_k"
        if kind == "position":
            n = spec["n"]
            return f"position {n} of {len(rank)} is the {readable(rank[n - 1])}" in t
        if kind == "rank_of":
            regions = expand(e, spec["region"])
            return all(f"the {readable(r)} is in position {rank.index(r) + 1} of {len(rank)}" in t for r in regions)
        if kind == "level":
            want = [r for r in rank if cell(e, r, m, "importance") == spec["n"]]
            if not want:
                return "no region has importance" in t
            others = [r for r in rank if r not in want]
            return all(f"the {readable(r)}" in t for r in want) and not any(
                re.search(rf"\bthe {readable(r)}\b(?! (eye|eyebrow|cheek))", t) for r in others)
        if kind == "order_change":
            return in_order(t, by_change(e, m)) and all(f"{cell(e, r, m, 'delta'):+.4f}" in t for r in by_change(e, m))
    if kind == "compare":
        m = method_or_main(e, spec)
        if m not in computed(e):
            return not_computed(answer, m)
        regions = [r for c in spec["regions"] for r in expand(e, c)]
        ranked = [r for r in ranking(e, m) if r in regions]
        if len(ranked) < 2:
            return "not visible" in t
        w = ranked[0]
        if len(ranked) > 2:
            return f"the {readable(w)} {'are' if w.endswith('s') else 'is'} the most important of them" in t
        a, b = ranked
        same = cell(e, a, m, "importance") == cell(e, b, m, "importance")
        da, db = cell(e, a, m, "delta"), cell(e, b, m, "delta")
        if same and (da is None or db is None or abs(da) == abs(db)):
            return "equally important" in t
        if same:
            big = a if abs(da) > abs(db) else b
            return f"the {readable(big)} ranks higher" in t
        return re.search(rf"the {readable(w)} (is|are) more important than the", t) is not None
    if kind == "change":
        m = method_or_main(e, spec, changes=True)
        if m not in computed(e):
            return not_computed(answer, m)
        regions = [e["most_important_region"]] if spec.get("most") else [
            r for c in spec["regions"] for r in expand(e, c)]
        ok = True
        for r in regions:
            if not row(e, r)["present"]:
                ok &= "not visible" in t
            else:
                ok &= f"{cell(e, r, m, 'delta'):+.4f}" in t
        return ok
    if kind in ("share", "is_a_lot"):
        m = method_or_main(e, spec, changes=True)
        r = expand(e, spec["region"])[0]
        d = cell(e, r, m, "delta")
        share = abs(d) / abs(margin)
        if kind == "share":
            return all(f"{100 * abs(cell(e, x, m, 'delta')) / abs(margin):.0f}% of the margin" in t
                       for x in expand(e, spec["region"]))
        word = "large" if share >= 0.5 else ("small" if share < 0.1 else "moderate")
        return word in t and f"{abs(d):.4f}" in t
    if kind == "margin_size":
        return f"{abs(margin):.4f}" in t and "largest change" in t
    if kind == "whatif":
        new = spec["t"]
        would = "match" if e["similarity"] >= new else "non-match"
        phrase = "stay" if would == e["decision"] else f"change to a {would}"
        return f"{new:.3f}" in t and phrase in t
    if kind == "score_after":
        m = change_method(e)
        regions = [r for c in spec["regions"] for r in expand(e, c)]
        if len(regions) == 1:
            after = e["similarity"] + cell(e, regions[0], m, "delta")
            expected = "stay" if (after >= e["threshold"]) == (e["decision"] == "match") else "change to"
            return f"{after:.4f}" in t and expected in t
        return all(f"the {readable(r)}" in t for r in regions) and ("estimate" in t or "measured" in t)
    if kind == "counterfactual":
        cf = e["counterfactual"]
        if cf.get("flips"):
            scored = cf.get("score_after") is None or f"{cf['score_after']:.4f}" in t
            return all(f"the {readable(r)}" in t for r in cf["regions"]) and scored and "No set" not in t
        return "No set of regions found flips the decision" in t
    if kind == "refuse":
        return answer.refusal == spec["reason"] and answer.method == "facts"
    if kind == "non_english":
        return answer.intent == "non_english"
    if kind == "section":
        section = e.get(spec["section"])
        stability = (e.get("stability") or {}).get("top_region_kept")
        if spec["section"] == "robustness" and not section and stability is not None:
            return f"{100 * stability:.0f}% of the time" in t
        if not section:
            return answer.refusal == "not_in_explanation"
        field = spec.get("field")
        if spec["section"] == "evidence":
            from explain_engine.evidence import format_lr

            lr = f"likelihood ratio {format_lr(section['lr'])}"
            if field == "conclusive":
                said = "The result is conclusive" if section["conclusive"] else "The result is inconclusive"
                return said in t and lr in t
            if field == "cllr":
                return f"Cllr {section['calibration']['cllr']:.3f}" in t
            if field == "error_rates":
                fmr, fnmr = section["fmr"], section["fnmr"]
                return (f"false match rate of {fmr['errors']} in {fmr['n']}" in t
                        and f"false non-match rate of {fnmr['errors']} in {fnmr['n']}" in t)
            return lr in t and "support" in t
        if spec["section"] == "quality":
            # the quality stage's own sentences (explain_engine.quality.words): inside / outside what the face model
            # was calibrated on, and the checks that warned
            words = {"pass": "inside what the face model was calibrated on",
                     "warn": "outside what the face model was calibrated on", "refuse": "refused"}
            asked = [s for s in ("a", "b") if f"photo {s.upper()}" in answer.question] or ["a", "b"]
            return all(words[section[s]["outcome"]] in t for s in asked)
        if spec["section"] == "robustness":
            if isinstance(section.get("checks"), dict):  # the engine's layout: its own verdict sentence and numbers
                from explain_engine.robustness import statement

                leaders = [section.get("candidate_region")] + [v["leading_region"]
                                                               for v in (section.get("fills") or {}).values()]
                return statement(section) in t and all(readable(r) in t for r in leaders if r)
            kept = "stayed the leading region" if section["leading_robust"] else "did not stay"
            return f"the {readable(section['leading_region'])}" in t and kept in t
    if kind == "visibility":
        regions = expand(e, spec["region"])
        ok = True
        for r in regions:
            rr = row(e, r)
            if not rr["present"]:
                ok &= "not visible" in t
            elif rr.get("visible_fraction_a") is not None:
                ok &= f"{100 * rr['visible_fraction_a']:.0f}%" in t
            else:
                ok &= "found in both faces" in t
        return ok
    if kind == "colour":
        m = main_method(e)
        regions = [r for r in expand(e, spec["region"]) if row(e, r)["present"]]
        if not regions:
            return "not visible" in t
        ok = True
        sentences = {r: next((s for s in re.split(r"(?<=\.) (?=The )", t) if s.startswith(f"The {readable(r)} ")), "")
                     for r in regions}
        for r in regions:
            actual, said = colour(e, r, m), sentences[r]
            ok &= f"is {actual}" in said or f"it is {actual}" in said
            ok &= (f"is not {spec['asked']}" in said) == (actual != spec["asked"])
        return ok
    if kind == "why_rank":
        m = main_method(e)
        r = expand(e, spec["region"])[0]
        rank = ranking(e, m)
        true = rank[0] == r if spec["asked"] == "most" else rank[-1] == r
        return ("That is not the case" in t) == (not true) and (true or f"the {readable(rank[0] if spec['asked'] == 'most' else rank[-1])}" in t)
    if kind == "why_decision":
        wrong = spec["asked"] != e["decision"]
        return ("The decision is not" in t) == wrong and f"{e['similarity']:.4f}" in t
    if kind == "role":
        m = main_method(e)
        r = expand(e, spec["region"])[0]
        c = cell(e, r, m, "contribution")
        effect = "neutral" if abs(c) < 0.1 and cell(e, r, m, "role") == "neutral" else (
            cell(e, r, m, "role") or ("supports" if (c > 0) == (e["decision"] == "match") else "against"))
        return t.startswith("No:") == (effect != spec["asked"]) and f"{cell(e, r, m, 'delta'):+.4f}" in t
    if kind == "reliability":
        mean = independent_mean(e)
        ok = answer.intent == "facts:reliability" and "not about how sure the decision is" in t
        if mean is not None:
            ok &= f"{mean:.2f}" in t
        rob = e.get("robustness") or {}
        if isinstance(rob.get("checks"), dict):
            from explain_engine.robustness import statement

            ok &= statement(rob) in t
        return ok and "AVG and" not in t and "and AVG" not in t
    if kind == "agreement":
        mean = independent_mean(e)
        if mean is None:
            return "no agreement between methods" in t
        return f"mean {mean:.2f}" in t and "AVG and" not in t and "and AVG" not in t
    if kind == "pair_agreement":  # two named methods: their own rank correlation, not the all-pairs table
        from chatbot.facts import Facts

        a, b = spec["a"], spec["b"]
        if a not in computed(e) or b not in computed(e):
            return answer.refusal == "not_computed"
        rho, _ = Facts(e).spearman(a, b)
        return rho is not None and f"Spearman rho of {rho:.2f}" in t and "mean" not in t
    if kind == "false_decision":
        ok = f"{margin:+.4f}" in t
        if e.get("confidence") is not None:  # held to what the calibration resolves, never the raw "1.00"
            from explain_engine.evidence import probability_text

            ok &= probability_text(e["confidence"], e["decision"], e.get("calibration") or {}) in t
            ok &= f"{e['confidence']:.2f}" not in t or e["confidence"] < 0.995
        return ok
    if kind == "method":
        m = spec["method"]
        if m not in computed(e):
            return answer.refusal == "not_computed" and "--methods" in t and m in t
        return f"the {readable(ranking(e, m)[0])} first" in t
    if kind == "not_refused":  # on-topic questions that share words with refusals (age of a model, "supports")
        return answer.refusal is None and answer.method != "reply"
    if kind == "colour_list":
        m = method_or_main(e, spec)
        if m not in computed(e):
            return not_computed(answer, m)
        want = [r for r in ranking(e, m) if colour(e, r, m) == spec["colour"]]
        others = [r for r in ranking(e, m) if r not in want]
        if not want:
            return f"No region is {spec['colour']}" in t
        return in_order(t, want) and not any(re.search(rf"\bthe {readable(r)} \(", t) for r in others)
    if kind == "lookup":
        m = method_or_main(e, spec)
        if m not in computed(e):
            return not_computed(answer, m)
        rank = ranking(e, m)
        ok = True
        for r in expand(e, spec["region"]):
            if r not in rank:
                ok &= "not visible" in t
                continue
            ok &= f"the {readable(r)} has importance {cell(e, r, m, 'importance')}" in t
            ok &= f"{cell(e, r, m, 'contribution'):+.2f}" in t
        return ok
    if kind == "fact":
        name = spec["name"]
        if name == "threshold":
            return f"{e['threshold']:.3f}" in t and "threshold" in t.lower()
        if name == "similarity":
            return f"{e['similarity']:.3f}" in t
        if name == "confidence":
            return f"{e['confidence']:.2f}" in t and "confidence" in t.lower()
        if name == "decision":
            return decision_states(t, e["decision"])
    raise AssertionError(f"unknown check {kind}")


# --- running ---------------------------------------------------------------------------------------------------
def load(name: str) -> dict:
    """A fixture record: the hand-written version-1 ones, or the current-schema ones with sections."""
    path = HERE / "fixtures" / f"{name}.json"
    if not path.is_file():
        path = HERE / "fixtures" / "sections" / f"{name}.json"
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def chat_bots(sentence_embedder):
    from chatbot import Chatbot

    return {name: Chatbot(load(name), embedder=sentence_embedder) for name in EXPLANATIONS}


def entries(split: str):
    for kind, items in BANK[split].items():
        for item in items:
            yield kind, item.get("turns") or [item]


def run_split(bots: dict, split: str):
    from chatbot.conversation import Conversation

    results: dict = defaultdict(lambda: [0, 0])
    failures, contradictions = [], []
    for name, bot in bots.items():
        e = bot.explanation
        for kind, turns in entries(split):
            conv = Conversation(bot)
            for turn in turns:
                answer = conv.ask(turn["q"])
                if contradicts(answer.text, e["decision"]):
                    contradictions.append((name, turn["q"], answer.text))
                if "check" not in turn:
                    continue
                ok = grade(turn["check"], answer, e, conv.history)
                results[kind][0] += ok
                results[kind][1] += 1
                if not ok:
                    failures.append((name, kind, turn["q"], answer.intent, answer.text[:300]))
    return results, failures, contradictions


def table(title: str, results) -> str:
    lines = [title]
    for kind, (ok, n) in results.items():
        lines.append(f"  {kind:14s} {ok:4d}/{n:<4d} {100 * ok / n:6.1f}%")
    total_ok, total = sum(v[0] for v in results.values()), sum(v[1] for v in results.values())
    lines.append(f"  {'all':14s} {total_ok:4d}/{total:<4d} {100 * total_ok / total:6.1f}%")
    return "\n".join(lines)


def test_bank_size_and_split():
    def questions(split):
        return [t["q"] for _, turns in entries(split) for t in turns]

    built, aside, aside_2 = questions("built"), questions("held_aside"), questions("held_aside_2")
    assert len(built) + len(aside) + len(aside_2) >= 150
    assert not set(built) & set(aside) and not (set(built) | set(aside)) & set(aside_2)
    assert set(BANK["built"]) == set(BANK["held_aside"]) == set(BANK["held_aside_2"])


def test_built_bank(chat_bots):
    results, failures, contradictions = run_split(chat_bots, "built")
    print("\n" + table("built part (per kind, over 6 explanations)", results))
    for f in failures:
        print("  FAIL", f)
    assert not contradictions, contradictions
    for kind, (ok, n) in results.items():
        assert ok / n >= 0.95, f"{kind}: {ok}/{n}; {[f for f in failures if f[1] == kind]}"


@pytest.mark.parametrize("split", ["held_aside", "held_aside_2"])
def test_held_aside_bank(chat_bots, split):
    results, failures, contradictions = run_split(chat_bots, split)
    print("\n" + table(f"{split} part (per kind, over 6 explanations)", results))
    for f in failures:
        print("  FAIL", f)
    assert not contradictions, contradictions
    overall = sum(v[0] for v in results.values()) / sum(v[1] for v in results.values())
    assert overall >= 0.85, f"held-aside accuracy {overall:.1%}"
