"""The engine writes explanation.json through the record schema: what it saves loads, with a matching digest."""

from __future__ import annotations

import json

from explain_engine.record import SCHEMA_VERSION, load_record, record_digest


def test_saved_record_loads_with_its_digest_and_lists_every_file(engine, astronaut, astronaut_variant, tmp_path):
    exp = engine.explain(astronaut, astronaut_variant)
    out = exp.save(tmp_path / "out")
    files = exp.files()
    assert sorted(p.name for p in out.iterdir()) == sorted(files)  # save writes exactly the one file list
    data = json.loads((out / "explanation.json").read_text())
    assert data["schema_version"] == SCHEMA_VERSION and data["digest"] == record_digest(data)
    assert data["region_outlines"] == {"a": "regions_a.png", "b": "regions_b.png"} and data["table_csv"] == "table.csv"
    for method, names in data["heatmaps"].items():
        if method != "legend":
            assert set(names.values()) <= set(files)
    record = load_record(out)
    assert not record.edited and record.decision == exp.decision == data["decision"]
    # the in-memory dict (what the app hands the chatbot) is the same record, without the file names only save writes
    d = exp.to_dict()
    assert not load_record(d).edited
    assert {k: v for k, v in data.items() if k not in ("digest", "region_outlines", "table_csv")} == {
        k: v for k, v in d.items() if k not in ("digest", "region_outlines", "table_csv")
    }
