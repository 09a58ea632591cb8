"""Timings of face detection, Face Mesh landmarks and alignment on this machine (prints figures, asserts nothing).

    .venv/bin/python benchmarks/bench_face.py [--repeat 10] [--photos 4]

Photos: the astronaut (512 px) and, when present, a few development photos from ../shared/faces (or
FACEX_FACES_DIR) after ``load_image`` (longer side at most 2048 px). Wall time is the median of ``--repeat`` runs;
CPU time (all threads of this process) is shown beside it, because the machine may be shared.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _timed(fn, repeat: int) -> tuple[float, float, object]:
    """(median wall ms, median CPU ms, last result) over ``repeat`` calls."""
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        walls.append((time.perf_counter() - w0) * 1000)
        cpus.append((time.process_time() - c0) * 1000)
    return statistics.median(walls), statistics.median(cpus), result


def _once(fn) -> tuple[float, object]:
    t0 = time.perf_counter()
    result = fn()
    return (time.perf_counter() - t0) * 1000, result


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--photos", type=int, default=4, help="development photos to include (0 = astronaut only)")
    args = parser.parse_args()

    import numpy as np
    from skimage import data

    from models.images import load_image

    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}")
    print(f"peak RSS before models: {_peak_rss_mib():.0f} MiB\n")

    # --- loading ---------------------------------------------------------------------------------------
    from models.alignment import align, keypoints_from_mesh

    ms, _ = _once(lambda: __import__("mediapipe"))
    print(f"load  import mediapipe                     {ms:8.1f} ms")
    from models.detection import DlibHogDetector, MediaPipeDetector
    from models.landmarks import FaceMeshLandmarks

    ms, hog = _once(DlibHogDetector)
    print(f"load  dlib-hog (detector + shape_predictor_5) {ms:6.1f} ms")
    astronaut = np.ascontiguousarray(data.astronaut())
    detectors = {name: MediaPipeDetector(name) for name in ("mediapipe", "mediapipe-short", "mediapipe-full")}
    for name, det in detectors.items():
        ms, _ = _once(lambda det=det: det.detect(astronaut))  # creates the graph(s) lazily
        print(f"load  {name:<16} first call (graph)     {ms:8.1f} ms")
    detectors["dlib-hog"] = hog
    mesh = FaceMeshLandmarks(detector=detectors["mediapipe"])
    box = detectors["mediapipe"].detect(astronaut)[0].box
    ms, _ = _once(lambda: mesh.landmarks(astronaut, box))
    print(f"load  Face Mesh first call (graph)          {ms:8.1f} ms")
    print(f"peak RSS after loading: {_peak_rss_mib():.0f} MiB\n")

    # --- photos --------------------------------------------------------------------------------------
    photos = [("astronaut", astronaut)]
    faces_dir = Path(os.environ.get("FACEX_FACES_DIR", REPO.parent / "shared" / "faces"))
    if args.photos and faces_dir.is_dir():
        files = sorted(p for p in faces_dir.glob("*/*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
        step = max(1, len(files) // args.photos)
        for path in files[::step][: args.photos]:
            photos.append((f"{path.parent.name}/{path.name}", load_image(path)))
    elif args.photos:
        print(f"(no development photos at {faces_dir}; astronaut only)\n")

    header = f"{'photo':<22}{'size':>11}  {'stage':<28}{'wall ms':>9}{'cpu ms':>9}  result"
    print(header)
    print("-" * len(header))
    totals: dict[str, list[float]] = {}
    for name, image in photos:
        size = f"{image.shape[1]}x{image.shape[0]}"
        for det_name, det in detectors.items():
            repeat = args.repeat if det_name != "dlib-hog" else max(2, args.repeat // 3)
            wall, cpu, faces = _timed(lambda det=det, image=image: det.detect(image), repeat)
            note = f"{len(faces)} face(s), largest {faces[0].size:.0f} px" if faces else "no face"
            print(f"{name:<22}{size:>11}  {'detect ' + det_name:<28}{wall:9.1f}{cpu:9.1f}  {note}")
            totals.setdefault(f"detect {det_name}", []).append(wall)
        faces = detectors["mediapipe"].detect(image)
        if not faces:
            continue
        box = faces[0].box
        wall, cpu, pts = _timed(lambda image=image, box=box: mesh.landmarks(image, box), args.repeat)
        shape = None if pts is None else pts.shape
        print(f"{'':<22}{'':>11}  {'landmarks (Face Mesh, crop)':<28}{wall:9.1f}{cpu:9.1f}  {shape}")
        totals.setdefault("landmarks", []).append(wall)

        def engine_path(image=image):
            found = detectors["mediapipe"].detect(image)
            return mesh.landmarks(image, found[0].box)

        wall, cpu, _ = _timed(engine_path, args.repeat)
        print(f"{'':<22}{'':>11}  {'detect + landmarks':<28}{wall:9.1f}{cpu:9.1f}")
        totals.setdefault("detect + landmarks", []).append(wall)
        if pts is None:
            continue
        for template in ("arcface112", "dlib150"):
            wall, cpu, face = _timed(
                lambda t=template, image=image, pts=pts: align(image, keypoints_from_mesh(pts, t), t), args.repeat
            )
            print(f"{'':<22}{'':>11}  {'align ' + template:<28}{wall:9.2f}{cpu:9.2f}  {face.crop.shape}")
            totals.setdefault(f"align {template}", []).append(wall)

    print("\nmedian over photos (wall ms):")
    for stage, values in totals.items():
        print(f"  {stage:<28}{statistics.median(values):9.2f}")
    print(f"\npeak RSS: {_peak_rss_mib():.0f} MiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
