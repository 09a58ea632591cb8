"""Executing a :class:`chatbot.questions.Question` against an explanation's facts and rendering the answer.

Every number in an answer is read from the record through :class:`chatbot.facts.Facts` (or is the number the user
gave); wording comes from ``prompts/answers.yaml``. A fact the record lacks is said to be missing, never guessed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from chatbot.context import join_names, method_name, readable_region
from chatbot.facts import ONE_SIDED, Facts, is_number
from chatbot.questions import Question
from prompts import PROMPTS_DIR, Prompts, read_data_file

DEFAULT_RUN = ("s0", "s1", "s0_black")


@lru_cache(maxsize=4)
def load_answers(path: str | None = None) -> dict:
    return read_data_file(PROMPTS_DIR / "answers.yaml" if path is None else path)


@dataclass
class Result:
    """A computed answer: its sentences and what it was about (for the dialogue state and the UI)."""

    text: str
    operation: str
    subject: str
    regions: list[str] = field(default_factory=list)
    methods: list[str] = field(default_factory=list)
    number: float | None = None
    number_kind: str | None = None
    refusal: str | None = None  # identity | demographics | legal | not_in_explanation | not_computed
    premise: str | None = None  # "corrected" when the question's premise was wrong
    keys: list[str] = field(default_factory=list)  # which answer templates were used


def _fmt_delta(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.4f}"


def _pct(value: float) -> str:
    return f"{100 * value:.0f}%"


class Executor:
    """Runs questions against one explanation's :class:`Facts`."""

    def __init__(self, facts: Facts, prompts: Prompts, lexicon: dict, answers: dict | None = None) -> None:
        self.facts = facts
        self.prompts = prompts
        self.lexicon = lexicon
        self.t = answers or load_answers()
        self.settings = lexicon["settings"]
        self.vocab = prompts.vocabulary
        e = facts.record
        self.main = e.get("importance_by") if e.get("importance_by") in facts.methods else (
            "avg" if "avg" in facts.methods else ("s0" if "s0" in facts.methods else facts.methods[0]))

    # --- helpers --------------------------------------------------------------------------------------------
    def say(self, key: str, **fields: Any) -> str:
        template = self.t
        for part in key.split("."):
            template = template[part]
        return template.format(**fields)

    def mname(self, method: str, short: bool = True) -> str:
        return method_name(method, self.vocab, short=short)

    def decision_phrase(self, decision: str | None = None) -> str:
        return self.vocab["decisions"][decision or self.facts.decision]["phrase"]

    def method_for(self, q: Question, change: bool = False) -> str | None:
        """The method the question is about: a named one, the one-sided column of a named photo, else the main
        ranking's method; for score changes (``change``) S0 rather than AVG, which has ranks but no change."""
        if q.side and q.operation not in ("visibility", "section"):
            one_sided = self.lexicon["one_sided_methods"][q.side]
            if one_sided in self.facts.methods or self.lexicon["one_sided_regex"].search(q.words) or not q.methods:
                return one_sided
        if q.methods:
            return q.methods[0]
        if change and self.main == "avg" and "s0" in self.facts.methods:
            return "s0"
        return self.main

    def missing_method(self, method: str) -> Result | None:
        if self.facts.has_method(method):
            return None
        used = join_names([self.mname(m) for m in self.facts.methods], article="")
        if method in self.lexicon["one_sided_methods"].values():
            side = next(k for k, v in self.lexicon["one_sided_methods"].items() if v == method)
            text = self.say("one_sided_not_computed", method=self.mname(method), side_upper=side.upper(), methods=used)
        else:
            run = [m for m in self.facts.methods if m in DEFAULT_RUN or m == "s0"] or ["s0"]
            text = self.say("method_not_computed", method=self.mname(method, short=False), methods=used,
                            methods_arg=",".join(dict.fromkeys([*run, method])))
        return Result(text, "method", "methods", methods=[method], refusal="not_computed", keys=["method_not_computed"])

    def item_rank(self, n: int, region: str, method: str) -> str:
        return self.say("item_rank", n=n, region=readable_region(region),
                        importance=self.facts.importance(region, method),
                        delta=_fmt_delta(self.facts.delta(region, method)))

    def is_plural(self, region: str) -> bool:
        return region in set(self.vocab.get("plural_regions", [])) or region.endswith("s") and region != "nose"

    def change_words(self, region: str, d: float | None) -> dict:
        """Words for a region's recorded change ``d`` (after minus before hiding it) that keep the hiding and the
        region apart: hiding it lowered/raised the similarity, so the faces look less/more alike without it, so the
        region itself made them more/less alike."""
        d = d or 0.0
        many = self.is_plural(region)
        return {"moved": self.t["moved_words"]["lower" if d < 0 else "raise" if d > 0 else "none"],
                "abs_delta": abs(d), "direction": "more" if d < 0 else "less",
                "hidden_direction": "less" if d < 0 else "more", "pron": "them" if many else "it",
                "itself": self.t["itself_words"]["many" if many else "one"]}

    def relation(self, score: float) -> str:
        return "at or above" if score >= self.facts.threshold else "below"

    def outcome(self, score: float) -> str:
        new = "match" if score >= self.facts.threshold else "non-match"
        if new == self.facts.decision:
            return f"stay {self.decision_phrase()}"
        return f"change to {self.decision_phrase(new)}"

    # --- entry ----------------------------------------------------------------------------------------------
    def run(self, q: Question, state: Any = None) -> Result | None:
        """The answer to ``q`` (None when the question cannot be answered from the facts and should fall back)."""
        handler = getattr(self, f"op_{q.operation}", None)
        if handler is None:
            return None
        return handler(q, state)

    # --- refusals and missing facts ------------------------------------------------------------------------
    def op_refuse(self, q: Question, state: Any) -> Result:
        return Result(self.say(f"refuse.{q.subject}"), "refuse", q.subject, refusal=q.subject,
                      keys=[f"refuse.{q.subject}"])

    def not_in_record(self, subject: str, what: str, region: str | None = None) -> Result:
        text = self.say(f"not_in_record.{subject}", what=what, region=readable_region(region or ""))
        return Result(text, "section", subject, refusal="not_in_explanation", keys=[f"not_in_record.{subject}"])

    # --- regions --------------------------------------------------------------------------------------------
    def _ranked(self, q: Question) -> tuple[str, list[str]] | Result:
        method = self.method_for(q)
        missing = self.missing_method(method)
        if missing is not None:
            return missing
        return method, self.facts.ranking(method)

    def op_top_k(self, q: Question, state: Any, bottom: bool = False) -> Result:
        got = self._ranked(q)
        if isinstance(got, Result):
            return got
        method, ranking = got
        k = max(1, int(q.k or self.lexicon["default_k"]))
        if bottom:
            chosen = list(range(max(0, len(ranking) - k), len(ranking)))
        else:
            chosen = list(range(min(k, len(ranking))))
        items = "; ".join(self.item_rank(i + 1, ranking[i], method) for i in chosen)
        key = "bottom_k" if bottom else "top_k"
        text = self.say(key, method=self.mname(method), k=len(chosen), items=items)
        if k > len(ranking):
            text += " " + self.say("k_capped", count=len(ranking), method=self.mname(method))
        regions = [ranking[i] for i in chosen]
        return Result(text, key, "regions", regions, [method], keys=[key])

    def op_bottom_k(self, q: Question, state: Any) -> Result:
        return self.op_top_k(q, state, bottom=True)

    def op_position(self, q: Question, state: Any) -> Result:
        got = self._ranked(q)
        if isinstance(got, Result):
            return got
        method, ranking = got
        n = int(q.k)
        if n > len(ranking):
            return Result(self.say("position_out", method=self.mname(method), count=len(ranking), n=n), "position",
                          "regions", [], [method], keys=["position_out"])
        region = ranking[n - 1]
        text = self.say("position", method=self.mname(method), n=n, count=len(ranking), region=readable_region(region),
                        importance=self.facts.importance(region, method),
                        delta=_fmt_delta(self.facts.delta(region, method)))
        d = self.facts.delta(region, method)
        return Result(text, "position", "regions", [region], [method], number=d, number_kind="delta" if d is not None
                      else None, keys=["position"])

    def op_rank_of(self, q: Question, state: Any) -> Result:
        return self._each_region(q, "rank_of", lambda region, method, ranking: self.say(
            "rank_of", method=self.mname(method), region=readable_region(region),
            position=ranking.index(region) + 1, count=len(ranking), importance=self.facts.importance(region, method)))

    def _each_region(self, q: Question, op: str, describe: Callable[[str, str, list[str]], str]) -> Result:
        """One sentence per region the question names, by the method's ranking: ``describe(region, method,
        ranking)`` for a ranked region, the ``region_absent`` sentence for one the method did not rank."""
        got = self._ranked(q)
        if isinstance(got, Result):
            return got
        method, ranking = got
        parts = [describe(region, method, ranking) if region in ranking else
                 self.say("region_absent", region=readable_region(region), method=self.mname(method))
                 for region in q.regions]
        return Result(" ".join(parts), op, "regions", list(q.regions), [method], keys=[op])

    def op_level(self, q: Question, state: Any) -> Result:
        got = self._ranked(q)
        if isinstance(got, Result):
            return got
        method, ranking = got
        chosen = self.facts.with_level(method, int(q.k))
        if not chosen:
            levels = sorted({self.facts.importance(r, method) for r in ranking})
            text = self.say("level_none", method=self.mname(method), n=q.k, levels=", ".join(map(str, levels)))
            return Result(text, "level", "regions", [], [method], keys=["level_none"])
        items = join_names([readable_region(r) for r in chosen])
        return Result(self.say("level", method=self.mname(method), n=q.k, items=items), "level", "regions", chosen,
                      [method], keys=["level"])

    def op_lookup(self, q: Question, state: Any) -> Result:
        def describe(region: str, method: str, ranking: list[str]) -> str:
            c, d = self.facts.contribution(region, method), self.facts.delta(region, method)
            return self.say("lookup", method=self.mname(method), region=readable_region(region),
                            importance=self.facts.importance(region, method), position=ranking.index(region) + 1,
                            count=len(ranking), contribution="not recorded" if c is None else f"{c:+.2f}",
                            change="" if d is None else self.say("lookup_change", delta=_fmt_delta(d)))

        return self._each_region(q, "lookup", describe)

    def op_order_by_change(self, q: Question, state: Any) -> Result:
        method = self.method_for(q, change=True)
        if (missing := self.missing_method(method)) is not None:
            return missing
        ranking = self.facts.ranking(method, by="change")
        items = ", ".join(self.say("item_change", region=readable_region(r), delta=_fmt_delta(self.facts.delta(r, method)))
                          for r in ranking)
        return Result(self.say("order_by_change", method=self.mname(method), items=items), "order_by_change", "regions",
                      ranking, [method], keys=["order_by_change"])

    def op_compare(self, q: Question, state: Any) -> Result:
        method = self.method_for(q)
        if (missing := self.missing_method(method)) is not None:
            return missing
        regions = [r for r in dict.fromkeys(q.regions)]
        ranked = [r for r in self.facts.ranking(method) if r in regions]
        absent = [r for r in regions if r not in ranked]
        parts = [self.say("region_absent", region=readable_region(r), method=self.mname(method)) for r in absent]
        if len(ranked) == 2:
            a, b = ranked
            ia, ib = self.facts.importance(a, method), self.facts.importance(b, method)
            da, db = self.facts.delta(a, method), self.facts.delta(b, method)
            if ia == ib and da is not None and db is not None and abs(da) != abs(db):
                big, small = (a, b) if abs(da) > abs(db) else (b, a)
                parts.append(self.say("compare_same_level", method=self.mname(method), first=readable_region(a),
                                      second=readable_region(b), importance=ia, winner=readable_region(big),
                                      loser=readable_region(small), winner_delta=_fmt_delta(self.facts.delta(big, method)),
                                      loser_delta=_fmt_delta(self.facts.delta(small, method))))
            elif ia == ib:
                parts.append(self.say("compare_tie", method=self.mname(method), first=readable_region(a),
                                      second=readable_region(b), importance=ia, first_delta=_fmt_delta(da),
                                      second_delta=_fmt_delta(db)))
            else:
                parts.append(self.say("compare", method=self.mname(method), winner=readable_region(a),
                                      loser=readable_region(b), verb="are" if self.is_plural(a) else "is",
                                      winner_importance=ia, loser_importance=ib,
                                      winner_pron="them" if self.is_plural(a) else "it",
                                      winner_delta=_fmt_delta(da), loser_delta=_fmt_delta(db)))
        elif len(ranked) > 2:
            items = "; ".join(self.item_rank(i + 1, r, method) for i, r in enumerate(ranked))
            parts.append(self.say("compare_many", method=self.mname(method), items=items,
                                  winner=readable_region(ranked[0]), verb="are" if self.is_plural(ranked[0]) else "is"))
        return Result(" ".join(parts), "compare", "regions", regions, [method], keys=["compare"])

    # --- numbers --------------------------------------------------------------------------------------------
    def op_change(self, q: Question, state: Any) -> Result:
        method = self.method_for(q, change=True)
        if (missing := self.missing_method(method)) is not None:
            return missing
        parts, last = [], None
        for region in q.regions:
            if region not in self.facts.present:
                parts.append(self.say("region_absent", region=readable_region(region), method=self.mname(method)))
                continue
            d = self.facts.delta(region, method)
            if d is None:
                parts.append(self.say("change_no_delta", region=readable_region(region), method=self.mname(method)))
                continue
            last = d
            parts.append(self.say("change", region=readable_region(region), method=self.mname(method),
                                  delta=_fmt_delta(d), similarity=self.facts.similarity, after=self.facts.similarity + d,
                                  **self.change_words(region, d)))
        return Result(" ".join(parts), "change", "scores", list(q.regions), [method], number=last,
                      number_kind="delta" if last is not None else None, keys=["change"])

    def _state_number(self, q: Question, state: Any) -> tuple[float | None, str | None, str | None]:
        """(value, kind, method) the follow-up refers to: a region's change, else the state's number."""
        method = self.method_for(q, change=True)
        if (q.followup == "state" and state is not None and state.number is not None
                and state.number_kind in ("delta", "margin", "similarity", "threshold")):
            return state.number, state.number_kind, (state.methods or [None])[0]
        if q.regions:
            region = q.regions[0]
            if self.facts.has_method(method):
                d = self.facts.delta(region, method)
                if d is not None:
                    return d, "delta", method
        if state is not None and state.number is not None:
            return state.number, state.number_kind, (state.methods or [None])[0]
        if q.regions and self.facts.has_method(method):
            d = self.facts.delta(q.regions[0], method)
            if d is not None:
                return d, "delta", method
        return None, None, None

    def base_change_method(self) -> str:
        """The method whose single-region changes the record's strength section measures (S0 when it ran)."""
        return "s0" if "s0" in self.facts.methods else self.main

    def largest_single(self, method: str | None = None) -> tuple[float, str] | None:
        """(largest |change| from hiding one region, that region) by ``method`` (default: S0, the record's strength
        section); a follow-up scoped to another method or one-sided column gets that method's own largest."""
        base = self.base_change_method()
        method = method if method and self.facts.has_method(method) else base
        strength = self.facts.record.get("strength") or {}
        if (method == base and is_number(strength.get("largest_single_change"))
                and strength.get("largest_single_region")):
            return abs(float(strength["largest_single_change"])), strength["largest_single_region"]
        ranking = self.facts.ranking(method, by="change")
        if ranking and (d := self.facts.delta(ranking[0], method)) is not None:
            return abs(d), ranking[0]
        return None

    def op_share_of_margin(self, q: Question, state: Any) -> Result | None:
        method = self.method_for(q, change=True)
        if len(q.regions) > 1 and self.facts.has_method(method) and self.facts.margin:
            # several regions (e.g. both eyes of the fine set): one share each
            parts, last = [], None
            for region in q.regions:
                d = self.facts.delta(region, method)
                if d is None:
                    continue
                last = d
                parts.append(self.say("share_of_margin_region", region=readable_region(region), abs_value=abs(d),
                                      share_pct=_pct(abs(d) / abs(self.facts.margin))))
            if parts:
                text = " ".join(parts) + " " + self.say("share_of_margin_tail", abs_margin=abs(self.facts.margin),
                                                        similarity=self.facts.similarity, threshold=self.facts.threshold)
                return Result(text, "share_of_margin", "scores", list(q.regions), [method], number=last,
                              number_kind="delta", keys=["share_of_margin_region"])
        value, kind, method = self._state_number(q, state)
        if value is None or kind not in ("delta", None) or self.facts.margin == 0:
            return None
        share = abs(value) / abs(self.facts.margin)
        text = self.say("share_of_margin", abs_value=abs(value), share_pct=_pct(share), abs_margin=abs(self.facts.margin),
                        similarity=self.facts.similarity, threshold=self.facts.threshold)
        return Result(text, "share_of_margin", "scores", list(q.regions), [method] if method else [], number=value,
                      number_kind="delta", keys=["share_of_margin"])

    def op_is_a_lot(self, q: Question, state: Any) -> Result | None:
        value, kind, method = self._state_number(q, state)
        largest = self.largest_single(method if kind == "delta" else None)
        if value is None or kind not in ("delta", "margin", "similarity", "threshold"):
            return None
        if kind in ("margin", "similarity", "threshold"):
            if largest is None:
                return None
            ratio = abs(self.facts.margin) / largest[0] if largest[0] else float("inf")
            ratio_text = f"{ratio:.1f} times" if ratio >= 1 else f"only {100 * ratio:.0f}% of"
            text = self.say("margin_size", similarity=self.facts.similarity, threshold=self.facts.threshold,
                            method=self.mname(self.base_change_method()),
                            abs_margin=abs(self.facts.margin), largest=largest[0],
                            largest_region=readable_region(largest[1]), ratio_text=ratio_text)
            return Result(text, "is_a_lot", "scores", [], [], number=self.facts.margin, number_kind="margin",
                          keys=["margin_size"])
        share = abs(value) / abs(self.facts.margin) if self.facts.margin else float("inf")
        key = ("is_a_lot_large" if share >= self.settings["lot_share"] else
               "is_a_lot_small" if share < self.settings["little_share"] else "is_a_lot_medium")
        text = self.say(key, abs_value=abs(value), share_pct=_pct(share), abs_margin=abs(self.facts.margin))
        region = q.regions[0] if len(q.regions) == 1 else None
        if region and method and self.facts.has_method(method) and self.facts.delta(region, method) == value:
            # say whose change it is (a follow-up may have moved it to another method or photo)
            text = self.say("is_a_lot_which", region=readable_region(region), method=self.mname(method),
                            delta=_fmt_delta(value)) + " " + text
        if largest is not None:
            scope = method if method and self.facts.has_method(method) else self.base_change_method()
            text += " " + self.say("is_a_lot_largest", largest=largest[0], largest_region=readable_region(largest[1]),
                                   method=self.mname(scope))
        return Result(text, "is_a_lot", "scores", list(q.regions), [method] if method else [], number=value,
                      number_kind="delta", keys=[key])

    def op_whatif_threshold(self, q: Question, state: Any) -> Result:
        new = float(q.number)
        if abs(new - self.facts.threshold) < 5e-4:
            text = self.say("whatif_same", new=new, similarity=self.facts.similarity, relation=self.relation(
                self.facts.similarity), decision=self.decision_phrase())
        else:
            would = "match" if self.facts.similarity >= new else "non-match"
            outcome = (f"stay {self.decision_phrase()}" if would == self.facts.decision
                       else f"change to {self.decision_phrase(would)}")
            text = self.say("whatif_threshold", new=new, threshold=self.facts.threshold,
                            similarity=self.facts.similarity,
                            relation="at or above" if self.facts.similarity >= new else "below", outcome=outcome)
        return Result(text, "whatif_threshold", "decision", number=new, number_kind="threshold",
                      keys=["whatif_threshold"])

    def op_score_after(self, q: Question, state: Any) -> Result:
        method = self.method_for(q, change=True)
        if method not in self.facts.methods or method == "avg":
            method = "s0" if "s0" in self.facts.methods else self.facts.methods[0]
        regions = [r for r in q.regions if r in self.facts.present]
        absent = [r for r in q.regions if r not in self.facts.present]
        parts = [self.say("region_absent", region=readable_region(r), method=self.mname(method)) for r in absent]
        if not regions:
            return Result(" ".join(parts), "score_after", "scores", list(q.regions), [method], keys=["region_absent"])
        got = self.facts.score_after(regions, method)
        names = join_names([readable_region(r) for r in regions])
        if got is not None and len(regions) == 1:
            after, _ = got
            d = self.facts.delta(regions[0], method)
            parts.append(self.say("score_after_single", region=readable_region(regions[0]), method=self.mname(method),
                                  after=after, similarity=self.facts.similarity, delta_signed=f"{d:+.4f}",
                                  relation=self.relation(after), threshold=self.facts.threshold,
                                  outcome=self.outcome(after)))
            key = "score_after_single"
        elif got is not None:
            after, source = got
            parts.append(self.say("score_after_set", regions=names, source=self.t["score_after_sources"][source], after=after,
                                  relation=self.relation(after), threshold=self.facts.threshold,
                                  outcome=self.outcome(after)))
            key = "score_after_set"
        else:
            deltas = [(r, self.facts.delta(r, method)) for r in regions]
            known = [(r, d) for r, d in deltas if d is not None]
            total = sum(d for _, d in known)
            after = self.facts.similarity + total
            items = ", ".join(self.say("item_change", region=readable_region(r), delta=_fmt_delta(d)) for r, d in known)
            parts.append(self.say("score_after_unknown", regions=names, method=self.mname(method), items=items,
                                  sum_signed=f"{total:+.4f}", estimate=after, relation=self.relation(after),
                                  threshold=self.facts.threshold))
            key = "score_after_unknown"
        return Result(" ".join(parts), "score_after", "scores", regions, [method], number=after - self.facts.similarity,
                      number_kind="delta", keys=[key])

    def op_counterfactual(self, q: Question, state: Any) -> Result:
        if q.regions:
            return self.op_score_after(q, state)
        result = self._counterfactual()
        w = q.words.replace("non match", "non-match").replace("no match", "non-match")
        asked = next((d for d in ("non-match", "match") if re.search(rf"\b(a |an )?{d}\b", w)), None)
        if asked == self.facts.decision:  # "what would make it a match?" of a match: it is one already
            result.text = self.say("counterfactual_already", decision=self.decision_phrase()) + " " + result.text
            result.premise = "corrected"
        return result

    def _counterfactual(self) -> Result:
        cf = self.facts.record.get("counterfactual") or {}
        regions = [r for r in cf.get("regions") or [] if isinstance(r, str)]
        if cf.get("flips") and regions and is_number(cf.get("score_after")):
            after = float(cf["score_after"])
            how = self.t["counterfactual_how"].get(cf.get("source"), str(cf.get("source") or "the explanation"))
            many = len(regions) > 1 or self.is_plural(regions[0])
            text = self.say("counterfactual_flips", regions=join_names([readable_region(r) for r in regions]),
                            pron="them" if many else "it", after=after, relation=self.relation(after),
                            threshold=self.facts.threshold, how=how)
            return Result(text, "counterfactual", "regions", regions, [], number=after - self.facts.similarity,
                          number_kind="delta", keys=["counterfactual_flips"])
        from prompts.render import counterfactual_sentence

        # the engine's own sentence (prompts/statements.yaml, as the CLI and card say it); a version-1 record's stored one
        statement = counterfactual_sentence(cf, threshold=self.facts.threshold, decision=self.facts.decision) or ""
        if cf.get("flips") and regions:
            text = self.say("counterfactual_flips_unscored", regions=join_names([readable_region(r) for r in regions]),
                            statement=statement)
            return Result(text, "counterfactual", "regions", regions, [], keys=["counterfactual_flips_unscored"])
        text = statement if statement.startswith(self.t["counterfactual_none_prefix"]) else self.say(
            "counterfactual_none", statement=statement or self.t["counterfactual_none_unstated"])
        return Result(text, "counterfactual", "regions", [], [],
                      keys=["counterfactual_none"])

    def op_list_regions(self, q: Question, state: Any) -> Result:
        method = self.method_for(q)
        if method not in self.facts.methods:
            method = self.main
        ranking = self.facts.ranking(method)
        items = "; ".join(self.item_rank(ranking.index(r) + 1, r, method) if r in ranking
                          else self.say("item_region", region=readable_region(r)) for r in q.regions)
        return Result(self.say("list_regions", items=items), "list_regions", "regions", list(q.regions), [method],
                      keys=["list_regions"])

    # --- premises -------------------------------------------------------------------------------------------
    def op_colour(self, q: Question, state: Any) -> Result:
        method = self.method_for(q)
        if (missing := self.missing_method(method)) is not None:
            return missing
        parts, corrected = [], False
        for region in q.regions:
            if region not in self.facts.present:
                parts.append(self.say("region_absent", region=readable_region(region), method=self.mname(method)))
                continue
            actual = self.facts.colour(region, method, self.settings["white_below"])
            d = self.facts.delta(region, method)
            if d is None:
                c = self.facts.contribution(region, method) or 0.0
                d = -c  # direction only; the size is not recorded
            key = "colour_right" if actual == q.colour else "colour_wrong"
            corrected |= key == "colour_wrong"
            parts.append(self.say(key, region=readable_region(region), asked=q.colour, actual=actual,
                                  method=self.mname(method), moved="lowered" if d < 0 else "raised",
                                  abs_delta=abs(d), meaning=self.t["colour_meaning"][actual]))
        return Result(" ".join(parts), "colour", "regions", list(q.regions), [method],
                      premise="corrected" if corrected else None, keys=["colour"])

    def op_colour_list(self, q: Question, state: Any) -> Result | None:
        if q.colour is None:
            return None
        method = self.method_for(q)
        if (missing := self.missing_method(method)) is not None:
            return missing
        ranking = self.facts.ranking(method)
        chosen = [r for r in ranking if self.facts.colour(r, method, self.settings["white_below"]) == q.colour]
        key = "colour_list" if chosen else "colour_list_none"
        text = self.say(key, method=self.mname(method), colour=q.colour, colour_cap=q.colour.capitalize(),
                        meaning=self.t["colour_meaning"][q.colour],
                        items=", ".join(self.say("item_change", region=readable_region(r),
                                                 delta=_fmt_delta(self.facts.delta(r, method))) for r in chosen))
        return Result(text, "colour_list", "regions", chosen, [method], keys=[key])

    def op_why_rank(self, q: Question, state: Any) -> Result:
        method = self.method_for(q)
        if (missing := self.missing_method(method)) is not None:
            return missing
        ranking = self.facts.ranking(method)
        asked = "least" if any(w in q.words for w in (" least ", " less ")) else "most"
        region = q.regions[0]
        if region not in ranking:
            return Result(self.say("region_absent", region=readable_region(region), method=self.mname(method)),
                          "why_rank", "regions", [region], [method], keys=["region_absent"])
        actual = ranking[0] if asked == "most" else ranking[-1]
        if actual == region:
            text = self.say("why_rank_right", method=self.mname(method), region=readable_region(region), asked=asked,
                            delta=_fmt_delta(self.facts.delta(region, method)),
                            comparison=self.t["why_rank_comparison"][asked],
                            importance=self.facts.importance(region, method))
            if self.facts.ranking(method, by="change")[0 if asked == "most" else -1] != region:
                text = self.say("rank_of", method=self.mname(method), region=readable_region(region), position=1 if
                                asked == "most" else len(ranking), count=len(ranking),
                                importance=self.facts.importance(region, method))
            return Result(text, "why_rank", "regions", [region], [method], keys=["why_rank_right"])
        text = self.say("why_rank_wrong", method=self.mname(method), region=readable_region(region), asked=asked,
                        position=ranking.index(region) + 1, count=len(ranking),
                        importance=self.facts.importance(region, method), actual=readable_region(actual))
        return Result(text, "why_rank", "regions", [region, actual], [method], premise="corrected",
                      keys=["why_rank_wrong"])

    def op_why_decision(self, q: Question, state: Any) -> Result:
        w = q.words
        negated = any(p in w for p in ("non-match", "non match", "nonmatch", "no match", "mismatch", "n't match",
                                       "not match"))
        asked = "non-match" if negated else "match"
        actual = self.facts.decision
        fields = {"asked": self.decision_phrase(asked), "actual": self.decision_phrase(actual),
                  "similarity": self.facts.similarity, "threshold": self.facts.threshold, "margin": self.facts.margin,
                  "relation": self.relation(self.facts.similarity)}
        if asked != actual:
            return Result(self.say("why_decision_wrong", **fields), "why_decision", "decision", premise="corrected",
                          number=self.facts.margin, number_kind="margin", keys=["why_decision_wrong"])
        return Result(self.say("why_decision_right", **fields), "why_decision", "decision", number=self.facts.margin,
                      number_kind="margin", keys=["why_decision_right"])

    def op_role(self, q: Question, state: Any) -> Result:
        method = self.method_for(q)
        if (missing := self.missing_method(method)) is not None:
            return missing
        w = q.words
        asked = "against" if any(p in w for p in ("against", "hurt", "work against", "argu")) and "for" not in w.split() \
            else ("supports" if any(p in w for p in ("support", "help", "favo", " for ")) else None)
        parts, corrected = [], False
        for region in q.regions:
            if region not in self.facts.present:
                parts.append(self.say("region_absent", region=readable_region(region), method=self.mname(method)))
                continue
            effect = self.facts.effect(region, method) or "neutral"
            d = self.facts.delta(region, method)
            verb = self.t["role_verbs"][effect]
            differ = [] if q.methods or q.side else [  # every other method that marks the region otherwise
                (m, e) for m in self.facts.methods if m != method
                and (e := self.facts.effect(region, m)) is not None and e != effect]
            if asked and asked != effect:
                split = any(e == asked for _, e in differ)  # another method does mark it as asked: no flat "No"
                corrected = corrected or not split
                parts.append(self.say("role_premise_split" if split else "role_premise", region=readable_region(region),
                                      verb=verb, method=self.mname(method),
                                      asked="supporting" if asked == "supports" else "arguing against"))
            parts.append(self.say("role", method=self.mname(method), region=readable_region(region), verb=verb,
                                  decision=self.facts.decision, delta=_fmt_delta(d), **self.change_words(region, d)))
            size = self.facts.value(region, "abs_change", method)
            floor = self.facts.record.get("noise_floor")
            if is_number(size) and is_number(floor):
                parts.append(self.say("role_size", abs_change=size, noise_floor=floor,
                                      role=self.prompts_importance_role(effect)))
            if differ:
                parts.append(self.say("role_others", region=readable_region(region), items="; ".join(
                    self.say("role_other_item", method=self.mname(m), verb=self.t["role_verbs"][e])
                    for m, e in differ)))
        return Result(" ".join(parts), "role", "regions", list(q.regions), [method],
                      premise="corrected" if corrected else None, keys=["role"])

    def op_which_photo(self, q: Question, state: Any) -> Result:
        """"Which photo sets them apart, A or B?": the one-sided S0 columns (a region hidden in one photo only): the
        regions of each photo whose hiding there alone made the faces more alike, i.e. that set them apart, with
        their changes, and the one that does it most. Regions are compared one at a time, not the photos as wholes."""
        columns = self.lexicon["one_sided_methods"]
        for side in ("a", "b"):
            if (missing := self.missing_method(columns[side])) is not None:
                return missing
        parts, best, names = [], None, []
        for side in ("a", "b"):
            m = columns[side]
            apart = self.facts.marked(m, "dissimilar")
            if apart:
                items = ", ".join(self.say("item_change", region=readable_region(r), delta=_fmt_delta(self.facts.delta(r, m)))
                                  for r in apart)
                parts.append(self.say("which_photo_side", side=side.upper(), method=self.mname(m), items=items))
                top = apart[0]
                d = abs(self.facts.delta(top, m) or 0.0)
                if best is None or d > best[0]:
                    best = (d, side, top)
                names += [r for r in apart if r not in names]
            else:
                parts.append(self.say("which_photo_none", side=side.upper(), method=self.mname(m)))
        if best is not None:
            parts.append(self.say("which_photo_most", side=best[1].upper(), region=readable_region(best[2]),
                                  abs_delta=best[0]))
        parts.append(self.t["which_photo_caveat"])
        return Result(" ".join(parts), "which_photo", "regions", names, list(columns.values()), keys=["which_photo"])

    def op_against(self, q: Question, state: Any) -> Result:
        """Which regions argued against the decision, by every method the record ran or shows (S0, S1, AVG, the
        one-sided S0 columns, FGGB, CorrRISE, ...), each named; "none did" only when no method marks one. A named
        method or photo restricts it to that method / one-sided column."""
        methods = [self.method_for(q)] if (q.methods or q.side) else list(self.facts.methods)
        if len(methods) == 1 and (missing := self.missing_method(methods[0])) is not None:
            return missing
        marked = {m: self.facts.marked(m, "against") for m in methods}
        names = [r for m in methods for r in marked[m]]
        used = join_names([self.mname(m) for m in methods], article="")
        if not names:
            text = self.say("against_none", decision=self.decision_phrase(), methods=used)
            return Result(text, "against", "regions", [], methods, keys=["against_none"])
        items = "; ".join(self.say("against_item", method=self.mname(m),
                                   regions=join_names([readable_region(r) for r in marked[m]])
                                   if marked[m] else self.t["against_item_none"]) for m in methods)
        parts = [self.say("against", decision=self.decision_phrase(), items=items)]
        if self.facts.decision == "non-match" and any(m in ONE_SIDED for m in methods):
            parts.append(self.t["against_one_sided"])
        return Result(" ".join(parts), "against", "regions", list(dict.fromkeys(names)),
                      [m for m in methods if marked[m]], keys=["against"])

    @staticmethod
    def prompts_importance_role(role: str) -> str:
        """The role's words shared with the table and card (prompts/importance.yaml ``roles``)."""
        from explain_engine.table import importance_words

        return importance_words().get("roles", {}).get(role, role)

    # --- sections -------------------------------------------------------------------------------------------
    def op_visibility(self, q: Question, state: Any) -> Result:
        parts = []
        has_fractions = False
        for region in q.regions:
            a, b = self.facts.value(region, "visible_fraction_a"), self.facts.value(region, "visible_fraction_b")
            if is_number(a) or is_number(b):
                has_fractions = True
                parts.append(self.say("visibility_fraction", region=readable_region(region),
                                      a=_pct(a) if is_number(a) else "not recorded",
                                      b=_pct(b) if is_number(b) else "not recorded"))
            for side in ("a", "b"):
                if self.facts.value(region, f"covered_{side}") is True and region in self.facts.present:
                    parts.append(self.say("visibility_covered", region=readable_region(region), side=side.upper(),
                                          verb="are" if self.is_plural(region) else "is"))
            if region in self.facts.present:
                if not has_fractions:
                    parts.append(self.say("visibility_present", region=readable_region(region),
                                          verb="were" if self.is_plural(region) else "was"))
            else:
                reason = self.facts.value(region, "absent_reason") or "the record gives no reason"
                parts.append(self.say("visibility_absent", region=readable_region(region), reason=reason,
                                      verb="were" if self.is_plural(region) else "was"))
        return Result(" ".join(parts), "visibility", "quality", list(q.regions), keys=["visibility"])

    def op_section(self, q: Question, state: Any) -> Result | None:
        if q.subject == "evidence":
            return self.evidence(q)
        if q.subject == "quality":
            return self.quality(q)
        if q.subject == "robustness":
            return self.robustness(q)
        return None

    def evidence(self, q: Question) -> Result:
        """Evidence-strength answers, worded by the evidence section's own renderer (explain_engine.evidence: one
        function per kind of statement, words in prompts/evidence.yaml and verbal_scale.yaml)."""
        from explain_engine import evidence as statements

        ev = self.facts.section("evidence")
        what = {"lr": "a likelihood ratio", "conclusive": "whether the result is conclusive",
                "cllr": "a Cllr", "error_rates": "error rates"}.get(q.field or "lr", "that")
        if ev is None:
            return self.not_in_record("evidence", what)
        if q.field == "conclusive":
            parts = [statements.conclusiveness_statement(ev), statements.lr_statement(ev)]
        elif q.field == "cllr":
            parts = [statements.calibration_statement(ev)]
            if not parts[0]:
                return self.not_in_record("cllr", what)
        elif q.field == "error_rates":
            parts = [statements.error_rate_statement(ev)]
            if not parts[0]:
                return self.not_in_record("error_rates", what)
        else:
            parts = [statements.lr_statement(ev), statements.verbal_statement(ev), statements.cap_statement(ev)]
        number = float(ev["log10_lr"]) if is_number(ev.get("log10_lr")) else None
        return Result(" ".join(p for p in parts if p), "section", "evidence", number=number, number_kind="log10_lr",
                      keys=[f"evidence.{q.field or 'lr'}"])

    def quality(self, q: Question) -> Result:
        quality = self.facts.section("quality")
        if quality is None:
            return self.not_in_record("quality", "how good the photos were or why one would be refused")
        sides = [q.side] if q.side else ["a", "b"]
        parts = []
        if any(w in q.words for w in ("refus", "reject")):
            refused = [s for s in ("a", "b") if (quality.get(s) or {}).get("outcome") == "refuse"]
            parts.extend(self.say("quality_refused", side=s.upper()) for s in refused)
            if not refused:
                parts.append(self.say("quality_no_refusal"))
        for side in sides:
            block = quality.get(side) or {}
            outcome = block.get("outcome")
            if outcome is None:
                continue
            parts.append(self.say("quality_outcome", side=side.upper(),
                                  outcome=self.t["quality_outcomes"].get(outcome, outcome)))
            bad = [c for c in block.get("components") or [] if isinstance(c, dict) and c.get("outcome") != "pass"]
            if bad:
                items = "; ".join(self.say("quality_component", name=str(c.get("name", "?")).replace("_", " "),
                                           value=c.get("value"), unit=(" " + c["unit"]) if c.get("unit") else "",
                                           outcome=c.get("outcome"), threshold=", ".join(
                                               f"{k.replace('_', ' ')} {v}" for k, v in c["threshold"].items())
                                           if isinstance(c.get("threshold"), dict) else c.get("threshold"),
                                           source=c.get("source") or "no source given") for c in bad)
                parts.append(self.say("quality_components", side=side.upper(), items=items))
            else:
                parts.append(self.say("quality_all_pass", side=side.upper()))
        return Result(" ".join(parts), "section", "quality", keys=["quality"])

    def robustness(self, q: Question) -> Result:
        """Would another fill / a re-alignment change the leading region, and which region leads robustly: the
        engine's own verdict sentence (explain_engine.robustness.statement, words in prompts/importance.yaml), then
        the record's numbers behind it (leading region per fill, the candidate's change under each fill and its
        spreads, the noise floor)."""
        rob = self.facts.section("robustness")
        if isinstance(rob, dict):  # a record written under an older rule is judged by the current one
            from explain_engine.robustness import current

            rob = current(rob)
        stab = self.facts.record.get("stability")
        if rob is None and isinstance(stab, dict) and is_number(stab.get("top_region_kept")):
            return Result(self.say("robustness_stability", samples=stab.get("samples", "several"),
                                   kept_pct=_pct(float(stab["top_region_kept"]))), "section", "robustness",
                          keys=["robustness_stability"])
        if rob is None:
            return self.not_in_record("robustness", "whether another fill would change the answer")
        if not isinstance(rob.get("checks"), dict):  # an older robustness layout: leading region kept or not
            return self.robustness_summary(rob)
        parts = [self.robustness_statement(rob)]
        candidate = rob.get("candidate_region")
        main_fill = rob.get("main_fill") or "main"
        leaders = [self.say("robustness_fill_item", fill=main_fill, main=self.t["robustness_main_fill"],
                            region=readable_region(candidate) if candidate else self.t["robustness_no_leader"])]
        for fill, v in (rob.get("fills") or {}).items():
            lead = (v or {}).get("leading_region")
            leaders.append(self.say("robustness_fill_item", fill=fill, main="",
                                    region=readable_region(lead) if lead else self.t["robustness_no_leader"]))
        parts.append(self.say("robustness_fills", items="; ".join(leaders)))
        per = (rob.get("per_region") or {}).get(candidate) if candidate else None
        if isinstance(per, dict):
            by_fill = ", ".join(f"{f} {v:+.4f}" for f, v in (per.get("by_fill") or {}).items() if is_number(v))
            spreads = [self.say("robustness_sd_fill", sd=per["sd_fill"]) if is_number(per.get("sd_fill")) else "",
                       self.say("robustness_sd_jitter", sd=per["sd_jitter"]) if is_number(per.get("sd_jitter")) else ""]
            parts.append(self.say("robustness_candidate", region=readable_region(candidate), by_fill=by_fill or "n/a",
                                  spreads="; ".join(s for s in spreads if s) or self.t["robustness_no_spread"]))
        if is_number(rob.get("lead_gap")) and is_number(rob.get("noise_floor")):
            parts.append(self.say("robustness_gap", gap=rob["lead_gap"], noise_floor=rob["noise_floor"]))
        region = rob.get("leading_region")
        return Result(" ".join(parts), "section", "robustness", [region or candidate] if (region or candidate) else [],
                      keys=["robustness"])

    @staticmethod
    def robustness_statement(rob: dict) -> str:
        """The card's robustness sentence, so card and chat say the same thing."""
        from explain_engine.robustness import statement

        return statement(rob)

    def robustness_summary(self, rob: dict) -> Result:
        region = rob.get("leading_region")
        kept = self.t["reliability_kept"]["kept" if rob.get("leading_robust") else "lost"]
        items = []
        for name, v in (rob.get("per_region") or {}).items():
            if isinstance(v, dict) and is_number(v.get("sd_fill")):
                jitter = f", {v['sd_jitter']:.3f} over shifts" if is_number(v.get("sd_jitter")) else ""
                items.append(self.say("robustness_sd_item", region=readable_region(name), sd=v["sd_fill"], jitter=jitter))
        details = ("Spread of the contributions: " + "; ".join(items) + ".") if items else ""
        text = self.say("robustness_fill", region=readable_region(region or "?"), kept=kept, details=details).strip()
        return Result(text, "section", "robustness", [region] if region else [], keys=["robustness"])

    def agreement_level(self, mean: float, own_rule: bool = True) -> str:
        """How well the rankings agree: the chat's settings bands, never above "poorly" when the record's own rule
        (robustness.method_agreement.rankings_agree) says the rankings disagree, so the two never contradict
        (``own_rule`` False: one pair of methods, which that rule does not judge)."""
        s = self.settings
        rob = self.facts.section("robustness") or {}
        verdict = (rob.get("method_agreement") or {}).get("rankings_agree") if isinstance(
            rob.get("method_agreement"), dict) else None
        if verdict is False and own_rule:
            return self.t["agreement_levels"]["weak"]
        return self.t["agreement_levels"]["strong" if mean >= s["explain_reliable_agreement"] else
                                          "partial" if mean >= s["unreliable_agreement"] else "weak"]

    def pairs_text(self, pairs: list[tuple[str, str, float]]) -> str:
        return "; ".join(f"{self.mname(a)} and {self.mname(b)} {v:.2f}" for a, b, v in pairs)

    def agreement_details(self) -> list[str]:
        """The robustness section's agreement facts beyond the correlations: the record's verdict (``rankings_agree``
        against its ``agreement_min``) and the leading region each independent method names."""
        rob = self.facts.section("robustness") or {}
        agreement = rob.get("method_agreement") if isinstance(rob.get("method_agreement"), dict) else {}
        out = []
        verdict = agreement.get("rankings_agree")
        minimum = (rob.get("thresholds") or {}).get("agreement_min")
        if isinstance(verdict, bool) and is_number(minimum):
            out.append(self.say("agreement_rule", minimum=minimum,
                                verdict=self.t["agreement_verdicts"]["agree" if verdict else "disagree"]))
        leaders = agreement.get("leading_regions")
        if isinstance(leaders, dict) and leaders:
            items = "; ".join(self.say("agreement_leader_item", method=self.mname(m),
                                       region=readable_region(r) if r else self.t["robustness_no_leader"])
                              for m, r in leaders.items())
            out.append(self.say("agreement_leaders", items=items))
        return out

    def op_agreement(self, q: Question, state: Any) -> Result:
        named = list(dict.fromkeys(q.methods))
        if q.side and len(named) == 1:  # "do S0 and the A-only column agree?"
            named.append(self.lexicon["one_sided_methods"][q.side])
        if len(named) >= 2:
            return self.two_methods(named[0], named[1])
        pairs, mean = self.facts.independent_agreement()
        if not pairs or mean is None:
            used = join_names([self.mname(m) for m in self.facts.methods], article="")
            return Result(self.say("agreement_none", methods=used), "agreement", "methods", keys=["agreement_none"])
        text = " ".join([self.say("agreement", pairs=self.pairs_text(pairs), mean=mean,
                                  level=self.agreement_level(mean)), *self.agreement_details()])
        return Result(text, "agreement", "methods", [], sorted({m for a, b, _ in pairs for m in (a, b)}), number=mean,
                      number_kind="agreement", keys=["agreement"])

    def two_methods(self, a: str, b: str, dependence: bool = True) -> Result:
        """Whether two named methods agree: the Spearman rho between their region columns (the record's agreement
        facts, else computed from the table), their leading regions, and whether they are independent."""
        for m in (a, b):
            if (missing := self.missing_method(m)) is not None:
                return missing
        from chatbot.facts import independent

        names = {"first": self.mname(a), "second": self.mname(b)}
        rho, source = self.facts.spearman(a, b)
        if rho is None:
            return Result(self.say("pair_agreement_none", **names), "agreement", "methods", [], [a, b],
                          keys=["pair_agreement_none"])
        parts = [self.say("pair_agreement", rho=rho, source=self.t["pair_agreement_sources"][source],
                          level=self.agreement_level(rho, own_rule=False), **names)]
        lead_a, lead_b = (self.facts.ranking(a) or [None])[0], (self.facts.ranking(b) or [None])[0]
        if lead_a and lead_b:
            parts.append(self.say("pair_leaders_same" if lead_a == lead_b else "pair_leaders", **names,
                                  lead_a=readable_region(lead_a), lead_b=readable_region(lead_b)))
        if dependence and not independent(a, b):
            parts.append(self.say("pair_not_independent", **names))
        return Result(" ".join(parts), "agreement", "methods", [r for r in (lead_a, lead_b) if r], [a, b],
                      number=rho, number_kind="agreement", keys=["pair_agreement"])

    def op_variant(self, q: Question, state: Any) -> Result | None:
        """"Is FGGB fast as good as FGGB?": their agreement in this record when both ran, and the measured fidelity
        of the variant against the full method (prompts/knowledge.yaml ``k.<variant>_fidelity``)."""
        variants = self.lexicon["variants"]
        variant = next((m for m in q.methods if m in variants), None)
        if variant is None:
            return None
        full = variants[variant]
        fact = self.prompts.facts.get(f"k.{variant}_fidelity")
        parts = []
        if self.facts.has_method(variant) and self.facts.has_method(full):
            parts.append(self.two_methods(variant, full, dependence=not fact).text)  # the fact says it
        else:
            ran = [m for m in (variant, full) if self.facts.has_method(m)]
            parts.append(self.say("variant_not_both", variant=self.mname(variant), full=self.mname(full),
                                  ran=join_names([self.mname(m) for m in ran], article="") if ran
                                  else self.t["variant_neither"]))
        if fact:
            parts.append(fact["text"])
        return Result(" ".join(parts), "variant", "methods", [], [variant, full], keys=["variant"])

    def op_certainty(self, q: Question, state: Any) -> Result:
        """"Is the match certain?": the decision and why, the evidence's own words (likelihood ratio, verbal scale,
        conclusiveness), the C-score held to what the calibration resolves, the calibration caveat, and that no
        comparison result is a certainty; a wrong premise (a match asked about a non-match) corrected first."""
        from explain_engine import evidence as statements

        f = self.facts
        asked = next((d for d in ("non-match", "match") if d in q.words.replace("non match", "non-match")), None)
        fields = {"asked": self.decision_phrase(asked) if asked else "", "actual": self.decision_phrase(),
                  "similarity": f.similarity, "threshold": f.threshold, "margin": f.margin,
                  "relation": self.relation(f.similarity)}
        parts = [self.t["certainty_lead"]]
        if asked and asked != f.decision:
            parts.append(self.say("why_decision_wrong", **fields))
        else:
            parts.append(self.say("certainty", **fields))
        ev = f.section("evidence")
        if ev:
            parts += [t for t in (statements.lr_statement(ev), statements.verbal_statement(ev)
                                  if statements.has_lr(ev) else None, statements.conclusiveness_statement(ev)) if t]
        if held := self.confidence_text():
            parts.append(self.say("certainty_confidence", confidence_pct=held))
            if note := statements.shipped_note(ev, "scores"):
                parts.append(note)
        if f.record.get("outside_calibration"):
            from prompts.render import caveat_sentence

            parts.append(caveat_sentence())
        parts.append(self.t["certainty_close"])
        return Result(" ".join(parts), "certainty", "decision", number=f.margin, number_kind="margin",
                      premise="corrected" if asked and asked != f.decision else None, keys=["certainty"])

    def op_reliability(self, q: Question, state: Any) -> Result:
        parts = [self.say("reliability_intro")]
        rob = self.facts.section("robustness")
        if rob is not None and isinstance(rob.get("checks"), dict):
            parts.append(self.robustness_statement(rob))
        elif rob is not None and rob.get("leading_region"):
            kept = self.t["reliability_kept"]["kept" if rob.get("leading_robust") else "lost"]
            parts.append(self.say("reliability_robust", region=readable_region(rob["leading_region"]), kept=kept,
                                  rule=str(rob.get("rule") or "rule not stated").replace("_", " ")))
        else:
            parts.append(self.say("reliability_no_robustness"))
        pairs, mean = self.facts.independent_agreement()
        if pairs and mean is not None:
            parts.append(self.say("reliability_agreement", level=self.agreement_level(mean), mean=mean,
                                  pairs=self.pairs_text(pairs)))
            parts.extend(self.agreement_details())
        else:
            parts.append(self.say("reliability_agreement_one"))
        stab = self.facts.record.get("stability")
        if isinstance(stab, dict) and is_number(stab.get("top_region_kept")):
            parts.append(self.say("reliability_stability", samples=stab.get("samples", "several"),
                                  kept_pct=_pct(float(stab["top_region_kept"]))))
        held = self.confidence_text()
        conf_text = (self.say("reliability_confidence", confidence_pct=held) if held
                     else self.t["reliability_no_confidence"])
        parts.append(self.say("reliability_decision", confidence_text=conf_text))
        return Result(" ".join(parts), "reliability", "robustness", number=mean, number_kind="agreement",
                      keys=["reliability"])

    def op_false_decision(self, q: Question, state: Any) -> Result:
        f = self.facts
        parts = [self.say("false_decision", decision=f.decision, similarity=f.similarity, threshold=f.threshold,
                          margin=f.margin)]
        largest = self.largest_single()
        weak = bool((f.record.get("strength") or {}).get("weak"))
        if largest is not None:
            weak = weak or largest[0] >= abs(f.margin)
            parts.append(self.say("false_decision_weak" if weak else "false_decision_clear", largest=largest[0]))
        held = self.confidence_text()
        if held:
            from explain_engine.evidence import shipped_note

            parts.append(self.say("false_decision_confidence", confidence_pct=held))
            if note := shipped_note(f.section("evidence"), "scores"):
                parts.append(note)
        else:
            parts.append(self.say("false_decision_none"))
        ev = f.section("evidence")
        if ev:
            from explain_engine import evidence as statements

            rates = statements.error_rate_statement(ev)
            if rates:
                parts.append(rates)
        return Result(" ".join(parts), "false_decision", "decision", number=f.margin, number_kind="margin",
                      keys=["false_decision"])

    def confidence_text(self) -> str | None:
        """The C-score in words held to what the calibration set resolves (explain_engine.evidence.probability_text,
        the renderer of the CLI, card and report: "99.0% or more (no error among 398 ...)", never "1.00" or "100%"),
        or None when the record has no C-score or its inputs are identical (no score is given then)."""
        from explain_engine.evidence import probability_text

        record = self.facts.record
        conf = record.get("confidence")
        reasons = (self.facts.section("evidence") or {}).get("inconclusive_reasons") or []
        if not is_number(conf) or "identical_inputs" in reasons:
            return None
        return probability_text(float(conf), self.facts.decision, record.get("calibration") or {})

    def knowledge(self, method: str) -> str:
        """The general fact about ``method`` (prompts/knowledge.yaml, id k.<method>), or ""."""
        fact = self.prompts.facts.get(f"k.{method}")
        return fact["text"] if fact else ""

    def op_method(self, q: Question, state: Any) -> Result | None:
        if not q.methods:
            return None
        method = q.methods[0]
        if (missing := self.missing_method(method)) is not None:
            missing.text = " ".join(t for t in (missing.text, self.knowledge(method)) if t)
            return missing
        ranking = self.facts.ranking(method)
        if len(ranking) < 2:
            return None
        maps = (self.facts.record.get("heatmaps") or {}).get(method) or {}
        files = [maps[k] for k in ("a", "b") if maps.get(k)]
        text = self.say("method_shows", method=self.mname(method, short=False), top=readable_region(ranking[0]),
                        bottom=readable_region(ranking[-1]), count=len(ranking),
                        files=self.say("method_files", files=", ".join(files)) if files else "")
        text = " ".join(t for t in (text, self.knowledge(method)) if t)
        return Result(text, "method", "methods", [ranking[0], ranking[-1]], [method], keys=["method_shows"])
