"""Extractive question answering with any Hugging Face ``AutoModelForQuestionAnswering`` (BERT, DistilBERT,
RoBERTa ... fine-tuned on SQuAD), with our own span decoding: transformers 5 removed the QA pipeline.

Decoding, as the old pipeline did it:
1. tokenise (question, context) with a fast tokenizer, ``truncation="only_second"``; a context longer than
   ``max_length`` is split into overlapping windows (``doc_stride`` tokens of overlap);
2. per window, mask every non-context token, softmax the start and end logits over the context tokens, and score
   each span (start <= end, at most ``max_answer_len`` tokens) by p(start) * p(end), a probability in [0, 1];
3. map token spans back to character offsets in the original context, merge windows (a span seen in two
   overlapping windows keeps its best score), and return the ``top_k`` best.

Reference model: ``bert-large-uncased-whole-word-masking-finetuned-squad`` (fetched only when downloads are
allowed). No QA weights ship through the package registries, so the product never requires this model.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from models.base import ModelInfo, QAAnswer
from models.config import ModelConfig
from models.errors import ConfigError, FaceXError, ModelNotFoundError, ModelUnavailableError
from models.runtime import configure_torch, torch_device

HUB_ID = "google-bert/bert-large-uncased-whole-word-masking-finetuned-squad"
DEFAULT_SUBDIR = "bert-large-uncased-whole-word-masking-finetuned-squad"
_OPTIONS = {"model_path", "max_length", "doc_stride", "max_question_len", "batch_size"}


class QAInputError(FaceXError, ValueError):
    """An empty or unusable question or context."""


def _looks_like_hub_id(value: str) -> bool:
    return value.count("/") == 1 and not value.startswith((".", "/", "~")) and not Path(value).exists()


def _locate(config: ModelConfig, explicit: str | None) -> tuple[str, bool]:
    """(folder or hub id, is_local). Raises ModelNotFoundError."""
    if explicit:
        path = Path(explicit).expanduser()
        if (path / "config.json").exists():
            return str(path), True
        if _looks_like_hub_id(explicit) and config.allow_downloads:
            return explicit, False
        why = "" if not path.exists() else " (no config.json there)"
        raise ModelNotFoundError(
            f"model {explicit} not found at {path}{why}; set FACEX_QA_PATH (chatbot: --qa-path) to a folder saved with "
            "save_pretrained, or allow downloads with FACEX_ALLOW_DOWNLOADS=1"
        )
    local = config.model_dir / DEFAULT_SUBDIR
    if (local / "config.json").exists():
        return str(local), True
    if config.allow_downloads:
        return HUB_ID, False
    raise ModelNotFoundError(
        f"model {HUB_ID} not found at {local}; set FACEX_QA_PATH (chatbot: --qa-path) or allow downloads with "
        "FACEX_ALLOW_DOWNLOADS=1"
    )


def _softmax_masked(logits: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Softmax over the ``keep`` positions; the others get probability 0."""
    z = np.where(keep, logits.astype(np.float64), -np.inf)
    z = z - z[keep].max()
    e = np.where(keep, np.exp(z), 0.0)
    return e / e.sum()


