"""Sentence-embedding retrieval: the most similar context sentences to a question (the paper's sub-context), and
the intent router that compares a question with example questions from prompts/intents.yaml plus keyword cues.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from chatbot.context import Sentence
from models.base import SentenceEmbedder


def encode(embedder: SentenceEmbedder, texts: Sequence[str]) -> np.ndarray:
    """(N, D) float32 unit-norm rows (re-normalised in case an embedder does not)."""
    texts = list(texts)
    if not texts:
        return np.zeros((0, 1), dtype=np.float32)
    vectors = np.asarray(embedder.encode(texts), dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class EmbeddingCache:
    """Embeddings of fixed texts (intent examples, knowledge facts) per embedder, computed once per process.

    Several chatbots (one per explanation) share one embedder; their example questions are the same.
    """

    def __init__(self) -> None:
        self._store: dict[tuple[int, str], np.ndarray] = {}
        self._lock = threading.Lock()

    def get(self, embedder: SentenceEmbedder, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), 0), dtype=np.float32)
        missing = [t for t in dict.fromkeys(texts) if (id(embedder), t) not in self._store]
        if missing:
            vectors = encode(embedder, missing)
            with self._lock:
                for t, v in zip(missing, vectors):
                    self._store[(id(embedder), t)] = v
        if texts:
            out = np.stack([self._store[(id(embedder), t)] for t in texts])
        return out


CACHE = EmbeddingCache()


class QuestionCache:
    """Recently asked questions -> vectors (bounded), so repeated or pre-encoded questions cost nothing."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._store: OrderedDict[tuple[int, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, embedder: SentenceEmbedder, texts: Sequence[str]) -> np.ndarray:
        """Vectors for ``texts`` (batch-encoding the ones not seen recently)."""
        texts = list(texts)
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if (id(embedder), t) not in self._store]
        fresh = dict(zip(missing, encode(embedder, missing))) if missing else {}
        out = []
        with self._lock:
            for t in texts:
                key = (id(embedder), t)
                vector = fresh.get(t)
                if vector is None:
                    vector = self._store.get(key)
                    if vector is None:  # evicted meanwhile by another thread
                        vector = encode(embedder, [t])[0]
                self._store[key] = vector
                self._store.move_to_end(key)
                out.append(vector)
            while len(self._store) > self.size:
                self._store.popitem(last=False)
        return np.stack(out) if out else np.zeros((0, 1), dtype=np.float32)


QUESTIONS = QuestionCache()


@dataclass(frozen=True)
class Hit:
    sentence: Sentence
    score: float


class SentenceIndex:
    """Context sentences with their embeddings; ``search`` returns the closest ones to a question vector."""

    def __init__(self, sentences: list[Sentence], embedder: SentenceEmbedder) -> None:
        self.sentences = sentences
        self.vectors = CACHE.get(embedder, [s.text for s in sentences])

    def search(self, query_vector: np.ndarray, k: int = 3, *, exclude: set[str] | frozenset = frozenset(),
               kinds: set[str] | None = None) -> list[Hit]:
        if not self.sentences:
            return []
        scores = self.vectors @ query_vector
        order = np.argsort(-scores)
        hits: list[Hit] = []
        for i in order:
            s = self.sentences[int(i)]
            if s.id in exclude or (kinds is not None and s.kind not in kinds):
                continue
            hits.append(Hit(s, float(scores[i])))
            if len(hits) >= k:
                break
        return hits


@dataclass(frozen=True)
class IntentScore:
    intent: str
    score: float  # similarity + keyword bonus
    similarity: float  # best cosine to the intent's examples
    keywords: float


class IntentRouter:
    """Scores every intent for a question: best cosine similarity to its examples plus matched keyword weights."""

    KEYWORD_CAP = 0.45

    def __init__(self, intents: dict[str, dict], embedder: SentenceEmbedder) -> None:
        self.names: list[str] = []
        examples: list[str] = []
        owners: list[int] = []
        self.patterns: dict[str, list[tuple[re.Pattern, float]]] = {}
        for name, spec in intents.items():
            self.names.append(name)
            for q in spec.get("examples", []):
                examples.append(q)
                owners.append(len(self.names) - 1)
            self.patterns[name] = [(re.compile(p, re.IGNORECASE), float(w)) for p, w in (spec.get("keywords") or {}).items()]
        self.vectors = CACHE.get(embedder, examples)
        self.owners = np.asarray(owners, dtype=np.int64)

    def keyword_score(self, intent: str, text: str) -> float:
        """Sum of matched cue weights (negative weights are counter-cues), capped."""
        return min(self.KEYWORD_CAP, sum(w for p, w in self.patterns.get(intent, []) if p.search(text)))

    def score(self, text: str, vector: np.ndarray) -> list[IntentScore]:
        """All intents, best first."""
        best = np.full(len(self.names), -1.0, dtype=np.float32)
        if len(self.owners):
            sims = self.vectors @ vector
            np.maximum.at(best, self.owners, sims)
        out = []
        for i, name in enumerate(self.names):
            kw = self.keyword_score(name, text)
            out.append(IntentScore(name, float(best[i]) + kw, float(best[i]), kw))
        return sorted(out, key=lambda s: -s.score)
