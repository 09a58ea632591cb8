"""The development photos' hard pairs: the LR stays bounded and the wording never claims certainty."""

from __future__ import annotations

import math
import re

import pytest

from explain_engine import evidence as ev

OVERSTATED = re.compile(r"100\s*%|100 in 100|very sure|\bcertain(ly)?\b", re.IGNORECASE)
HARD_PAIRS = [
    ("obama/3.jpg", "biden/1.jpg"),  # two people cut from one photo: same light and background
    ("obama/1.jpg", "obama/1.jpg"),  # identical inputs
    ("jack/3.jpg", "jack/5.jpg"),  # extra faces at the edges
    ("alex_lacamoire/3.png", "alex_lacamoire/1.jpg"),  # RGBA
]


@pytest.mark.parametrize(("a", "b"), HARD_PAIRS)
def test_hard_pair_lr_is_bounded_and_not_certain(engine, faces_dir, a, b):
    v = engine.verify(faces_dir / a, faces_dir / b)
    cal = engine.calibration
    identical = any("identical" in w for w in v.warnings)
    e = ev.compute_evidence(v.similarity, v.threshold, cal, decision=v.decision, identical_inputs=identical)
    lo, hi = e["log10_lr_bounds"]
    assert hi <= math.log10(cal.n_impostor + 1) and lo >= -math.log10(cal.n_genuine + 1)
    assert lo <= e["log10_lr"] <= hi
    assert e["verbal"] not in ("strong_support_same", "very_strong_support_same", "extremely_strong_support_same")
    lines = ev.evidence_lines(e)
    for line in lines:
        assert not OVERSTATED.search(line), line
    if a == b:
        assert not e["conclusive"] and e["inconclusive_reason"] == "identical_inputs"
        assert lines[0].startswith("No likelihood ratio is given")
    for p in (v.confidence, v.pic_score):
        assert not OVERSTATED.search(ev.probability_text(p, v.decision, cal.summary()))


def test_the_pair_cut_from_one_photo_is_not_called_the_same_person(engine, faces_dir):
    v = engine.verify(faces_dir / "obama/3.jpg", faces_dir / "biden/1.jpg")
    e = ev.compute_evidence(v.similarity, v.threshold, engine.calibration, decision=v.decision)
    assert v.decision == "non-match" and e["log10_lr"] < 0
    assert "if the photos show different people than if they show the same person" in ev.lr_statement(e)
