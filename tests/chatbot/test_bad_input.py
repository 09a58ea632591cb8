"""Questions people actually type: empty, huge, other languages, pasted markup, not even strings."""

from __future__ import annotations

import pytest

from chatbot.text import clean_question


@pytest.mark.parametrize("question", ["", "   ", "\n\t", "???", None])
def test_empty_questions_get_help(bots, question):
    answer = bots["match_coarse"].answer(question)
    assert answer.method == "reply" and answer.intent == "empty"
    assert "Please type a question" in answer.text and "What is the decision?" in answer.text


def test_ten_thousand_characters(bots):
    question = "What is the decision? " + "blah " * 2000
    assert len(question) >= 10_000
    answer = bots["nonmatch_coarse"].answer(question)
    assert "is a non-match" in answer.text
    assert any("cut" in n for n in answer.notes)
    assert answer.question == question  # the log keeps what was typed


def test_non_english(bots):
    bot = bots["match_coarse"]
    chinese = bot.answer("这两张脸是同一个人吗？")
    assert chinese.method == "reply" and chinese.intent == "non_english" and "English" in chinese.text
    spanish = bot.answer("¿Cuál es la decisión del sistema?")  # Latin script: answered or politely declined
    assert spanish.text and spanish.method in ("intent", "retrieval", "reply")


def test_markup_is_stripped(bots):
    bot = bots["nonmatch_coarse"]
    html = bot.answer("<script>alert('x')</script><p>What is <b>the decision</b>?</p>")
    assert "is a non-match" in html.text and "markup" in " ".join(html.notes)
    md = bot.answer("**Which region** was the `most important`? [see](http://example.com/x)")
    assert "most important region for this decision is the eyes" in md.text


def test_non_string_question(bots):
    answer = bots["match_coarse"].answer(12345)
    assert isinstance(answer.text, str) and answer.text


def test_clean_question_unit():
    c = clean_question("&lt;i&gt;Hello&lt;/i&gt;   world\x00\x07", max_chars=500)
    assert c.text == "Hello world" and c.markup_removed
    long = clean_question("word " * 300, max_chars=100)
    assert long.truncated and len(long.text) <= 100 and not long.text.endswith(" ")
    assert clean_question("Что это?").non_english and not clean_question("What is this?").non_english
