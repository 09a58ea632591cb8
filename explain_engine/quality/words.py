"""Plain-English sentences over a record's ``quality`` section, for the chat and the decision card.

Every word comes from ``prompts/quality_policy.yaml`` (component labels, pass / warn / refuse texts, sentence
templates); this module only fills them in. The chat answers "are the eyes visible?", "is part of the face
hidden?", "is the photo good enough?" and "why was this photo refused?" from these sentences.

Three rules keep the sentences from contradicting each other:

- a photo refused by a global component (``visibility.global_components``: too dark, upside down, no landmarks...)
  has no region called visible or covered: its region and cover sentences say that they cannot be judged and why;
- a region whose own cover component (``eyes_occlusion`` for the eyes) warned or refused is never "not covered";
- "no part of the face is hidden" is said only when no region is absent and no hiding component
  (``visibility.hiding_components``) warned or refused.

Fractions are shown as percentages (``texts.percent``), their bounds in the same unit as their values.
"""

from __future__ import annotations

from explain_engine.quality.policy import QualityPolicy, Rule, coarse_region, fill_bound, load_policy


def limit_text(threshold: dict, outcome: str, policy: QualityPolicy | None = None, rule: Rule | None = None) -> str:
    """The bounds of ``threshold`` that lead to ``outcome`` in words ("refused below 35"); every bound for any
    other outcome ("refused below 35, flagged below 60"). Words: ``texts.limits`` of the quality policy; with
    ``rule``, a fraction's bounds are shown as percentages ("refused above 60%"), as its value is."""
    return _limit(threshold, outcome, policy, rule)


def component_facts(block: dict, name: str, policy: QualityPolicy | None = None) -> dict | None:
    """The fields the sentences about one component of one photo use: ``label``, ``name``, ``value`` (formatted,
    a fraction as a percentage), ``unit``, ``outcome``, ``limit`` (the bounds it crossed, in words), ``why`` (its
    outcome text, of the side it crossed: "far too dark") and ``source``.

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
    return {"label": rule.label, "name": name, "value": policy.value_words(rule, c.get("value")),
            "unit": policy.unit_words(rule), "outcome": outcome,
            "limit": _limit(_crossed(threshold, c.get("value"), outcome), outcome, policy, rule),
            "why": rule.text(outcome, c.get("value")), "source": c.get("source") or rule.source}


def unjudged(block: dict | None, policy: QualityPolicy | None = None) -> dict | None:
    """Whether one photo's regions cannot be judged: the first component of ``visibility.global_components`` that
    refused it, as :func:`component_facts` (``why``: its refuse text), or None when no global component refused."""
    policy = policy or load_policy()
    for c in (block or {}).get("components") or []:
        if c.get("outcome") == "refuse" and c.get("name") in policy.global_components:
            return component_facts(block, c["name"], policy)
    return None


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


def _limit(threshold: dict, outcome: str, policy: QualityPolicy | None = None, rule: Rule | None = None) -> str:
    policy = policy or load_policy()
    words = policy.texts["limits"]
    keys = [k for k in threshold if k.startswith(outcome)] if outcome in ("warn", "refuse") else list(threshold)
    return ", ".join(fill_bound(words[k], policy.bound_words(rule, threshold[k]), threshold[k])
                     for k in keys if k in words and k != "none") or words["none"]


def _flags(block: dict, region: str, policy: QualityPolicy) -> list[str]:
    """The warn / refuse texts of the components about ``region`` (their ``regions`` in the policy) in one photo."""
    out = []
    for c in block.get("components") or []:
        rule = policy.components.get(c.get("name"))
        if rule is not None and coarse_region(region) in rule.regions and c.get("outcome") in ("warn", "refuse"):
            out.append(rule.text(c["outcome"], c.get("value")))
    return out


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
        limit), ``quality.<side>.unjudged`` (only for a photo refused by a global component: no region of it can
        be judged), ``visibility.<side>.<region>``, ``region.<region>.visibility`` (both photos in one sentence)
        and ``quality.hidden`` (which regions are hidden, covered or cut off, which hiding components flagged
        the face, or that no part is hidden).
    """
    policy = policy or load_policy()
    t = policy.texts.get("sentences", {})
    outcomes = policy.texts.get("outcomes", {})
    if not quality:
        return [("quality", t.get("none", ""))]
    out: list[tuple[str, str]] = []
    hidden: list[str] = []
    flagged: list[str] = []
    clear: list[str] = []  # judged photos with nothing hidden or flagged
    unjudged_text: list[str] = []
    per_region: dict[str, list[str]] = {}
    for side in ("a", "b"):
        q = quality.get(side)
        if not q:
            continue
        s = side.upper()
        photo = (photos or {}).get(side) or s
        refused_by = unjudged(q, policy)
        out.append((f"quality.{side}", t["photo"].format(side=s, photo=photo,
                                                          outcome_text=outcomes.get(q.get("outcome"), q.get("outcome")))))
        if refused_by:
            text = t["unjudged"].format(side=s, photo=photo, why=refused_by["why"])
            out.append((f"quality.{side}.unjudged", text))
            unjudged_text.append(text)
        said, flags = _component_sentences(side, q, refused_by, policy)
        regions, gone = _region_sentences(side, q, refused_by, policy, per_region)
        out += said + regions
        flagged += flags
        hidden += gone
        if not refused_by and not flags and not gone:
            clear.append(s)
    for region, parts in per_region.items():
        out.append((f"region.{region}.visibility", t["region_both"].format(region=region.replace("_", " "),
                                                                            parts="; ".join(parts))))
    said = list(unjudged_text)
    if hidden:
        said.append(t["hidden"].format(items="; ".join(hidden)))
    if flagged:
        said.append(t["flagged"].format(items="; ".join(flagged)))
    if not said:
        said.append(t["nothing_hidden"])
    elif not hidden and not flagged:  # only unjudged photos so far: say what the judged ones show
        said += [t["nothing_hidden_side"].format(side=s) for s in clear]
    out.append(("quality.hidden", " ".join(said)))
    return out


