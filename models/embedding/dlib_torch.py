"""dlib's ResNet face-recognition network rebuilt in torch from the same ``.dat`` weights.

dlib's own inference here has no BLAS (about 92 ms per face, no batching gain, holds the GIL); the same network
in torch runs a batch of 20 faces in a few milliseconds per face and gives the engine gradients.

The network (dlib's ``dnn_face_recognition_ex.cpp``) is a 29-conv ResNet on 150x150 RGB chips::

    input (x - channel mean) / 256 -> con 7x7/2 + affine + relu -> max_pool 3x3/2
    -> residual blocks (3x32, 4x64, 3x128, 3x256, 1x256; the first of each width from 64 on downsamples)
    -> avg_pool over everything -> fc 256->128 (no bias)

Faithfulness details that matter for matching dlib's descriptors to ~1e-6:

- dlib's ``affine_`` layers are frozen batch-norms (gamma, beta); each one folds into the convolution before it;
- strided convolutions and pools have no padding (dlib's default when stride != 1), 3x3/1 convolutions pad 1;
- a downsampling block adds ``avg_pool 2x2/2`` of its input to its body output. Their shapes can differ (more
  channels in the body, and e.g. 4x4 vs 3x3 maps); dlib's ``add_prev`` then sums into the larger shape with
  zeros where a tensor has no value, aligned at the top-left corner — reproduced by :func:`padded_add`.
"""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import numpy as np

from models.base import ModelInfo
from models.config import ModelConfig
from models.embedding import check_crops, configured_path
from models.embedding.dlib_format import DlibFormatError, DlibNetwork, LayerRecord, read_dlib_network
from models.errors import ConfigError, ModelFileError, ModelNotFoundError, ModelUnavailableError

DLIB_MODEL_FILE = "dlib_face_recognition_resnet_model_v1.dat"
DESCRIPTION = "dlib ResNet-34 face recognition (128-d), torch port"
LICENCE = "CC0 1.0 (dlib face recognition model by Davis King, via face_recognition_models)"
# Cosine-similarity threshold until a calibration file overrides it. dlib's cosines are compressed (different
# people often score 0.8-0.9); on 234 labelled press-photo pairs 0.92 was about 99% accurate (REFERENCE.md).
DEFAULT_COSINE_THRESHOLD = 0.92


def default_dlib_model_path() -> Path | None:
    """The face_recognition_models package's ``dlib_face_recognition_resnet_model_v1.dat`` path (it may not
    exist), or None when the package is not installed.
    """
    from models.embedding.dlib_format import face_recognition_models_dir

    folder = face_recognition_models_dir()
    return None if folder is None else folder / DLIB_MODEL_FILE


def resolve_dlib_model_path(config: ModelConfig | None, explicit: str | Path | None = None) -> Path:
    """The dlib face-recognition ``.dat`` file to load.

    Args:
        config: ``model_dir`` for the fallback ``<model_dir>/dlib/<file>``; None skips it.
        explicit: a file, or a folder holding ``dlib_face_recognition_resnet_model_v1.dat``; when given, nothing
            else is looked at.

    Returns:
        The file: ``explicit``, else the face_recognition_models package's copy, else the model folder's.

    Raises:
        ModelNotFoundError: no such file; the message names ``FACEX_EMBEDDER_PATH``.
    """
    candidates = []
    if explicit:
        p = Path(explicit).expanduser()
        candidates.append(p / DLIB_MODEL_FILE if p.is_dir() else p)
    else:
        default = default_dlib_model_path()
        if default is not None:
            candidates.append(default)
        if config is not None:
            candidates.append(config.model_dir / "dlib" / DLIB_MODEL_FILE)
    for path in candidates:
        if path.is_file():
            return path
    where = candidates[0] if candidates else "the face_recognition_models package (not installed)"
    raise ModelNotFoundError(
        f"model {DLIB_MODEL_FILE} not found at {where}; install face-recognition-models or set "
        "FACEX_EMBEDDER_PATH to the .dat file"
    )


# ---- the torch network -----------------------------------------------------------------------------------


def _torch():
    try:
        import torch
    except ImportError as exc:  # pragma: no cover - torch is a core dependency
        raise ModelUnavailableError("the dlib-torch embedder needs torch; pip install torch") from exc
    return torch


