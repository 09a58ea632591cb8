"""OFIQ through python-ofiq, run end to end on a data folder these tests build: OFIQ's own configuration file and
tiny models in the formats, input/output names and shapes OFIQ 1.x reads (its real models are a separate 400 MB
download). The models have random weights: OFIQ loads and runs them, so every figure below is a real output of OFIQ's
code on the photo, just not a meaningful one; the tests check the adapter and the record, never the values' meaning.

What OFIQ expects (OFIQ-Project, OFIQlib/modules and src/OFIQImpl.cpp; the same config keys and messages are in the
installed library): every photo goes through an OpenCV-DNN Caffe SSD face detector (a 1x1xNx7 detection blob:
batch, class, confidence, left, top, right, bottom in [0, 1]), the 3DDFA-V2 head pose net (ONNX, input ``input``
1x3xHxW, output ``output`` of >= 7 pose parameters), ADNet landmarks (ONNX, the last output: 98 (x, y) in [-1, 1]
of a 256 px face crop), BiSeNet face parsing (ONNX, 1x3x400x400 -> 1x19x400x400) and the occlusion segmentation
(ONNX, 1x3x224x224 -> its last output 1x1x224x224). The measures with models: Sharpness (an OpenCV random forest over
26 focus features), UnifiedQualityScore (MagFace: 1x3x112x112 -> its first value), CompressionArtifacts
(1x3x248x248 -> its first value), ExpressionNeutrality (two CNNs, 224 and 260 px, giving 1280 and 1408 features,
then an OpenCV AdaBoost).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from models import registry
from models.config import ModelConfig
from models.errors import ModelUnavailableError

needs_ofiq = pytest.mark.skipif(importlib.util.find_spec("ofiq") is None,
                                reason="python-ofiq not installed (pip install .[ofiq])")

# OFIQ's measures in the configuration, and the names its quality vector reports for them (compound measures report
# their parts: Luminance -> LuminanceMean/Variance, HeadPose -> Yaw/Pitch/Roll, CropOfTheFaceImage -> four margins)
MEASURES = [
    "HeadPose", "InterEyeDistance", "NoHeadCoverings", "BackgroundUniformity", "DynamicRange", "ExpressionNeutrality",
    "EyesVisible", "EyesOpen", "FaceOcclusionPrevention", "CropOfTheFaceImage", "IlluminationUniformity",
    "MouthOcclusionPrevention", "MouthClosed", "OverExposurePrevention", "Sharpness", "SingleFacePresent",
    "UnderExposurePrevention", "UnifiedQualityScore", "NaturalColour", "CompressionArtifacts", "Luminance", "HeadSize",
]
REPORTED = (set(MEASURES) - {"HeadPose", "CropOfTheFaceImage", "Luminance"}) | {
    "HeadPoseYaw", "HeadPosePitch", "HeadPoseRoll", "LuminanceMean", "LuminanceVariance",
    "LeftwardCropOfTheFaceImage", "RightwardCropOfTheFaceImage", "MarginAboveOfTheFaceImage",
    "MarginBelowOfTheFaceImage",
}


# --- a Caffe model file without Caffe: NetParameter in protobuf's wire format (caffe.proto field numbers) ---------
def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _bytes_field(number: int, payload: bytes) -> bytes:  # wire type 2 (length-delimited)
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def _caffe_blob(array: np.ndarray) -> bytes:  # BlobProto: shape = 7 (BlobShape: dim = 1, packed), data = 5 (packed)
    array = np.asarray(array, "<f4")
    shape = _bytes_field(1, b"".join(_varint(d) for d in array.shape))
    return _bytes_field(7, shape) + _bytes_field(5, array.tobytes())


def _caffe_layer(name: str, kind: str, blobs: list[np.ndarray]) -> bytes:  # NetParameter.layer = 100
    body = _bytes_field(1, name.encode()) + _bytes_field(2, kind.encode())
    body += b"".join(_bytes_field(7, _caffe_blob(b)) for b in blobs)
    return _bytes_field(100, body)


SSD_PROTOTXT = """name: "tiny_ssd"
input: "data"
input_shape { dim: 1 dim: 3 dim: 300 dim: 300 }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
        convolution_param { num_output: 4 kernel_size: 5 stride: 4 } }
