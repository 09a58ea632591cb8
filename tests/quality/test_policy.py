"""The policy as data: bounds to outcomes, the shipped YAML's shape, and clear errors for a broken policy file."""

from __future__ import annotations

import math

import pytest

from explain_engine.quality import Component, PhotoQuality, QualityError, enforce, judge, load_policy
from explain_engine.quality.core import worst
from explain_engine.quality.policy import OUTCOMES, Rule
from explain_engine.quality.words import limit_text
from models.errors import ConfigError, FaceXError


def test_rule_bounds_map_values_to_outcomes():
    r = Rule(name="x", unit="u", source="s", label="x", refuse_below=1.0, warn_below=2.0, warn_above=8.0,
             refuse_above=9.0)
    assert [r.outcome(v) for v in (0.5, 1.0, 1.5, 2.0, 5.0, 8.0, 8.5, 9.5)] == [
        "refuse", "warn", "warn", "pass", "pass", "pass", "warn", "refuse"]
    assert r.outcome(None) == "not_measured" and r.outcome(math.nan) == "not_measured"
    assert Rule(name="y", unit="", source="", label="y", missing="refuse").outcome(None) == "refuse"


def test_worst_outcome_orders_by_severity():
    assert worst(["pass", "warn", "not_measured"]) == "warn"
    assert worst(["pass", "refuse", "warn"]) == "refuse"
    assert worst(["not_measured", "pass"]) == "pass"
    assert OUTCOMES.index("refuse") > OUTCOMES.index("warn") > OUTCOMES.index("pass")


def test_shipped_policy_is_complete():
    policy = load_policy()
    expected = {"face_landmarks", "in_plane_orientation", "face_redetection", "head_pose_yaw", "head_pose_pitch",
                "head_pose_roll", "luminance_mean", "under_exposure", "over_exposure", "dynamic_range", "sharpness",
                "inter_eye_distance", "face_cut_off", "eyes_occlusion", "mouth_occlusion", "photographic"}
    assert set(policy.components) == expected
    for name, rule in policy.components.items():
        assert rule.source and rule.unit and rule.label, name
        assert rule.bounds(), f"{name} has no bounds"
        assert rule.texts.get("what"), f"{name} has no plain-English description for the chat"
        if any(k.startswith("refuse") for k in rule.bounds()):
            assert rule.texts.get("refuse"), name
    for code in ("outside_photo", "covered_flat", "covered_parser"):
        assert code in policy.texts["absent_reasons"]
    assert set(policy.texts["outcomes"]) == {"pass", "warn", "refuse"}


def test_refusal_is_one_line_naming_the_component():
    policy = load_policy()
    comps = judge({"luminance_mean": 12.0, "eyes_occlusion": 0.9, "sharpness": 900.0}, policy)
    q = PhotoQuality(name="dark.jpg", outcome="refuse", components=comps)
    with pytest.raises(QualityError) as info:
        enforce(q, policy)
    err = info.value
    assert isinstance(err, FaceXError)
    assert err.component == "luminance_mean"  # the first refusing one in the policy's order
    assert "\n" not in str(err) and "dark.jpg" in str(err) and "luminance_mean" in str(err)
    assert err.quality is q
    ok = PhotoQuality(name="ok", outcome="warn", components=[])
    assert enforce(ok, policy) is ok


def test_component_record_has_the_agreed_fields():
    c = Component(name="sharpness", value=float("nan"), unit="u", outcome="not_measured", threshold={"warn_below": 1},
                  source="s")
    assert c.to_dict() == {"name": "sharpness", "value": None, "unit": "u", "outcome": "not_measured",
                           "threshold": {"warn_below": 1}, "source": "s"}


def test_broken_policy_files_are_config_errors(tmp_path, monkeypatch):
    bad = tmp_path / "bad.yaml"
    bad.write_text("components: [1, 2]\n")
    with pytest.raises(ConfigError, match="components"):
        load_policy(bad)
    worse = tmp_path / "worse.yaml"
    worse.write_text("components:\n  sharpness: {warn_below: soft}\n")
    with pytest.raises(ConfigError, match="numbers"):
        load_policy(worse)
    with pytest.raises(ConfigError, match="cannot read"):
        load_policy(tmp_path / "missing.yaml")
    custom = tmp_path / "custom.yaml"
    custom.write_text("components:\n  sharpness: {unit: u, warn_below: 5000, source: mine}\n"
                      "texts: {refusal: 'x', warning: '{photo}: {components}'}\n")
    monkeypatch.setenv("FACEX_QUALITY_POLICY", str(custom))
    policy = load_policy()
    assert list(policy.components) == ["sharpness"]
    # a laboratory's file with only some words: the others come from the shipped policy
    assert policy.texts["refusal"] == "x" and policy.texts["limits"]["refuse_below"] == "refused below {bound}"
    assert limit_text({"refuse_below": 35.0, "warn_below": 60.0}, "all", policy) == "refused below 35, flagged below 60"


def test_refusal_carries_what_the_chat_needs():
    policy = load_policy()
    q = PhotoQuality(name="p.png", outcome="refuse", components=judge({"photographic": 0.0}, policy))
    with pytest.raises(QualityError) as info:
        enforce(q, policy)
    d = info.value.to_dict()
    assert d["component"] == "photographic" and d["photo"] == "p.png" and d["outcome"] == "refuse"
    assert d["quality"]["components"][0]["outcome"] == "refuse" and "drawing" in d["message"]
