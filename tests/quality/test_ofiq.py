"""OFIQ through python-ofiq as an optional reference backend: registered, described, and "not found" without its
separately downloaded data folder, like the other reference models."""

from __future__ import annotations

import importlib.util

import pytest

from models import registry
from models.config import ModelConfig
from models.errors import ModelNotFoundError, ModelUnavailableError

HAS_OFIQ = importlib.util.find_spec("ofiq") is not None


def _config(tmp_path, monkeypatch, **kw) -> ModelConfig:
    monkeypatch.delenv("OFIQ_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.ofiq/data
    return ModelConfig(model_dir=tmp_path / "models", allow_downloads=False, **kw)


def test_registered_and_off_by_default():
    assert "ofiq" in registry.BACKENDS["quality"]
    assert ModelConfig().quality is None
    assert ModelConfig.from_env().quality in (None, "ofiq")


def test_described_as_not_found_without_data(tmp_path, monkeypatch):
    config = _config(tmp_path, monkeypatch, quality="ofiq")
    info = next(i for i in registry.describe_all(config) if i.capability == "quality")
    assert info.name == "ofiq" and not info.available and info.extra["selected"]
    assert ("not found" in info.detail) if HAS_OFIQ else ("not installed" in info.detail)


def test_create_without_data_is_model_not_found(tmp_path, monkeypatch):
    config = _config(tmp_path, monkeypatch, quality="ofiq")
    expected = ModelNotFoundError if HAS_OFIQ else ModelUnavailableError
    with pytest.raises(expected, match="OFIQ|ofiq"):
        registry.create("quality", config)


def test_pipeline_with_ofiq_selected_fails_up_front(tmp_path, monkeypatch):
    from explain_engine.pipeline import FacePipeline

    config = _config(tmp_path, monkeypatch, quality="ofiq")
    with pytest.raises((ModelNotFoundError, ModelUnavailableError)):
        FacePipeline(config)


@pytest.mark.skipif(not HAS_OFIQ, reason="python-ofiq not installed")
def test_data_folder_is_found_where_documented(tmp_path, monkeypatch):
    from models.ofiq import find_data_dir

    config = _config(tmp_path, monkeypatch, paths={"quality": str(tmp_path / "explicit")})
    assert find_data_dir(config) is None
    data = tmp_path / "models" / "ofiq"
    (data / "models").mkdir(parents=True)
    (data / "ofiq_config.jaxn").write_text("{}")
    assert find_data_dir(config) == data
    # a folder that looks right but holds no usable models: a clear error, not a crash
    with pytest.raises(ModelUnavailableError, match="OFIQ could not start"):
        registry.create("quality", config, "ofiq")
