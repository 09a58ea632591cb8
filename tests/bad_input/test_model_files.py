"""Corrupt model files (dlib's .dat, ONNX protobuf) and missing ones: plain messages that name real switches."""

from __future__ import annotations

import pytest

from models.config import ModelConfig
from models.errors import FaceXError, ModelFileError, ModelNotFoundError


@pytest.fixture
def corrupt_dat(tmp_path):
    path = tmp_path / "dlib_face_recognition_resnet_model_v1.dat"
    path.write_bytes(b"\x00\x01not a dlib network at all" * 40)
    return path


def test_corrupt_dlib_network_torch(corrupt_dat):
    from models.embedding.dlib_torch import DlibTorchEmbedder

    with pytest.raises(ModelFileError, match="not a readable dlib face-recognition network") as info:
        DlibTorchEmbedder(corrupt_dat, config=ModelConfig(device="cpu"))
    assert str(corrupt_dat) in str(info.value) and "FACEX_EMBEDDER_PATH" in str(info.value)


def test_corrupt_dlib_network_native(corrupt_dat):
    pytest.importorskip("dlib")
    from models.embedding.dlib_native import DlibNativeEmbedder

    with pytest.raises(ModelFileError, match="not a readable dlib"):
        DlibNativeEmbedder(corrupt_dat, config=ModelConfig(device="cpu"))


def test_corrupt_shape_predictor(tmp_path):
    pytest.importorskip("dlib")
    from models.detection import DlibHogDetector

    bad = tmp_path / "shape_predictor_5_face_landmarks.dat"
    bad.write_bytes(b"garbage" * 100)
    with pytest.raises(ModelFileError, match="shape predictor"):
        DlibHogDetector(predictor_path=str(bad))


def test_invalid_onnx_protobuf(tmp_path):
    from models.runtime import onnx_session

    bad = tmp_path / "model.onnx"
    bad.write_bytes(b"\x08\x07 this is not protobuf \xff\xfe" * 20)
    with pytest.raises(ModelFileError, match="not a loadable ONNX model"):
        onnx_session(bad, ModelConfig(device="cpu"))
    from models.registry import create

    with pytest.raises(FaceXError):
        create("embedder", ModelConfig(device="cpu", paths={"embedder": str(bad)}), "onnx")


def test_corrupt_model_in_the_cli(corrupt_dat, photo_files, monkeypatch, capsys, one_line):
    from explain_engine.__main__ import main

    monkeypatch.setenv("FACEX_EMBEDDER_PATH", str(corrupt_dat))
    rc = main(["verify", str(photo_files["a"]), str(photo_files["b"])])
    assert rc == 2 and "not a readable dlib" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize("capability, backend, variable", [
    ("embedder", "onnx", "FACEX_EMBEDDER_PATH"),
    ("parser", "bisenet", "FACEX_PARSER_PATH"),
    ("inpainter", "lama", "FACEX_INPAINTER_PATH"),
])
def test_not_found_messages_name_real_switches(capability, backend, variable, tmp_path):
    from models.registry import create

    with pytest.raises(ModelNotFoundError) as info:
        create(capability, ModelConfig(device="cpu", model_dir=tmp_path, allow_downloads=False), backend)
    message = str(info.value)
    assert variable in message and "--model-path" not in message


def test_no_message_mentions_a_switch_that_does_not_exist():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "models"
    offenders = [str(p) for p in root.rglob("*.py") if re.search(r"--model-path", p.read_text())]
    assert offenders == []
