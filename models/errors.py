"""Exceptions shared by every layer. Each one carries a message a user can act on."""

from __future__ import annotations


class FaceXError(Exception):
    """Base class: anything the tool reports to a user as a plain message rather than a traceback."""


class ImageError(FaceXError):
    """The input is not a usable image: missing, empty, corrupt, not an image, or too large."""


class NoFaceError(FaceXError):
    """No face was found in an image."""


class FaceTooSmallError(FaceXError):
    """The face found is too small to analyse reliably."""


class ModelNotFoundError(FaceXError):
    """A requested model's files are not available locally and downloads are not allowed."""


class ModelUnavailableError(FaceXError):
    """A model backend cannot run here (a missing optional package, an unsupported platform)."""


class ModelFileError(ModelUnavailableError):
    """A model file exists but cannot be loaded: corrupt, truncated, or another format than the backend reads."""


def load_dlib_file(load, path, what: str, advice: str = ""):
    """``load(str(path))`` for one of dlib's model loaders, with its serialization error as a plain message.

    Args:
        load: a dlib loader such as ``dlib.shape_predictor`` or ``dlib.face_recognition_model_v1``.
        path: the model file.
        what: what the file should be, e.g. "dlib shape predictor".
        advice: appended to the message, e.g. "; replace it or set FACEX_EMBEDDER_PATH to a good copy".

    Returns:
        The loaded dlib object.

    Raises:
        ModelFileError: dlib could not read the file (corrupt, truncated or another file).
    """
    try:
        return load(str(path))
    except RuntimeError as exc:  # dlib's serialization_error for corrupt or foreign files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "dlib could not read it"
        raise ModelFileError(
            f"{path} is not a readable {what} (corrupt, truncated or another file): {first}{advice}"
        ) from None


class ConfigError(FaceXError):
    """A configuration value is invalid (unknown backend name, bad option)."""
