"""Fixtures of the evidence tests: the default engine (shared with in-process CLI calls)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def engine():
    """The default engine, registered in the CLI's cache so that in-process CLI calls reuse its loaded models."""
    from explain_engine.__main__ import _engine
    from explain_engine.engine import EngineConfig

    return _engine(EngineConfig(methods=("s0",)))
