"""Finding and loading BiSeNet face-parsing weights: a local ``.pth`` state dict or an ``.onnx`` export, or a
hub download when the user allowed downloads.
"""

from __future__ import annotations

import re
from pathlib import Path

from models.config import ModelConfig
from models.errors import ModelNotFoundError, ModelUnavailableError
from models.parsing.bisenet_net import build_bisenet, clean_state_dict
from models.parsing.common import CELEBAMASK_CLASSES
from models.runtime import configure_torch, onnx_session, resolve_model_path, torch_device

BISENET_FILE = "79999_iter.pth"
BISENET_SUBDIR = "bisenet"
BISENET_INPUT = 512


def find_bisenet_file(path: Path) -> Path:
    """``path`` itself when it is a file, else the one BiSeNet weight file in the folder ``path``.

    Args:
        path: a weight file or a folder.

    Returns:
        ``79999_iter.pth``, ``bisenet.onnx`` or ``79999_iter.onnx`` in the folder, else its single .pth/.onnx file.

    Raises:
        ModelNotFoundError: the folder holds none of those and not exactly one .pth/.onnx file.
    """
    if path.is_file():
        return path
    for name in (BISENET_FILE, "bisenet.onnx", "79999_iter.onnx"):
        if (path / name).is_file():
            return path / name
    found = sorted(path.glob("*.pth")) + sorted(path.glob("*.onnx"))
    if len(found) == 1:
        return found[0]
    raise ModelNotFoundError(
        f"model bisenet not found at {path}: the folder holds no {BISENET_FILE} or single .pth/.onnx file; "
        "set FACEX_PARSER_PATH (or the path option) to the file"
    )


def bisenet_path(config: ModelConfig, path: str | Path | None, repo_id: str | None, filename: str) -> Path:
    """The weight file to load: ``path``, else ``FACEX_PARSER_PATH``, else ``<model dir>/bisenet/<filename>``.

    An explicit ``owner/name`` that is no local path is taken as a hub repository; anything is downloaded (with
    ``huggingface_hub``) only when downloads are allowed.

    Args:
        config: the model configuration.
        path: an explicit file, folder or hub repository id.
        repo_id: the hub repository to download from.
        filename: the weight file's name.

    Returns:
        The weight file (see :func:`find_bisenet_file`).

    Raises:
        ModelNotFoundError: nothing found locally and no download allowed (or possible).
    """
    def download(target: Path) -> Path:
        if not repo_id:
            raise ModelNotFoundError(
                "BiSeNet face-parsing weights have no official hub source; download 79999_iter.pth yourself "
                f"(face-parsing.PyTorch) into {target.parent}, or set FACEX_PARSER_PATH to the file or to the hub "
                "repository (owner/name) that holds it"
            )
        from huggingface_hub import hf_hub_download

        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            return Path(hf_hub_download(repo_id, filename, local_dir=target.parent))
        except Exception as exc:  # network, missing repo or file: say which
            raise ModelNotFoundError(f"could not download {filename} from hub repository {repo_id}: {exc}") from exc

    explicit = path or config.path_for("parser")
    # an explicit "owner/name" that is no local path is a hub repository id (used only when downloads are allowed)
    looks_like_repo = (
        bool(explicit)
        and re.fullmatch(r"[\w.-]+/[\w.-]+", str(explicit)) is not None
        and not str(explicit).endswith((".pth", ".onnx"))
        and not Path(explicit).expanduser().exists()
    )
    if repo_id is None and looks_like_repo:
        repo_id = str(explicit)
    found = resolve_model_path(
        "bisenet",
        config,
        explicit=explicit,
        default_subdir=f"{BISENET_SUBDIR}/{filename}",
        download=download,
        capability="parser",
    )
    return find_bisenet_file(found)


def load_onnx(path: Path, config: ModelConfig):
    """An onnxruntime session for a BiSeNet ONNX export.

    Args:
        path: the ``.onnx`` file.
        config: device and threads.

    Returns:
        ``onnxruntime.InferenceSession``.

    Raises:
        ModelUnavailableError: the file is not a loadable ONNX model (corrupt, truncated, another format).
    """
    try:
        return onnx_session(path, config)
    except Exception as exc:  # onnxruntime raises its own types for corrupt files
        raise ModelUnavailableError(f"could not load the BiSeNet ONNX model {path}: {exc}") from exc


def load_torch(path: Path, config: ModelConfig):
    """The BiSeNet network with the state dict at ``path`` loaded, in eval mode, and its torch device.

    Args:
        path: a face-parsing.PyTorch state dict (``79999_iter.pth``; ``module.`` prefixes and a ``state_dict``
            wrapper are accepted).
        config: device and threads.

    Returns:
        (network, device) where device is "cpu" or "cuda".

    Raises:
        ModelUnavailableError: unreadable file, not a 19-class face-parsing.PyTorch BiSeNet state dict.
        ConfigError: ``FACEX_DEVICE=cuda`` where torch cannot use CUDA.
    """
    import torch

    configure_torch(config)
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelUnavailableError(f"could not read the BiSeNet weights {path}: {exc}") from exc
    state = clean_state_dict(state)
    n_classes = int(state["conv_out.conv_out.weight"].shape[0]) if "conv_out.conv_out.weight" in state else 19
    if n_classes != len(CELEBAMASK_CLASSES):
        raise ModelUnavailableError(f"{path} predicts {n_classes} classes; CelebAMask-HQ parsing needs 19")
    net = build_bisenet(n_classes)
    try:
        net.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise ModelUnavailableError(f"{path} is not a face-parsing.PyTorch BiSeNet state dict: {exc}") from exc
    device = torch_device(config)
    return net.to(device).eval(), device
