"""FGGB and CorrRISE as registry methods: explain_arrays computes them under the one attribution interface, with
maps and table columns; FGGB is refused up front for face models without gradients, CorrRISE still runs."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from explain_engine import methods as registry
from explain_engine.attribution.fggb import GradientsUnavailableError
from explain_engine.explain import explain_arrays
from explain_engine.table import explainability_table

from .conftest import BandTorchEmbedder, band_mean_embed

pytest.importorskip("torch")


class GreyFill:
    name = "grey"
    deterministic = True

    def __call__(self, image, mask):
        out = image.copy()
        out[mask] = 128
        return out


def test_registry_entries():
    assert {"fggb", "corrrise"} <= set(registry.requestable_methods())
    assert {"fggb", "corrrise"} <= set(registry.drawn_methods())
    assert registry.get_method("fggb").needs_gradients and not registry.get_method("corrrise").needs_gradients
    assert registry.column_name("fggb") == "FGGB" and registry.column_name("corrrise") == "CorrRISE"
    assert registry.get_method("fggb").words["short"] == "FGGB"  # words from prompts/vocabulary.yaml
    assert registry.parse_methods("s0,s1,fggb,corrrise") == ("s0", "s1", "fggb", "corrrise")
    fast = registry.get_method("fggb_fast")  # an approximation of FGGB: never counted as independent of it
    assert fast.needs_gradients and not fast.independent and fast.column == "FGGB fast"
    from chatbot.text import find_phrases  # the chat tells the two apart (longest phrase first)

    phrases = {m.key: m.words["phrases"] for m in registry.METHODS if m.words}
    assert find_phrases("What does FGGB fast show?", phrases) == ["fggb_fast"]
    assert find_phrases("Do FGGB and S0 agree?", phrases)[0] == "fggb"


def test_fggb_fast_through_the_registry(pair, masks):
    a, b = pair
    model = BandTorchEmbedder(dim=40)
    ex = explain_arrays(a, b, masks, masks, model.embed, GreyFill(), methods=("s0", "fggb", "fggb_fast"),
                        threshold=0.5, model=model, method_options={"fggb_fast": {"channels": 10}})
    fast, full = ex.results["fggb_fast"], ex.results["fggb"]
    assert fast.method == "fggb_fast" and fast.details["channels"] == 10 and full.details["channels"] == 41
    assert fast.normalised["r1"] == full.normalised["r1"] and fast.normalised["r0"] == 0.0
    assert "FGGB fast" in explainability_table(ex.table_columns()).columns
    with pytest.raises(GradientsUnavailableError, match="FGGB fast needs"):
        explain_arrays(a, b, masks, masks, band_mean_embed, GreyFill(), methods=("fggb_fast",), threshold=0.5,
                       model=SimpleNamespace(name="onnx", embed=band_mean_embed))


def test_explain_arrays_with_both_pixel_maps(pair, masks):
    a, b = pair
    model = BandTorchEmbedder()
    ex = explain_arrays(a, b, masks, masks, model.embed, GreyFill(), methods=("s0", "fggb", "corrrise"),
                        threshold=0.5, model=model, method_options={"corrrise": {"n_masks": 60}})
    assert {"fggb", "corrrise"} <= set(ex.results) and ex.methods[-2:] == ["fggb", "corrrise"]
    for key in ("fggb", "corrrise"):
        res = ex.results[key]
        assert res.method == key and set(res.normalised) == set(ex.regions)
        for side in "ab":
            maps = res.maps[side]
            assert next(iter(maps)) == "signed"  # the first map is the one drawn as the heatmap
            assert maps["similarity"].shape == maps["dissimilarity"].shape == (40, 40)
            assert maps["similarity"].min() >= 0 and maps["dissimilarity"].min() >= 0
            assert np.abs(maps["signed"]).max() <= 1.0
        assert res.details["pixel_maps"].method == key
    fggb = ex.results["fggb"]
    assert abs(fggb.normalised["r1"]) == 1.0 and fggb.normalised["r0"] == 0.0  # only the band has gradients
    assert ex.n_embeddings_by_method["corrrise"] == 120
    table = explainability_table(ex.table_columns())
    assert {"FGGB", "CorrRISE"} <= set(table.columns)


def test_fggb_refused_without_gradients_corrrise_still_runs(pair, masks):
    a, b = pair
    calls = []

    def embed(batch):
        calls.append(len(batch))
        return band_mean_embed(batch)

    black_box = SimpleNamespace(name="onnx", embed=embed)
    with pytest.raises(GradientsUnavailableError, match="FGGB needs the face model's gradients.*'onnx'"):
        explain_arrays(a, b, masks, masks, embed, GreyFill(), methods=("s0", "fggb"), threshold=0.5,
                       model=black_box)
    assert calls == []  # refused before any work
    with pytest.raises(GradientsUnavailableError):
        explain_arrays(a, b, masks, masks, embed, GreyFill(), methods=("fggb",), threshold=0.5)
    ex = explain_arrays(a, b, masks, masks, embed, GreyFill(), methods=("s0", "corrrise"), threshold=0.5,
                        model=black_box, method_options={"corrrise": {"n_masks": 30}})
    assert ex.results["corrrise"].normalised["r1"] == 1.0


def test_engine_refuses_fggb_for_an_onnx_model_when_built():
    from explain_engine.engine import Engine, EngineConfig

    onnx_like = SimpleNamespace(name="arcface", threshold=0.3, embed=band_mean_embed)
    pipeline = SimpleNamespace(model_name="arcface", embedder=onnx_like)
    with pytest.raises(GradientsUnavailableError, match="'arcface' does not expose them"):
        Engine(EngineConfig(methods=("s0", "fggb")), pipeline=pipeline)
    engine = Engine(EngineConfig(methods=("s0", "corrrise")), pipeline=pipeline)
    assert engine.config.methods == ("s0", "corrrise")
