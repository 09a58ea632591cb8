"""The cut-and-paste sanity check (xFace §4.3) for S0 with the default fill and face model.

Region R of photo B (another person) is pasted into photo A on the aligned crops; then S0 on (A', B) should name R
the most similar region. With dlib single regions move the cosine by only about 0.002-0.01 while hiding a region in
BOTH photos of different people mostly makes them more alike (the fills resemble each other), so the strict criterion
holds for well under all regions. Measured on these 4 pairs x 7 regions (TELEA, dlib-torch): S0 ranks R first in
39-43% of trials (chance: 1 in 8-9 regions; eyebrows, nose, chin and cheeks mostly, eyes and mouth never), R is the
region whose S0 contribution rose most against the unpasted pair in 64%, and the A-only variant puts R in its top two in 79-82%. The assertions keep those levels with some slack.
"""

from __future__ import annotations

import numpy as np
import pytest

from explain_engine.explain import explain_arrays
from explain_engine.regions import Regions

PAIRS = [
    ("obama/1.jpg", "elon/1.jpg"),
    ("mark/2.jpg", "jack/1.jpg"),
    ("biden/2.jpg", "clapton/1.jpg"),
    ("kit_harington/1.jpg", "lennon/1.jpg"),
]
PASTED = ("forehead", "eyebrows", "eyes", "nose", "cheeks", "mouth", "chin")


def paste_region(face_a, face_b, region: str) -> tuple[np.ndarray, Regions]:
    """A's crop with B's pixels over region R (the union of R in both crops, so R is wholly B's), and A's regions
    with R widened to that union and removed from the others (masks must not overlap)."""
    union = face_a.regions.masks[region] | face_b.regions.masks[region]
    crop = face_a.crop.copy()
    crop[union] = face_b.crop[union]
    masks = {name: mask & ~union for name, mask in face_a.regions.masks.items() if name != region}
    masks[region] = union
    masks = {name: mask for name, mask in masks.items() if mask.any()}
    return crop, Regions(masks=masks, absent=dict(face_a.regions.absent), region_set=face_a.regions.region_set)


@pytest.fixture(scope="module")
def trials(engine, faces_dir):
    fill = engine.make_fill()
    embed = engine.pipeline.embed
    out = []
    for name_a, name_b in PAIRS:
        fa = engine.pipeline.prepare(faces_dir / name_a, name_a)
        fb = engine.pipeline.prepare(faces_dir / name_b, name_b)
        base = explain_arrays(fa.crop, fb.crop, fa.regions, fb.regions, embed, fill, methods=("s0",),
                              threshold=engine.threshold)  # fmt: skip
        for region in PASTED:
            crop, regions = paste_region(fa, fb, region)
            res = explain_arrays(crop, fb.crop, regions, fb.regions, embed, fill, methods=("s0",),
                                 threshold=engine.threshold)  # fmt: skip
            both, a_only = res.results["s0"].deltas, res.results["s0_a"].deltas
            rise = {r: both[r] - base.results["s0"].deltas.get(r, 0.0) for r in both}
            out.append({
                "pair": f"{name_a} + {name_b}",
                "region": region,
                "rank": sorted(both, key=lambda r: -both[r]).index(region) + 1,
                "rise_top": max(rise, key=rise.get) == region,
                "a_only_rank": sorted(a_only, key=lambda r: -a_only[r]).index(region) + 1,
                "pasted_raises_similarity": res.reference > base.reference,
            })
    return out


def test_pasted_region_is_found(trials):
    n = len(trials)
    strict = sum(t["rank"] == 1 for t in trials) / n
    rise = sum(t["rise_top"] for t in trials) / n
    a_top2 = sum(t["a_only_rank"] <= 2 for t in trials) / n
    by_region = {r: [t["rank"] for t in trials if t["region"] == r] for r in PASTED}
    report = (f"cut-and-paste over {n} trials: S0 ranks the pasted region first in {strict:.0%}; it is the region "
              f"whose contribution rose most in {rise:.0%}; the A-only S0 has it in its top two in {a_top2:.0%}; "
              f"S0 ranks by region: {by_region}")  # fmt: skip
    print(report)
    assert strict >= 0.3, report  # 3x chance; the strict xFace criterion is not met for most regions with dlib
    assert rise > 0.5, report  # but the pasted region's contribution is what rises most, for most regions
    assert a_top2 > 0.5, report


def test_pasting_makes_the_faces_more_alike(trials):
    """Sanity of the set-up itself: copying a region of B into A raises S(A', B) in most trials."""
    share = sum(t["pasted_raises_similarity"] for t in trials) / len(trials)
    assert share > 0.7, share