def padded_add(a, b):
    """dlib's ``add_prev``: the sum over the larger of both shapes, missing values counting as zero.

    The two tensors are aligned at the top-left corner (``dlib/dnn/layers.h``, ``add_prev_``).

    Args:
        a: (N, C1, H1, W1) tensor.
        b: (N, C2, H2, W2) tensor.

    Returns:
        (N, max C, max H, max W) tensor.
    """
    import torch.nn.functional as F

    if a.shape == b.shape:
        return a + b
    c, h, w = (max(a.shape[i], b.shape[i]) for i in (1, 2, 3))

    def grow(t):
        return F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))

    return grow(a) + grow(b)


def _plain_chain_groups(records: list[LayerRecord]) -> list[list[LayerRecord]]:
    """Group a plain layer chain into modules: each ``con`` with the conv-mode ``affine`` records after it (folded
    into it), and every ``relu`` / ``max_pool`` / ``avg_pool`` on its own.

    Raises:
        DlibFormatError: any other layer kind inside the chain.
    """
    groups: list[list[LayerRecord]] = []
    i = 0
    while i < len(records):
        rec = records[i]
        j = i + 1
        if rec.kind == "con":
            while j < len(records) and records[j].kind == "affine" and records[j].attrs["mode"] == "conv":
                j += 1
        elif rec.kind not in ("relu", "max_pool", "avg_pool"):
            raise DlibFormatError(f"unexpected {rec.tag} inside a plain layer chain")
        groups.append(records[i:j])
        i = j
    return groups


_Chain = list[list[LayerRecord]]  # a plain layer chain grouped into modules (see _plain_chain_groups)


def _split_residual_blocks(
    body: list[LayerRecord],
) -> tuple[_Chain, list[tuple[_Chain, LayerRecord | None]], list[LayerRecord]]:
    """Split the layers after the input into stem, residual blocks and head, as dlib's network writes them.

    A block is ``tag1, <body>, add_prev, relu`` (identity shortcut) or ``tag1, <body>, tag2, skip1, avg_pool,
    add_prev, relu`` (downsampling shortcut); the head is ``avg_pool_everything, fc``.

    Returns:
        (stem chain, [(block body chain, shortcut pool record or None)], head records), each chain grouped
        by :func:`_plain_chain_groups`.

    Raises:
        DlibFormatError: a chain holds another layer kind, or a block or the head does not follow that layout
            (checked in forward order, so the first problem in the file is the one reported).
    """
    # Split into: stem (until the first tag), residual blocks, head (global pool + fc).
    first_tag = next((i for i, r in enumerate(body) if r.kind == "tag_or_skip"), len(body))
    stem = _plain_chain_groups(body[:first_tag])
    blocks: list[tuple[_Chain, LayerRecord | None]] = []
    i = first_tag
    while i < len(body) and body[i].kind == "tag_or_skip":
        # tag1, <block body>, then either add_prev (identity shortcut) or tag2, skip1, avg_pool, add_prev.
        j = i + 1
        while j < len(body) and body[j].kind not in ("tag_or_skip", "add_prev"):
            j += 1
        block_body = _plain_chain_groups(body[i + 1 : j])
        if j < len(body) and body[j].kind == "add_prev":
            shortcut, j = None, j + 1
        elif (j + 3 < len(body) and body[j + 1].kind == "tag_or_skip" and body[j + 2].kind == "avg_pool"
              and body[j + 3].kind == "add_prev"):
            shortcut, j = body[j + 2], j + 4
        else:
            raise DlibFormatError(f"unrecognised residual block layout near layer {j + 1}")
        if j >= len(body) or body[j].kind != "relu":
            raise DlibFormatError(f"expected relu after residual add at layer {j + 1}")
        blocks.append((block_body, shortcut))
        i = j + 1
    head = body[i:]
    if len(head) != 2 or head[0].kind != "avg_pool" or head[1].kind != "fc":
        raise DlibFormatError("expected avg_pool_everything and fc at the end of the network")
    return stem, blocks, head