layer { name: "relu" type: "ReLU" bottom: "conv" top: "conv" }
layer { name: "pool" type: "Pooling" bottom: "conv" top: "pool" pooling_param { pool: AVE global_pooling: true } }
layer { name: "fc" type: "InnerProduct" bottom: "pool" top: "fc" inner_product_param { num_output: 7 } }
layer { name: "detection_out" type: "Sigmoid" bottom: "fc" top: "detection_out" }
"""


def _logit(p) -> np.ndarray:
    p = np.asarray(p, np.float64)
    return np.log(p / (1 - p))


def _write_ssd(folder: Path, rng: np.random.Generator) -> None:
    """One detection per photo. Like SSD's prior boxes, the output layer's bias holds a prior (a face box in the
    middle of the padded photo, confidence 0.9); the random weights move it with the pixels."""
    prior = [0.5, 0.5, 0.9, 0.3, 0.25, 0.7, 0.75]  # batch, class, confidence, left, top, right, bottom
    weights = _bytes_field(1, b"tiny_ssd")
    weights += _caffe_layer("conv", "Convolution", [rng.normal(0, 0.01, (4, 3, 5, 5)), np.zeros(4)])
    weights += _caffe_layer("fc", "InnerProduct", [rng.normal(0, 0.001, (7, 4)), _logit(prior)])
    (folder / "ssd.prototxt.txt").write_text(SSD_PROTOTXT)
    (folder / "ssd.caffemodel").write_bytes(weights)


# --- ONNX models --------------------------------------------------------------------------------------------------
def _onnx(name: str, nodes, size: int, out_shape: list[int], weights: dict[str, np.ndarray]):
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    graph = helper.make_graph(
        nodes, name, [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, size, size])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, out_shape)],
        [numpy_helper.from_array(np.asarray(v, np.int64 if k == "shape" else np.float32), k)
         for k, v in weights.items()],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(model)
    return model


def _vector_net(name: str, size: int, bias, rng: np.random.Generator, out_shape: list[int] | None = None,
                scale: float = 0.001):
    """conv 8x8/8 -> ReLU -> global mean -> linear (random weights, ``bias``): a regressor of len(bias) values."""
    from onnx import helper

    bias = np.asarray(bias, np.float32).ravel()
    nodes = [helper.make_node("Conv", ["input", "w1"], ["c"], kernel_shape=[8, 8], strides=[8, 8]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "w2", "b2"], ["g" if out_shape else "output"], transB=1)]
    weights = {"w1": rng.normal(0, 0.05, (4, 3, 8, 8)), "w2": rng.normal(0, scale, (bias.size, 4)), "b2": bias}
    if out_shape:
        nodes.append(helper.make_node("Reshape", ["g", "shape"], ["output"]))
        weights["shape"] = np.asarray(out_shape)
    return _onnx(name, nodes, size, out_shape or [1, bias.size], weights)


def _segmentation_net(name: str, size: int, classes: int, rng: np.random.Generator, bias: float = 0.0):
    """A 3x3 convolution giving ``classes`` score maps the size of its input."""
    from onnx import helper

    nodes = [helper.make_node("Conv", ["input", "w", "b"], ["output"], kernel_shape=[3, 3], pads=[1, 1, 1, 1])]
    weights = {"w": rng.normal(0, 0.1, (classes, 3, 3, 3)), "b": np.full(classes, bias)}
    return _onnx(name, nodes, size, [1, classes, size, size], weights)


def _adnet_mean_shape() -> np.ndarray:
    """A (98, 2) face in [-1, 1] crop coordinates, numbered as ADNet's (WFLW) 98 landmarks (OFIQ's
    adnet_FaceMap.h: contour 0-32 with the chin at 16, brows 33-50, nose 51-59 with the tip at 54, eyes 60-67 and
    68-75 from the outer corner, mouth 76-87 and 88-95, pupils 96-97)."""
    pts = np.zeros((98, 2))
    t = np.linspace(np.pi, 0, 33)
    pts[0:33] = np.c_[0.5 - 0.42 * np.cos(t), 0.42 + 0.52 * np.sin(t)]
    arch = 0.3 - 0.04 * np.sin(np.linspace(0, np.pi, 9))
    pts[33:42] = np.c_[np.linspace(0.15, 0.45, 9), arch]
    pts[42:51] = np.c_[np.linspace(0.55, 0.85, 9), arch]
    pts[51:55] = np.c_[np.full(4, 0.5), np.linspace(0.42, 0.6, 4)]
    pts[55:60] = np.c_[np.linspace(0.42, 0.58, 5), np.full(5, 0.64)]
    ring8 = np.linspace(np.pi, -np.pi, 9)[:8]  # corner, upper lid, other corner, lower lid
    for start, cx in ((60, 0.32), (68, 0.68)):
        pts[start:start + 8] = np.c_[cx - 0.1 * np.cos(ring8), 0.42 - 0.035 * np.sin(ring8)]
    ring12 = np.linspace(np.pi, -np.pi, 13)[:12]
    pts[76:88] = np.c_[0.5 - 0.14 * np.cos(ring12), 0.78 - 0.05 * np.sin(ring12)]
    pts[88:96] = np.c_[0.5 - 0.1 * np.cos(ring8), 0.78 - 0.01 * np.sin(ring8)]
    pts[96], pts[97] = (0.32, 0.42), (0.68, 0.42)
    return pts * 2 - 1


def _trees(rng: np.random.Generator, n_features: int, boost: bool):
    """An OpenCV random forest (Sharpness) or AdaBoost (ExpressionNeutrality) trained on random features."""
    import cv2

    x = rng.normal(0, 1, (48, n_features)).astype(np.float32)
    y = (x[:, 0] + 0.5 * rng.normal(0, 1, 48) > 0).astype(np.int32)
    model = cv2.ml.Boost_create() if boost else cv2.ml.RTrees_create()
    model.setMaxDepth(2)
    if boost:
        model.setWeakCount(8)
    else:
        model.setTermCriteria((cv2.TERM_CRITERIA_MAX_ITER, 10, 0))
    assert model.train(x, cv2.ml.ROW_SAMPLE, y)
    return model


CONFIG = {"config": {
    "detector": "ssd", "landmarks": "ADNet", "measures": MEASURES,
    "params": {
        "detector": {"ssd": {"model_path": "models/ssd.caffemodel", "prototxt_path": "models/ssd.prototxt.txt",
                             "confidence_thr": 0.4, "min_rel_face_size": 0.05, "padding": 0.2}},
        "landmarks": {"ADNet": {"model_path": "models/adnet.onnx"}},
        "measures": {
            "HeadPose": {"model_path": "models/pose.onnx"},
            "FaceParsing": {"model_path": "models/parsing.onnx"},
            "FaceOcclusionSegmentation": {"model_path": "models/occlusion.onnx"},
            "Sharpness": {"model_path": "models/sharpness.xml.gz"},
            "UnifiedQualityScore": {"model_path": "models/uqs.onnx"},
            "CompressionArtifacts": {"model_path": "models/compression.onnx"},
            "ExpressionNeutrality": {"cnn1_model_path": "models/expression1.onnx",
                                     "cnn2_model_path": "models/expression2.onnx",
                                     "adaboost_model_path": "models/expression.yml.gz"},
        },
    },
}}


def build_ofiq_data(root: Path, config: dict | None = None) -> Path:
    """Write OFIQ's data folder (``ofiq_config.jaxn`` + ``models/``) with tiny random-weight models into ``root``."""
    import onnx

    models = root / "models"
    models.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    _write_ssd(models, rng)
    onnx.save(_vector_net("adnet", 256, _adnet_mean_shape(), rng, out_shape=[1, 98, 2]), models / "adnet.onnx")
    onnx.save(_vector_net("pose", 120, np.zeros(62), rng, scale=0.01), models / "pose.onnx")  # 3DDFA's 62 params
    onnx.save(_segmentation_net("parsing", 400, 19, rng), models / "parsing.onnx")
    onnx.save(_segmentation_net("occlusion", 224, 1, rng, bias=1.0), models / "occlusion.onnx")
    onnx.save(_vector_net("uqs", 112, [23.0], rng, scale=1.0), models / "uqs.onnx")  # a MagFace norm near 23
    onnx.save(_vector_net("compression", 248, [0.33], rng, scale=0.1), models / "compression.onnx")
    onnx.save(_vector_net("expression1", 224, np.zeros(1280), rng, scale=0.1), models / "expression1.onnx")
    onnx.save(_vector_net("expression2", 260, np.zeros(1408), rng, scale=0.1), models / "expression2.onnx")
    _trees(rng, 26, boost=False).save(str(models / "sharpness.xml.gz"))
    _trees(rng, 1280 + 1408, boost=True).save(str(models / "expression.yml.gz"))
    (root / "ofiq_config.jaxn").write_text(json.dumps(config or CONFIG, indent=1))
    return root


