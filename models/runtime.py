"""Device and thread choices for torch and onnxruntime backends, and model-file resolution.

Threads are set deliberately: on a 2-core machine with another busy core, small CNNs under torch's default
thread pool can run ten times slower.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from models.config import ModelConfig
from models.errors import ConfigError, ModelFileError, ModelNotFoundError


@functools.cache
def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def cuda_available() -> bool:
    """Whether torch can use CUDA here (False without torch)."""
    return _cuda_available()


def torch_device(config: ModelConfig) -> str:
    """"cuda" or "cpu" for torch models.

    Args:
        config: ``config.device`` is ``auto`` (CUDA when torch can use it), ``cpu`` or ``cuda``.

    Returns:
        ``"cuda"`` or ``"cpu"``.

    Raises:
        ConfigError: ``FACEX_DEVICE=cuda`` on a machine where torch cannot use CUDA.
    """
    if config.device == "cuda":
        if not _cuda_available():
            raise ConfigError(
                "FACEX_DEVICE=cuda was asked for but torch cannot use CUDA on this machine; "
                "use FACEX_DEVICE=cpu or auto"
            )
        return "cuda"
    return "cuda" if config.device == "auto" and _cuda_available() else "cpu"


def configure_torch(config: ModelConfig) -> None:
    """Set torch's intra-op thread count to ``config.threads`` (once per process: torch ignores later changes).

    Args:
        config: ``config.threads`` (``FACEX_THREADS``).
    """
    import torch

    if torch.get_num_threads() != config.threads:
        torch.set_num_threads(config.threads)


def _onnx_load_errors() -> tuple[type[BaseException], ...]:
    """onnxruntime's own exception types for corrupt or foreign files (they derive from Exception only)."""
    from onnxruntime.capi import onnxruntime_pybind11_state as state

    names = ("Fail", "InvalidProtobuf", "InvalidGraph", "NoSuchFile", "InvalidArgument", "RuntimeException")
    return (RuntimeError, ValueError, *(getattr(state, n) for n in names if hasattr(state, n)))


def onnx_session(path: str | Path, config: ModelConfig):
    """An onnxruntime session on CUDA when available and asked for, else on the CPU, with fixed threads.

    Args:
        path: the ``.onnx`` file.
        config: device and thread choices (``intra_op_num_threads = config.threads``, one inter-op thread).

    Returns:
        ``onnxruntime.InferenceSession``.

    Raises:
        ConfigError: ``FACEX_DEVICE=cuda`` without onnxruntime's CUDA provider.
        ModelNotFoundError: no file at ``path``.
        ModelFileError: the file is not a loadable ONNX model (corrupt, truncated, another format).
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = config.threads
    options.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    has_cuda = "CUDAExecutionProvider" in ort.get_available_providers()
    if config.device == "cuda" and not has_cuda:
        raise ConfigError(
            "FACEX_DEVICE=cuda was asked for but onnxruntime has no CUDA provider here (the onnxruntime-gpu "
            "package); use FACEX_DEVICE=cpu or auto"
        )
    if config.device in ("auto", "cuda") and has_cuda:
        providers.insert(0, "CUDAExecutionProvider")
    if not Path(path).is_file():
        raise ModelNotFoundError(f"ONNX model file {path} not found")
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except _onnx_load_errors() as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path} is not a loadable ONNX model (corrupt, truncated or another format): "
                             f"{reason}") from None


def resolve_model_path(
    model: str,
    config: ModelConfig,
    *,
    explicit: str | Path | None = None,
    default_subdir: str | None = None,
    must_contain: tuple[str, ...] = (),
    download: Callable[[Path], Path] | None = None,
    capability: str | None = None,
) -> Path:
    """Find a model's files locally, or download them when the user allowed it.

    Args:
        model: the model's name, for messages (and the download folder when ``default_subdir`` is None).
        config: ``model_dir`` and ``allow_downloads``.
        explicit: a file or folder to look at first.
        default_subdir: then ``config.model_dir / default_subdir``.
        must_contain: file names a folder must hold to count as found.
        download: ``download(target_dir) -> path``; called only when ``config.allow_downloads`` is True.
        capability: names the environment variable the not-found message points to (``FACEX_<CAPABILITY>_PATH``).

    Returns:
        The first existing candidate (holding ``must_contain``), else the downloaded path.

    Raises:
        ModelNotFoundError: nothing found and no download allowed; the message names the real switches.
    """
    path_variable = f"FACEX_{capability.upper()}_PATH" if capability else None
    candidates: list[Path] = []
    if explicit:
        candidates.append(Path(explicit).expanduser())
    if default_subdir:
        candidates.append(config.model_dir / default_subdir)
    for path in candidates:
        if path.exists() and all((path / name).exists() for name in must_contain):
            return path
    where = candidates[0] if candidates else config.model_dir
    if config.allow_downloads and download is not None:
        target = config.model_dir / (default_subdir or model)
        target.parent.mkdir(parents=True, exist_ok=True)
        return Path(download(target))
    switch = f"set {path_variable}" if path_variable else "set the backend's path option"
    raise ModelNotFoundError(
        f"model {model} not found at {where}; {switch} to its file or folder, put it under {config.model_dir} "
        "(FACEX_MODEL_DIR), or allow downloads with FACEX_ALLOW_DOWNLOADS=1"
    )
