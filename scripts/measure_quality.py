"""Measure the quality components on the development photos and on degraded copies of them.

The thresholds in ``prompts/quality_policy.yaml`` come from this script's figures. For every development photo
(``../shared/faces`` or ``FACEX_FACES_DIR``; skipped when absent) and the astronaut it builds the degraded copies of
:mod:`explain_engine.quality.degrade`, runs the pipeline (detection, Face Mesh, alignment, parsing, regions) and the
quality stage, and prints per condition: how many copies the detector or mesh already refused, each component's
min / median / max, and the policy's pass / warn / refuse counts. Nothing is written except with ``--csv FILE``
(one row per photo and condition; the file holds numbers only, never pixels).

    python scripts/measure_quality.py [--csv values.csv] [--limit N]
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from explain_engine.pipeline import FacePipeline
from explain_engine.quality import assess, degrade, load_policy, measure_face
from models.errors import FaceXError
from models.images import load_image

FACES = Path(os.environ.get("FACEX_FACES_DIR", ROOT.parent / "shared" / "faces"))


def conditions(image: np.ndarray, landmarks: np.ndarray) -> dict[str, np.ndarray]:
    d = degrade
    return {
        "clean": image,
        "rot90": d.rotate(image, 90), "rot180": d.rotate(image, 180), "rot270": d.rotate(image, 270),
        "dark_glasses": d.dark_glasses(image, landmarks), "face_mask": d.face_mask(image, landmarks),
        "dark_mean8": d.darken(image, 8), "bright_x3": d.brighten(image, 3.0),
        "cut_below_nose": d.cut_below_nose(image, landmarks),
        "blur_s2": d.blur(image, 2.0), "blur_s5": d.blur(image, 5.0), "noise_sd12": d.noise(image, 12),
        "jpeg_q10": d.jpeg(image, 10), "downscale_x0.25": d.downscale(image, 0.25),
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path)
    ap.add_argument("--limit", type=int, default=0)
    args = ap.parse_args(argv)
    from skimage import data

    photos: list[tuple[str, np.ndarray]] = [("astronaut", np.ascontiguousarray(data.astronaut()))]
    if (FACES / "pairs.csv").exists():
        for p in sorted(FACES.glob("*/*")):
            if p.suffix.lower() in (".jpg", ".jpeg", ".png"):
                photos.append((f"{p.parent.name}/{p.name}", load_image(p)))
    else:
        print(f"development photos not found at {FACES}; astronaut only")
    if args.limit:
        photos = photos[: args.limit]
    pipe = FacePipeline(quality=False)  # the quality stage is run below, so that refusals are counted, not raised
    policy = load_policy()
    detect = pipe.quality_detect  # the engine's re-detector (BlazeFace short range)
    rows: list[dict] = []
    for i, (name, image) in enumerate(photos):
        base = pipe.prepare(image, name, regions=False)
        imgs = conditions(image, base.landmarks)
        for k, seed in enumerate(((250, 205, 160), (120, 200, 120), (200, 170, 230))):
            if i == 0:
                imgs[f"cartoon{k}"] = degrade.cartoon_face(skin=seed, seed=k)
        for cond, img in imgs.items():
            row = {"photo": name, "condition": cond}
            try:
                face = pipe.prepare(img, name, regions=True)
            except FaceXError as exc:
                row["outcome"] = "refused_before_quality"
                row["error"] = type(exc).__name__
                rows.append(row)
                continue
            values, vis = measure_face(face.image, face.landmarks, face.aligned, landmarks_crop=face.landmarks_crop,
                                       parsing=face.parsing, regions=face.regions, detect=detect,
                                       flat_level=policy.flat_level)
            q = assess(face.image, face.landmarks, face.aligned, name=name, landmarks_crop=face.landmarks_crop,
                       parsing=face.parsing, regions=face.regions, detect=detect, policy=policy)
            row.update({k: v for k, v in values.items()})
            row["outcome"] = q.outcome
            row["why"] = ",".join(f"{c.name}:{c.outcome}" for c in q.components if c.outcome in ("warn", "refuse"))
            row["absent"] = ",".join(f"{r}:{v.absent_reason}" for r, v in q.visibility.items() if v.absent_reason)
            for r, v in vis.items():
                row[f"flat_{r}"] = v["flat_fraction"]
                row[f"visible_{r}"] = v["visible_fraction"]
            rows.append(row)
        print(f"{i + 1}/{len(photos)} {name}", file=sys.stderr, flush=True)

    by_cond: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_cond[r["condition"]].append(r)
    keys = [k for k in rows[0] if k not in ("photo", "condition", "outcome", "why", "absent", "error")]
    keys = [k for k in dict.fromkeys(k for r in rows for k in r) if k not in
            ("photo", "condition", "outcome", "why", "absent", "error")]
    for cond, rs in by_cond.items():
        counts = defaultdict(int)
        for r in rs:
            counts[r["outcome"]] += 1
        print(f"\n== {cond}: n={len(rs)} " + " ".join(f"{k}={v}" for k, v in sorted(counts.items())))
        for k in keys:
            vals = np.array([r[k] for r in rs if r.get(k) is not None], dtype=float)
            vals = vals[np.isfinite(vals)]
            if vals.size:
                print(f"   {k:24s} min {vals.min():9.3f}  p10 {np.percentile(vals, 10):9.3f}  median "
                      f"{np.median(vals):9.3f}  p90 {np.percentile(vals, 90):9.3f}  max {vals.max():9.3f}")
        for r in rs:
            if r["outcome"] != "pass" and cond == "clean" or (r["outcome"] == "pass" and cond != "clean"):
                print(f"   {r['photo']}: {r['outcome']} {r.get('why', r.get('error', ''))} {r.get('absent', '')}")
    if args.csv:
        with open(args.csv, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(dict.fromkeys(k for r in rows for k in r)))
            w.writeheader()
            w.writerows(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
