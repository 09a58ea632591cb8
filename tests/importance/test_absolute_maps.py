"""Heatmaps on a fixed per-model scale in similarity units (explain_engine.heatmaps, #13)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from explain_engine import heatmaps as hm

CALIBRATION = Path(hm.__file__).resolve().parent / "calibrations" / "dlib-torch.json"


def _saturation(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.asarray(rgb, np.uint8).reshape(-1, 1, 3), cv2.COLOR_RGB2HSV_FULL)[..., 1].ravel()


def test_model_scale_is_the_gap_between_genuine_and_impostor_medians():
    cal = json.loads(CALIBRATION.read_text())
    scale = hm.model_scale(cal)
    assert scale["rule"] == "genuine_impostor_median_gap"
    assert scale["vmax"] == pytest.approx(np.median(cal["genuine_scores"]) - np.median(cal["impostor_scores"]))
    assert 0.14 < scale["vmax"] < 0.15  # the documented dlib-torch value, 0.146
    assert hm.model_scale(None) == {"vmax": hm.DEFAULT_RANGE, "unit": "cosine similarity change",
                                    "rule": "default_range", "source": None}
    assert hm.model_scale({"attribution_range": 0.2})["vmax"] == 0.2


def test_a_weak_map_looks_weak_and_a_strong_one_strong():
    vmax = hm.model_scale(json.loads(CALIBRATION.read_text()))["vmax"]
    masks = {"top": np.zeros((20, 20), bool), "bottom": np.zeros((20, 20), bool)}
    masks["top"][:10] = True
    masks["bottom"][10:] = True
    weak = hm.colorize(hm.region_heatmap(masks, {"top": 0.011, "bottom": -0.004}, (20, 20), vmax=vmax), vmax)
    strong = hm.colorize(hm.region_heatmap(masks, {"top": 0.13, "bottom": -0.004}, (20, 20), vmax=vmax), vmax)
    # the weak genuine pair (largest change 0.011): pale, never the saturated red of the old ±1 stretch
    assert _saturation(weak).max() < 40
    assert _saturation(strong[:10]).min() > 150
    assert weak.min() > 200  # close to white everywhere
    # the normalised (eq. 3.4) option stretches the same weak map to full colour
    stretched = hm.colorize(hm.region_heatmap(masks, {"top": 1.0, "bottom": -0.36}, (20, 20)))
    assert _saturation(stretched[:10]).min() > 150
    # values beyond the range are clipped, not wrapped
    assert np.array_equal(hm.colorize(np.array([[0.5]]), vmax), hm.colorize(np.array([[vmax]]), vmax))
    with pytest.raises(ValueError):
        hm.colorize(np.zeros((2, 2)), 0.0)


def test_overlay_edges_are_soft():
    image = np.full((80, 80, 3), 120, np.uint8)
    heat = np.zeros((80, 80), np.float32)
    heat[20:60, 20:60] = 0.1
    mask = heat > 0
    hard = hm.overlay(image, heat, mask=mask, vmax=0.1, feather=0).astype(int)
    soft = hm.overlay(image, heat, mask=mask, vmax=0.1).astype(int)
    step_hard = np.abs(np.diff(hard[40, :, 2])).max()
    step_soft = np.abs(np.diff(soft[40, :, 2])).max()
    assert step_soft < step_hard / 2
    assert np.array_equal(soft[40, 40], hard[40, 40])  # the inside keeps its colour
    assert np.array_equal(soft[2, 2], image[2, 2])  # far outside the photo is untouched


def test_overlay_with_a_precomputed_weight_is_the_same_picture():
    """The explanation feathers each photo's region mask once and reuses it for every method's overlay."""
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (90, 70, 3), dtype=np.uint8)
    mask = np.zeros((90, 70), bool)
    mask[15:70, 10:55] = True
    for feather in (None, 0, 2.5):
        weight = hm.mask_weight(mask, image.shape[:2], feather)
        assert weight.min() >= 0 and weight.max() <= 1 and not weight[~mask].any()
        for vmax in (0.146, 1.0):
            heat = rng.uniform(-vmax, vmax, (45, 35)).astype(np.float32)  # resized to the photo inside overlay
            expected = hm.overlay(image, heat, mask=mask, vmax=vmax, feather=feather)
            assert np.array_equal(hm.overlay(image, heat, weight=weight, vmax=vmax, feather=feather), expected)


def test_legend_in_similarity_units():
    a = hm.legend_image(vmax=0.146, unit="change of similarity")
    b = hm.legend_image()
    assert a.shape == b.shape and a.dtype == np.uint8
    assert not np.array_equal(a, b)  # different tick labels and the unit line
    bar = a[: a.shape[0] // 2 - 8]
    assert bar[:, 0].astype(int)[:, 2].mean() > bar[:, 0].astype(int)[:, 0].mean()  # blue at the left end


def test_scale_reading_explains_pale_maps_with_the_pairs_own_numbers():
    """A new user took the pale maps on the fixed scale for a broken app: the panel says how to read them."""
    from explain_engine.table import importance_words

    words = importance_words()["scales"]
    info = {"vmax": 0.146, "rule": "genuine_impostor_median_gap"}
    pale = hm.scale_reading(info, 0.011, "absolute", normalised_label="Normalised per map")
    assert pale.startswith(words["reading_absolute"].format(vmax=0.146, largest=0.011, share="8%"))
    assert "0.011, 8% of full colour (0.146)" in pale
    assert words["reading_pale"].format(normalised="Normalised per map") in pale  # pale: the finding, not a fault
    strong = hm.scale_reading(info, 0.2, "absolute")
    assert "137% of full colour" in strong and words["reading_pale"].split(",")[0] not in strong
    assert hm.scale_reading(info, -0.011, "absolute") == hm.scale_reading(info, 0.011, "absolute")
    normalised = hm.scale_reading(info, 0.011, "normalised")
    assert normalised == words["reading_normalised"].format(vmax=0.146, largest=0.011, share="8%")
    assert "not their strength" in normalised
    # nothing drawn in similarity units: the scale's own sentence
    assert hm.scale_reading(info, None, "absolute") == hm.scale_text(info, "absolute")
    assert "7% of full colour (0.150)" in hm.scale_reading(None, 0.011, "absolute")  # the default range