@pytest.fixture(scope="session")
def ofiq_data(tmp_path_factory) -> Path:
    return build_ofiq_data(tmp_path_factory.mktemp("ofiq_data"))


def _variant(tmp_path: Path, ofiq_data: Path, edit) -> Path:
    """A copy of the built folder with its configuration edited by ``edit(config, models_folder)``."""
    root = tmp_path / "ofiq_variant"
    shutil.copytree(ofiq_data, root)
    config = copy.deepcopy(CONFIG)
    edit(config, root / "models")
    (root / "ofiq_config.jaxn").write_text(json.dumps(config))
    return root


def _config(tmp_path, monkeypatch, data: Path) -> ModelConfig:
    monkeypatch.delenv("OFIQ_DATA_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return ModelConfig(model_dir=tmp_path / "models", allow_downloads=False, quality="ofiq",
                       paths={"quality": str(data)})


@pytest.fixture(scope="module")
def ofiq_backend(ofiq_data, tmp_path_factory):
    config = ModelConfig(model_dir=tmp_path_factory.mktemp("no_models"), allow_downloads=False, quality="ofiq",
                         paths={"quality": str(ofiq_data)})
    return registry.create("quality", config)


def _check_vector(measures: dict) -> None:
    assert set(measures) == REPORTED
    for name, value in measures.items():
        if value is None:
            continue
        assert set(value) == {"scalar", "raw"}, name
        assert type(value["scalar"]) is float and type(value["raw"]) is float, name
        assert 0.0 <= value["scalar"] <= 100.0 and math.isfinite(value["raw"]), (name, value)


