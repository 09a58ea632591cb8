"""Plain-English sentences over a record's ``quality`` section, for the chat and the decision card.

Every word comes from ``prompts/quality_policy.yaml`` (component labels, pass / warn / refuse texts, sentence
templates); this module only fills them in. The chat answers "are the eyes visible?", "is part of the face
hidden?", "is the photo good enough?" and "why was this photo refused?" from these sentences.
"""

from __future__ import annotations

from explain_engine.quality.policy import QualityPolicy, load_policy


def _num(v, policy: QualityPolicy | None = None) -> str:
    return (policy or load_policy()).texts["not_measured"] if v is None else f"{float(v):.3g}"


def limit_text(threshold: dict, outcome: str, policy: QualityPolicy | None = None) -> str:
    """The bounds of ``threshold`` that lead to ``outcome`` in words ("refused below 35"); every bound for any
    other outcome ("refused below 35, flagged below 60"). Words: ``texts.limits`` of the quality policy."""
    return _limit(threshold, outcome, policy)


def component_facts(block: dict, name: str, policy: QualityPolicy | None = None) -> dict | None:
    """The fields the sentences about one component of one photo use: ``label``, ``name``, ``value`` (formatted),
    ``unit``, ``outcome``, ``limit`` (the bounds it crossed, in words), ``why`` (its outcome text) and ``source``.

    Args:
        block: one photo's quality (``PhotoQuality.to_dict()``); name: the component; policy: for its words.

    Returns:
        The fields, or None when the photo has no such component or the policy does not know it.
    """
    policy = policy or load_policy()
    c = next((c for c in block.get("components") or [] if c.get("name") == name), None)
    rule = policy.components.get(name)
    if c is None or rule is None:
        return None
    outcome = c.get("outcome")
    threshold = c.get("threshold") or {}
    return {"label": rule.label, "name": name, "value": _num(c.get("value"), policy),
            "unit": rule.unit.split(" (")[0], "outcome": outcome,
            "limit": _limit(_crossed(threshold, c.get("value"), outcome), outcome, policy),
            "why": rule.texts.get(outcome) or rule.label, "source": c.get("source") or rule.source}


def _crossed(threshold: dict, value, outcome: str) -> dict:
    """The bound(s) of ``threshold`` that ``value`` crossed for ``outcome`` (all of that outcome's bounds when the
    value is missing)."""
    if value is None or outcome not in ("warn", "refuse"):
        return threshold
    below, above = threshold.get(f"{outcome}_below"), threshold.get(f"{outcome}_above")
    if below is not None and float(value) < below:
        return {f"{outcome}_below": below}
    if above is not None and float(value) > above:
        return {f"{outcome}_above": above}
    return threshold


def _limit(threshold: dict, outcome: str, policy: QualityPolicy | None = None) -> str:
    words = (policy or load_policy()).texts["limits"]
    keys = [k for k in threshold if k.startswith(outcome)] if outcome in ("warn", "refuse") else list(threshold)
    return ", ".join(words[k].format(bound=threshold[k]) for k in keys if k in words and k != "none") or words["none"]


def sentences(quality: dict | None, photos: dict | None = None, policy: QualityPolicy | None = None
              ) -> list[tuple[str, str]]:
    """[(id, sentence)] for a record's ``quality`` section ({"a": {...}, "b": {...}}).

    Args:
        quality: the section as written in explanation.json (``PhotoQuality.to_dict()`` per photo), or None.
        photos: {"a": name, "b": name} for the sentences (default "A" / "B").
        policy: the policy whose words to use (default: the shipped one).

    Returns:
        ids ``quality.<side>`` (the photo's outcome), ``quality.<side>.issues`` (its warn/refuse texts in one
        sentence), ``quality.<side>.<component>`` (every component: its pass, warn or refuse text with value and
        limit), ``visibility.<side>.<region>``, ``region.<region>.visibility`` (both photos in one sentence) and
        ``quality.hidden`` (which regions are hidden, covered or cut off, or that none is).
    """
    policy = policy or load_policy()
    t = policy.texts.get("sentences", {})
    outcomes = policy.texts.get("outcomes", {})
    if not quality:
        return [("quality", t.get("none", ""))]
    out: list[tuple[str, str]] = []
    hidden: list[str] = []
    per_region: dict[str, list[str]] = {}
    for side in ("a", "b"):
        q = quality.get(side)
        if not q:
            continue
        s = side.upper()
        photo = (photos or {}).get(side) or s
        out.append((f"quality.{side}", t["photo"].format(side=s, photo=photo,
                                                          outcome_text=outcomes.get(q.get("outcome"), q.get("outcome")))))
        for c in q.get("components", []):
            rule = policy.components.get(c["name"])
            if rule is None:
                continue
            outcome = c.get("outcome")
            unit = rule.unit.split(" (")[0]
            if outcome in ("warn", "refuse"):
                text = rule.texts.get(outcome) or rule.label
                out.append((f"quality.{side}.{c['name']}", t["component"].format(
                    side=s, text=text, label=rule.label, value=_num(c.get("value"), policy), unit=unit,
                    limit=_limit(c.get("threshold") or {}, outcome, policy))))
            elif outcome == "pass":
                out.append((f"quality.{side}.{c['name']}", t["component_pass"].format(
                    side=s, text=rule.texts.get("pass", rule.label), label=rule.label,
                    value=_num(c.get("value"), policy), unit=unit)))
        issues = [policy.components[c["name"]].texts.get(c["outcome"], c["name"]) for c in q.get("components", [])
                  if c.get("outcome") in ("warn", "refuse") and c["name"] in policy.components]
        out.append((f"quality.{side}.issues", t["issues"].format(side=s, issues="; ".join(issues)) if issues
                    else t["no_issues"].format(side=s)))
        reasons = policy.texts.get("absent_reasons", {})
        for region, v in (q.get("visibility") or {}).items():
            name = region.replace("_", " ")
            code = v.get("absent_reason")
            if code:
                share = {"outside_photo": v.get("visible_fraction"), "covered_flat": v.get("flat_fraction"),
                         "covered_parser": v.get("parser_disagreement")}.get(code) or 0.0
                reason = reasons.get(code, code).format(region=name, percent=100 * share)
                out.append((f"visibility.{side}.{region}", t["region_absent"].format(region=name, side=s,
                                                                                      reason=reason)))
                hidden.append(t["hidden_item"].format(side=s, region=name, reason=reason))
                per_region.setdefault(region, []).append(t["region_part_absent"].format(side=s, reason=reason))
            else:
                inside = 100 * float(v.get("visible_fraction") or 0.0)
                out.append((f"visibility.{side}.{region}", t["region_visible"].format(region=name, side=s,
                                                                                       inside=inside)))
                per_region.setdefault(region, []).append(t["region_part_visible"].format(side=s, inside=inside))
    for region, parts in per_region.items():
        out.append((f"region.{region}.visibility", t["region_both"].format(region=region.replace("_", " "),
                                                                            parts="; ".join(parts))))
    out.append(("quality.hidden", t["hidden"].format(items="; ".join(hidden)) if hidden else t["nothing_hidden"]))
    return out
