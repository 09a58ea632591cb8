"""Explainability table (chatbot paper Table 1), method agreement, and heatmap colours."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from explain_engine.heatmaps import colorize, hls_blend, legend_image, overlay, pixel_heatmap, region_heatmap
from explain_engine.table import explainability_table, importance_levels, method_agreement


def test_importance_levels_cut_the_range_into_five_equal_intervals():
    vals = {"a": 1.0, "b": 0.61, "c": 0.6, "d": 0.2, "e": -0.19, "f": -0.6, "g": -0.61, "h": -1.0}
    lv = importance_levels(vals)
    # width 0.4 over [-1, 1]: level k covers (1 - 0.4k, 1 - 0.4(k-1)] (a boundary value goes to the less important
    # level), the lowest level also includes -1; level 1 includes the maximum
    assert lv == {"a": 1, "b": 1, "c": 2, "d": 3, "e": 3, "f": 5, "g": 5, "h": 5}


def test_importance_levels_signed_vs_absolute_and_degenerate_maps():
    vals = {"nose": 1.0, "eyes": 0.1, "hair": -0.9}
    assert importance_levels(vals)["hair"] == 5  # signed: works against the match -> least important for it
    assert importance_levels(vals, by="abs")["hair"] == 1  # absolute: moved the score a lot either way
    assert set(importance_levels({"x": 0.5, "y": 0.5}).values()) == {1}
    assert set(importance_levels({"x": 0.0, "y": 0.0}).values()) == {5}
    assert importance_levels({}) == {}


def test_table_mean_and_ratio_of_ones():
    results = {
        "S0": {"eyes": 1.0, "nose": 0.5, "mouth": -1.0},
        "S1": {"eyes": 0.2, "nose": 1.0, "mouth": -0.3},
        "AVG": {"eyes": 0.6, "nose": 0.75, "mouth": -0.65},
    }
    df = explainability_table(results)
    assert list(df["region"]) == ["eyes", "nose", "mouth"]
    row = df.set_index("region")
    # S0: eyes 1, nose 2 (0.5 is 0.5/0.4 = 1.25 widths below the top), mouth 5
    assert (row.loc["eyes", "S0"], row.loc["nose", "S0"], row.loc["mouth", "S0"]) == (1, 2, 5)
    # S1 over its observed range [-0.3, 1] (width 0.26): eyes 0.2 is 3.08 widths below the top -> 4
    assert (row.loc["eyes", "S1"], row.loc["nose", "S1"], row.loc["mouth", "S1"]) == (4, 1, 5)
    assert (row.loc["eyes", "AVG"], row.loc["nose", "AVG"]) == (1, 1)
    assert row.loc["eyes", "Mean"] == pytest.approx((1 + 4 + 1) / 3)
    assert row.loc["eyes", "Ratio of 1s"] == pytest.approx(2 / 3)
    assert row.loc["mouth", "Ratio of 1s"] == 0.0
    assert row.loc["nose", "S1 contribution"] == 1.0
    assert df["S0"].dtype.kind == "i"


def test_table_handles_a_region_missing_from_one_method():
    df = explainability_table({"S0": {"eyes": 1.0, "ears": 0.0}, "S1": {"eyes": 1.0}}).set_index("region")
    assert np.isnan(df.loc["ears", "S1"])
    assert df.loc["ears", "Mean"] == 5.0  # over the methods that have it


def test_method_agreement_is_spearman():
    a = {"r1": 1.0, "r2": 0.5, "r3": 0.1, "r4": -0.2}
    agree = method_agreement({"s0": a, "s1": {k: v * 3 for k, v in a.items()}, "rev": {k: -v for k, v in a.items()},
                              "flat": {k: 0.0 for k in a}})
    assert agree["s0~s1"] == pytest.approx(1.0)
    assert agree["s0~rev"] == pytest.approx(-1.0)
    assert agree["s0~flat"] is None


def test_colours_red_supports_blue_against():
    rgb = colorize(np.array([[1.0, 0.0, -1.0]]))
    pos, zero, neg = rgb[0].astype(int)
    assert pos[0] > pos[2] + 50 and pos[0] > pos[1] + 50  # red dominant for positive (supports the match)
    assert neg[2] > neg[0] + 50 and neg[2] > neg[1] + 30  # blue dominant for negative
    assert zero.min() > 230  # white-ish for no effect
    # fixed scale: 0.5 is never drawn as strong as 1.0
    assert colorize(np.array([[0.5]]))[0, 0, 1] > pos[1]


def test_region_heatmap_and_overlays():
    masks = {"top": np.zeros((10, 10), bool), "bottom": np.zeros((10, 10), bool)}
    masks["top"][:5] = True
    masks["bottom"][5:] = True
    heat = region_heatmap(masks, {"top": 1.0, "bottom": -0.5}, (10, 10))
    assert heat[0, 0] == 1.0 and heat[9, 9] == -0.5 and heat.dtype == np.float32
    img = np.full((10, 10, 3), 120, np.uint8)
    ov = overlay(img, heat, 0.5)
    assert ov[0, 0, 0] > ov[0, 0, 2] and ov[9, 9, 2] > ov[9, 9, 0]
    untouched = overlay(img, heat, 0.5, mask=masks["top"])
    assert (untouched[5:] == img[5:]).all()
    blend = hls_blend(img, heat)
    assert blend[0, 0, 0] > blend[0, 0, 2] and blend[9, 9, 2] > blend[9, 9, 0]
    # Algorithm 2 keeps the photo's lightness
    light = lambda x: cv2.cvtColor(x, cv2.COLOR_RGB2HLS_FULL)[..., 1].astype(int)
    assert np.abs(light(blend) - light(img)).max() <= 2


def test_pixel_heatmap_and_legend():
    p = pixel_heatmap(np.array([[0.0, 2.0], [-4.0, 1.0]]))
    assert p.min() == -1.0 and p[0, 1] == 0.5
    leg = legend_image(300, 60)
    assert leg.shape == (60, 300, 3)
    assert leg[5, 2, 2] > leg[5, 2, 0] and leg[5, 297, 0] > leg[5, 297, 2]  # blue left, red right


def test_variants_shown_but_not_counted_in_mean_and_ratio():
    from explain_engine.table import explainability_table

    s0 = {"nose": 1.0, "eyes": 0.5, "chin": -1.0}
    one_sided = {"nose": -1.0, "eyes": 0.5, "chin": 1.0}  # a variant that disagrees must not move the summary
    df = explainability_table({"S0": s0, "S1": s0, "S0 (A only)": one_sided},
                              summary_columns=["S0", "S1"]).set_index("region")
    assert df.loc["nose", "S0 (A only)"] == 5  # shown
    assert df.loc["nose", "Mean"] == 1.0 and df.loc["nose", "Ratio of 1s"] == 1.0
    everything = explainability_table({"S0": s0, "S1": s0, "S0 (A only)": one_sided}).set_index("region")
    assert everything.loc["nose", "Mean"] > 1.0
