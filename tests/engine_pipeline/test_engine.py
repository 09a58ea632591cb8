"""The engine on real photos: decisions, identical pairs, normalisation, the record, heatmaps and bad input."""

from __future__ import annotations

import numpy as np
import pytest

from models.errors import FaceTooSmallError, ImageError, NoFaceError
from prompts import render

CONTRACT_KEYS = {
    "schema_version", "decision", "similarity", "distance", "threshold", "margin", "confidence",
    "confidence_meaning", "pic_score", "pic_meaning", "model", "model_description", "calibration", "faces_found",
    "images", "perturbation", "methods", "region_set", "most_important_region", "least_important_region",
    "regions", "table", "agreement", "strength", "counterfactual", "stability", "heatmaps", "timings", "warnings",
    "versions", "created",
}  # fmt: skip


def test_same_person_matches_and_different_people_do_not(engine, faces_dir):
    same = engine.verify(faces_dir / "obama/1.jpg", faces_dir / "obama/2.jpg")
    other = engine.verify(faces_dir / "obama/1.jpg", faces_dir / "biden/2.jpg")
    assert same.decision == "match", same.statement()
    assert other.decision == "non-match", other.statement()
    assert same.similarity > other.similarity
    for v in (same, other):
        assert v.distance == pytest.approx(1 - v.similarity)
        assert v.margin == pytest.approx(v.similarity - v.threshold)
        assert 0.5 <= v.confidence <= 1.0
        assert 0.0 <= v.pic_score <= 1.0
        assert v.faces_found == {"a": 1, "b": 1}
        assert v.model == "dlib-torch"
        assert v.calibration["n_genuine"] > 0 and "fitted_on" in v.calibration


def test_shipped_calibration_is_used(engine):
    assert engine.calibration is not None, engine.calibration_warning
    assert engine.calibration.model == "dlib-torch"
    assert engine.threshold == pytest.approx(engine.calibration.threshold)
    assert "pairs.csv" in engine.calibration.fitted_on


def test_identical_pair_has_similarity_one_and_no_negative_region(engine, astronaut):
    exp = engine.explain(astronaut, astronaut.copy())
    d = exp.to_dict()
    assert d["similarity"] == pytest.approx(1.0, abs=1e-6)
    assert d["decision"] == "match"
    contributions = [r["contribution"] for r in d["regions"] if r["present"]]
    assert contributions and all(c >= 0 for c in contributions)
    assert any("identical" in w for w in d["warnings"])


@pytest.fixture(scope="module")
def pair_explanation(engine, faces_dir):
    """S0 on a real different-person pair (cheap: about 20 embeddings)."""
    return engine.explain(faces_dir / "mark/2.jpg", faces_dir / "jack/1.jpg")


def test_normalisation_makes_largest_contribution_exactly_one(pair_explanation):
    for method, result in pair_explanation.arrays.results.items():
        values = np.array(list(result.normalised.values()))
        assert np.abs(values).max() == 1.0, method
        assert (np.abs(values) <= 1.0).all()
        raw = np.array(list(result.deltas.values()))
        np.testing.assert_allclose(values, raw / np.abs(raw).max())


def test_record_has_every_contract_key(pair_explanation):
    d = pair_explanation.to_dict()
    assert CONTRACT_KEYS <= set(d), CONTRACT_KEYS - set(d)
    assert d["schema_version"] == 2  # version 2: digest and the optional quality/evidence/robustness sections
    assert d["decision"] == "non-match" and d["region_set"] == "coarse"
    assert d["perturbation"].startswith("inpaint:")
    assert set(d["calibration"]) >= {"name", "fitted_on", "n_genuine", "n_impostor", "accuracy", "eer",
                                     "threshold_rule"}
    assert set(d["images"]["a"]) == {"name", "width", "height", "face_box"} and d["images"]["a"]["name"] == "2.jpg"
    names = [r["name"] for r in d["regions"]]
    assert names == ["forehead", "eyebrows", "eyes", "nose", "cheeks", "mouth", "chin", "hair", "ears"]
    for r in d["regions"]:
        assert {"name", "present", "contribution", "importance", "methods", "area"} <= set(r)
        if r["present"]:
            assert -1 <= r["contribution"] <= 1 and 1 <= r["importance"] <= 5
            assert set(r["methods"]["s0"]) == {"contribution", "importance", "delta", "role", "abs_change"}
            assert r["methods"]["s0"]["role"] in ("supports", "against", "neutral")
        else:
            assert r["contribution"] is None and r["importance"] is None
    assert d["most_important_region"] in names and d["least_important_region"] in names
    assert {"region", "S0", "Mean", "Ratio of 1s"} <= set(d["table"][0])
    # numbers and codes; the sentences are rendered from them (prompts.render)
    assert {"margin", "largest_single_change", "largest_single_region", "s1_cumulative_change", "weak",
            "level"} <= set(d["strength"])
    assert {"flips", "regions", "outcome"} <= set(d["counterfactual"])
    assert render.strength_sentence(d["strength"]) and render.counterfactual_sentence(d["counterfactual"])
    assert d["heatmaps"]["s0"]["a"] == "heatmap_s0_a.png" and d["heatmaps"]["legend"] == "legend.png"


