"""A tiny random-weight network written in dlib's serialisation format here, then loaded through the real
reader and torch builder and checked against a direct computation (convolution with affine, a residual block,
an fc layer with bias, the old affine record without its mode field)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.embedding.dlib_format import read_dlib_network
from models.embedding.dlib_torch import load_dlib_resnet


def enc_int(v: int) -> bytes:
    mag = abs(int(v)).to_bytes(8, "little").rstrip(b"\0") or b"\0"
    return bytes([len(mag) | (0x80 if v < 0 else 0)]) + mag


def enc_float(v: float) -> bytes:
    m, e = math.frexp(v)
    return enc_int(int(m * 2**53)) + enc_int(e - 53 if m else 0)


def enc_str(s: str) -> bytes:
    return enc_int(len(s)) + s.encode()


def enc_tensor(a: np.ndarray) -> bytes:
    shape = (list(a.shape) + [1, 1, 1, 1])[:4]
    return enc_int(2) + b"".join(enc_int(d) for d in shape) + a.astype("<f4").tobytes()


def enc_alias(*shape: int) -> bytes:
    return enc_int(1) + b"".join(enc_int(d) for d in shape)


EMPTY = enc_tensor(np.zeros((0,), np.float32))
TRAILER = b"010" + EMPTY * 3  # bools, x_grad, cached_output, params_grad


def con(w: np.ndarray, b: np.ndarray, stride: int, pad: int) -> bytes:
    n, k, r, c = w.shape
    return (enc_str("con_4") + enc_tensor(np.concatenate([w.ravel(), b])) + enc_int(n) + enc_int(r) + enc_int(c)
            + enc_int(stride) * 2 + enc_int(pad) * 2 + enc_alias(n, k, r, c) + enc_alias(1, n, 1, 1)
            + enc_float(1.0) * 4)


def affine(g: np.ndarray, b: np.ndarray, with_mode: bool = True) -> bytes:
    n = len(g)
    out = enc_str("affine_") + enc_tensor(np.concatenate([g, b])) + enc_alias(1, n, 1, 1) * 2
    return out + (enc_int(0) if with_mode else b"")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    rng = np.random.default_rng(3)
    p = {
        "w1": rng.normal(0, 0.3, (4, 3, 3, 3)).astype(np.float32), "b1": rng.normal(0, 0.1, 4).astype(np.float32),
        "g1": rng.uniform(0.5, 1.5, 4).astype(np.float32), "be1": rng.normal(0, 0.1, 4).astype(np.float32),
        "w2": rng.normal(0, 0.3, (4, 4, 3, 3)).astype(np.float32), "b2": rng.normal(0, 0.1, 4).astype(np.float32),
        "g2": rng.uniform(0.5, 1.5, 4).astype(np.float32), "be2": rng.normal(0, 0.1, 4).astype(np.float32),
        "fw": rng.normal(0, 0.5, (4, 5)).astype(np.float32), "fb": rng.normal(0, 0.1, 5).astype(np.float32),
    }
    mean = (120.0, 110.0, 100.0)
    data = (
        enc_int(1) + enc_str("loss_metric_2") + enc_float(0.04) + enc_float(0.6)
        # wrappers outermost first: fc, avg_pool, relu, add_prev, affine, con, tag, relu, affine, con(+input)
        + enc_int(2) * 6 + enc_int(1) + enc_int(2) * 2 + enc_int(3)
        + enc_str("input_rgb_image_sized") + b"".join(enc_float(m) for m in mean) + enc_int(16) + enc_int(16)
        + con(p["w1"], p["b1"], 2, 0) + b"010" + EMPTY * 3 + enc_int(1)  # input add_layer v3 trailer
        + affine(p["g1"], p["be1"], with_mode=False) + TRAILER  # the old record, without the mode
        + enc_str("relu_") + TRAILER
        + con(p["w2"], p["b2"], 1, 1) + TRAILER
        + affine(p["g2"], p["be2"]) + TRAILER
        + enc_str("add_prev_") + TRAILER
        + enc_str("relu_") + TRAILER
        + enc_str("avg_pool_2") + enc_int(0) * 2 + enc_int(1) * 2 + enc_int(0) * 2 + TRAILER
        + enc_str("fc_2") + enc_int(5) + enc_int(4) + enc_tensor(np.concatenate([p["fw"].ravel(), p["fb"]]))
        + enc_alias(4, 5, 1, 1) + enc_alias(1, 5, 1, 1) + enc_int(0) + enc_float(1.0) * 4 + TRAILER
    )
    path = tmp_path_factory.mktemp("dlib") / "tiny.dat"
    path.write_bytes(data)
    return path, p, mean


def test_tiny_network_parses(tiny):
    path, p, mean = tiny
    net = read_dlib_network(path)
    assert [r.kind for r in net.layers] == ["input_rgb_image_sized", "con", "affine", "relu", "tag_or_skip", "con",
                                            "affine", "add_prev", "relu", "avg_pool", "fc"]
    assert net.input.attrs["avg_green"] == pytest.approx(mean[1])
    np.testing.assert_array_equal(net.layers[1].params["weight"], p["w1"])
    np.testing.assert_array_equal(net.layers[-1].params["bias"], p["fb"])


def test_tiny_network_computes_what_dlib_would(tiny):
    import torch
    import torch.nn.functional as F

    path, p, mean = tiny
    module = load_dlib_resnet(path)
    x = torch.rand(2, 3, 16, 16) * 255
    t = {k: torch.from_numpy(v) for k, v in p.items()}
    h = (x - torch.tensor(mean).view(1, 3, 1, 1)) / 256
    h = F.conv2d(h, t["w1"], t["b1"], stride=2) * t["g1"].view(1, -1, 1, 1) + t["be1"].view(1, -1, 1, 1)
    h = torch.relu(h)
    r = F.conv2d(h, t["w2"], t["b2"], padding=1) * t["g2"].view(1, -1, 1, 1) + t["be2"].view(1, -1, 1, 1)
    h = torch.relu(r + h).mean(dim=(2, 3))
    expected = h @ t["fw"] + t["fb"]  # dlib's fc: input @ W (num_inputs x num_outputs) + b
    with torch.no_grad():
        got = module(x)
    assert got.shape == (2, 5)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-5)