def _component_sentences(side: str, q: dict, refused_by: dict | None, policy: QualityPolicy
                         ) -> tuple[list[tuple[str, str]], list[str]]:
    """One photo's component sentences and its ``issues`` sentence, and the ``flag_item`` of each hiding component
    that warned or refused (a region already left out is not repeated: it is said among the hidden ones)."""
    t = policy.texts.get("sentences", {})
    s = side.upper()
    absent = {coarse_region(r) for r, v in (q.get("visibility") or {}).items() if v.get("absent_reason")}
    out: list[tuple[str, str]] = []
    issues: list[str] = []
    flagged: list[str] = []
    for c in q.get("components", []):
        rule = policy.components.get(c["name"])
        if rule is None:
            continue
        outcome, value = c.get("outcome"), c.get("value")
        fields = {"side": s, "label": rule.label, "value": policy.value_words(rule, value),
                  "unit": policy.unit_words(rule)}
        if refused_by and (rule.regions or c["name"] in policy.hiding_components):
            # a cover or frame measure on a photo too dark, turned over, without landmarks...: not readable
            out.append((f"quality.{side}.{c['name']}", t["component_unjudged"].format(
                what=rule.texts.get("what", rule.label), why=refused_by["why"], **fields)))
        elif outcome in ("warn", "refuse"):
            text = rule.text(outcome, value)
            issues.append(text)
            out.append((f"quality.{side}.{c['name']}", t["component"].format(
                text=text, limit=_limit(c.get("threshold") or {}, outcome, policy, rule), **fields)))
            if c["name"] in policy.hiding_components and not (rule.regions and set(rule.regions) <= absent):
                flagged.append(t["flag_item"].format(text=text, **fields))
        elif outcome == "pass":
            out.append((f"quality.{side}.{c['name']}", t["component_pass"].format(
                text=rule.texts.get("pass", rule.label), **fields)))
    out.append((f"quality.{side}.issues", t["issues"].format(side=s, issues="; ".join(issues)) if issues
                else t["no_issues"].format(side=s)))
    return out, flagged


def _region_sentences(side: str, q: dict, refused_by: dict | None, policy: QualityPolicy,
                      per_region: dict[str, list[str]]) -> tuple[list[tuple[str, str]], list[str]]:
    """One photo's ``visibility.<side>.<region>`` sentences (adding each region's part to ``per_region``) and the
    ``hidden_item`` of each region left out."""
    t = policy.texts.get("sentences", {})
    reasons = policy.texts.get("absent_reasons", {})
    s = side.upper()
    out: list[tuple[str, str]] = []
    hidden: list[str] = []
    for region, v in (q.get("visibility") or {}).items():
        name = region.replace("_", " ")
        code = v.get("absent_reason")
        parts = per_region.setdefault(region, [])
        if refused_by:
            out.append((f"visibility.{side}.{region}", t["region_unjudged"].format(
                region=name, side=s, why=refused_by["why"])))
            parts.append(t["region_part_unjudged"].format(side=s))
            continue
        if code:
            share = {"outside_photo": v.get("visible_fraction"), "covered_flat": v.get("flat_fraction"),
                     "covered_parser": v.get("parser_disagreement")}.get(code) or 0.0
            reason = reasons.get(code, code).format(region=name, percent=100 * share)
            out.append((f"visibility.{side}.{region}", t["region_absent"].format(region=name, side=s, reason=reason)))
            hidden.append(t["hidden_item"].format(side=s, region=name, reason=reason))
            parts.append(t["region_part_absent"].format(side=s, reason=reason))
            continue
        inside = 100 * float(v.get("visible_fraction") or 0.0)
        flag = "; ".join(_flags(q, region, policy))
        if flag:
            out.append((f"visibility.{side}.{region}", t["region_flagged"].format(region=name, side=s, inside=inside,
                                                                                   flag=flag)))
            parts.append(t["region_part_flagged"].format(side=s, inside=inside, flag=flag))
        else:
            flat = 100 * float(v.get("flat_fraction") or 0.0)
            key = "region_visible_flat" if round(flat) >= 1 else "region_visible"  # as many % as the words show
            fields = {"side": s, "inside": inside, "flat": flat, "limit": 100 * policy.covered_flat_fraction(region)}
            out.append((f"visibility.{side}.{region}", t[key].format(region=name, **fields)))
            parts.append(t[key.replace("region_", "region_part_")].format(**fields))
    return out, hidden