def _build_modules():  # noqa: C901 - a lazy factory of small nn.Module classes; ruff sums their methods
    """Module classes, defined lazily so that importing this file does not import torch."""
    torch = _torch()
    nn = torch.nn

    def conv_from(records: list[LayerRecord]) -> nn.Conv2d:
        """A Conv2d from a ``con`` record and the ``affine`` records that follow it, folded in."""
        con, affines = records[0], records[1:]
        a = con.attrs
        weight = torch.from_numpy(con.params["weight"].astype(np.float64))
        bias = torch.from_numpy(con.params["bias"].astype(np.float64))
        for aff in affines:
            gamma = torch.from_numpy(aff.params["gamma"].astype(np.float64))
            beta = torch.from_numpy(aff.params["beta"].astype(np.float64))
            weight = weight * gamma[:, None, None, None]
            bias = bias * gamma + beta
        conv = nn.Conv2d(
            weight.shape[1], weight.shape[0], (a["nr"], a["nc"]), stride=(a["stride_y"], a["stride_x"]),
            padding=(a["padding_y"], a["padding_x"]), bias=True,
        )
        with torch.no_grad():
            conv.weight.copy_(weight.float())
            conv.bias.copy_(bias.float())
        return conv

    def pool_from(record: LayerRecord) -> nn.Module:
        a = record.attrs
        if a["nr"] == 0 and a["nc"] == 0:  # avg_pool_everything / max_pool_everything
            return GlobalPool(record.kind)
        cls = nn.MaxPool2d if record.kind == "max_pool" else nn.AvgPool2d
        return cls((a["nr"], a["nc"]), stride=(a["stride_y"], a["stride_x"]), padding=(a["padding_y"], a["padding_x"]))

    def sequential_from(chain: _Chain) -> nn.Sequential:
        """A plain chain of con/affine/relu/pool records, grouped by :func:`_plain_chain_groups`."""
        mods: list[nn.Module] = []
        for group in chain:
            if group[0].kind == "con":
                mods.append(conv_from(group))
            elif group[0].kind == "relu":
                mods.append(nn.ReLU(inplace=False))
            else:
                mods.append(pool_from(group[0]))
        return nn.Sequential(*mods)

    class GlobalPool(nn.Module):
        def __init__(self, kind: str):
            super().__init__()
            self.kind = kind

        def forward(self, x):
            if self.kind == "avg_pool":
                return x.mean(dim=(2, 3), keepdim=True)
            return x.amax(dim=(2, 3), keepdim=True)

    class ResidualBlock(nn.Module):
        """``relu(add_prev(body(x), shortcut(x)))``; the shortcut is the identity or dlib's avg_pool 2x2/2."""

        def __init__(self, body: nn.Sequential, shortcut: nn.Module | None):
            super().__init__()
            self.body = body
            self.shortcut = shortcut if shortcut is not None else nn.Identity()
            self.downsample = shortcut is not None

        def forward(self, x):
            return torch.relu(padded_add(self.body(x), self.shortcut(x)))

    class DlibFaceResNet(nn.Module):
        """dlib's face-recognition ResNet: (N, 3, H, W) float RGB pixel values in [0, 255] -> (N, D) descriptors.

        Args:
            network: the parsed ``.dat`` (:func:`models.embedding.dlib_format.read_dlib_network`).

        Raises:
            DlibFormatError: not an RGB input layer, or a layer layout other than dlib's ResNet (stem, residual
                blocks, global average pool, fc).
        """

        def __init__(self, network: DlibNetwork):
            super().__init__()
            records = network.layers
            inp = records[0]
            if not inp.kind.startswith("input_rgb_image"):
                raise DlibFormatError(f"expected an RGB input layer, found {inp.tag}")
            self.input_size = (int(inp.attrs.get("nr", 150)), int(inp.attrs.get("nc", 150)))
            mean = [inp.attrs["avg_red"], inp.attrs["avg_green"], inp.attrs["avg_blue"]]
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
            self.scale = float(inp.attrs["scale"])

            stem, block_records, head = _split_residual_blocks(records[1:])
            self.stem = sequential_from(stem)
            self.blocks = nn.Sequential(*(
                ResidualBlock(sequential_from(block_body), None if pool is None else pool_from(pool))
                for block_body, pool in block_records
            ))  # fmt: skip
            self.pool = pool_from(head[0])
            fc = head[1]
            weight = torch.from_numpy(fc.params["weight"].T.copy())
            self.fc = nn.Linear(weight.shape[1], weight.shape[0], bias="bias" in fc.params)
            with torch.no_grad():
                self.fc.weight.copy_(weight)
                if "bias" in fc.params:
                    self.fc.bias.copy_(torch.from_numpy(fc.params["bias"]))

        @property
        def output_dim(self) -> int:
            return self.fc.out_features

        def forward(self, x):
            x = (x - self.mean) * self.scale
            x = self.blocks(self.stem(x))
            return self.fc(torch.flatten(self.pool(x), 1))

    return DlibFaceResNet


@functools.lru_cache(maxsize=4)
def _parsed(path: str) -> DlibNetwork:
    return read_dlib_network(path)


