"""explain with FGGB on a real pair: both maps per photo written (crop and photo), named in a record that loads."""

from __future__ import annotations

import pytest

pytest.importorskip("mediapipe")


def test_fggb_files_and_record(face_pairs, tmp_path):
    from explain_engine.engine import Engine, EngineConfig
    from explain_engine.record import load_record

    a, b, _ = next(p for p in face_pairs if p[2] == 0)
    try:
        engine = Engine(EngineConfig(methods=("s0", "fggb")))
    except Exception as exc:  # noqa: BLE001 - the default models are other packages: skip when absent
        pytest.skip(f"engine not available: {exc}")
    explanation = engine.explain(a, b)
    out = explanation.save(tmp_path / "out")
    record = load_record(out)
    data = record.model_dump(mode="json")
    assert "fggb" in data["methods"]
    names = data["heatmaps"]["fggb"]
    for kind in ("similarity", "dissimilarity", "photo-similarity", "photo-dissimilarity"):
        for side in "ab":
            assert (out / names[f"{kind}_{side}"]).stat().st_size > 0
    section = data["pixel_maps"]["fggb"]
    assert section["parameters"]["channels"] == 128 and section["files"] == {
        k: v for k, v in names.items() if k.startswith(("similarity", "dissimilarity", "photo-"))}
    shares = section["regions_a"]
    assert sum(v["similarity"] for v in shares.values()) <= 1.0 + 1e-6
    assert "FGGB" in data["table"][0]
    # a different-person pair: the FGGB maps are mostly dissimilarity
    maps = explanation.arrays.results["fggb"].maps["a"]
    assert maps["dissimilarity"].sum() > maps["similarity"].sum()