def best_spans(
    start_probs: np.ndarray, end_probs: np.ndarray, valid: np.ndarray, top_k: int, max_answer_len: int
) -> list[tuple[int, int, float]]:
    """The ``top_k`` token spans by p(start) * p(end), best first.

    Args:
        start_probs: (T,) start probabilities over the window's tokens.
        end_probs: (T,) end probabilities.
        valid: (T,) bool, True on tokens a span may start or end on (the context's).
        top_k: the most spans to return.
        max_answer_len: the longest span, in tokens.

    Returns:
        Up to ``top_k`` ``(start, end, score)`` with start <= end < start + max_answer_len, both on ``valid``
        tokens, score = p_start * p_end > 0; best first.
    """
    scores = np.outer(start_probs, end_probs)
    # keep start <= end and end - start + 1 <= max_answer_len
    scores = np.tril(np.triu(scores), max_answer_len - 1)
    scores[~valid, :] = 0.0
    scores[:, ~valid] = 0.0
    flat = scores.ravel()
    k = min(top_k, int((flat > 0).sum()))
    if k == 0:
        return []
    top = np.argpartition(-flat, k - 1)[:k]
    top = top[np.argsort(-flat[top], kind="stable")]
    n = scores.shape[1]
    return [(int(i // n), int(i % n), float(flat[i])) for i in top]


class HFQuestionAnswerer:
    """Extractive QA with a Hugging Face ``AutoModelForQuestionAnswering`` and our own span decoding.

    ``answer(question, context, top_k=1, max_answer_len=64) -> [QAAnswer]``, best first (decoding: module
    docstring; reference model: BERT-large fine-tuned on SQuAD, Devlin et al., NAACL 2019).

    Args:
        model: the question-answering model.
        tokenizer: its fast tokenizer (offset mappings are needed).
        device: ``"cpu"`` or ``"cuda"``.
        max_length: window length in tokens (capped by the model's and tokenizer's limits).
        doc_stride: overlap between windows in tokens, in [0, max_length / 2).
        max_question_len: the longest question accepted, in tokens.
        batch_size: windows per forward pass.
        source: where the model was loaded from, for the record.

    Raises:
        ConfigError: a slow tokenizer, or an option out of range.
    """

    name = "hf"

    def __init__(
        self,
        model,
        tokenizer,
        *,
        device: str = "cpu",
        max_length: int = 384,
        doc_stride: int = 128,
        max_question_len: int = 64,
        batch_size: int = 8,
        source: str = "",
    ) -> None:
        if not getattr(tokenizer, "is_fast", False):
            raise ConfigError("extractive QA needs a fast tokenizer (offset mappings); the model folder has a slow one")
        limit = getattr(model.config, "max_position_embeddings", None) or max_length
        max_length = min(int(max_length), int(limit), int(getattr(tokenizer, "model_max_length", max_length) or max_length))
        if not 0 <= int(doc_stride) < max_length // 2:
            raise ConfigError(f"doc_stride must lie in [0, max_length / 2) = [0, {max_length // 2}), not {doc_stride}")
        if int(max_question_len) < 1 or int(batch_size) < 1:
            raise ConfigError("max_question_len and batch_size must be at least 1")
        self.model = model.to(device).eval()
        self.tokenizer = tokenizer
        self.device = device
        self.max_length = max_length
        self.doc_stride = int(doc_stride)
        self.max_question_len = int(max_question_len)
        self.batch_size = int(batch_size)
        self.source = source
        # tokenizers that pad on the left (XLNet-style) put the context first
        self.question_first = tokenizer.padding_side == "right"

    @classmethod
    def from_config(cls, config: ModelConfig, backend: str = "hf", **options) -> HFQuestionAnswerer:
        """Build from configuration (the registry's entry point).

        Args:
            config: the model configuration (``FACEX_QA_PATH``: a folder saved with ``save_pretrained``, or a hub id
                used only when downloads are allowed).
            backend: the registered name (``hf``).
            **options: ``model_path``, ``max_length``, ``doc_stride``, ``max_question_len``, ``batch_size``.

        Returns:
            The question answerer.

        Raises:
            ConfigError: an unknown option or a value out of range, or ``FACEX_DEVICE=cuda`` without CUDA.
            ModelNotFoundError: no model found, or it cannot be loaded as a question-answering model.
            ModelUnavailableError: transformers is not installed.
        """
        unknown = set(options) - _OPTIONS
        if unknown:
            raise ConfigError(f"unknown options for the QA model: {sorted(unknown)}; use {sorted(_OPTIONS)}")
        target, local = _locate(config, options.pop("model_path", None) or config.path_for("qa"))
        try:
            from transformers import AutoModelForQuestionAnswering, AutoTokenizer
        except ImportError as exc:
            raise ModelUnavailableError("extractive QA needs transformers and torch") from exc
        kwargs = {"local_files_only": local or not config.allow_downloads}
        if not local:
            kwargs["cache_dir"] = str(config.model_dir / "hub")
        try:
            tokenizer = AutoTokenizer.from_pretrained(target, use_fast=True, **kwargs)
            model = AutoModelForQuestionAnswering.from_pretrained(target, **kwargs)
        except (OSError, ValueError) as exc:
            raise ModelNotFoundError(f"model {target} could not be loaded as a question-answering model: {exc}") from exc
        configure_torch(config)
        return cls(model, tokenizer, device=torch_device(config), source=target, **options)

    @classmethod
    def describe(cls, config: ModelConfig, backend: str = "hf") -> ModelInfo:
        """Whether a QA model is in place (or downloadable), without loading it.

        Args:
            config: the model configuration.
            backend: the registered name.

        Returns:
            :class:`ModelInfo`.
        """
        explicit = config.options_for("qa").get("model_path") or config.path_for("qa")
        try:
            target, local = _locate(config, explicit)
        except ModelNotFoundError as exc:
            return ModelInfo("qa", backend, False, explicit or HUB_ID, detail=str(exc))
        detail = "extractive QA, own span decoding" + ("" if local else "; downloaded on first use")
        licence = "Apache-2.0 (google-bert)" if target in (HUB_ID, str(config.model_dir / DEFAULT_SUBDIR)) else ""
        return ModelInfo("qa", backend, True, target, licence=licence, detail=detail)

    def _encode(self, question: str, context: str):
        pair = (question, context) if self.question_first else (context, question)
        return self.tokenizer(
            *pair,
            truncation="only_second" if self.question_first else "only_first",
            max_length=self.max_length,
            stride=self.doc_stride,
            return_overflowing_tokens=True,
            return_offsets_mapping=True,
            padding="longest",
        )

    def _logits(self, encoding) -> tuple[np.ndarray, np.ndarray]:
        import torch

        names = [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in encoding]
        starts, ends = [], []
        with torch.inference_mode():
            for lo in range(0, len(encoding["input_ids"]), self.batch_size):
                batch = {n: torch.tensor(encoding[n][lo:lo + self.batch_size], device=self.device) for n in names}
                out = self.model(**batch)
                starts.append(out.start_logits.float().cpu().numpy())
                ends.append(out.end_logits.float().cpu().numpy())
        return np.concatenate(starts), np.concatenate(ends)

    def _check_question(self, question: str, context: str, top_k: int, max_answer_len: int) -> None:
        """QAInputError unless question and context are non-empty strings that fit the model's window."""
        for label, text in (("question", question), ("context", context)):
            if not isinstance(text, str):
                raise QAInputError(f"the {label} must be a string, not {type(text).__name__}")
            if not text.strip():
                raise QAInputError(f"the {label} is empty")
        if int(top_k) < 1 or int(max_answer_len) < 1:
            raise QAInputError("top_k and max_answer_len must be at least 1")
        question_tokens = len(self.tokenizer(question, add_special_tokens=False)["input_ids"])
        if question_tokens > self.max_question_len:
            raise QAInputError(
                f"the question is too long ({question_tokens} tokens; at most {self.max_question_len}); shorten it"
            )
        if question_tokens + 8 > self.max_length - self.doc_stride:
            raise QAInputError("the question leaves no room for the context in the model's window; shorten it")

    def answer(
        self, question: str, context: str, *, top_k: int = 1, max_answer_len: int = 64
    ) -> list[QAAnswer]:
        """The ``top_k`` best spans of ``context`` answering ``question``, best first.

        Decoding as transformers' former QA pipeline (module docstring): overlapping windows, softmax over the
        context tokens, span score p(start) * p(end); a span seen in two windows keeps its best score.

        Args:
            question: the question, at most ``max_question_len`` tokens.
            context: the text to extract the answer from (any length; split into windows).
            top_k: how many spans to return at most (fewer if the context has fewer candidate spans).
            max_answer_len: longest span, in tokens.

        Returns:
            Up to ``top_k`` :class:`QAAnswer` (text, score in [0, 1] within the span's window, character offsets
            ``start``/``end`` into ``context``), best first.

        Raises:
            QAInputError: a non-string or empty question or context, ``top_k`` or ``max_answer_len`` under 1, or
                a question too long for the model's window.
        """
        self._check_question(question, context, top_k, max_answer_len)
        encoding = self._encode(question, context)
        start_logits, end_logits = self._logits(encoding)
        context_id = 1 if self.question_first else 0
        best: dict[tuple[int, int], float] = {}
        for w in range(len(encoding["input_ids"])):
            sequence_ids = encoding.sequence_ids(w)
            keep = np.array([s == context_id for s in sequence_ids] + [False] * (start_logits.shape[1] - len(sequence_ids)))
            if not keep.any():
                continue
            offsets = encoding["offset_mapping"][w]
            p_start = _softmax_masked(start_logits[w], keep)
            p_end = _softmax_masked(end_logits[w], keep)
            for s, e, score in best_spans(p_start, p_end, keep, int(top_k), int(max_answer_len)):
                span = (int(offsets[s][0]), int(offsets[e][1]))
                if span[1] <= span[0]:
                    continue
                best[span] = max(score, best.get(span, 0.0))
        ranked = sorted(best.items(), key=lambda item: (-item[1], item[0]))[: int(top_k)]
        return [QAAnswer(text=context[s:e], score=float(score), start=s, end=e) for (s, e), score in ranked]

    def answer_many(self, question: str, contexts: Sequence[str], **kwargs) -> list[list[QAAnswer]]:
        """``answer`` for each context (e.g. the full context, then a retrieved sub-context).

        Args:
            question: the question.
            contexts: the texts to answer from.
            **kwargs: ``top_k``, ``max_answer_len``.

        Returns:
            One list of :class:`QAAnswer` per context, in order.

        Raises:
            QAInputError: as :meth:`answer`.
        """
        return [self.answer(question, c, **kwargs) for c in contexts]