def test_heatmap_images_and_aligned_faces(pair_explanation):
    images = pair_explanation.heatmap_images["s0"]
    assert set(images) == {"a", "b", "overlay_a", "overlay_b", "blend_a", "blend_b"}
    crop = pair_explanation.face_a.crop
    assert images["a"].shape == crop.shape and images["a"].dtype == np.uint8
    # the overlay is on the photo (a window around the face), not on the crop
    assert images["overlay_a"].shape != crop.shape
    outlined = pair_explanation.aligned_faces["a"]
    # the crop enlarged by a whole factor (legible outlines), with the outlines drawn on it
    factor = outlined.shape[0] // crop.shape[0]
    assert factor >= 1 and outlined.shape == (crop.shape[0] * factor, crop.shape[1] * factor, 3)
    assert not np.array_equal(outlined[::factor, ::factor], crop)


# --------------------------------------------------------------------------------------------------------------
# bad input


def test_no_face_is_a_clear_error(engine, image_files):
    with pytest.raises(NoFaceError, match="coffee.png: no face found"):
        engine.verify(image_files["coffee"], image_files["astronaut"])


def test_several_faces_use_the_largest_and_say_so(engine, image_files):
    v = engine.verify(image_files["two_faces"], image_files["astronaut"])
    assert v.faces_found["a"] == 2
    assert any("2 faces found; the largest one was used" in w for w in v.warnings)
    assert v.decision == "match" and v.similarity > 0.99  # the large face is the astronaut as in the other photo


def test_tiny_face_is_refused(engine, image_files):
    with pytest.raises(FaceTooSmallError, match="tiny.png: the face is only"):
        engine.verify(image_files["tiny"], image_files["astronaut"])


def test_identical_files_warn_instead_of_failing(engine, image_files):
    v = engine.verify(image_files["astronaut"], image_files["astronaut"])
    assert v.similarity == pytest.approx(1.0, abs=1e-6)
    assert any("identical" in w for w in v.warnings)


def test_unreadable_file_is_a_clear_error(engine, image_files):
    with pytest.raises(ImageError, match="garbage.jpg: not an image file"):
        engine.verify(image_files["garbage"], image_files["astronaut"])
    with pytest.raises(ImageError, match="file not found"):
        engine.verify(image_files["astronaut"].with_name("missing.png"), image_files["astronaut"])


def test_fine_region_set_and_progress(engine, faces_dir):
    """The finer region set (left/right parts) through the same loaded models, with a monotone progress report."""
    from explain_engine.engine import Engine, EngineConfig

    fine = Engine(EngineConfig(models=engine.config.models, methods=("s0",), region_set="fine"),
                  pipeline=engine.pipeline)  # fmt: skip
    seen = []
    exp = fine.explain(faces_dir / "obama/1.jpg", faces_dir / "obama/2.jpg", progress=lambda s, f: seen.append(f))
    d = exp.to_dict()
    assert d["region_set"] == "fine" and d["decision"] == "match"
    assert [r["name"] for r in d["regions"]] == [
        "forehead", "left_eyebrow", "right_eyebrow", "left_eye", "right_eye", "nose", "left_cheek", "right_cheek",
        "mouth", "chin", "hair", "ears",
    ]  # fmt: skip
    assert seen == sorted(seen) and seen[-1] == 1.0
