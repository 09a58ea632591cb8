"""FACEX_THREADS and FACEX_DEVICE mistakes give one line and exit 2 in every command line, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from models.config import ModelConfig
from models.errors import ConfigError


@pytest.mark.parametrize("value", ["abc", "2.5", "0", "-1"])
def test_threads_must_be_a_whole_number(monkeypatch, value):
    monkeypatch.setenv("FACEX_THREADS", value)
    with pytest.raises(ConfigError, match="FACEX_THREADS"):
        ModelConfig.from_env()


def test_threads_default_and_valid_value(monkeypatch):
    monkeypatch.setenv("FACEX_THREADS", " 3 ")
    assert ModelConfig.from_env().threads == 3
    monkeypatch.delenv("FACEX_THREADS")
    assert ModelConfig.from_env().threads >= 1


def test_cuda_without_cuda_is_a_config_error(monkeypatch):
    from models import runtime

    monkeypatch.setattr(runtime, "_cuda_available", lambda: False)
    with pytest.raises(ConfigError, match="FACEX_DEVICE=cuda"):
        runtime.torch_device(ModelConfig(device="cuda"))
    assert runtime.torch_device(ModelConfig(device="auto")) == "cpu"


def _questions(tmp_path):
    q = tmp_path / "q.txt"
    q.write_text("what is the most important region?\n")
    return q


@pytest.mark.parametrize("cli", ["models", "explain_engine", "chatbot"])
def test_bad_threads_in_every_cli(cli, monkeypatch, tmp_path, photo_files, capsys, one_line):
    monkeypatch.setenv("FACEX_THREADS", "abc")
    if cli == "models":
        from models.__main__ import main

        rc = main([])
    elif cli == "explain_engine":
        from explain_engine.__main__ import main

        rc = main(["verify", str(photo_files["a"]), str(photo_files["b"])])
    else:
        from chatbot.__main__ import main

        rc = main(["ask", "--explanation", str(tmp_path / "explanation.json"), "--questions", str(_questions(tmp_path))])
    assert rc == 2
    assert "FACEX_THREADS" in one_line(capsys.readouterr().err)


@pytest.mark.parametrize("cli", ["explain_engine", "chatbot"])
def test_cuda_without_cuda_in_every_cli(cli, monkeypatch, tmp_path, photo_files, capsys, one_line):
    from models import runtime

    monkeypatch.setattr(runtime, "_cuda_available", lambda: False)
    monkeypatch.setenv("FACEX_DEVICE", "cuda")
    if cli == "explain_engine":
        from explain_engine.__main__ import main

        rc = main(["verify", str(photo_files["a"]), str(photo_files["b"])])
    else:
        from chatbot.__main__ import main
        record = Path(__file__).resolve().parents[1] / "chatbot" / "fixtures" / "match_coarse.json"
        rc = main(["ask", "--explanation", str(record), "--questions", str(_questions(tmp_path))])
    assert rc == 2
    assert "FACEX_DEVICE=cuda" in one_line(capsys.readouterr().err)


def test_cuda_without_cuda_for_onnx_models(tmp_path, monkeypatch):
    import onnxruntime as ort

    from models import runtime

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with pytest.raises(ConfigError, match="FACEX_DEVICE=cuda"):
        runtime.onnx_session(tmp_path / "any.onnx", ModelConfig(device="cuda"))
