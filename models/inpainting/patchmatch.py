"""PatchMatch (Barnes et al. 2009) through the ``pypatchmatch`` package: fills holes with real texture copied
from elsewhere in the image.

Unrestricted, PatchMatch happily copies background into a face; pass ``source_mask`` (True where pixels may be
copied from, e.g. the face's skin) and everything else is hidden from the search through the library's
``global_mask`` (pixels "neither filled nor used as a source").

Seeds: the native library keeps one process-wide random seed (``patchmatch.set_random_seed``) and every call
starts from it, so equal inputs with equal seeds give equal results. ``seed=None`` uses the inpainter's default
seed (0 unless configured), so repeat calls are reproducible; different seeds give different, equally plausible
fills (the result is seed-dependent, hence ``deterministic = False``). Because the seed is global to the
process, a seed is held under a lock for the duration of the calls that use it.

Batches run on a thread pool: the library is called through ctypes, which releases the GIL, and every call seeds
its own random generator from the process seed, so parallel fills equal serial ones bit for bit (tested).
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from models.base import ModelInfo
from models.config import ModelConfig
from models.errors import ConfigError, ImageError, ModelUnavailableError
from models.inpainting.common import BaseInpainter, check_mask

_LOCK = threading.Lock()


def _library():
    try:
        import patchmatch
    except ImportError as exc:
        raise ModelUnavailableError("PatchMatch needs the pypatchmatch package: pip install pypatchmatch") from exc
    if not patchmatch.patchmatch_available:
        raise ModelUnavailableError("pypatchmatch is installed but its native library failed to load")
    return patchmatch


class PatchMatchInpainter(BaseInpainter):
    """PatchMatch fills through ``pypatchmatch``: ``inpaint(image, mask, *, seed=None, source_mask=None)``.

    Source: Barnes et al., "PatchMatch: A Randomized Correspondence Algorithm for Structural Image Editing",
    SIGGRAPH 2009. ``inpaint``'s ``source_mask`` ((H, W) bool, True where pixels may be copied from) restricts
    the source; an ImageError is raised when it leaves no known pixel to copy from.

    Args:
        patch_size: the patch *radius* the library compares ((2r+1)^2 pixels), 1-32; 3 keeps skin texture fine
            and runs in tens of milliseconds on a 256 px face.
        seed: the default seed for ``seed=None`` calls.
        workers: threads filling a batch at once (default: one per CPU core, at most 8).

    Raises:
        ConfigError: ``patch_size`` or ``workers`` out of range.
        ModelUnavailableError: pypatchmatch or its native library is missing.
    """

    deterministic = False  # seed-dependent; reproducible for a fixed seed
    accepts_source_mask = True
    name = "patchmatch"

    def __init__(self, patch_size: int = 3, seed: int = 0, workers: int | None = None) -> None:
        if not isinstance(patch_size, (int, np.integer)) or not 1 <= patch_size <= 32:
            raise ConfigError(f"patch_size must be an integer from 1 to 32, not {patch_size!r}")
        if workers is None:
            workers = min(8, os.cpu_count() or 1)
        if not isinstance(workers, (int, np.integer)) or workers < 1:
            raise ConfigError(f"workers must be a positive integer, not {workers!r}")
        self._lib = _library()
        self.patch_size = int(patch_size)
        self.default_seed = int(seed)
        self.workers = int(workers)

    @classmethod
    def from_config(cls, config: ModelConfig, backend: str = "patchmatch", **options) -> PatchMatchInpainter:
        """Build from configuration (the registry's entry point).

        Args:
            config: the model configuration (unused: no weights).
            backend: the registered name (``patchmatch``).
            **options: ``patch_size``, ``seed``, ``workers``.

        Returns:
            The inpainter.

        Raises:
            ConfigError: an unknown option or a value out of range.
            ModelUnavailableError: pypatchmatch or its native library is missing.
        """
        unknown = set(options) - {"patch_size", "seed", "workers"}
        if unknown:
            raise ConfigError(f"unknown options for the patchmatch inpainter: {sorted(unknown)}")
        return cls(**options)

    @classmethod
    def describe(cls, config: ModelConfig, backend: str = "patchmatch") -> ModelInfo:
        """Whether this backend can run here and where it loads from, without loading it.

        Args:
            config: the model configuration (unused).
            backend: the registered name.

        Returns:
            :class:`ModelInfo` for ``python -m models``.
        """
        try:
            lib = _library()
        except ModelUnavailableError as exc:
            return ModelInfo("inpainter", backend, False, "pypatchmatch", licence="MIT", detail=str(exc))
        return ModelInfo(
            "inpainter", backend, True, f"pypatchmatch {lib.__version__}", licence="MIT",
            detail="PatchMatch texture synthesis; source restricted with source_mask; seed-dependent, no weights",
        )

    def _fill(
        self, image: np.ndarray, mask: np.ndarray, seed: int | None, *, source_mask: np.ndarray | None = None
    ) -> np.ndarray:
        return self._fill_batch([image], [mask], seed, [{"source_mask": source_mask}])[0]

    def _fill_batch(
        self, images: list[np.ndarray], masks: list[np.ndarray], seed: int | None, item_kwargs: list[dict]
    ) -> list[np.ndarray]:
        jobs = [self._job(im, m, **kw) for im, m, kw in zip(images, masks, item_kwargs)]
        seed = self.default_seed if seed is None else int(seed)
        with _LOCK:  # the seed is process-wide: hold it until every fill of this batch is done
            self._lib.set_random_seed(seed % 2**32)
            if len(jobs) == 1 or self.workers == 1:
                return [self._run(job) for job in jobs]
            with ThreadPoolExecutor(min(self.workers, len(jobs))) as pool:
                return list(pool.map(self._run, jobs))

    @staticmethod
    def _job(image: np.ndarray, mask: np.ndarray, source_mask: np.ndarray | None = None) -> tuple:
        global_mask = None
        if source_mask is not None:
            source = check_mask(source_mask, image.shape, "source_mask")
            if not (source & ~mask).any():
                raise ImageError("source_mask leaves no known pixels to copy from (it lies entirely inside the hole)")
            # hide every pixel that is neither a hole nor an allowed source
            global_mask = (~(source | mask)).astype(np.uint8)
        return np.ascontiguousarray(image), mask.astype(np.uint8), global_mask

    def _run(self, job: tuple) -> np.ndarray:
        image, mask, global_mask = job
        return self._lib.inpaint(image, mask, global_mask=global_mask, patch_size=self.patch_size)
