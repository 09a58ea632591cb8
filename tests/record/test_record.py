"""The explanation record's schema (explain_engine.record): version-1 files, malformed files, edited records, digest."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from explain_engine.record import (
    SCHEMA_VERSION,
    ExplanationRecord,
    RecordEditedError,
    RecordError,
    canonical_json,
    load_record,
    record_digest,
    save_record,
)
from models.errors import FaceXError

FIXTURES = Path(__file__).resolve().parents[1] / "chatbot" / "fixtures"
V1_FILES = sorted(FIXTURES.glob("*.json"))


@pytest.fixture
def v1() -> dict:
    """A version-1 record (the chatbot's fixture: invented numbers, consistent)."""
    return json.loads((FIXTURES / "match_coarse.json").read_text())


@pytest.mark.parametrize("path", V1_FILES, ids=lambda p: p.stem)
def test_version_1_files_load_as_version_2(path):
    raw = json.loads(path.read_text())
    assert raw["schema_version"] == 1
    record = load_record(path)
    assert isinstance(record, ExplanationRecord) and record.schema_version == SCHEMA_VERSION == 2
    assert not record.edited and record.digest is None
    # nothing is lost: every key of the old file is in the new record with the same value
    dumped = record.model_dump(mode="json", exclude_unset=True)  # (defaults of newer fields left out)
    for key, value in raw.items():
        if key != "schema_version":
            assert dumped[key] == value, key
    assert record.images.a.name == raw["images"]["a"]["name"]
    assert [r.name for r in record.regions] == [r["name"] for r in raw["regions"]]
    assert record.quality is None and record.evidence is None and record.robustness is None


def _load_error(data) -> str:
    with pytest.raises(RecordError) as info:
        load_record(data)
    message = str(info.value)
    assert "\n" not in message and isinstance(info.value, FaceXError)
    return message


@pytest.mark.parametrize(
    "breakage, expected",
    [
        (lambda e: e["images"].update(a="photo.jpg"), "images.a: expected an object, got a string"),
        (lambda e: e["regions"][0].update(methods="s0"), "regions[0].methods: expected an object, got a string"),
        (lambda e: e.update(similarity="high"), "similarity: expected a number, got a string"),
        (lambda e: e.update(similarity=None), "similarity: expected a number, got null"),
        (lambda e: e.update(decision="maybe"), "decision: expected 'match' or 'non-match', got 'maybe'"),
        (lambda e: e.update(heatmaps=[]), "heatmaps: expected an object, got a list"),
        (lambda e: e.update(regions={}), "regions: expected a list, got an object"),
        (lambda e: e.update(regions=[]), "regions: must not be empty"),
        (lambda e: e["regions"][0].pop("importance"), "missing keys regions[0].importance"),
        (lambda e: e.update(warnings="none"), "warnings: expected a list, got a string"),
        (lambda e: e["faces_found"].update(a=True), "faces_found.a: expected a whole number, got true/false"),
        (lambda e: e.update(schema_version=7), "schema_version is 7; this version of facex-chat reads 1 and 2"),
        (lambda e: e.pop("schema_version"), "missing key schema_version"),
        (lambda e: [e.pop(k) for k in ("decision", "regions", "heatmaps")], "missing keys decision, regions, heatmaps"),
    ],
)
def test_malformed_records_give_one_message_naming_the_field(v1, breakage, expected):
    breakage(v1)
    assert expected in _load_error(v1)


def test_not_an_object_and_bad_files(tmp_path, v1):
    assert "must be a JSON object, got a list" in _load_error([1, 2])
    assert "does not exist" in _load_error(tmp_path / "missing.json")
    path = tmp_path / "explanation.json"
    text = json.dumps(v1, indent=2)
    path.write_text(text[: len(text) // 2])  # truncated
    assert "is not valid JSON" in _load_error(tmp_path)  # a folder finds its explanation.json
    path.write_text("")
    assert "is not valid JSON" in _load_error(path)
    path.write_bytes(b"\xff\xfe\x00garbage")
    assert "cannot read" in _load_error(path)


@pytest.mark.parametrize(
    "edit, expected",
    [
        (
            lambda e: e.update(decision="non-match"),
            "the decision is 'non-match' but the similarity 0.9612 is at or above",
        ),
        (
            lambda e: e.update(similarity=0.1, distance=0.9),
            "the decision is 'match' but the similarity 0.1000 is below",
        ),
        (lambda e: e.update(margin=0.5), "the margin +0.5000 is not similarity - threshold"),
        (lambda e: e["table"][0].update(region="ears"), "the table's regions"),
        (lambda e: e.update(most_important_region="ears"), "most_important_region 'ears' is not a present region"),
    ],
)
def test_inconsistent_records_are_reported_as_edited(v1, edit, expected):
    edit(v1)
    with pytest.raises(RecordEditedError, match="was edited or is inconsistent") as info:
        load_record(v1)
    assert expected in str(info.value)
    record = load_record(v1, allow_edited=True)
    assert record.edited and any(expected in p for p in record.problems)


def test_digest_round_trip_and_edits(tmp_path, v1):
    record = load_record(v1)
    written = save_record(record, tmp_path)
    data = json.loads(written.read_text())
    assert data["schema_version"] == 2 and len(data["digest"]) == 64
    assert data["digest"] == record_digest(data) == record_digest({k: v for k, v in data.items() if k != "digest"})
    again = load_record(written)
    assert not again.edited and again.digest == data["digest"]
    assert again.to_dict() == data  # load -> dump is the identity on a saved record
    # the canonical form does not depend on key order or indentation
    shuffled = dict(reversed(list(data.items())))
    assert canonical_json(shuffled) == canonical_json(data) and "digest" not in canonical_json(data)
    # a consistent edit (the calibration's accuracy) is caught by the digest alone
    data["calibration"]["accuracy"] = 0.999
    written.write_text(json.dumps(data, indent=2))
    with pytest.raises(RecordEditedError, match="digest does not match its content"):
        load_record(written)
    flagged = load_record(written, allow_edited=True)
    assert flagged.edited and flagged.problems == ["its digest does not match its content"]
    with pytest.raises(RecordEditedError, match="not signed again"):
        flagged.to_dict()  # an edited record never gets a fresh digest
    assert flagged.model_dump(mode="json")["digest"] == data["digest"]  # it keeps the old one
    # an edited decision is named as such on top of the digest
    data = load_record(v1).to_dict()
    data["decision"] = "non-match"
    with pytest.raises(RecordEditedError) as info:
        load_record(data)
    assert "digest does not match" in str(info.value) and "the decision is 'non-match'" in str(info.value)


def test_records_keep_sections_they_do_not_know(v1):
    """Newer writers may add keys (sections of other parts of the tool): they survive a load and a dump."""
    v1["quality"] = {"a": {"outcome": "pass", "components": []}, "b": {"outcome": "warn", "components": []}}
    v1["regions"][0]["visible_fraction_a"] = 0.9
    v1["something_new"] = {"x": 1}
    record = load_record(copy.deepcopy(v1))
    out = record.to_dict()
    assert out["quality"]["b"]["outcome"] == "warn" and out["something_new"] == {"x": 1}
    assert out["regions"][0]["visible_fraction_a"] == 0.9
    assert not load_record(out).edited


@pytest.mark.parametrize(
    "breakage, expected",
    [
        (lambda e: e["images"].update(a="photo.jpg"), "images.a: expected an object, got a string"),
        (lambda e: e["regions"][0].update(methods="s0"), "regions[0].methods: expected an object, got a string"),
        (lambda e: e.update(decision="non-match"), "was edited or is inconsistent: the decision is 'non-match'"),
    ],
)
def test_chatbot_cli_refuses_a_bad_record_in_one_line(tmp_path, capsys, v1, breakage, expected):
    from chatbot.__main__ import main

    breakage(v1)
    (tmp_path / "explanation.json").write_text(json.dumps(v1))
    questions = tmp_path / "q.txt"
    questions.write_text("What is the decision?\n")
    assert main(["ask", "--explanation", str(tmp_path / "explanation.json"), "--questions", str(questions)]) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err, err
    assert expected in err and captured.out == ""


def test_version_1_one_sided_method_keys_are_renamed():
    """v1 called the one-sided S0 variants s0_a/s0_b (also the names of the S0 maps of photos A/B); v2 renames them."""
    raw = json.loads((FIXTURES / "match_coarse.json").read_text())
    raw["methods"] = [*raw["methods"], "s0_a"]
    raw["one_sided_methods"] = ["s0_a", "s0_b"]
    for region in raw["regions"]:
        if region["present"]:
            region["methods"]["s0_a"] = {"contribution": 0.1, "importance": 4, "delta": -0.001}
            region["methods"]["s0_b"] = {"contribution": 0.2, "importance": 3, "delta": -0.002}
    raw["embeddings_by_method"] = {"s0": 18, "s0_a": 9}
    raw["agreement"]["s0~s0_a"] = 0.5
    record = load_record(raw)
    assert record.methods[-1] == "s0_a_only" and record.one_sided_methods == ["s0_a_only", "s0_b_only"]
    assert {"s0_a_only", "s0_b_only"} <= set(record.present_regions[0].methods)
    assert "s0_a" not in record.present_regions[0].methods
    assert record.embeddings_by_method == {"s0": 18, "s0_a_only": 9} and "s0~s0_a_only" in record.agreement
