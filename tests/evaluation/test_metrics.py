"""Deletion / Insertion on constructed cases: a synthetic similarity that looks only at some pixels."""

from __future__ import annotations

import numpy as np
import pytest

from explain_engine.evaluation import metrics

SIZE = 24
USED = np.zeros((SIZE, SIZE), dtype=bool)
USED[4:12, 6:18] = True  # the only pixels the synthetic "face model" looks at (1/6 of the image)
THRESHOLD = 0.8


def synthetic_embed(image: np.ndarray) -> np.ndarray:
    """Embedding = the centred values of the USED pixels: nothing else can change the similarity."""
    return image[USED].astype(np.float64).ravel() - 127.5


def cos(u, v) -> float:
    return float(u @ v / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-12))


def make_score(image_a, image_b):
    def score(list_a, list_b):
        out = []
        for a, b in zip(list_a, list_b):
            a = image_a if a is None else a
            b = image_b if b is None else b
            out.append(cos(synthetic_embed(a), synthetic_embed(b)))
        return np.array(out)
    return score


def genuine_pair(seed: int):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 256, (SIZE, SIZE, 3)).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-10, 11, a.shape), 0, 255).astype(np.uint8)
    return a, b


def run_method(importance: np.ndarray, *, pairs: int = 6, removal: str = "black") -> tuple[float, float]:
    fractions = metrics.step_fractions(21)
    deletion, insertion = [], []
    for seed in range(pairs):
        a, b = genuine_pair(seed)
        curves = metrics.deletion_insertion_curves(
            a, b, importance, importance, make_score(a, b),
            removed_a=metrics.removal_image(a, removal), removed_b=metrics.removal_image(b, removal),
            fractions=fractions, seed=100 + seed)
        deletion.append(curves["deletion"])
        insertion.append(curves["insertion"])
    labels = np.ones(2 * pairs, dtype=int)
    d = metrics.accuracy_curve(np.concatenate(deletion), labels, THRESHOLD)
    i = metrics.accuracy_curve(np.concatenate(insertion), labels, THRESHOLD)
    return metrics.auc(fractions, d), metrics.auc(fractions, i)


@pytest.mark.parametrize("removal", ["black", "blur"])
def test_exact_map_beats_random_and_reverse(removal):
    exact = USED.astype(np.float32)
    del_exact, ins_exact = run_method(exact, removal=removal)
    del_rand, ins_rand = run_method(np.zeros_like(exact), removal=removal)
    del_rev, ins_rev = run_method(-exact, removal=removal)
    assert del_exact < del_rand < del_rev
    assert ins_exact > ins_rand > ins_rev
    # the exact map removes the used pixels within the first 1/6 of the steps
    assert del_exact < 20 and ins_exact > 80
    for v in (del_exact, ins_exact, del_rand, ins_rand, del_rev, ins_rev):
        assert 0.0 <= v <= 100.0


def test_curves_start_and_end_where_they_must():
    a, b = genuine_pair(0)
    fractions = metrics.step_fractions(5)
    removed_a, removed_b = metrics.removal_image(a, "black"), metrics.removal_image(b, "black")
    score = make_score(a, b)
    curves = metrics.deletion_insertion_curves(a, b, USED.astype(float), USED.astype(float), score,
                                               removed_a=removed_a, removed_b=removed_b, fractions=fractions)
    ref = score([None], [None])[0]
    assert curves["deletion"].shape == (2, 5) and curves["insertion"].shape == (2, 5)
    np.testing.assert_allclose(curves["deletion"][:, 0], ref)
    np.testing.assert_allclose(curves["insertion"][:, -1], ref)
    np.testing.assert_allclose(curves["deletion"][0, -1], score([removed_a], [None])[0])
    np.testing.assert_allclose(curves["insertion"][1, 0], score([None], [removed_b])[0])


def test_auc_bounds_and_errors():
    x = metrics.step_fractions(11)
    assert metrics.auc(x, np.ones_like(x)) == pytest.approx(100.0)
    assert metrics.auc(x, np.zeros_like(x)) == pytest.approx(0.0)
    assert metrics.auc(x, x) == pytest.approx(50.0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        assert 0.0 <= metrics.auc(x, rng.random(x.size)) <= 100.0
    with pytest.raises(ValueError):
        metrics.auc([0.0], [1.0])
    with pytest.raises(ValueError):
        metrics.auc([0.0, 0.5], [1.0])
    with pytest.raises(ValueError):
        metrics.step_fractions(1)


def test_order_ties_are_fixed_and_values_come_first():
    importance = np.zeros((6, 6))
    importance[0, :3] = 1.0
    o1 = metrics.removal_order(importance, seed=3)
    o2 = metrics.removal_order(importance, seed=3)
    o3 = metrics.removal_order(importance, seed=4)
    np.testing.assert_array_equal(o1, o2)
    assert set(o1[:3]) == {0, 1, 2}
    assert not np.array_equal(o1[3:], o3[3:])  # another seed, another tie order
    mask = metrics.top_fraction_mask(o1, (6, 6), 0.5)
    assert mask.sum() == 18 and mask[0, :3].all()


def test_accuracy_curve_uses_labels_and_threshold():
    sims = np.array([[0.9, 0.5], [0.9, 0.5], [0.3, 0.95]])
    acc = metrics.accuracy_curve(sims, [1, 1, 0], 0.8)
    np.testing.assert_allclose(acc, [1.0, 0.0])
    with pytest.raises(ValueError):
        metrics.accuracy_curve(sims, [1, 0], 0.8)


def test_removal_image():
    a, _ = genuine_pair(1)
    assert not metrics.removal_image(a, "black").any()
    blurred = metrics.removal_image(a, "blur")
    assert blurred.shape == a.shape and blurred.std() < a.std() / 3
    with pytest.raises(ValueError):
        metrics.removal_image(a, "noise")
