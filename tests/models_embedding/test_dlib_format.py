"""The reader of dlib's serialised DNN format: primitives on hand-made bytes, and the real model file."""

from __future__ import annotations

import numpy as np
import pytest

from models.embedding.dlib_format import (
    DlibFormatError,
    _Reader,
    parse_dlib_network,
    read_dlib_network,
)
from models.errors import ModelNotFoundError


def test_integer_encoding():
    # control byte: low nibble = payload bytes, 0x80 = negative; payload little-endian
    r = _Reader(bytes([0x01, 0x05, 0x02, 0x34, 0x12, 0x81, 0x1C]))
    assert (r.int(), r.int(), r.int()) == (5, 0x1234, -28)
    with pytest.raises(DlibFormatError):
        _Reader(bytes([0x00])).int()
    with pytest.raises(DlibFormatError, match="end of file"):
        _Reader(bytes([0x02, 0x01])).int()


def test_float_encoding():
    # float_details: mantissa 0xa3d70a, exponent -28 -> 0.04 (loss_metric's margin in the real file)
    r = _Reader(bytes([0x03, 0x0A, 0xD7, 0xA3, 0x81, 0x1C]))
    assert r.float() == pytest.approx(0.04, rel=1e-6)
    assert _Reader(bytes([0x01, 0x03, 0x01, 0x01])).float() == 6.0
    with pytest.raises(DlibFormatError, match="ASCII"):
        _Reader(b"0.5 ").float()


def test_bool_string_and_tensor():
    r = _Reader(b"10" + bytes([0x01, 0x03]) + b"abc")
    assert r.bool() is True and r.bool() is False and r.string() == "abc"
    values = np.arange(6, dtype="<f4")
    blob = bytes([0x01, 0x02, 0x01, 0x01, 0x01, 0x02, 0x01, 0x03, 0x01, 0x01]) + values.tobytes()
    t = _Reader(blob).tensor()
    assert t.shape == (1, 2, 3, 1) and np.array_equal(t.ravel(), values)


def test_real_model_file(dlib_model_path):
    net = read_dlib_network(dlib_model_path)
    assert net.loss.tag == "loss_metric_2" and net.loss.attrs["dist_thresh"] == pytest.approx(0.6)
    inp = net.input
    assert inp.kind == "input_rgb_image_sized" and (inp.attrs["nr"], inp.attrs["nc"]) == (150, 150)
    # dlib's input_rgb_image: (pixel - channel mean) / 256
    assert inp.attrs["avg_red"] == pytest.approx(122.782, abs=1e-4)
    assert inp.attrs["avg_green"] == pytest.approx(117.001, abs=1e-4)
    assert inp.attrs["avg_blue"] == pytest.approx(104.298, abs=1e-4)
    assert inp.attrs["scale"] == 1 / 256
    kinds = [layer.kind for layer in net.layers]
    assert kinds.count("con") == 29 and kinds.count("affine") == 29 and kinds.count("add_prev") == 14
    first = net.layers[1]
    assert first.params["weight"].shape == (32, 3, 7, 7) and first.attrs["stride_y"] == 2
    assert first.attrs["padding_y"] == 0  # dlib does not pad strided convolutions
    fc = net.layers[-1]
    assert fc.kind == "fc" and fc.params["weight"].shape == (256, 128) and "bias" not in fc.params
    assert all(np.isfinite(p).all() for layer in net.layers for p in layer.params.values())


def test_truncated_or_foreign_files_raise(dlib_model_path, tmp_path):
    data = dlib_model_path.read_bytes()
    with pytest.raises(DlibFormatError, match="end of file"):
        parse_dlib_network(data[: len(data) // 2])
    with pytest.raises(DlibFormatError):
        parse_dlib_network(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    with pytest.raises(DlibFormatError, match="unread bytes"):
        parse_dlib_network(data + b"\x01\x01")
    with pytest.raises(ModelNotFoundError):
        read_dlib_network(tmp_path / "missing.dat")
