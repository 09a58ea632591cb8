"""Is a Latin-script question written in English? (Other scripts are caught in chatbot.text by script.)

Uses py3langid (a maintained fork of langid.py, a naive-Bayes identifier over byte n-grams trained on 97 languages)
restricted to the languages listed in ``prompts/questions.yaml``; a question counts as another language only when
the identifier is sure enough and the question is long enough for that to mean something, so short English
follow-ups and typos ("mtach?") are never turned away.
"""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


@lru_cache(maxsize=2)
def _identifier(languages: tuple[str, ...]):
    from py3langid.langid import _load_identifier

    return _load_identifier(norm_probs=True, langs=list(languages))


def other_language(text: str, settings: dict) -> str | None:
    """The language code when ``text`` is confidently not English, else None."""
    if len(_WORD.findall(text)) < int(settings["min_words"]):
        return None
    code, probability = _identifier(tuple(settings["languages"])).classify(text)
    if code != "en" and probability >= float(settings["min_probability"]):
        return code
    return None
