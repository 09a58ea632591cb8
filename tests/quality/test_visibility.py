"""Region visibility from the pixels: inside the photo, covered by a flat patch, or labelled as something else by a
learned parser; covered and cut-off regions leave the masks with their reason."""

from __future__ import annotations

import dataclasses

import numpy as np

from explain_engine.quality import apply_visibility, assess, load_policy
from models.base import ParsingResult
from models.parsing import CELEBAMASK_CLASSES


def test_a_learned_parser_that_calls_the_mouth_clothing_covers_it(astro_face, pipeline):
    f = astro_face
    labels = np.full(f.crop.shape[:2], CELEBAMASK_CLASSES.index("skin"), np.int32)
    labels[f.regions.masks["mouth"]] = CELEBAMASK_CLASSES.index("cloth")
    parsing = ParsingResult(labels=labels, class_names=CELEBAMASK_CLASSES, approximate=False, source="test")
    q = assess(f.image, f.landmarks, f.aligned, landmarks_crop=f.landmarks_crop, parsing=parsing, regions=f.regions,
               detect=pipeline.quality_detect)
    assert q.visibility["mouth"].absent_reason == "covered_parser" and q.visibility["mouth"].covered
    assert q.visibility["mouth"].parser_disagreement == 1.0
    assert q.visibility["eyes"].parser_disagreement == 0.0 and not q.visibility["eyes"].covered
    # the approximate parser draws its parts from the same landmarks: it cannot disagree, so it is not asked
    approx = dataclasses.replace(parsing, approximate=True)
    q2 = assess(f.image, f.landmarks, f.aligned, landmarks_crop=f.landmarks_crop, parsing=approx, regions=f.regions)
    assert q2.visibility["mouth"].parser_disagreement is None and not q2.visibility["mouth"].covered


def test_a_flat_patch_over_the_nose_drops_only_the_nose(astro_face):
    f = astro_face
    crop = f.crop.copy()
    crop[f.regions.masks["nose"]] = (200, 160, 140)
    aligned = dataclasses.replace(f.aligned, crop=crop)
    q = assess(f.image, f.landmarks, aligned, landmarks_crop=f.landmarks_crop, regions=f.regions)
    assert q.visibility["nose"].covered and q.visibility["nose"].flat_fraction > 0.6  # the rim sees its edge
    dropped = apply_visibility(f.regions, q)
    assert "nose" not in dropped.masks and "flat" in dropped.absent["nose"]
    assert set(dropped.masks) == set(f.regions.masks) - {"nose"}
    assert set(f.regions.masks) >= {"nose"}  # the input is not changed


def test_visibility_thresholds_come_from_the_policy(astro_face, tmp_path):
    f = astro_face
    strict = tmp_path / "strict.yaml"
    strict.write_text("components: {}\nvisibility: {flat_level: 1000, covered_flat_fraction: {default: 0.5}}\n")
    q = assess(f.image, f.landmarks, f.aligned, landmarks_crop=f.landmarks_crop, regions=f.regions,
               policy=load_policy(strict))
    assert q.components == [] and q.outcome == "pass"
    assert all(v.covered for v in q.visibility.values())  # everything counts as flat at 1000 grey levels
