"""Device and thread choices for torch and onnxruntime backends, and model-file resolution.

Threads are set deliberately: on a 2-core machine with another busy core, small CNNs under torch's default
thread pool can run ten times slower.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path

from models.config import ModelConfig
from models.errors import ModelNotFoundError


@functools.cache
def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def torch_device(config: ModelConfig) -> str:
    if config.device == "cuda" or (config.device == "auto" and _cuda_available()):
        return "cuda"
    return "cpu"


def configure_torch(config: ModelConfig) -> None:
    """Set torch's intra-op thread count once per process (changing it later is ignored by torch)."""
    import torch

    if torch.get_num_threads() != config.threads:
        torch.set_num_threads(config.threads)


def onnx_session(path: str | Path, config: ModelConfig):
    """An onnxruntime session on CUDA when available and asked for, else on the CPU, with fixed threads."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = config.threads
    options.inter_op_num_threads = 1
    providers = ["CPUExecutionProvider"]
    if config.device in ("auto", "cuda") and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    return ort.InferenceSession(str(path), sess_options=options, providers=providers)


def resolve_model_path(
    model: str,
    config: ModelConfig,
    *,
    explicit: str | Path | None = None,
    default_subdir: str | None = None,
    must_contain: tuple[str, ...] = (),
    download: Callable[[Path], Path] | None = None,
) -> Path:
    """Find a model's files locally, or download them when the user allowed it.

    Looks at ``explicit`` first, then ``config.model_dir / default_subdir``. ``must_contain`` names files that
    a folder must hold to count as found. ``download(target_dir)`` fetches into ``target_dir`` and returns the
    path; it is called only when ``config.allow_downloads`` is True.
    """
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
    raise ModelNotFoundError(
        f"model {model} not found at {where}; pass --model-path (or FACEX_<CAPABILITY>_PATH) "
        "or allow downloads with FACEX_ALLOW_DOWNLOADS=1"
    )
