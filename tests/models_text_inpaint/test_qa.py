"""Extractive QA span decoding with a tiny BertForQuestionAnswering loaded through the real from_config path.

The tiny model has no encoder layers and random weights, except that the token "zebra" is built to score highest
as both start and end: its right answer is known, so windowing and offsets can be checked for real.
"""

from __future__ import annotations

import numpy as np
import pytest

from models import registry
from models.base import QuestionAnswerer
from models.config import ModelConfig
from models.errors import ConfigError, FaceXError, ModelNotFoundError
from models.qa import HFQuestionAnswerer, QAInputError, best_spans

LONG_CONTEXT = (
    " ".join(f"Region {i} of the face changed the similarity score by a small amount in test {i}." for i in range(40))
    + " In the end the animal in the photo was a zebra, not a face."
)


@pytest.fixture(scope="module")
def qa(tiny_qa_dir, offline_config):
    config = ModelConfig(qa="hf", paths={"qa": str(tiny_qa_dir)}, model_dir=offline_config.model_dir,
                         allow_downloads=False, device="cpu", threads=1)
    return registry.create("qa", config, max_length=64, doc_stride=16)


def test_answers_are_context_spans_with_sorted_scores(qa):
    assert isinstance(qa, QuestionAnswerer) and isinstance(qa, HFQuestionAnswerer) and qa.name == "hf"
    context = "The nose and the eyes supported the match, while the hair lowered the similarity."
    answers = qa.answer("What supported the match?", context, top_k=6, max_answer_len=5)
    assert len(answers) == 6
    scores = [a.score for a in answers]
    assert scores == sorted(scores, reverse=True)
    assert all(0.0 <= s <= 1.0 for s in scores)
    for a in answers:
        assert a.text == context[a.start:a.end] and a.text.strip() == a.text and a.text
        assert len(qa.tokenizer(a.text, add_special_tokens=False)["input_ids"]) <= 5
    assert len({(a.start, a.end) for a in answers}) == 6
    # one-token answers only: no spaces inside
    assert all(" " not in a.text for a in qa.answer("What?", context, top_k=10, max_answer_len=1))


def test_known_answer_is_found_with_high_score(qa):
    context = "The first photo shows a zebra next to a horse."
    best = qa.answer("Which animal is shown?", context)[0]
    assert (best.text, best.start, best.end) == ("zebra", 24, 29)
    assert best.score > 0.9


def test_long_context_is_read_in_strided_windows(qa):
    encoding = qa._encode("Which animal?", LONG_CONTEXT)
    windows = len(encoding["input_ids"])
    assert windows > 10  # far longer than max_length=64
    first_window_end = max(e for (s, e), q in zip(encoding["offset_mapping"][0], encoding.sequence_ids(0)) if q == 1)
    answers = qa.answer("Which animal?", LONG_CONTEXT, top_k=3)
    best = answers[0]
    assert best.text == "zebra" and best.start == LONG_CONTEXT.index("zebra") > first_window_end
    assert best.score > 0.9
    # the zebra window is not the only one searched: other answers come from elsewhere and stay valid spans
    ranges = []  # character range of each window's context part
    for w in range(windows):
        chars = [se for se, q in zip(encoding["offset_mapping"][w], encoding.sequence_ids(w)) if q == 1]
        ranges.append((chars[0][0], chars[-1][1]))
    spans = qa.answer("Which animal?", LONG_CONTEXT, top_k=40)
    assert all(a.text == LONG_CONTEXT[a.start:a.end] for a in spans)
    home = {next(w for w, (lo, hi) in enumerate(ranges) if lo <= a.start and a.end <= hi) for a in spans}
    assert len(home) >= 3, home


def test_bad_input_raises_clear_errors(qa):
    for question, context in (("", "some context"), ("   ", "some context"), ("A question?", ""), ("Q?", " \n")):
        with pytest.raises(QAInputError, match="empty"):
            qa.answer(question, context)
    with pytest.raises(QAInputError, match="string"):
        qa.answer(None, "context")  # type: ignore[arg-type]
    with pytest.raises(QAInputError, match="too long"):
        qa.answer("why " * 100, "context")
    with pytest.raises(QAInputError, match="top_k"):
        qa.answer("why?", "context", top_k=0)
    assert issubclass(QAInputError, FaceXError) and issubclass(QAInputError, ValueError)


def test_best_spans_respects_order_and_length():
    start = np.array([0.1, 0.6, 0.3, 0.0])
    end = np.array([0.5, 0.1, 0.2, 0.2])
    valid = np.array([True, True, True, False])
    spans = best_spans(start, end, valid, top_k=10, max_answer_len=2)
    assert all(s <= e <= s + 1 and e < 3 for s, e, _ in spans)
    assert spans[0][:2] == (1, 2) and spans[0][2] == pytest.approx(0.12)
    assert (1, 0) not in {(s, e) for s, e, _ in spans}  # end before start is never a span


def test_missing_model_and_options(offline_config, tmp_path, tiny_qa_dir):
    with pytest.raises(ModelNotFoundError, match="not found"):
        registry.create("qa", offline_config, "hf")  # default folder absent, downloads off
    config = ModelConfig(paths={"qa": str(tmp_path / "no_such_dir")}, model_dir=offline_config.model_dir,
                         allow_downloads=False)
    with pytest.raises(ModelNotFoundError, match="no_such_dir"):
        registry.create("qa", config, "hf")
    hub = ModelConfig(paths={"qa": "google-bert/bert-large-uncased-whole-word-masking-finetuned-squad"},
                      model_dir=offline_config.model_dir, allow_downloads=False)
    with pytest.raises(ModelNotFoundError, match="FACEX_ALLOW_DOWNLOADS"):
        registry.create("qa", hub, "hf")
    assert not HFQuestionAnswerer.describe(offline_config, "hf").available
    local = ModelConfig(paths={"qa": str(tiny_qa_dir)}, model_dir=offline_config.model_dir, allow_downloads=False)
    assert HFQuestionAnswerer.describe(local, "hf").available
    with pytest.raises(ConfigError, match="unknown options"):
        registry.create("qa", local, "hf", stride=3)
    with pytest.raises(ConfigError, match="doc_stride"):
        registry.create("qa", local, "hf", max_length=64, doc_stride=40)
