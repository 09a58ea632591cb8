"""Fixtures for the bad-input tests: licence-clean photos (skimage's astronaut) written as files, and a guard that
fails a test if a model is loaded when the arguments should have been refused first."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture(scope="session")
def photo_files(tmp_path_factory, astronaut):
    """The astronaut and a mirrored copy as PNG files."""
    from PIL import Image

    root = tmp_path_factory.mktemp("bad_input_photos")
    files = {"a": root / "astronaut.png", "b": root / "mirrored.png"}
    Image.fromarray(astronaut).save(files["a"])
    Image.fromarray(np.ascontiguousarray(astronaut[:, ::-1])).save(files["b"])
    return files


@pytest.fixture
def no_models(monkeypatch):
    """Any attempt to build the engine fails the test: bad arguments must be refused before models load."""
    import explain_engine.__main__ as cli

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded although the arguments were bad")

    monkeypatch.setattr(cli, "_engine", refuse)
    return refuse


def one_error_line(err: str) -> str:
    """The single stderr line of a refused command (asserts there is exactly one and no traceback)."""
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


@pytest.fixture
def one_line():
    """:func:`one_error_line` as a fixture (the test folders are not packages)."""
    return one_error_line
