"""S0 with the real face model (dlib ResNet, torch port) on aligned crops: the identical-pair sanity check and the
cut-and-paste test of xFace §4.3. Skips when the model or the development photos are not available."""

from __future__ import annotations

import numpy as np
import pytest

from explain_engine.attribution.single import single_inpaint
from explain_engine.perturbation import make_fill
from explain_engine.regions import build_regions

mp = pytest.importorskip("mediapipe")
PASTE_REGIONS = ("forehead", "eyebrows", "eyes", "nose", "cheeks", "mouth", "chin")


@pytest.fixture(scope="module")
def embedder():
    try:
        from models.embedding.dlib_torch import DlibTorchEmbedder

        return DlibTorchEmbedder()
    except Exception as exc:  # the model adapter is another part of the project; skip until it loads here
        pytest.skip(f"dlib-torch embedder not available: {exc}")


@pytest.fixture(scope="module")
def prepare():
    from models.alignment import align, keypoints_from_mesh

    fm = mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1, refine_landmarks=True)

    def run(image):
        res = fm.process(image)
        assert res.multi_face_landmarks, "no face found"
        h, w = image.shape[:2]
        pts = np.array([[p.x * w, p.y * h] for p in res.multi_face_landmarks[0].landmark])
        face = align(image, keypoints_from_mesh(pts, "dlib150"), "dlib150")
        return face.crop, build_regions(face.to_crop(pts), face.crop.shape[:2], None, "coarse")

    yield run
    fm.close()


def test_identical_pair_scores_one_and_has_no_negative_region(astronaut, embedder, prepare):
    crop, regions = prepare(astronaut)
    res = single_inpaint(crop, crop.copy(), regions.masks, regions.masks, embedder.embed, make_fill("inpaint"))
    both = res["both"]
    assert both.reference == pytest.approx(1.0, abs=1e-6)
    assert all(d >= -1e-6 for d in both.deltas.values())
    assert all(v >= 0 for v in both.normalised.values())
    # one-sided: hiding a region in one copy only can only make the copies less alike
    assert all(d > 0 for d in res["a"].deltas.values())
    assert max(res["a"].normalised.values()) == 1.0


def test_cut_and_paste_region_is_ranked_most_similar(face_pairs, embedder, prepare):
    """Paste region R of photo B (another person) into photo A; S0 on (A', B) should find R the most similar.

    Measured on 5 impostor pairs x 7 regions with TELEA and dlib: the one-sided variant (only A' perturbed) puts R
    first in 63% of cases and in its top 3 in 89%; S0 on both photos puts R first in 49%, top 3 in 77% (single
    dlib regions move the cosine by ~0.01, so neighbours compete). The test asserts the majority claims on 3 pairs.
    """
    from models.images import load_image

    impostors = [(a, b) for a, b, label in face_pairs if label == 0]
    seen, pairs = set(), []
    for a, b in impostors:  # distinct people, deterministic choice
        key = (a.parent.name, b.parent.name)
        if key not in seen and a.parent.name != b.parent.name:
            seen.add(key)
            pairs.append((a, b))
        if len(pairs) == 3:
            break
    fill = make_fill("inpaint")
    first_one_sided = top3_both = total = 0
    for path_a, path_b in pairs:
        crop_a, _ = prepare(load_image(path_a))
        crop_b, regions_b = prepare(load_image(path_b))
        masks = regions_b.masks  # aligned crops: B's masks are co-located on A' as well
        for region in PASTE_REGIONS:
            pasted = crop_a.copy()
            pasted[masks[region]] = crop_b[masks[region]]
            res = single_inpaint(pasted, crop_b, masks, masks, embedder.embed, fill, variants=("both", "a"))
            first_one_sided += res["a"].ranking()[0] == region
            top3_both += region in res["both"].ranking()[:3]
            total += 1
    assert first_one_sided / total > 0.5, f"pasted region first (A' only) in {first_one_sided}/{total}"
    assert top3_both / total >= 0.6, f"pasted region in the top 3 (both photos) in {top3_both}/{total}"
