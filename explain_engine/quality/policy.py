"""The quality policy: which value of which component leads to pass, warn or refuse — data, in
``prompts/quality_policy.yaml`` (or any YAML file with the same layout, given by path or ``FACEX_QUALITY_POLICY``).
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from models.errors import ConfigError

OUTCOMES = ("not_measured", "pass", "warn", "refuse")  # ordered by severity
BOUND_KEYS = ("refuse_below", "warn_below", "warn_above", "refuse_above")
DEFAULT_POLICY = Path(__file__).resolve().parents[2] / "prompts" / "quality_policy.yaml"


@dataclass(frozen=True)
class Rule:
    """The bounds and the words of one component."""

    name: str
    unit: str
    source: str
    label: str
    ofiq: str | None = None
    refuse_below: float | None = None
    warn_below: float | None = None
    warn_above: float | None = None
    refuse_above: float | None = None
    missing: str = "not_measured"  # the outcome when the value could not be measured
    texts: dict = field(default_factory=dict)
    regions: tuple[str, ...] = ()  # the face regions the component is about (eyes_occlusion: eyes)

    def bounds(self) -> dict:
        return {k: getattr(self, k) for k in BOUND_KEYS if getattr(self, k) is not None}

    def text(self, outcome: str, value: float | None = None) -> str:
        """The words for ``outcome``: for warn or refuse, the text of the side whose bound ``value`` crossed
        (``texts.refuse_below`` "far too dark", ``texts.refuse_above`` "far too bright") when the policy words
        that side; otherwise the outcome's own text, then the label."""
        if outcome in ("warn", "refuse") and value is not None and not (isinstance(value, float) and math.isnan(value)):
            below, above = getattr(self, f"{outcome}_below"), getattr(self, f"{outcome}_above")
            side = "below" if below is not None and float(value) < below else (
                "above" if above is not None and float(value) > above else None)
            if side and self.texts.get(f"{outcome}_{side}"):
                return self.texts[f"{outcome}_{side}"]
        return self.texts.get(outcome) or self.label

    def outcome(self, value: float | None) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self.missing
        v = float(value)
        if (self.refuse_below is not None and v < self.refuse_below) or (
            self.refuse_above is not None and v > self.refuse_above
        ):
            return "refuse"
        if (self.warn_below is not None and v < self.warn_below) or (
            self.warn_above is not None and v > self.warn_above
        ):
            return "warn"
        return "pass"


@dataclass(frozen=True)
class QualityPolicy:
    components: dict[str, Rule]
    flat_level: float
    min_visible_fraction: float
    covered: dict[str, float]
    max_parser_disagreement: float
    texts: dict
    path: str
    # a photo refused by one of these cannot show whether a region is covered (visibility.global_components)
    global_components: tuple[str, ...] = ()
    # the components about a part of the face being hidden, covered or cut off (visibility.hiding_components)
    hiding_components: tuple[str, ...] = ()

    def covered_flat_fraction(self, region: str) -> float:
        return float(self.covered.get(coarse_region(region), self.covered.get("default", 1.0)))

    def _percent(self, rule: Rule) -> dict | None:
        """``texts.percent`` when ``rule``'s unit is a fraction that sentences show as a percentage, else None."""
        words = self.texts.get("percent") or {}
        prefix = words.get("prefix")
        return words if prefix and rule.unit.startswith(prefix) else None

    def value_words(self, rule: Rule, value: float | None) -> str:
        """A component's value as sentences show it: "14.3", or "3.2%" for a fraction (``texts.percent``)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self.texts["not_measured"]
        percent = self._percent(rule)
        return percent["value"].format(percent=100 * float(value)) if percent else f"{float(value):.3g}"

    def unit_words(self, rule: Rule) -> str:
        """A component's unit as sentences show it, without its parenthesised detail: "grey level", or "of the
        lips in flat patches" after a percentage."""
        unit = rule.unit.split(" (")[0]
        percent = self._percent(rule)
        return percent["unit"].format(rest=unit[len(percent["prefix"]):]) if percent else unit

    def bound_words(self, rule: Rule | None, bound: float) -> str:
        """A bound as sentences show it: "35", or "60%" for a fraction."""
        percent = self._percent(rule) if rule is not None else None
        return percent["value"].format(percent=100 * float(bound)) if percent else f"{float(bound):g}"

    def refusal_message(self, photo: str, component) -> str:
        """One line: the photo, the refusing component, its value, the limit it crossed and what it means (the
        text of the side it crossed: "far too dark", not "too dark or too bright")."""
        rule = self.components[component.name]
        words = self.texts["refusal_limits"]
        v = component.value
        if v is None:
            limit = words["unmeasured"]
        elif rule.refuse_below is not None and v < rule.refuse_below:
            limit = fill_bound(words["below"], self.bound_words(rule, rule.refuse_below), rule.refuse_below)
        else:
            limit = fill_bound(words["above"], self.bound_words(rule, rule.refuse_above), rule.refuse_above)
        return self.texts["refusal"].format(photo=photo, label=rule.label, name=component.name,
                                            value=self.value_words(rule, v), unit=self.unit_words(rule), limit=limit,
                                            why=rule.text("refuse", v)).strip()


