"""ONNX face embedders: any embedding model by path, and insightface's ArcFace model packs.

Preprocessing is explicit because it differs between models and getting it wrong still yields plausible
vectors. insightface's ArcFace models (``ArcFaceONNX.get_feat``) take RGB (OpenCV BGR images swapped by
``cv2.dnn.blobFromImages(swapRB=True)``), ``(x - 127.5) / 127.5``, NCHW, 112x112 crops aligned with
``insightface.utils.face_align.norm_crop`` (our template ``arcface112``). Old MXNet-converted packs normalise
inside the graph; like insightface we detect those (Sub and Mul nodes among the first eight) and feed raw
pixels.

ArcFace licence: insightface's pretrained packs are for non-commercial research only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.base import ModelInfo
from models.config import ModelConfig
from models.embedding import check_crops, configured_path
from models.errors import ConfigError, ModelNotFoundError, ModelUnavailableError
from models.runtime import resolve_model_path

# Cosine-similarity threshold for ArcFace (w600k_r50 / glintr100) on aligned 112x112 crops: same-person pairs
# mostly score above 0.4 and different people below 0.2; 0.3 is the usual working point until the engine's
# calibration file provides a fitted one.
ARCFACE_COSINE_THRESHOLD = 0.3
ONNX_DEFAULT_THRESHOLD = 0.3

# insightface model pack -> its recognition model file.
ARCFACE_PACKS = {
    "buffalo_l": "w600k_r50.onnx",
    "buffalo_m": "w600k_r50.onnx",
    "buffalo_s": "w600k_mbf.onnx",
    "buffalo_sc": "w600k_mbf.onnx",
    "antelopev2": "glintr100.onnx",
}
ARCFACE_LICENCE = "insightface pretrained models: non-commercial research use only"
TEMPLATE_SIZES = {"arcface112": 112, "dlib150": 150}


def _ort():
    try:
        import onnxruntime
    except ImportError as exc:
        raise ModelUnavailableError("ONNX embedders need onnxruntime; pip install onnxruntime") from exc
    return onnxruntime


def _as_channel_vector(value, what: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.float32).reshape(-1)
    if arr.size not in (1, 3):
        raise ConfigError(f"{what} must be one number or three (one per channel), not {value!r}")
    return np.broadcast_to(arr, (3,)).copy()


class OnnxEmbedder:
    """Any ONNX model mapping a batch of face crops to embeddings.

    The input size and layout (NCHW or NHWC) are read from the graph's first input; ``layout`` and
    ``input_size`` only matter where the graph leaves them dynamic. Each crop is fed as
    ``(pixel - mean) / std`` in ``channel_order`` ("rgb" or "bgr"); ``mean``/``std`` are one number or three
    (in the fed channel order).

    Args:
        model_path: the ``.onnx`` file.
        config: device and threads (default ``ModelConfig()``).
        template: the alignment template the model expects (``"arcface112"`` or ``"dlib150"``).
        mean: subtracted from 0-255 pixel values (one number or one per channel).
        std: divisor after the mean (one number or one per channel; never zero).
        channel_order: ``"rgb"`` or ``"bgr"``.
        layout: ``"auto"`` (from the graph), ``"nchw"`` or ``"nhwc"``.
        input_size: crop side in pixels where the graph leaves it dynamic (default: the template's size).
        threshold: default cosine-similarity threshold.
        batch_size: crops per run (a graph with a fixed batch dimension overrides it).
        name: the backend name to show.

    Raises:
        ModelNotFoundError: no file at ``model_path``.
        ConfigError: an invalid option, or a graph input that is not a square 4-d image.
        ModelUnavailableError: onnxruntime is not installed; ModelFileError (a subclass) for an unloadable file.
    """

    name = "onnx"
    description = "ONNX face embedding model"

    def __init__(
        self,
        model_path: str | Path,
        *,
        config: ModelConfig | None = None,
        template: str = "arcface112",
        mean: float | Sequence[float] = 127.5,
        std: float | Sequence[float] = 127.5,
        channel_order: str = "rgb",
        layout: str = "auto",
        input_size: int | None = None,
        threshold: float = ONNX_DEFAULT_THRESHOLD,
        batch_size: int = 32,
        name: str | None = None,
    ):
        self.config = config or ModelConfig()
        self.model_path = Path(model_path).expanduser()
        if not self.model_path.is_file():
            raise ModelNotFoundError(
                f"model {self.model_path.name} not found at {self.model_path}; set FACEX_EMBEDDER_PATH "
                "to an .onnx file"
            )
        if channel_order not in ("rgb", "bgr"):
            raise ConfigError(f"channel_order must be 'rgb' or 'bgr', not {channel_order!r}")
        if layout not in ("auto", "nchw", "nhwc"):
            raise ConfigError(f"layout must be 'auto', 'nchw' or 'nhwc', not {layout!r}")
        if batch_size < 1:
            raise ConfigError(f"batch_size must be at least 1, not {batch_size}")
        if name:
            self.name = name
        self.template = template
        self.mean = _as_channel_vector(mean, "mean")
        self.std = _as_channel_vector(std, "std")
        if np.any(self.std == 0):
            raise ConfigError("std must not be zero")
        self.channel_order = channel_order
        self.threshold = float(threshold)

        from models.runtime import onnx_session

        _ort()
        self.session = onnx_session(self.model_path, self.config)
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.output_name = self.session.get_outputs()[0].name
        self.layout, self.input_size, fixed_batch = self._read_input_shape(
            list(inp.shape), layout, input_size or TEMPLATE_SIZES.get(template, 112)
        )
        self.batch_size = fixed_batch or int(batch_size)
        out_shape = self.session.get_outputs()[0].shape
        self.embedding_dim = out_shape[-1] if isinstance(out_shape[-1], int) else None

    @staticmethod
    def _read_input_shape(shape: list, layout: str, fallback_size: int) -> tuple[str, int, int | None]:
        if len(shape) != 4:
            raise ConfigError(f"an embedding model needs a 4-d image input, this one has shape {shape}")
        if layout == "auto":
            if shape[1] == 3:
                layout = "nchw"
            elif shape[3] == 3:
                layout = "nhwc"
            else:
                layout = "nchw"  # channels dynamic on both sides: the common convention
        h, w = (shape[2], shape[3]) if layout == "nchw" else (shape[1], shape[2])
        sizes = {d for d in (h, w) if isinstance(d, int) and d > 0}
        if len(sizes) > 1:
            raise ConfigError(f"the model's input is not square ({h}x{w}); face crops are square")
        size = sizes.pop() if sizes else int(fallback_size)
        fixed_batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        return layout, size, fixed_batch

    @classmethod
    def from_config(cls, config: ModelConfig, backend: str = "onnx", **options) -> OnnxEmbedder:
        """Build from configuration (the registry's entry point).

        Args:
            config: the model configuration (``FACEX_EMBEDDER_PATH`` when this backend is the configured embedder).
            backend: the registered name (``onnx``).
            **options: ``model_path``/``path`` and the constructor options.

        Returns:
            The embedder.

        Raises:
            ModelNotFoundError: no model path given or no file there.
            ConfigError, ModelUnavailableError: as the constructor.
        """
        explicit = configured_path(config, backend, options)
        path = resolve_model_path(backend, config, explicit=explicit, capability="embedder")
        return cls(path, config=config, **options)

    @classmethod
    def describe(cls, config: ModelConfig, backend: str = "onnx") -> ModelInfo:
        """Whether onnxruntime is installed and the configured file exists, without loading it.

        Args:
            config: the model configuration.
            backend: the registered name.

        Returns:
            :class:`ModelInfo`.
        """
        explicit = configured_path(config, backend)
        try:
            _ort()
        except ModelUnavailableError as exc:
            return ModelInfo("embedder", backend, False, explicit or "", detail=str(exc))
        if not explicit:
            return ModelInfo("embedder", backend, False, "", detail="no model path given (FACEX_EMBEDDER_PATH)")
        ok = Path(explicit).expanduser().is_file()
        return ModelInfo("embedder", backend, ok, explicit, detail=cls.description if ok else "file not found")

    def preprocess(self, crops: np.ndarray) -> np.ndarray:
        """Crops as the float32 blob the graph takes.

        Args:
            crops: (N, size, size, 3) uint8 RGB.

        Returns:
            (N, 3, size, size) (NCHW) or (N, size, size, 3) (NHWC) float32 ``(pixel - mean) / std`` in
            ``channel_order``.
        """
        x = crops.astype(np.float32)
        if self.channel_order == "bgr":
            x = x[..., ::-1]
        x = (x - self.mean) / self.std
        if self.layout == "nchw":
            x = x.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(x, dtype=np.float32)

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """Descriptors of aligned crops.

        Args:
            crops: (N, input_size, input_size, 3) uint8 RGB crops aligned on ``template`` (one crop counts as N=1).

        Returns:
            (N, D) float32 embeddings as the graph outputs them (flattened per crop; not normalised here).

        Raises:
            ImageError: crops of another shape or dtype (never converted silently).
        """
        crops = check_crops(crops, self.input_size, self.name)
        outs = []
        for start in range(0, len(crops), self.batch_size):
            blob = self.preprocess(crops[start : start + self.batch_size])
            out = self.session.run([self.output_name], {self.input_name: blob})[0]  # Run is thread-safe
            outs.append(np.asarray(out, dtype=np.float32).reshape(len(blob), -1))
        if not outs:
            return np.zeros((0, self.embedding_dim or 0), dtype=np.float32)
        return np.concatenate(outs)


def graph_normalises_input(model_path: str | Path) -> bool:
    """insightface's test for MXNet-converted ArcFace graphs that subtract and scale the input themselves.

    Source: insightface ``model_zoo/arcface_onnx.py`` (``ArcFaceONNX.__init__``: Sub and Mul nodes among the
    first eight).

    Args:
        model_path: the ``.onnx`` file.

    Returns:
        True when the first eight nodes include both a Sub (``_minus``) and a Mul (``_mul``) node: feed raw pixels.
    """
    import onnx

    graph = onnx.load(str(model_path), load_external_data=False).graph
    names = [node.name for node in graph.node[:8]]
    has_sub = any(n.startswith(("Sub", "_minus")) for n in names)
    has_mul = any(n.startswith(("Mul", "_mul")) for n in names)
    return has_sub and has_mul


def _find_file(folder: Path, filename: str) -> Path | None:
    if (folder / filename).is_file():
        return folder / filename
    # Some pack zips unpack into a nested folder (antelopev2/antelopev2/...).
    return next(iter(sorted(folder.rglob(filename))), None) if folder.is_dir() else None


def _insightface_download(pack: str):
    def download(target: Path) -> Path:
        try:
            from insightface.utils import storage  # lazy: heavy, and only needed for downloads
        except ImportError as exc:
            raise ModelUnavailableError("downloading ArcFace packs needs insightface; pip install insightface") from exc
        # insightface 2.1: storage.download(sub_dir, name, force, root) fetches <name>.zip from the model-zoo
        # release and unpacks it into root/sub_dir/name.
        folder = storage.download(target.parent.name, pack, force=target.exists(), root=str(target.parent.parent))
        return Path(folder)

    return download


def resolve_arcface_model(config: ModelConfig, pack: str = "buffalo_l", explicit: str | Path | None = None) -> Path:
    """The recognition ``.onnx`` of an insightface pack.

    Args:
        config: model folder and download permission.
        pack: ``buffalo_l``, ``buffalo_m``, ``buffalo_s``, ``buffalo_sc`` or ``antelopev2`` (``ARCFACE_PACKS``).
        explicit: the ``.onnx`` file or the pack folder; when it does not exist that is an error, not a fallback.

    Returns:
        The file: ``explicit``, else in ``config.model_dir/insightface/<pack>``, else (downloads allowed)
        fetched from insightface's model zoo.

    Raises:
        ConfigError: an unknown pack.
        ModelNotFoundError: not found and not downloadable.
        ModelUnavailableError: a download was needed but insightface is not installed.
    """
    if pack not in ARCFACE_PACKS:
        raise ConfigError(f"unknown ArcFace pack {pack!r}; choose one of {', '.join(ARCFACE_PACKS)}")
    filename = ARCFACE_PACKS[pack]
    if explicit:
        given = Path(explicit).expanduser()
        if given.is_file():
            return given
        if not given.is_dir():  # an explicit path that does not exist is an error, not a fallback
            raise ModelNotFoundError(
                f"model arcface ({pack}/{filename}) not found at {given}; set FACEX_EMBEDDER_PATH "
                "to the .onnx file or its pack folder"
            )
    subdir = f"insightface/{pack}"
    folder = resolve_model_path(
        f"arcface ({pack}/{filename})", config, explicit=explicit, default_subdir=subdir,
        download=_insightface_download(pack), capability="embedder",
    )
    found = _find_file(folder, filename)
    if found is None and config.allow_downloads and not explicit:
        folder = _insightface_download(pack)(config.model_dir / subdir)
        found = _find_file(folder, filename)
    if found is None:
        raise ModelNotFoundError(
            f"model arcface ({pack}/{filename}) not found at {folder}; set FACEX_EMBEDDER_PATH "
            "to the .onnx file or its pack folder, or allow downloads with FACEX_ALLOW_DOWNLOADS=1"
        )
    return found


class ArcFaceEmbedder(OnnxEmbedder):
    """insightface ArcFace recognition model (e.g. buffalo_l's w600k_r50, antelopev2's glintr100): 512-d.

    Source: Deng et al., "ArcFace: Additive Angular Margin Loss for Deep Face Recognition", CVPR 2019; the
    preprocessing is insightface's ``ArcFaceONNX.get_feat`` (module docstring). Licence: non-commercial research
    only.

    Args:
        model_path: the recognition ``.onnx`` file.
        config: device and threads.
        pack: the pack's name, for the description.
        normalisation: ``"auto"`` (detect MXNet graphs that normalise inside), ``"arcface"`` ((x - 127.5) / 127.5)
            or ``"none"`` (raw 0-255 pixels).
        threshold: default cosine-similarity threshold (``ARCFACE_COSINE_THRESHOLD``, 0.3).
        batch_size: crops per run.

    Raises:
        ConfigError: an unknown ``normalisation``, or a graph input that is not a square 4-d image.
        ModelNotFoundError: no file at ``model_path``.
        ModelUnavailableError: onnxruntime is not installed; ModelFileError (a subclass) for an unloadable file.
    """

    name = "arcface"
    description = "ArcFace (insightface ONNX) face recognition"

    def __init__(
        self,
        model_path: str | Path,
        *,
        config: ModelConfig | None = None,
        pack: str | None = None,
        normalisation: str = "auto",
        threshold: float = ARCFACE_COSINE_THRESHOLD,
        batch_size: int = 32,
    ):
        if normalisation not in ("auto", "arcface", "none"):
            raise ConfigError(f"normalisation must be 'auto', 'arcface' or 'none', not {normalisation!r}")
        path = Path(model_path).expanduser()
        if normalisation == "auto":
            normalisation = "none" if path.is_file() and graph_normalises_input(path) else "arcface"
        mean, std = (0.0, 1.0) if normalisation == "none" else (127.5, 127.5)
        super().__init__(
            path, config=config, template="arcface112", mean=mean, std=std, channel_order="rgb",
            threshold=threshold, batch_size=batch_size,
        )
        self.pack = pack
        if pack:
            self.description = f"ArcFace {pack}/{self.model_path.name} (insightface ONNX)"

    @classmethod
    def from_config(cls, config: ModelConfig, backend: str = "arcface", **options) -> ArcFaceEmbedder:
        """Build from configuration (the registry's entry point).

        Args:
            config: the model configuration (``FACEX_EMBEDDER_PATH``: the ``.onnx`` file or its pack folder).
            backend: the registered name (``arcface``).
            **options: ``pack`` (default ``buffalo_l``), ``model_path``/``path`` and the constructor options.

        Returns:
            The embedder.

        Raises:
            ConfigError, ModelNotFoundError, ModelUnavailableError: see :func:`resolve_arcface_model` and the
                constructor.
        """
        explicit = configured_path(config, backend, options)
        pack = options.pop("pack", "buffalo_l")
        path = resolve_arcface_model(config, pack, explicit)
        return cls(path, config=config, pack=pack, **options)

    @classmethod
    def describe(cls, config: ModelConfig, backend: str = "arcface") -> ModelInfo:
        """Whether the pack's recognition file is in place (or downloadable), without loading it.

        Args:
            config: the model configuration.
            backend: the registered name.

        Returns:
            :class:`ModelInfo` (``extra``: template ``arcface112``, input size 112 when found).
        """
        pack = config.options_for("embedder").get("pack", "buffalo_l") if config.embedder == backend else "buffalo_l"
        explicit = configured_path(config, backend)
        filename = ARCFACE_PACKS.get(pack, "?")
        candidates = [Path(explicit).expanduser()] if explicit else [config.model_dir / "insightface" / pack]
        for c in candidates:
            found = c if c.is_file() else _find_file(c, filename)
            if found is not None:
                return ModelInfo("embedder", backend, True, str(found), ARCFACE_LICENCE,
                                 f"ArcFace {pack}", {"template": "arcface112", "input_size": 112})
        detail = (f"{filename} not found in {candidates[0]}; "
                  + ("will download from insightface's model zoo on first use" if config.allow_downloads
                     else "allow downloads with FACEX_ALLOW_DOWNLOADS=1 or pass a model path"))
        return ModelInfo("embedder", backend, config.allow_downloads, str(candidates[0]), ARCFACE_LICENCE, detail)
