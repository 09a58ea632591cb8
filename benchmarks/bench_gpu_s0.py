"""S0 with a learned inpainter of real size: RePaint over a UNet with google/ddpm-ema-celebahq-256's architecture.

    .venv/bin/python benchmarks/bench_gpu_s0.py                      # on CUDA when present, paper schedule
    .venv/bin/python benchmarks/bench_gpu_s0.py --steps 50 --jump-length 5 --resamples 2 --batch-size 20
    .venv/bin/python benchmarks/bench_gpu_s0.py --device cpu --steps 2 --jump-length 1 --resamples 1  # code path

The UNet has random weights (no registry package ships the DDPM): it is saved to a temporary diffusers folder and
loaded back through the RePaint adapter's own loading code, so the timing covers the real network size, the
adapter and the engine's batching, not the quality of the fills. Prints the device, the UNet calls RePaint's
schedule makes per image, the wall time of one S0 (every region filled in both photos, then embedded) and, in
the same run, S0 with the default TELEA fill. The reference work needed 1.07 h per pair for S0 on a GPU.
Without CUDA the published schedule takes hours per image on a CPU: pass a short schedule to check the code path.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing here may reach a model hub

from bench_engine import load_pairs


def save_repaint_unet(folder: Path) -> Path:
    """google/ddpm-ema-celebahq-256's UNet and a RePaint scheduler, random weights, as a diffusers folder."""
    from diffusers import RePaintScheduler, UNet2DModel

    unet = UNet2DModel(sample_size=256, block_out_channels=(128, 128, 256, 256, 512, 512), layers_per_block=2,
                       down_block_types=("DownBlock2D",) * 4 + ("AttnDownBlock2D", "DownBlock2D"),
                       up_block_types=("UpBlock2D", "AttnUpBlock2D") + ("UpBlock2D",) * 4)  # fmt: skip
    unet.save_pretrained(folder / "unet")
    RePaintScheduler().save_pretrained(folder / "scheduler")
    return folder


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", choices=("auto", "cuda", "cpu"), default="auto")
    ap.add_argument("--steps", type=int, default=250, help="RePaint inference steps (paper: 250)")
    ap.add_argument("--jump-length", type=int, default=10, help="RePaint jump length (paper: 10)")
    ap.add_argument("--resamples", type=int, default=10, help="RePaint jump_n_sample (paper: 10)")
    ap.add_argument("--batch-size", type=int, default=18, help="images per UNet batch (S0 fills 2 x regions)")
    ap.add_argument("--pairs", type=int, default=1)
    args = ap.parse_args(argv)

    import torch

    from explain_engine.engine import Engine, EngineConfig, _union_mask
    from explain_engine.explain import explain_arrays
    from explain_engine.perturbation import make_fill
    from models import registry
    from models.config import ModelConfig
    from models.runtime import torch_device

    engine = Engine(EngineConfig(methods=("s0",)))
    with tempfile.TemporaryDirectory() as tmp:
        path = save_repaint_unet(Path(tmp))
        config = ModelConfig(paths={"inpainter": str(path)}, device=args.device)
        t0 = time.perf_counter()
        repaint = registry.create("inpainter", config, "repaint", num_inference_steps=args.steps,
                                  jump_length=args.jump_length, jump_n_sample=args.resamples,
                                  batch_size=args.batch_size)  # fmt: skip
        load_s = time.perf_counter() - t0
    device = torch_device(config)
    name = torch.cuda.get_device_name(0) if device == "cuda" else f"CPU, {torch.get_num_threads()} torch threads"
    sched = repaint.pipeline.scheduler
    sched.set_timesteps(args.steps, args.jump_length, args.resamples)
    calls = int((torch.diff(sched.timesteps) < 0).sum()) + 1
    params = sum(p.numel() for p in repaint.pipeline.unet.parameters()) / 1e6
    print(f"device: {device} ({name}); UNet {params:.1f} M parameters, random weights; load {load_s:.1f} s")
    print(f"schedule: {args.steps} steps, jump {args.jump_length} x {args.resamples} -> {calls} UNet calls per "
          f"batch of up to {args.batch_size} images")

    for name_a, src_a, name_b, src_b in load_pairs(args.pairs):
        fa = engine.pipeline.prepare(src_a, str(name_a))
        fb = engine.pipeline.prepare(src_b, str(name_b))
        face = _union_mask(fa.regions) | _union_mask(fb.regions)
        common = {"methods": ("s0",), "threshold": engine.threshold, "one_sided": False}
        t = time.perf_counter()
        explain_arrays(fa.crop, fb.crop, fa.regions, fb.regions, engine.pipeline.embed,
                       engine.make_fill(source_mask=face), **common)  # fmt: skip
        telea_s = time.perf_counter() - t
        if device == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        res = explain_arrays(fa.crop, fb.crop, fa.regions, fb.regions, engine.pipeline.embed,
                             make_fill("inpaint", repaint, seed=0, source_mask=face), **common)  # fmt: skip
        if device == "cuda":
            torch.cuda.synchronize()
        repaint_s = time.perf_counter() - t
        fills = 2 * len(res.regions)
        print(f"{name_a} vs {name_b}: S0 with RePaint {repaint_s:.1f} s ({fills} fills, "
              f"{res.n_embeddings_by_method['s0']} embeddings; {repaint_s / fills:.2f} s per fill); "
              f"S0 with TELEA {telea_s:.2f} s ({repaint_s / telea_s:.0f}x)", flush=True)
    if device == "cuda":
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
