"""Configuration, the backend registry, model-path resolution and the ``python -m models`` listing."""

from __future__ import annotations

import json

import pytest

from models import registry
from models.config import ModelConfig
from models.errors import ConfigError, ModelNotFoundError
from models.runtime import resolve_model_path


def test_defaults_are_offline(monkeypatch):
    for var in ("FACEX_ALLOW_DOWNLOADS", "FACEX_EMBEDDER", "FACEX_QA"):
        monkeypatch.delenv(var, raising=False)
    config = ModelConfig.from_env()
    assert config.allow_downloads is False
    assert config.embedder == "dlib-torch" and config.qa is None


def test_env_overrides_and_paths(monkeypatch, tmp_path):
    monkeypatch.setenv("FACEX_EMBEDDER", "arcface")
    monkeypatch.setenv("FACEX_EMBEDDER_PATH", str(tmp_path))
    monkeypatch.setenv("FACEX_ALLOW_DOWNLOADS", "yes")
    config = ModelConfig.from_env(inpainter="ns")
    assert (config.embedder, config.inpainter, config.allow_downloads) == ("arcface", "ns", True)
    assert config.path_for("embedder") == str(tmp_path)


@pytest.mark.parametrize("kwargs", [{"device": "tpu"}, {"threads": 0}])
def test_bad_config_values(kwargs):
    with pytest.raises(ConfigError):
        ModelConfig(**kwargs)


def test_unknown_backend_names_are_clear():
    with pytest.raises(ConfigError, match="choose one of"):
        registry.create("embedder", ModelConfig(), name="facenet-9000")
    with pytest.raises(ConfigError, match="unknown capability"):
        registry.create("telepathy", ModelConfig(), name="x")
    with pytest.raises(ConfigError, match="no qa backend"):
        registry.create("qa", ModelConfig(qa=None))


def test_every_registered_backend_resolves_to_a_class():
    for capability, names in registry.BACKENDS.items():
        for name in names:
            cls = registry.backend_class(capability, name)
            assert callable(cls.from_config) and callable(cls.describe)


def test_resolve_model_path(tmp_path):
    config = ModelConfig(model_dir=tmp_path)
    (tmp_path / "pack").mkdir()
    (tmp_path / "pack" / "model.onnx").write_bytes(b"x")
    assert resolve_model_path("pack", config, default_subdir="pack", must_contain=("model.onnx",)) == tmp_path / "pack"
    with pytest.raises(ModelNotFoundError, match="not found at .*allow downloads"):
        resolve_model_path("other", config, default_subdir="other")
    # A folder missing a required file does not count as found.
    with pytest.raises(ModelNotFoundError):
        resolve_model_path("pack", config, default_subdir="pack", must_contain=("weights.bin",))


def test_downloads_only_when_allowed(tmp_path):
    calls = []

    def fake_download(target):
        calls.append(target)
        target.mkdir(parents=True)
        return target

    with pytest.raises(ModelNotFoundError):
        resolve_model_path("m", ModelConfig(model_dir=tmp_path), default_subdir="m", download=fake_download)
    assert calls == []
    got = resolve_model_path(
        "m", ModelConfig(model_dir=tmp_path, allow_downloads=True), default_subdir="m", download=fake_download
    )
    assert got == tmp_path / "m" and calls == [tmp_path / "m"]


def test_models_cli_lists_defaults_as_available(capsys, monkeypatch):
    from models.__main__ import main

    for var in ("FACEX_EMBEDDER", "FACEX_INPAINTER", "FACEX_SENTENCE", "FACEX_DETECTOR"):
        monkeypatch.delenv(var, raising=False)
    assert main(["--json"]) == 0
    infos = json.loads(capsys.readouterr().out)
    selected = {(i["capability"], i["name"]): i for i in infos if i["extra"].get("selected")}
    for key in [("detector", "mediapipe"), ("embedder", "dlib-torch"), ("landmarks", "mediapipe"),
                ("parser", "approx"), ("inpainter", "telea"), ("sentence", "minilm")]:
        assert key in selected and selected[key]["available"], key
    # Reference models without local files are listed as unavailable, not crashing the listing.
    arcface = next(i for i in infos if i["name"] == "arcface")
    assert arcface["available"] is False
