"""Fixtures for the app tests: the app module itself (imported from its file, never run as a page) and photos."""

from __future__ import annotations

import importlib.util
import io
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]
APP_FILE = REPO / "streamlit_app.py"
sys.path.insert(0, str(Path(__file__).parent))  # app_browser.py, shared with benchmarks/bench_app.py


@pytest.fixture(scope="session")
def app_module():
    """streamlit_app.py as a module: its helpers, without drawing the page (main() runs only as __main__)."""
    spec = importlib.util.spec_from_file_location("facex_streamlit_app", APP_FILE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file executes
    spec.loader.exec_module(module)
    return module


def _png(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="session")
def to_png():
    """image array -> PNG bytes, in memory."""
    return _png


@pytest.fixture(scope="session")
def sample_photos(app_module):
    return app_module.sample_pair()
