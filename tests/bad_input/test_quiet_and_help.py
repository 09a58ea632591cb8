"""Third-party native log lines are hidden by default (shown with --verbose); every CLI documents its exit codes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from models.quiet import is_third_party_line, native_line_start

REPO = Path(__file__).resolve().parents[2]
NATIVE = [
    b"W0000 00:00:1796090299.167512   10885 inference_feedback_manager.cc:114] Feedback manager requires a model",
    b"I0000 00:00:1796090299.2 10885 gl_context.cc:357] GL version: 2.1",
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.",
]
OURS = [b"error: a.png: file not found", b"warning: b.png: 2 faces found; the largest one was used",
        b"skipped x.png / y.png: no face found", b"evaluating:  50%|#####     | 1/2"]


def test_line_classifier():
    assert all(is_third_party_line(line + b"\n") for line in NATIVE)
    assert not any(is_third_party_line(line + b"\n") for line in OURS)


def test_native_line_glued_to_a_progress_bar_is_found():
    bar = b"preparing faces                       | 0%"
    for line in NATIVE:
        assert native_line_start(bar + line + b"\n") == len(bar)
    assert all(native_line_start(line + b"\n") is None for line in OURS)


def _run(code: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "FACEX_VERBOSE"}
    env.update(PYTHONPATH=str(REPO), **(env_extra or {}))
    return subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, env=env, timeout=120, cwd=REPO)


FILTER_PROGRAM = """
import os, sys, warnings
from models.quiet import quiet_third_party
with quiet_third_party(verbose={verbose}):
    os.write(2, b"W0000 00:00:1.5   7 calculator.cc:1] native noise\\n")
    print("error: first of ours", file=sys.stderr, flush=True)
    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")
    warnings.warn("Covariance of the parameters could not be estimated")
    print("error: second of ours", file=sys.stderr, flush=True)
print("after", file=sys.stderr)
"""


def test_filter_drops_native_lines_and_keeps_ours_in_order():
    quiet = _run(FILTER_PROGRAM.format(verbose=False))
    assert quiet.returncode == 0
    assert quiet.stderr.decode().splitlines() == ["error: first of ours", "error: second of ours", "after"]
    loud = _run(FILTER_PROGRAM.format(verbose=True)).stderr.decode()
    assert "native noise" in loud and "TensorFlow Lite" in loud and "Covariance" in loud
    env_loud = _run(FILTER_PROGRAM.format(verbose=False), {"FACEX_VERBOSE": "1"}).stderr.decode()
    assert "native noise" in env_loud


def test_verify_shows_no_mediapipe_lines(photo_files):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("FACEX_VERBOSE", None)
    cmd = [sys.executable, "-m", "explain_engine", "verify", str(photo_files["a"]), str(photo_files["b"])]
    quiet = subprocess.run(cmd, check=False, capture_output=True, env=env, timeout=300, cwd=REPO)
    assert quiet.returncode == 0, quiet.stderr
    assert b"W0000" not in quiet.stderr and b"TensorFlow Lite" not in quiet.stderr
    loud = subprocess.run([*cmd, "--verbose"], check=False, capture_output=True, env=env, timeout=300, cwd=REPO)
    assert loud.returncode == 0 and (b"W0000" in loud.stderr or b"TensorFlow Lite" in loud.stderr)


def test_interactive_chat_shows_no_loading_bar():
    """The interactive chat keeps its terminal (no stderr pipe) but still hides the weight-loading bars."""
    fixture = REPO / "tests" / "chatbot" / "fixtures" / "nonmatch_coarse.json"
    env = {k: v for k, v in os.environ.items() if k not in ("FACEX_VERBOSE", "HF_HUB_DISABLE_PROGRESS_BARS")}
    env["PYTHONPATH"] = str(REPO)
    cmd = [sys.executable, "-m", "chatbot", "chat", "--explanation", str(fixture)]
    run = subprocess.run(cmd, input=b"which region mattered most?\n/quit\n", check=False, capture_output=True,
                         env=env, timeout=300, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert b"Loading weights" not in run.stderr + run.stdout and b"it/s]" not in run.stderr
    assert b"> " in run.stdout  # the session itself ran and answered


@pytest.mark.parametrize("module, argv", [
    ("models", ["--help"]),
    ("explain_engine", ["--help"]),
    ("explain_engine", ["explain", "--help"]),
    ("explain_engine", ["verify", "--help"]),
    ("explain_engine", ["calibrate", "--help"]),
    ("explain_engine", ["evaluate", "--help"]),
    ("chatbot", ["--help"]),
])
def test_help_documents_exit_codes(module, argv, capsys):
    import importlib

    main = importlib.import_module(f"{module}.__main__").main
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "exit status: 0 done" in text and "2 bad input" in text and "1 a bug" in text


def test_readme_documents_exit_codes():
    readme = " ".join((REPO / "README.md").read_text().split())
    assert "0 done" in readme and "2 bad input or arguments" in readme and "1 a bug" in readme
