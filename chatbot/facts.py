"""The facts of one explanation record as a table the chatbot can compute with.

``Facts(record)`` holds a pandas table with one row per region (present or not) and, per method the record
computed, the columns ``importance:<m>`` (1 most important .. 5 least), ``contribution:<m>`` (normalised,
positive = the region made the faces more alike), ``delta:<m>`` (the change of the similarity when the region is
hidden, similarity after minus before, i.e. the NEGATIVE of the record's ``delta``, which is ΔS = S_ref - S_perturbed,
thesis eq. 3.1, explain_engine.attribution.types; the one-sided S0 variants ``s0_a_only`` / ``s0_b_only`` hide it in
one photo only), and, when the record has them,
``role:<m>`` and ``abs_change:<m>`` (the importance issue, #13) and the visibility columns of the quality gate
(``visible_fraction_a/b``, ``covered_a/b``, #11). Scalars (decision, similarity, threshold, margin, confidence)
and the optional sections (``evidence``, ``quality``, ``robustness``) are read from the record as they are.

Every number the chatbot states is read from here; the only arithmetic is on record values (a ratio of a change to
the margin, a score after hiding = similarity + the recorded change) and is said to be such in the answer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

REGION_FIELDS = ("importance", "contribution", "delta", "role", "abs_change")
VISIBILITY_FIELDS = ("visible_fraction_a", "visible_fraction_b", "covered_a", "covered_b", "area")
# Methods built from other methods: an agreement figure between one of these and its parts is not independent.
DERIVED = {"avg": ("s0", "s1")}
ONE_SIDED = {"s0_a_only": "s0", "s0_b_only": "s0"}


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass
class Facts:
    """Regions × facts table and the record's scalars and sections (see the module docstring)."""

    record: dict
    table: pd.DataFrame = field(init=False)
    methods: list[str] = field(init=False)

    def __post_init__(self) -> None:
        e = self.record
        methods: list[str] = [m for m in e.get("methods") or [] if isinstance(m, str)]
        for m in e.get("one_sided_methods") or []:
            if isinstance(m, str) and m not in methods:
                methods.append(m)
        rows = []
        absent = e.get("absent_regions") if isinstance(e.get("absent_regions"), dict) else {}
        for r in e.get("regions") or []:
            if not isinstance(r, dict) or "name" not in r:
                continue
            row: dict[str, Any] = {"region": r["name"], "present": bool(r.get("present")),
                                   "absent_reason": r.get("absent_reason") or absent.get(r["name"])}
            for key in VISIBILITY_FIELDS:
                row[key] = r.get(key)
            per_method = r.get("methods") if isinstance(r.get("methods"), dict) else {}
            for m, values in per_method.items():
                if m not in methods:
                    methods.append(m)
                if isinstance(values, dict):
                    for key in REGION_FIELDS:
                        row[f"{key}:{m}"] = values.get(key)
                    d = values.get("delta")  # record: S_ref - S_perturbed; here: after - before
                    row[f"delta:{m}"] = -float(d) if is_number(d) else None
            if row["present"] and "importance:s0" not in row and r.get("importance") is not None:
                row["importance:s0"] = r.get("importance")
                row["contribution:s0"] = r.get("contribution")
            rows.append(row)
        table = pd.DataFrame(rows)
        if table.empty:
            table = pd.DataFrame(columns=["region", "present"])
        self.table = table.set_index("region")
        self.methods = methods

    # --- scalars --------------------------------------------------------------------------------------------
    @property
    def decision(self) -> str:
        return self.record["decision"]

    @property
    def similarity(self) -> float:
        return float(self.record["similarity"])

    @property
    def threshold(self) -> float:
        return float(self.record["threshold"])

    @property
    def margin(self) -> float:
        return float(self.record["margin"])

    def section(self, name: str) -> dict | None:
        """An optional record section (``evidence``, ``quality``, ``robustness``) or None when absent."""
        value = self.record.get(name)
        return value if isinstance(value, dict) and value else None

    # --- regions --------------------------------------------------------------------------------------------
    @property
    def regions(self) -> list[str]:
        return list(self.table.index)

    @property
    def present(self) -> list[str]:
        return [r for r in self.table.index if bool(self.table.at[r, "present"])]

    def has_method(self, method: str) -> bool:
        return method in self.methods

    def value(self, region: str, key: str, method: str | None = None) -> Any:
        """One cell (None when missing or NaN). ``key`` is a region field; ``method`` selects its column."""
        column = f"{key}:{method}" if method else key
        if region not in self.table.index or column not in self.table.columns:
            return None
        v = self.table.at[region, column]
        if v is None or (isinstance(v, float) and math.isnan(v)):
            return None
        return v.item() if hasattr(v, "item") else v

    def importance(self, region: str, method: str) -> int | None:
        v = self.value(region, "importance", method)
        return int(v) if is_number(v) else None

    def delta(self, region: str, method: str) -> float | None:
        v = self.value(region, "delta", method)
        return float(v) if is_number(v) else None

    def contribution(self, region: str, method: str) -> float | None:
        v = self.value(region, "contribution", method)
        return float(v) if is_number(v) else None

    def ranking(self, method: str, by: str = "importance") -> list[str]:
        """Present regions of ``method``, most first: by importance level (ties: larger |contribution| first), or
        ``by="change"``: by the size of the recorded score change |delta|."""
        rows = []
        for r in self.present:
            imp, contrib, delta = self.importance(r, method), self.contribution(r, method), self.delta(r, method)
            if by == "change":
                if delta is not None:
                    rows.append((-abs(delta), 0.0, r))
            elif imp is not None:
                rows.append((imp, -abs(contrib or 0.0), r))
        return [r for *_, r in sorted(rows, key=lambda t: (t[0], t[1]))]

    def with_level(self, method: str, level: int) -> list[str]:
        return [r for r in self.ranking(method) if self.importance(r, method) == level]

    def effect(self, region: str, method: str) -> str | None:
        """"supports" / "against" / "neutral" relative to the decision: the record's ``role`` when it has one, else
        from the sign of the recorded change (hiding lowers the score -> the region made the faces alike)."""
        role = self.value(region, "role", method)
        if isinstance(role, str):
            return role
        delta = self.delta(region, method)
        if delta is None:
            c = self.contribution(region, method)
            if c is None:
                return None
            delta = -c
        if delta == 0:
            return "neutral"
        alike = delta < 0
        return "supports" if alike == (self.decision == "match") else "against"

    def marked(self, method: str, kind: str) -> list[str]:
        """Present regions ``method`` marks as ``kind``, strongest first: "against" (argued against the decision),
        "similar" (made the two faces more alike) or "dissimilar" (made them less alike), by :meth:`effect` (the
        record's role against the noise floor where it has one; regions with no measurable effect are left out)."""
        alike_role = "supports" if self.decision == "match" else "against"
        chosen = []
        for r in self.present:
            effect = self.effect(r, method)
            if effect in (None, "neutral"):
                continue
            alike = effect == alike_role
            if (kind == "against" and effect == "against") or (kind == "similar" and alike) or (
                    kind == "dissimilar" and not alike):
                chosen.append(r)
        return sorted(chosen, key=lambda r: -abs(self.delta(r, method) or self.contribution(r, method) or 0.0))

    def colour(self, region: str, method: str, white_below: float) -> str | None:
        """Heatmap colour of a region: red (hiding it lowers the similarity), blue (raises it), white (|normalised
        contribution| under ``white_below``)."""
        c = self.contribution(region, method)
        if c is None:
            delta = self.delta(region, method)
            if delta is None:
                return None
            c = -delta
        if abs(c) < white_below:
            return "white"
        return "red" if c > 0 else "blue"

    # --- what-ifs -------------------------------------------------------------------------------------------
    def score_after(self, regions: list[str], method: str = "s0") -> tuple[float, str] | None:
        """(similarity after hiding ``regions``, how it is known): one region -> similarity + its recorded change;
        a set -> the recorded counterfactual or an S1 greedy path prefix with exactly these regions; else None."""
        if len(regions) == 1:
            d = self.delta(regions[0], method)
            return (self.similarity + d, "single") if d is not None else None
        wanted = set(regions)
        cf = self.record.get("counterfactual") or {}
        if isinstance(cf, dict) and set(cf.get("regions") or []) == wanted and is_number(cf.get("score_after")):
            return float(cf["score_after"]), "counterfactual"
        paths = self.record.get("s1_paths") or {}
        if isinstance(paths, dict):
            for path in paths.values():
                if not isinstance(path, dict):
                    continue
                regs, scores = path.get("regions") or [], path.get("scores") or []
                k = len(regions)
                if len(regs) >= k and set(regs[:k]) == wanted and len(scores) >= k and is_number(scores[k - 1]):
                    return float(scores[k - 1]), "s1_path"
        return None

    def flips(self, score: float) -> bool:
        return (score >= self.threshold) != (self.decision == "match")

    # --- agreement between methods --------------------------------------------------------------------------
    def all_agreement(self) -> list[tuple[str, str, float]]:
        """Every rank correlation the record states between two methods (the robustness section's pairs, else the
        record's ``agreement`` figures), dependent pairs included."""
        rob = self.section("robustness") or {}
        agreement = rob.get("method_agreement") if isinstance(rob.get("method_agreement"), dict) else None
        pairs: list[tuple[str, str, float]] = []
        if agreement and isinstance(agreement.get("pairs"), list):
            pairs += [(str(p.get("a")), str(p.get("b")), float(p["spearman"])) for p in agreement["pairs"]
                      if isinstance(p, dict) and is_number(p.get("spearman"))]
        for key, v in (self.record.get("agreement") or {}).items():
            if is_number(v) and "~" in key:
                a, b = key.split("~", 1)
                if not any({a, b} == {x, y} for x, y, _ in pairs):
                    pairs.append((a, b, float(v)))
        return pairs

    def spearman(self, a: str, b: str) -> tuple[float | None, str]:
        """(Spearman rho between the region columns of methods ``a`` and ``b``, where it comes from): "record" when
        the record's agreement facts hold the pair, else "table": computed from the two methods' contributions over
        the present regions both rank (Pearson correlation of the ranks, ties at their mean rank, as scipy's
        spearmanr); (None, "none") with fewer than three such regions."""
        for x, y, v in self.all_agreement():
            if {x, y} == {a, b}:
                return v, "record"
        ca, cb = f"contribution:{a}", f"contribution:{b}"
        if ca not in self.table.columns or cb not in self.table.columns:
            return None, "none"
        both = self.table.loc[self.present, [ca, cb]].apply(pd.to_numeric, errors="coerce").dropna()
        if len(both) < 3:
            return None, "none"
        rho = both[ca].rank().corr(both[cb].rank())
        return (float(rho), "table") if is_number(rho) else (None, "none")

    def independent_agreement(self) -> tuple[list[tuple[str, str, float]], float | None]:
        """Rank correlations between independent methods only (no AVG with its own parts, no S0 with its
        one-sided variants) and their mean; the robustness section's figures when the record has them."""
        rob = self.section("robustness") or {}
        agreement = rob.get("method_agreement") if isinstance(rob.get("method_agreement"), dict) else None
        pairs: list[tuple[str, str, float]] = []
        if agreement and isinstance(agreement.get("pairs"), list):
            for p in agreement["pairs"]:
                if isinstance(p, dict) and is_number(p.get("spearman")):
                    pairs.append((str(p.get("a")), str(p.get("b")), float(p["spearman"])))
        else:
            for key, v in (self.record.get("agreement") or {}).items():
                if is_number(v) and "~" in key:
                    a, b = key.split("~", 1)
                    pairs.append((a, b, float(v)))
        pairs = [(a, b, v) for a, b, v in pairs if independent(a, b)]
        mean = None
        if agreement and is_number(agreement.get("mean_independent")):
            mean = float(agreement["mean_independent"])
        elif pairs:
            mean = sum(v for *_, v in pairs) / len(pairs)
        return pairs, mean


def independent(a: str, b: str) -> bool:
    """Two different methods, each computed independently of the others (the method registry's ``independent``:
    AVG is built from S0 and S1, the one-sided S0 columns come with S0's run). A key the registry does not know is
    taken as independent."""
    from explain_engine.methods import get_method
    from models.errors import ConfigError

    def free(key: str) -> bool:
        try:
            return bool(get_method(key).independent)
        except (ConfigError, KeyError):
            return key not in DERIVED and key not in ONE_SIDED
    return a != b and free(a) and free(b)
