"""OFIQ through python-ofiq as an optional reference backend: registered, described, and "not found" without its
separately downloaded data folder, like the other reference models."""

from __future__ import annotations

import importlib.util
import json

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


@pytest.mark.skipif(not HAS_OFIQ, reason="python-ofiq not installed")
def test_missing_model_files_are_named_in_ofiqs_own_words(tmp_path, monkeypatch):
    """A data folder whose configuration names model files that are not there: the real OFIQ constructor refuses
    and the message passes OFIQ's own reason (the missing file) on in one line."""
    data = tmp_path / "ofiq"
    (data / "models").mkdir(parents=True)
    onnx = "models/face_occlusion_segmentation/face_occlusion_segmentation_ort.onnx"
    (data / "ofiq_config.jaxn").write_text(json.dumps({"config": {
        "detector": "ssd", "landmarks": "ADNet", "measures": ["Luminance"],
        "params": {
            "detector": {"ssd": {"model_path": "models/face_detection/ssd_facedetect.caffemodel",
                                 "prototxt_path": "models/face_detection/ssd_facedetect.prototxt.txt",
                                 "confidence_thr": 0.4, "min_rel_face_size": 0.05, "padding": 0.2}},
            "landmarks": {"ADNet": {"model_path": "models/face_landmark_estimation/ADNet.onnx"}},
            "measures": {"FaceOcclusionSegmentation": {"model_path": onnx},
                         "FaceParsing": {"model_path": "models/face_parsing/bisenet_400.onnx"}}}}}))
    config = _config(tmp_path, monkeypatch, paths={"quality": str(data)})
    with pytest.raises(ModelUnavailableError) as info:
        registry.create("quality", config, "ofiq")
    message = str(info.value)
    assert message.startswith(f"OFIQ could not start from {data}") and onnx in message and "\n" not in message


@pytest.mark.skipif(not HAS_OFIQ, reason="python-ofiq not installed")
def test_a_failed_download_is_one_clear_line(tmp_path, monkeypatch):
    """FACEX_ALLOW_DOWNLOADS=1 where OFIQ's servers cannot be reached: "not found", with why, not a traceback. The
    network is the only thing replaced here (python-ofiq's own setup() runs)."""
    import sys
    import urllib.error

    import ofiq  # noqa: F401 (loads ofiq.setup, the module whose download is replaced)

    def unreachable(url, *args, **kwargs):
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr(sys.modules["ofiq.setup"], "urlretrieve", unreachable)
    config = _config(tmp_path, monkeypatch, quality="ofiq")
    config.allow_downloads = True
    with pytest.raises(ModelNotFoundError, match="downloading its data .* failed .*no route to host"):
        registry.create("quality", config)
