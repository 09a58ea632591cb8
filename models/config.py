"""Which backend serves each capability, where local model files live, and whether downloads are allowed.

Every default works offline from weights that registry packages ship. Environment variables override the
defaults so that a deployment can switch models without code:

- ``FACEX_ALLOW_DOWNLOADS=1``: let reference loaders fetch weights from a model hub (off by default);
- ``FACEX_MODEL_DIR``: root folder for local model files (default ``~/.cache/facex/models``);
- ``FACEX_DEVICE``: ``auto`` (CUDA when available), ``cpu`` or ``cuda``;
- ``FACEX_THREADS``: CPU threads for torch and onnxruntime (default: 1 on machines with up to 2 cores, else half
  the cores, at most 4);
- ``FACEX_<CAPABILITY>`` (e.g. ``FACEX_EMBEDDER=arcface``) and ``FACEX_<CAPABILITY>_PATH``.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

from models.errors import ConfigError

CAPABILITIES = ("detector", "embedder", "landmarks", "parser", "inpainter", "sentence", "qa", "quality")

_TRUE = {"1", "true", "yes", "on"}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def _default_threads() -> int:
    # One thread on small machines: with torch on both cores of a 2-core machine and anything else busy, the
    # small embedding CNN and MiniLM ran about 10x slower (S0 3.8-5.6 s against 0.45 s on one thread).
    cores = os.cpu_count() or 1
    return 1 if cores <= 2 else min(4, cores // 2)


def _env_threads() -> int:
    """``FACEX_THREADS`` as a whole number, or the default when unset; ConfigError for anything else."""
    raw = os.environ.get("FACEX_THREADS", "").strip()
    if not raw:
        return _default_threads()
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"FACEX_THREADS must be a whole number of threads (at least 1), not {raw!r}") from None


@dataclass
class ModelConfig:
    """One choice of backend per capability, plus optional explicit model paths.

    ``qa`` is None by default: no SQuAD-tuned weights ship through the registries, so the chatbot answers
    from retrieved sentences unless a QA model is configured.

    Raises:
        ConfigError: (on construction) ``device`` not ``auto``/``cpu``/``cuda``, or ``threads`` not a whole
            number of at least 1; ``FACEX_THREADS`` that is not a whole number.
    """

    detector: str = "mediapipe"
    embedder: str = "dlib-torch"
    landmarks: str = "mediapipe"
    parser: str = "approx"
    inpainter: str = "telea"
    sentence: str = "minilm"
    qa: str | None = None
    quality: str | None = None  # reference quality measures beside the built-in ones (``ofiq``); None: built-in only
    paths: dict[str, str] = field(default_factory=dict)  # capability -> explicit file, folder or hub id
    options: dict[str, dict] = field(default_factory=dict)  # capability -> extra keyword options for its backend
    model_dir: Path = field(default_factory=lambda: Path(os.environ.get("FACEX_MODEL_DIR", "~/.cache/facex/models")).expanduser())
    allow_downloads: bool = field(default_factory=lambda: _env_flag("FACEX_ALLOW_DOWNLOADS"))
    device: str = field(default_factory=lambda: os.environ.get("FACEX_DEVICE", "auto").strip().lower() or "auto")
    threads: int = field(default_factory=_env_threads)

    def __post_init__(self) -> None:
        if self.device not in ("auto", "cpu", "cuda"):
            raise ConfigError(f"device (FACEX_DEVICE) must be 'auto', 'cpu' or 'cuda', not {self.device!r}")
        if isinstance(self.threads, bool) or not isinstance(self.threads, int) or self.threads < 1:
            raise ConfigError(f"threads (FACEX_THREADS) must be a whole number of at least 1, not {self.threads!r}")
        self.model_dir = Path(self.model_dir).expanduser()

    @classmethod
    def from_env(cls, **overrides) -> ModelConfig:
        """Defaults, then ``FACEX_*`` environment variables, then explicit ``overrides``.

        Args:
            **overrides: field values (``embedder="arcface"``, ``paths={...}``); None values are ignored.

        Returns:
            The configuration. ``FACEX_<CAPABILITY>=`` (empty) switches that capability off (None).

        Raises:
            ConfigError: an unknown key, or an invalid device or thread count.
        """
        values: dict = {}
        paths: dict[str, str] = {}
        for cap in CAPABILITIES:
            if (v := os.environ.get(f"FACEX_{cap.upper()}")) is not None:
                values[cap] = v or None
            if v := os.environ.get(f"FACEX_{cap.upper()}_PATH"):
                paths[cap] = v
        if paths:
            values["paths"] = paths
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise ConfigError(f"unknown model configuration keys: {sorted(unknown)}")
        return cls(**values)

    def path_for(self, capability: str) -> str | None:
        """The explicit file, folder or hub id configured for ``capability`` (``FACEX_<CAPABILITY>_PATH``), or None.

        Args:
            capability: one of ``CAPABILITIES`` (e.g. ``"embedder"``).
        """
        return self.paths.get(capability)

    def options_for(self, capability: str) -> dict:
        """A copy of the extra keyword options configured for ``capability``'s backend (empty when none).

        Args:
            capability: one of ``CAPABILITIES``.
        """
        return dict(self.options.get(capability, {}))