_MODULES: dict[tuple[str, str], object] = {}
_MODULES_LOCK = threading.Lock()


def load_dlib_resnet(path: str | Path, device: str = "cpu"):
    """The torch module for a dlib face-recognition ``.dat`` file, built once per (file, device) and shared.

    Its parameters do not require gradients (gradients w.r.t. the input still flow); it is in eval mode.

    Args:
        path: the ``.dat`` file.
        device: ``"cpu"`` or ``"cuda"``.

    Returns:
        ``DlibFaceResNet``: (N, 3, 150, 150) float RGB in [0, 255] -> (N, 128) descriptors.

    Raises:
        ModelNotFoundError: no file at ``path``.
        DlibFormatError: not a dlib network file this reader understands, or another layer layout.
    """
    key = (str(Path(path).resolve()), device)
    with _MODULES_LOCK:
        if key not in _MODULES:
            module = _build_modules()(_parsed(key[0]))
            module.eval().requires_grad_(False)
            _MODULES[key] = module.to(device)
        return _MODULES[key]


# ---- the adapter -----------------------------------------------------------------------------------------


class DlibWeightsEmbedder:
    """What both embedders of dlib's ``.dat`` weights share: the file, the options, and how they describe
    themselves. Subclasses load the network and say, in :meth:`runtime_problem`, what stops them running here."""

    template = "dlib150"
    input_size = 150
    OPTIONS = frozenset({"threshold", "batch_size"})

    def _setup(self, model_path, config: ModelConfig | None, threshold: float, batch_size: int) -> None:
        self.config = config or ModelConfig()
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, not {batch_size}")
        self.model_path = resolve_dlib_model_path(self.config, model_path)
        self.threshold = float(threshold)
        self.batch_size = int(batch_size)

    @classmethod
    def runtime_problem(cls, config: ModelConfig) -> str | None:
        """Why this backend cannot run here (a missing package), or None.

        Args:
            config: the model configuration.
        """
        return None

    @classmethod
    def runtime_device(cls, config: ModelConfig) -> str:
        """The device the backend would run on (``"cpu"`` for dlib's own inference).

        Args:
            config: the model configuration.
        """
        return "cpu"

    @classmethod
    def from_config(cls, config: ModelConfig, backend: str | None = None, **options):
        """Build from configuration (the registry's entry point).

        Args:
            config: the model configuration (``FACEX_EMBEDDER_PATH`` when this backend is the configured embedder).
            backend: the registered name (default: the class's ``name``).
            **options: ``model_path``/``path``, ``threshold``, ``batch_size``.

        Returns:
            The embedder.

        Raises:
            ConfigError: an unknown option, or ``batch_size`` under 1.
            ModelNotFoundError: no ``.dat`` file found.
            ModelUnavailableError: the backend cannot run here; ModelFileError (a subclass) for an unreadable file.
        """
        backend = backend or cls.name
        path = configured_path(config, backend, options)
        unknown = set(options) - cls.OPTIONS
        if unknown:
            raise ConfigError(f"unknown options for the {backend} embedder: {sorted(unknown)}")
        return cls(path, config=config, **options)

    @classmethod
    def describe(cls, config: ModelConfig, backend: str | None = None) -> ModelInfo:
        """Whether the ``.dat`` file is found and the backend can run here, without loading it.

        Args:
            config: the model configuration.
            backend: the registered name (default: the class's ``name``).

        Returns:
            :class:`ModelInfo` (``extra``: template, input size, dimension 128, device).
        """
        backend = backend or cls.name
        try:
            path = resolve_dlib_model_path(config, configured_path(config, backend))
        except ModelNotFoundError as exc:
            return ModelInfo("embedder", backend, False, "", LICENCE, str(exc))
        if problem := cls.runtime_problem(config):
            return ModelInfo("embedder", backend, False, str(path), LICENCE, problem)
        return ModelInfo("embedder", backend, True, str(path), LICENCE, cls.description,
                         {"template": cls.template, "input_size": cls.input_size, "dim": 128,
                          "device": cls.runtime_device(config)})


