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


class ConfigError(FaceXError):
    """A configuration value is invalid (unknown backend name, bad option)."""
