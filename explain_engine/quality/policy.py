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

    def covered_flat_fraction(self, region: str) -> float:
        base = region.split("_", 1)[-1] if region.startswith(("left_", "right_")) else region
        base = {"eyebrow": "eyebrows", "eye": "eyes", "cheek": "cheeks"}.get(base, base)
        return float(self.covered.get(base, self.covered.get("default", 1.0)))

    def refusal_message(self, photo: str, component) -> str:
        """One line: the photo, the refusing component, its value, the limit it crossed and what it means."""
        rule = self.components[component.name]
        words = self.texts["refusal_limits"]
        v = component.value
        value = self.texts["not_measured"] if v is None else f"{v:.3g}"
        if v is None:
            limit = words["unmeasured"]
        elif rule.refuse_below is not None and v < rule.refuse_below:
            limit = words["below"].format(bound=rule.refuse_below)
        else:
            limit = words["above"].format(bound=rule.refuse_above)
        return self.texts["refusal"].format(photo=photo, label=rule.label, name=component.name, value=value,
                                            unit=rule.unit.split(" (")[0], limit=limit,
                                            why=rule.texts.get("refuse", rule.label)).strip()


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
    )


def _texts(texts: dict | None, path: str) -> dict:
    """The policy's wording; a laboratory's own policy file may give only its thresholds, or some of the words: the
    rest comes from the shipped policy."""
    own = dict(texts or {})
    if Path(path) == DEFAULT_POLICY.resolve():
        return own
    return {**_load(str(DEFAULT_POLICY.resolve())).texts, **own}