def fill_bound(template: str, shown: str, bound: float | None) -> str:
    """``template`` with its ``{bound}``: the bound as shown (``shown``: "35", "60%"); a laboratory's template that
    still formats a number ("{bound:g}") gets the number."""
    try:
        return template.format(bound=shown)
    except ValueError:
        return template.format(bound=bound)


def coarse_region(region: str) -> str:
    """The coarse region a fine one belongs to ("left_eye" -> "eyes", "nose" -> "nose"), as the policy names them."""
    base = region.split("_", 1)[-1] if region.startswith(("left_", "right_")) else region
    return {"eyebrow": "eyebrows", "eye": "eyes", "cheek": "cheeks"}.get(base, base)


def load_policy(path: str | Path | None = None) -> QualityPolicy:
    """Load the policy YAML (default: ``FACEX_QUALITY_POLICY`` or ``prompts/quality_policy.yaml``)."""
    path = Path(path or os.environ.get("FACEX_QUALITY_POLICY") or DEFAULT_POLICY)
    return _load(str(path.resolve()))


@functools.lru_cache(maxsize=8)
def _load(path: str) -> QualityPolicy:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read the quality policy {path}: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("components"), dict):
        raise ConfigError(f"quality policy {path} needs a 'components' mapping")
    rules: dict[str, Rule] = {}
    for name, spec in data["components"].items():
        if not isinstance(spec, dict):
            raise ConfigError(f"quality policy {path}: component {name!r} must be a mapping")
        try:
            bounds = {k: (None if spec.get(k) is None else float(spec[k])) for k in BOUND_KEYS}
        except (TypeError, ValueError):
            raise ConfigError(f"quality policy {path}: bounds of {name!r} must be numbers") from None
        missing = spec.get("missing", "not_measured")
        if missing not in OUTCOMES:
            raise ConfigError(f"quality policy {path}: {name}.missing must be one of {', '.join(OUTCOMES)}")
        rules[name] = Rule(name=name, unit=str(spec.get("unit", "")), source=str(spec.get("source", "")).strip(),
                           label=str(spec.get("label", name.replace("_", " "))), ofiq=spec.get("ofiq"),
                           missing=missing, texts=dict(spec.get("texts") or {}),
                           regions=tuple(str(r) for r in spec.get("regions") or ()), **bounds)
    vis = data.get("visibility") or {}
    return QualityPolicy(
        components=rules,
        flat_level=float(vis.get("flat_level", 1.0)),
        min_visible_fraction=float(vis.get("min_visible_fraction", 0.5)),
        covered={str(k): float(v) for k, v in (vis.get("covered_flat_fraction") or {}).items()},
        max_parser_disagreement=float(vis.get("max_parser_disagreement", 0.5)),
        texts=_texts(data.get("texts"), path),
        path=path,
        global_components=_names(vis, "global_components", path),
        hiding_components=_names(vis, "hiding_components", path),
    )


def _names(vis: dict, key: str, path: str) -> tuple[str, ...]:
    """A list of component names under ``visibility``; a laboratory's file without it takes the shipped one."""
    if key in vis:
        return tuple(str(n) for n in vis[key] or ())
    if Path(path) == DEFAULT_POLICY.resolve():
        return ()
    return getattr(_load(str(DEFAULT_POLICY.resolve())), key)


def _texts(texts: dict | None, path: str) -> dict:
    """The policy's wording; a laboratory's own policy file may give only its thresholds, or some of the words: the
    rest comes from the shipped policy."""
    own = dict(texts or {})
    if Path(path) == DEFAULT_POLICY.resolve():
        return own
    return {**_load(str(DEFAULT_POLICY.resolve())).texts, **own}
