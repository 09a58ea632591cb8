"""The command line: `python -m chatbot ask ... --json` (one real subprocess) and `chat`, and its error lines."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from chatbot.__main__ import main

REPO = Path(__file__).resolve().parents[2]
FIXTURE = Path(__file__).resolve().parent / "fixtures" / "nonmatch_coarse.json"


def test_ask_json_subprocess(tmp_path):
    questions = tmp_path / "q.txt"
    questions.write_text("What is the decision?\nwhy?\n\nWhat about the nose?\nand the eyes?\n<i>How sure are you?</i>\n")
    log = tmp_path / "log.json"
    env = {**os.environ, "FACEX_THREADS": "2"}
    done = subprocess.run(
        [sys.executable, "-m", "chatbot", "ask", "--explanation", str(FIXTURE), "--questions", str(questions),
         "--json", "--export", str(log)],
        cwd=REPO, capture_output=True, text=True, timeout=300, env=env, check=False)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert len(rows) == 5
    for row in rows:
        assert {"question", "answer", "score", "evidence", "method", "intent", "links"} <= set(row)
    assert "is a non-match" in rows[0]["answer"]
    assert rows[1]["followup"] == "why" and "0.847" in rows[1]["answer"]
    assert rows[3]["regions"] == ["eyes"] and "heatmap_s0_a.png" in rows[3]["links"]
    assert "0.97" in rows[4]["answer"]
    assert json.loads(log.read_text())["turns"][4]["answer"]["intent"] == "confidence"


def one_line_error(capsys) -> str:
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err and "Traceback" not in err
    return err


def test_missing_explanation(capsys, tmp_path):
    q = tmp_path / "q.txt"
    q.write_text("What is the decision?\n")
    assert main(["ask", "--explanation", str(tmp_path / "none.json"), "--questions", str(q)]) == 2
    assert "does not exist" in one_line_error(capsys)


def test_incomplete_explanation(capsys, tmp_path):
    data = json.loads(FIXTURE.read_text())
    del data["threshold"], data["regions"]
    bad = tmp_path / "explanation.json"
    bad.write_text(json.dumps(data))
    q = tmp_path / "q.txt"
    q.write_text("What is the decision?\n")
    assert main(["ask", "--explanation", str(tmp_path), "--questions", str(q), "--json"]) == 2
    err = one_line_error(capsys)
    assert "threshold" in err and "regions" in err


def test_missing_questions_file_and_bad_arguments(capsys, tmp_path):
    assert main(["ask", "--explanation", str(FIXTURE), "--questions", str(tmp_path / "nope.txt")]) == 2
    assert "questions file" in one_line_error(capsys)
    with pytest.raises(SystemExit) as info:
        main(["ask", "--questions", "x"])
    assert info.value.code == 2
    assert "--explanation" in one_line_error(capsys)


def test_chat_loop_with_export(monkeypatch, capsys, tmp_path, sentence_embedder):
    from models import registry

    real_create = registry.create
    # reuse the session's already-loaded sentence model instead of loading a second copy
    monkeypatch.setattr(registry, "create", lambda cap, config=None, name=None, **kw:
                        sentence_embedder if cap == "sentence" else real_create(cap, config, name, **kw))
    log = tmp_path / "chat.md"
    monkeypatch.setattr(sys, "stdin", io.StringIO(
        f"What is the decision?\nwhy?\n/export {log}\n/export\n/export {tmp_path / 'x.txt'}\n/quit\n"))
    assert main(["chat", "--explanation", str(FIXTURE)]) == 0
    out = capsys.readouterr().out
    assert "is a non-match" in out and f"saved {log}" in out and "usage: /export" in out and ".json or .md" in out
    assert "## 2. why?" in log.read_text()