@needs_ofiq
def test_the_built_folder_is_described_as_available(ofiq_data, tmp_path, monkeypatch):
    info = next(i for i in registry.describe_all(_config(tmp_path, monkeypatch, ofiq_data))
                if i.capability == "quality")
    assert info.name == "ofiq" and info.available and info.source == str(ofiq_data)


@needs_ofiq
def test_ofiq_measures_a_photo_with_its_own_names(ofiq_backend, astronaut):
    import ofiq

    assert ofiq_backend.name == "ofiq" and ofiq_backend.version == ofiq.__ofiq_version__
    measures = ofiq_backend.measure(astronaut)
    _check_vector(measures)
    computed = {k for k, v in measures.items() if v is not None}
    # the measures that read the pixels, the landmarks and the masks, and those with their own models, all ran
    assert {"LuminanceMean", "DynamicRange", "HeadPoseYaw", "InterEyeDistance", "EyesVisible", "Sharpness",
            "UnifiedQualityScore", "CompressionArtifacts", "ExpressionNeutrality"} <= computed
    assert ofiq_backend.measure(astronaut.copy()) == measures  # deterministic


@needs_ofiq
def test_ofiq_figures_follow_the_pixels(ofiq_backend, astronaut):
    """The same folder on a photo darkened to a third: OFIQ's luminance and exposure figures move the right way."""
    bright = ofiq_backend.measure(astronaut)
    dark = ofiq_backend.measure((astronaut // 3).astype(np.uint8))
    _check_vector(dark)
    assert dark["LuminanceMean"]["raw"] < 0.5 * bright["LuminanceMean"]["raw"]
    assert dark["UnderExposurePrevention"]["raw"] > bright["UnderExposurePrevention"]["raw"]  # share of dark pixels


@needs_ofiq
def test_ofiq_finding_no_face_gives_an_empty_vector(ofiq_data, tmp_path, monkeypatch, astronaut):
    def strict(config, models):  # the detector's confidence (0.9 by its prior) never reaches 0.999
        config["config"]["params"]["detector"]["ssd"]["confidence_thr"] = 0.999

    data = _variant(tmp_path, ofiq_data, strict)
    assert registry.create("quality", _config(tmp_path, monkeypatch, data)).measure(astronaut) == {}


def _wrong_input_size(config, models):
    import onnx

    onnx.save(_segmentation_net("occlusion", 112, 1, np.random.default_rng(1)), models / "occlusion_112.onnx")
    config["config"]["params"]["measures"]["FaceOcclusionSegmentation"]["model_path"] = "models/occlusion_112.onnx"


def _not_a_model(config, models):
    (models / "adnet.onnx").write_bytes(b"this is not an ONNX file")


@needs_ofiq
@pytest.mark.parametrize("edit, where, reason", [
    (_wrong_input_size, "failed on the photo", r"Occlusion segment generation failed: .*Expected: 112"),
    (_not_a_model, "could not start", "ADNet"),
], ids=["wrong-input-size", "not-a-model"])
def test_a_wrong_model_file_is_one_clear_line(ofiq_data, tmp_path, monkeypatch, astronaut, edit, where, reason):
    data = _variant(tmp_path, ofiq_data, edit)
    with pytest.raises(ModelUnavailableError, match=reason) as info:
        registry.create("quality", _config(tmp_path, monkeypatch, data)).measure(astronaut)
    message = str(info.value)
    assert message.startswith("OFIQ") and where in message and str(data) in message and "\n" not in message


@needs_ofiq
def test_the_record_carries_ofiqs_figures_as_reference(ofiq_data, ofiq_backend, tmp_path, monkeypatch, astronaut):
    """FACEX_QUALITY=ofiq through the CLI: explanation.json's quality.<photo>.reference holds OFIQ's vector of
    that photo (the same figures as the backend gives for its pixels), beside the project's own components."""
    from PIL import Image

    from explain_engine.__main__ import main

    monkeypatch.setenv("FACEX_QUALITY", "ofiq")
    monkeypatch.setenv("FACEX_QUALITY_PATH", str(ofiq_data))
    monkeypatch.delenv("OFIQ_DATA_DIR", raising=False)
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    mirrored = np.ascontiguousarray(astronaut[:, ::-1])
    Image.fromarray(astronaut).save(a)
    Image.fromarray(mirrored).save(b)
    out = tmp_path / "out"
    assert main(["explain", str(a), str(b), "--out", str(out), "--methods", "s0", "--quiet"]) == 0
    record = json.loads((out / "explanation.json").read_text())
    for side, pixels in (("a", astronaut), ("b", mirrored)):
        reference = record["quality"][side]["reference"]
        assert reference["backend"] == "ofiq" and reference["version"] == ofiq_backend.version
        _check_vector(reference["measures"])
        assert reference["measures"] == ofiq_backend.measure(pixels)
        assert record["quality"][side]["components"]  # the project's own measures stay beside them


@needs_ofiq
def test_the_cli_with_a_broken_ofiq_model_is_one_error_line_and_writes_nothing(ofiq_data, tmp_path, monkeypatch,
                                                                                 astronaut, capsys):
    from PIL import Image

    from explain_engine.__main__ import EXIT_BAD_INPUT, main

    data = _variant(tmp_path, ofiq_data, _wrong_input_size)
    monkeypatch.setenv("FACEX_QUALITY", "ofiq")
    monkeypatch.setenv("FACEX_QUALITY_PATH", str(data))
    monkeypatch.delenv("OFIQ_DATA_DIR", raising=False)
    a = tmp_path / "a.png"
    Image.fromarray(astronaut).save(a)
    out = tmp_path / "never"
    capsys.readouterr()
    assert main(["explain", str(a), str(a), "--out", str(out), "--methods", "s0", "--quiet"]) == EXIT_BAD_INPUT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "OFIQ's models in" in err[0] and "Expected: 112" in err[0]
    assert not out.exists()


@needs_ofiq
def test_a_photo_too_large_for_ofiq_is_an_image_error(ofiq_backend):
    from models.errors import ImageError
    from models.ofiq import MAX_SIDE

    assert set(ofiq_backend.measure(np.full((MAX_SIDE - 1, 16, 3), 128, np.uint8))) == REPORTED  # OFIQ still runs
    with pytest.raises(ImageError, match=f"under {MAX_SIDE} pixels a side.*16x{MAX_SIDE}"):
        ofiq_backend.measure(np.full((MAX_SIDE, 16, 3), 128, np.uint8))
    with pytest.raises(ImageError, match=r"\(H, W, 3\) uint8"):
        ofiq_backend.measure(np.zeros((64, 64), np.uint8))


def test_the_policys_ofiq_names_are_names_ofiq_reports():
    """Each component's ``ofiq:`` name in the quality policy is a key of OFIQ's own quality vector (as the run above
    reports it), so a reader can set the reference figure beside the component."""
    from explain_engine.quality import load_policy

    named = {rule.name: [n.strip() for n in rule.ofiq.split(",")]
             for rule in load_policy().components.values() if rule.ofiq}
    assert named and "face_cut_off" in named
    unknown = {(name, n) for name, names in named.items() for n in names if n not in REPORTED}
    assert not unknown
