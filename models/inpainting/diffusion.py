"""Diffusion inpainting through diffusers: RePaint (the reference work's inpainter) and Stable-Diffusion inpainting.

Both load from a local diffusers folder (``model_path`` option, ``FACEX_INPAINTER_PATH``, or
``<model_dir>/<default folder>``) and touch the network only when downloads are allowed. Images are resized to the
model's working size and back; the original pixels are pasted back outside the mask (by
:class:`~models.inpainting.common.BaseInpainter`), so resizing never alters known pixels. Seeds go into
``torch.Generator`` objects: equal seeds give equal fills on the same device.

Cost on a 2-core CPU: a RePaint-sized UNet (CelebA-HQ DDPM, 256 px) takes about 4.4 s per call, and RePaint's
published schedule (250 steps, jump length 10, 10 resamplings) walks 4,570 scheduler steps, 2,410 of them UNet
calls (the rest re-noise), i.e. about 3 hours per image.
Use a GPU, or fewer steps / resamplings (``num_inference_steps``, ``jump_length``, ``jump_n_sample``).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import ClassVar

import numpy as np

from models.base import ModelInfo
from models.config import ModelConfig
from models.errors import ConfigError, ModelNotFoundError, ModelUnavailableError
from models.inpainting.common import (
    BaseInpainter,
    describe_source,
    resize_image,
    resize_mask,
    resolve_pretrained,
    to_uint8,
)
from models.runtime import configure_torch, torch_device


def _generators(seed: int | None, count: int):
    """One CPU generator per image, all seeded alike, so image i of a batch starts from the noise a single call
    with the same seed would use. ``None`` -> fresh randomness."""
    if seed is None:
        return None
    import torch

    return [torch.Generator(device="cpu").manual_seed(int(seed)) for _ in range(count)]


def _sample_size(value) -> tuple[int, int]:
    """(width, height) from a diffusers ``sample_size`` (int or (height, width))."""
    if isinstance(value, (list, tuple)):
        return int(value[1]), int(value[0])
    return int(value), int(value)


def _chunks(n: int, size: int):
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def _model_path(config: ModelConfig, options: dict) -> str | None:
    return options.pop("model_path", None) or config.path_for("inpainter")


def _check_options(options: dict, allowed: set[str], backend: str) -> None:
    unknown = set(options) - allowed
    if unknown:
        raise ConfigError(f"unknown options for the {backend} inpainter: {sorted(unknown)}; use {sorted(allowed)}")


class _DiffusersInpainter(BaseInpainter):
    """What the diffusers-backed inpainters share: finding the pipeline folder, loading, describing, single fills.

    Subclasses set ``HUB_ID``, ``DEFAULT_SUBDIR``, ``OPTIONS``, ``LICENCE``, ``DETAIL`` and implement
    ``load_pipeline(path)`` and ``_fill_batch``.
    """

    HUB_ID: ClassVar[str]
    DEFAULT_SUBDIR: ClassVar[str]
    OPTIONS: ClassVar[set[str]]
    LICENCE: ClassVar[str]
    DETAIL: ClassVar[str]

    @classmethod
    def from_config(cls, config: ModelConfig, backend: str | None = None, **options):
        """Build from configuration (the registry's entry point).

        Args:
            config: model folder, downloads, device and threads (``FACEX_INPAINTER_PATH``: a diffusers folder or hub
                id).
            backend: the registered name (default: the class's ``name``).
            **options: ``model_path`` and the constructor options (``OPTIONS``).

        Returns:
            The inpainter with its pipeline loaded on :func:`models.runtime.torch_device`.

        Raises:
            ConfigError: an unknown option or a value out of range, or ``FACEX_DEVICE=cuda`` without CUDA.
            ModelUnavailableError: torch or diffusers is not installed.
            ModelNotFoundError: no model folder found and downloads are not allowed.
        """
        backend = backend or cls.name
        _check_options(options, cls.OPTIONS, backend)
        _require_diffusers()
        path = resolve_pretrained(
            config, hub_id=cls.HUB_ID, explicit=_model_path(config, options), default_subdir=cls.DEFAULT_SUBDIR
        )
        configure_torch(config)
        return cls(cls.load_pipeline(path), device=torch_device(config), source=str(path), **options)

    @classmethod
    def describe(cls, config: ModelConfig, backend: str | None = None) -> ModelInfo:
        """Whether this backend can run here and where it loads from, without loading it.

        Args:
            config: the model configuration.
            backend: the registered name (default: the class's ``name``).

        Returns:
            :class:`ModelInfo` for ``python -m models``.
        """
        available, source, detail = describe_source(
            config,
            hub_id=cls.HUB_ID,
            explicit=config.options_for("inpainter").get("model_path") or config.path_for("inpainter"),
            default_subdir=cls.DEFAULT_SUBDIR,
        )
        return ModelInfo(
            "inpainter", backend or cls.name, available, source, licence=cls.LICENCE, detail=detail or cls.DETAIL
        )

    def _fill(self, image, mask, seed, **kwargs):
        return self._fill_batch([image], [mask], seed, [kwargs])[0]


class RePaintInpainter(_DiffusersInpainter):
    """diffusers ``RePaintPipeline`` over an unconditional DDPM UNet (e.g. ``google/ddpm-ema-celebahq-256``).

    Source: Lugmayr et al., "RePaint: Inpainting using Denoising Diffusion Probabilistic Models", CVPR 2022.
    RePaint conditions every reverse step on the known pixels and re-noises ("jumps back") to harmonise the fill
    with them.

    Args:
        pipeline: a ``RePaintPipeline`` (see :meth:`load_pipeline`).
        device: ``"cpu"`` or ``"cuda"``.
        num_inference_steps: reverse steps (paper: 250).
        jump_length: steps per jump back (paper: 10).
        jump_n_sample: resamplings per jump (paper: 10).
        eta: DDIM-style noise weight in [0, 1].
        batch_size: images per pipeline call.
        source: where the pipeline was loaded from, for the record.

    Raises:
        ConfigError: a schedule value or ``batch_size`` under 1, or ``eta`` outside [0, 1].
    """

    name = "repaint"
    deterministic = False  # sampled; reproducible for a fixed seed
    allows_full_mask = True  # an unconditional DDPM can draw the whole face
    HUB_ID = "google/ddpm-ema-celebahq-256"
    DEFAULT_SUBDIR = "ddpm-ema-celebahq-256"
    LICENCE = "model card of the DDPM used (google/ddpm-*: Apache-2.0)"
    DETAIL = "diffusers RePaintPipeline; hours per image on CPU with the paper's schedule"
    OPTIONS: ClassVar[set[str]] = {
        "model_path",
        "num_inference_steps",
        "jump_length",
        "jump_n_sample",
        "eta",
        "batch_size",
    }

    def __init__(
        self,
        pipeline,
        *,
        device: str = "cpu",
        num_inference_steps: int = 250,
        jump_length: int = 10,
        jump_n_sample: int = 10,
        eta: float = 0.0,
        batch_size: int = 4,
        source: str = "",
    ) -> None:
        for key, value in (
            ("num_inference_steps", num_inference_steps),
            ("jump_length", jump_length),
            ("jump_n_sample", jump_n_sample),
            ("batch_size", batch_size),
        ):
            if int(value) < 1:
                raise ConfigError(f"{key} must be at least 1, not {value}")
        if not 0.0 <= float(eta) <= 1.0:
            raise ConfigError(f"eta must lie in [0, 1], not {eta}")
        self.pipeline = pipeline.to(device)
        self.pipeline.set_progress_bar_config(disable=True)
        self.device = device
        self.num_inference_steps = int(num_inference_steps)
        self.jump_length = int(jump_length)
        self.jump_n_sample = int(jump_n_sample)
        self.eta = float(eta)
        self.batch_size = int(batch_size)
        self.source = source
        self.size = _sample_size(pipeline.unet.config.sample_size)

    @classmethod
    def load_pipeline(cls, path: Path):
        """A ``RePaintPipeline`` from a local diffusers folder.

        Args:
            path: pipeline layout (``unet/``, ``scheduler/``) or a bare UNet folder with ``config.json`` (as the
                google/ddpm-* repositories keep it); the DDPM's own scheduler config supplies the beta schedule.

        Returns:
            The pipeline (on the CPU).

        Raises:
            ModelNotFoundError: no ``unet/config.json`` or ``config.json`` in ``path``.
        """
        from diffusers import RePaintPipeline, RePaintScheduler, UNet2DModel

        path = Path(path)
        if (path / "unet" / "config.json").exists():
            unet = UNet2DModel.from_pretrained(path, subfolder="unet", local_files_only=True)
        elif (path / "config.json").exists():
            unet = UNet2DModel.from_pretrained(path, local_files_only=True)
        else:
            raise ModelNotFoundError(f"model repaint not found at {path}: no unet/config.json or config.json there")
        if (path / "scheduler" / "scheduler_config.json").exists():
            scheduler = RePaintScheduler.from_pretrained(path, subfolder="scheduler", local_files_only=True)
        elif (path / "scheduler_config.json").exists():
            # the DDPM's own scheduler config: RePaint takes its beta schedule and ignores the rest
            scheduler = RePaintScheduler.from_pretrained(path, local_files_only=True)
        else:
            scheduler = RePaintScheduler()
        if not isinstance(scheduler, RePaintScheduler):  # from_pretrained of a DDPM config keeps our class
            scheduler = RePaintScheduler.from_config(scheduler.config)
        return RePaintPipeline(unet=unet, scheduler=scheduler)

    def _fill_batch(self, images, masks, seed, item_kwargs):
        import torch

        if any(item_kwargs):
            raise ConfigError(f"unexpected arguments for the repaint inpainter: {sorted(item_kwargs[0])}")
        w, h = self.size
        out: list[np.ndarray] = []
        for part in _chunks(len(images), self.batch_size):
            batch_images = [resize_image(im, (w, h)) for im in images[part]]
            batch_masks = [resize_mask(m, (w, h)) for m in masks[part]]
            pixels = torch.from_numpy(np.stack(batch_images)).permute(0, 3, 1, 2).float() / 127.5 - 1.0
            # RePaint's mask is 1 where pixels are KNOWN (kept), 0 where they are generated
            known = torch.from_numpy(~np.stack(batch_masks)).float()[:, None]
            with warnings.catch_warnings():  # RePaintPipeline warns about its own deprecated PIL preprocessing
                warnings.simplefilter("ignore", FutureWarning)
                result = self._run(pixels, known, seed)
            for original, filled in zip(images[part], result):
                filled = to_uint8(np.asarray(filled) * 255.0)
                out.append(resize_image(filled, (original.shape[1], original.shape[0])))
        return out

    def _run(self, pixels, known, seed):
        return self.pipeline(
            image=pixels.to(self.device),
            mask_image=known.to(self.device),
            num_inference_steps=self.num_inference_steps,
            jump_length=self.jump_length,
            jump_n_sample=self.jump_n_sample,
            eta=self.eta,
            generator=_generators(seed, len(pixels)),
            output_type="np",
        ).images


class StableDiffusionInpainter(_DiffusersInpainter):
    """diffusers ``StableDiffusionInpaintPipeline`` (a 9-channel inpainting UNet, e.g. SD-1.5-inpainting).

    Source: Rombach et al., "High-Resolution Image Synthesis with Latent Diffusion Models", CVPR 2022. SD decodes
    the whole frame through its VAE, which alters known pixels slightly; the base class pastes the original back
    outside the mask.

    Args:
        pipeline: a ``StableDiffusionInpaintPipeline`` (see :meth:`load_pipeline`).
        device: ``"cpu"`` or ``"cuda"``.
        prompt: steers the fill (default: a neutral face description).
        negative_prompt: used when ``guidance_scale`` > 1.
        num_inference_steps: denoising steps.
        guidance_scale: classifier-free guidance weight.
        strength: in (0, 1]; 1 starts the masked area from pure noise.
        size: working side in pixels, a multiple of the model's latent step (default: the UNet's native size).
        batch_size: images per pipeline call.
        source: where the pipeline was loaded from, for the record.

    Raises:
        ConfigError: steps or ``batch_size`` under 1, ``strength`` outside (0, 1], or a ``size`` the model cannot
            take.
    """

    name = "sd-inpaint"
    deterministic = False
    allows_full_mask = True
    HUB_ID = "stable-diffusion-v1-5/stable-diffusion-inpainting"
    DEFAULT_SUBDIR = "stable-diffusion-inpainting"
    LICENCE = "CreativeML OpenRAIL-M (SD-1.5 inpainting)"
    DETAIL = "diffusers StableDiffusionInpaintPipeline; original pasted back outside the mask"
    OPTIONS: ClassVar[set[str]] = {
        "model_path",
        "prompt",
        "negative_prompt",
        "num_inference_steps",
        "guidance_scale",
        "strength",
        "size",
        "batch_size",
    }

    def __init__(
        self,
        pipeline,
        *,
        device: str = "cpu",
        prompt: str = "a photo of a person's face, natural skin, realistic",
        negative_prompt: str = "",
        num_inference_steps: int = 25,
        guidance_scale: float = 7.5,
        strength: float = 1.0,
        size: int | None = None,
        batch_size: int = 2,
        source: str = "",
    ) -> None:
        if int(num_inference_steps) < 1 or int(batch_size) < 1:
            raise ConfigError("num_inference_steps and batch_size must be at least 1")
        if not 0.0 < float(strength) <= 1.0:
            raise ConfigError(f"strength must lie in (0, 1], not {strength}")
        self.pipeline = pipeline.to(device)
        self.pipeline.set_progress_bar_config(disable=True)
        self.device = device
        self.prompt = prompt
        self.negative_prompt = negative_prompt
        self.num_inference_steps = int(num_inference_steps)
        self.guidance_scale = float(guidance_scale)
        self.strength = float(strength)
        self.batch_size = int(batch_size)
        self.source = source
        factor = int(pipeline.vae_scale_factor)
        default = _sample_size(pipeline.unet.config.sample_size)[0] * factor
        size = int(size or default)
        # the latent grid must divide evenly, and the UNet halves it once per down block
        step = factor * 2 ** (len(pipeline.unet.config.block_out_channels) - 1)
        if size < step or size % step:
            raise ConfigError(f"size must be a positive multiple of {step} for this model, not {size}")
        self.size = (size, size)

    @classmethod
    def load_pipeline(cls, path: Path):
        """A ``StableDiffusionInpaintPipeline`` from a local diffusers folder (no safety checker).

        Args:
            path: a folder with ``model_index.json``.

        Returns:
            The pipeline (on the CPU).

        Raises:
            ModelNotFoundError: no ``model_index.json`` in ``path``.
            ConfigError: the UNet is not a 9-channel inpainting UNet.
        """
        from diffusers import StableDiffusionInpaintPipeline

        path = Path(path)
        if not (path / "model_index.json").exists():
            raise ModelNotFoundError(f"model sd-inpaint not found at {path}: no model_index.json there")
        pipe = StableDiffusionInpaintPipeline.from_pretrained(
            path, local_files_only=True, safety_checker=None, feature_extractor=None, requires_safety_checker=False
        )
        if pipe.unet.config.in_channels != 9:
            raise ConfigError(
                f"{path} holds a UNet with {pipe.unet.config.in_channels} input channels; Stable-Diffusion "
                "inpainting needs a 9-channel inpainting UNet (e.g. stable-diffusion-inpainting)"
            )
        return pipe

    def _fill_batch(self, images, masks, seed, item_kwargs):
        from PIL import Image

        if any(item_kwargs):
            raise ConfigError(f"unexpected arguments for the sd-inpaint inpainter: {sorted(item_kwargs[0])}")
        w, h = self.size
        out: list[np.ndarray] = []
        for part in _chunks(len(images), self.batch_size):
            pil_images = [Image.fromarray(resize_image(im, (w, h))) for im in images[part]]
            pil_masks = [Image.fromarray(resize_mask(m, (w, h)).astype(np.uint8) * 255) for m in masks[part]]
            n = len(pil_images)
            result = self.pipeline(
                prompt=[self.prompt] * n,
                negative_prompt=[self.negative_prompt] * n if self.guidance_scale > 1 else None,
                image=pil_images,
                mask_image=pil_masks,
                height=h,
                width=w,
                num_inference_steps=self.num_inference_steps,
                guidance_scale=self.guidance_scale,
                strength=self.strength,
                generator=_generators(seed, n),
                output_type="np",
            ).images
            for original, filled in zip(images[part], result):
                filled = to_uint8(np.asarray(filled) * 255.0)
                out.append(resize_image(filled, (original.shape[1], original.shape[0])))
        return out


def _require_diffusers() -> None:
    try:
        import diffusers  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        raise ModelUnavailableError(f"diffusion inpainting needs torch and diffusers: {exc}") from exc
