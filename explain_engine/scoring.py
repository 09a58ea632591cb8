"""Similarity scoring for perturbation attributions: batched embedding with cached references.

Algorithms receive a :class:`PairScorer` (or the bare embed callable) and never a model object, so they stay pure
functions over arrays and can be tested with synthetic embed functions.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from models.embedding import cosine_similarity

EmbedFn = Callable[[np.ndarray], np.ndarray]  # (N, H, W, 3) uint8 -> (N, D) float


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
    """Cosine similarity of two vectors (float) or, row-wise, of two (N, D) arrays / one (D,) against (N, D).

    Clipped to [-1, 1] so that rounding never yields a negative distance 1 - cos for identical faces.
    """
    sim = np.clip(cosine_similarity(a, b), -1.0, 1.0)
    return float(sim[0]) if np.ndim(a) == 1 and np.ndim(b) == 1 else sim


class PairScorer:
    """Scores perturbed versions of one image pair against each other and against the unperturbed pair.

    The two reference embeddings are computed once; ``None`` in :meth:`score_pairs` stands for the unperturbed image,
    so one-sided variants (perturb only A or only B) cost no extra reference embeddings. ``n_embeddings`` counts every
    image passed through ``embed``.
    """

    def __init__(self, embed: EmbedFn, image_a: np.ndarray, image_b: np.ndarray, *, batch_size: int = 32):
        self.embed_fn = embed
        self.batch_size = int(batch_size)
        self.n_embeddings = 0
        self.image_a = image_a
        self.image_b = image_b
        ref = self.embed([image_a, image_b])
        self.embedding_a = ref[0]
        self.embedding_b = ref[1]
        self.reference = float(cosine(self.embedding_a, self.embedding_b))

    def embed(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """(N, D) float64 embeddings of ``images``, computed in batches of ``batch_size``."""
        images = list(images)
        if not images:
            return np.zeros((0, 0))
        out = []
        for start in range(0, len(images), self.batch_size):
            chunk = np.stack(images[start : start + self.batch_size]).astype(np.uint8, copy=False)
            out.append(np.asarray(self.embed_fn(chunk), dtype=np.float64))
            self.n_embeddings += len(chunk)
        return np.concatenate(out, axis=0)

    def score_embeddings(self, emb_a: np.ndarray | None, emb_b: np.ndarray | None) -> np.ndarray:
        """Row-wise cosine; ``None`` for a side means that side's cached reference embedding."""
        ea = self.embedding_a[None] if emb_a is None else emb_a
        eb = self.embedding_b[None] if emb_b is None else emb_b
        return np.atleast_1d(cosine(ea, eb))

    def score_pairs(
        self, list_a: Sequence[np.ndarray | None], list_b: Sequence[np.ndarray | None]
    ) -> np.ndarray:
        """Cosine similarity of each (list_a[i], list_b[i]); a ``None`` entry is the unperturbed image (cached)."""
        if len(list_a) != len(list_b):
            raise ValueError("score_pairs needs lists of equal length")
        n = len(list_a)
        todo = [x for x in list(list_a) + list(list_b) if x is not None]
        emb = self.embed(todo) if todo else None
        rows_a, rows_b, k = [], [], 0
        for x in list_a:
            if x is None:
                rows_a.append(self.embedding_a)
            else:
                rows_a.append(emb[k])
                k += 1
        for x in list_b:
            if x is None:
                rows_b.append(self.embedding_b)
            else:
                rows_b.append(emb[k])
                k += 1
        if n == 0:
            return np.zeros(0)
        return np.atleast_1d(cosine(np.stack(rows_a), np.stack(rows_b)))