class DlibTorchEmbedder(DlibWeightsEmbedder):
    """The default face embedder: dlib's face-recognition ResNet, run by torch.

    ``embed(crops)`` takes (N, 150, 150, 3) uint8 RGB chips aligned like ``dlib.get_face_chip(size=150,
    padding=0.25)`` and returns (N, 128) float32 descriptors equal to dlib's own to about 1e-6 (not unit-norm).
    ``forward_tensor(x)`` is the differentiable path for the engine's gradient methods. Network: dlib's
    ``dnn_face_recognition_ex.cpp`` (module docstring).

    Args:
        model_path: the ``.dat`` file or its folder (default: the face_recognition_models package's copy).
        config: device, threads and model folder (default ``ModelConfig()``).
        threshold: default cosine-similarity threshold (``DEFAULT_COSINE_THRESHOLD``, 0.92).
        batch_size: chips per forward pass.

    Raises:
        ConfigError: ``batch_size`` under 1, or ``FACEX_DEVICE=cuda`` where torch cannot use CUDA.
        ModelNotFoundError: no ``.dat`` file found.
        ModelFileError: the file is not a readable dlib face-recognition network.
    """

    name = "dlib-torch"
    description = DESCRIPTION

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        config: ModelConfig | None = None,
        threshold: float = DEFAULT_COSINE_THRESHOLD,
        batch_size: int = 32,
    ):
        from models.runtime import configure_torch, torch_device

        self._setup(model_path, config, threshold, batch_size)
        configure_torch(self.config)
        self.device = torch_device(self.config)
        if self.device == "cuda" and not _torch().cuda.is_available():
            raise ModelUnavailableError("device 'cuda' was asked for (FACEX_DEVICE) but torch cannot use CUDA here")
        try:
            self.module = load_dlib_resnet(self.model_path, self.device)
        except (DlibFormatError, OSError) as exc:
            raise ModelFileError(
                f"{self.model_path} is not a readable dlib face-recognition network (corrupt, truncated or another "
                f"file): {exc}; replace it or set FACEX_EMBEDDER_PATH to a good copy"
            ) from None
        self.embedding_dim = self.module.output_dim

    @classmethod
    def runtime_problem(cls, config: ModelConfig) -> str | None:
        """``"missing package: torch"`` when torch is not installed, else None.

        Args:
            config: the model configuration (unused).
        """
        try:
            import torch  # noqa: F401
        except ImportError:
            return "missing package: torch"
        return None

    @classmethod
    def runtime_device(cls, config: ModelConfig) -> str:
        """``"cuda"`` or ``"cpu"``, as :func:`models.runtime.torch_device` chooses.

        Args:
            config: the model configuration.

        Raises:
            ConfigError: ``FACEX_DEVICE=cuda`` where torch cannot use CUDA.
        """
        from models.runtime import torch_device

        return torch_device(config)

    def to_tensor(self, crops: np.ndarray):
        """Crops as the network's input tensor.

        Args:
            crops: (N, 150, 150, 3) uint8 RGB chips.

        Returns:
            (N, 3, 150, 150) float32 tensor of pixel values in [0, 255] on this embedder's device (channels-last
            strides).

        Raises:
            ImageError: crops of another shape or dtype.
        """
        torch = _torch()
        crops = check_crops(crops, self.input_size, self.name)
        x = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device)
        # The permuted view keeps channels-last strides: oneDNN runs this network about 20% faster that way.
        return x.permute(0, 3, 1, 2).float()

    def forward_tensor(self, x):
        """Differentiable descriptors.

        Args:
            x: (N, 3, 150, 150) float RGB tensor with values in [0, 255], on ``self.device``.

        Returns:
            (N, 128) float32 tensor (gradients w.r.t. ``x`` flow; the weights are frozen).

        Raises:
            ImageError: another shape.
        """
        if x.ndim != 4 or x.shape[1] != 3 or tuple(x.shape[2:]) != (self.input_size, self.input_size):
            from models.errors import ImageError

            raise ImageError(
                f"{self.name} expects a (N, 3, {self.input_size}, {self.input_size}) tensor, got {tuple(x.shape)}"
            )
        return self.module(x)

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """Descriptors of aligned crops.

        Args:
            crops: (N, 150, 150, 3) uint8 RGB crops aligned on ``dlib150`` (one (150, 150, 3) crop counts as N=1).

        Returns:
            (N, 128) float32 descriptors, equal to dlib's own to about 1e-6 (not unit-norm).

        Raises:
            ImageError: crops of another shape or dtype (never converted silently).
        """
        torch = _torch()
        crops = check_crops(crops, self.input_size, self.name)
        out = np.empty((len(crops), self.embedding_dim), dtype=np.float32)
        with torch.inference_mode():
            for start in range(0, len(crops), self.batch_size):
                x = self.to_tensor(crops[start : start + self.batch_size])
                out[start : start + len(x)] = self.module(x).float().cpu().numpy()
        return out
