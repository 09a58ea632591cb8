"""Command line: question a face-verification explanation.

  python -m chatbot ask  --explanation DIR/explanation.json --questions FILE [--json] [--export LOG.json|LOG.md]
  python -m chatbot chat --explanation DIR/explanation.json

``ask`` reads one question per line (``-`` for stdin; blank lines are skipped); the questions form one
conversation, so follow-ups ("why?", "and the eyes?") work. With ``--json`` it prints one JSON object per line.
``chat`` is an interactive loop: ``/export PATH`` saves the log (.json or .md), ``/help`` lists what can be asked,
``/quit`` ends. ``--explanation`` may also name a refusal record (``explain_engine explain/verify --refusal-json
FILE``): the chat then answers why the photo was refused and says that no decision exists (chatbot.refusal). Exit status: 0 done; 2 bad input, arguments or configuration (one line on stderr); 1 a bug.
Third-party log lines are hidden unless ``--verbose`` (or ``FACEX_VERBOSE=1``).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

EXIT_ERROR = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit 2 (argparse prints usage too)
        print(f"error: {message} (see --help)", file=sys.stderr)
        raise SystemExit(EXIT_ERROR)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m chatbot", description=__doc__.split("\n")[0],
                     epilog="exit status: 0 done; 2 bad input, arguments or configuration; 1 a bug")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    common = _Parser(add_help=False)
    common.add_argument("--explanation", required=True, type=Path,
                        help="explanation.json (or the folder holding it), or a refusal record written by "
                        "`explain_engine explain/verify --refusal-json FILE` for a photo the quality check refused")
    common.add_argument("--sentence", default=None, help="sentence-embedding backend (minilm, mpnet)")
    common.add_argument("--sentence-path", default=None, help="local folder of the sentence model")
    common.add_argument("--qa", default=None, help="QA backend (e.g. hf); default: none, answer from sentences")
    common.add_argument("--qa-path", default=None, help="local folder of the QA model")
    common.add_argument("--facts", action="append", default=[], type=Path,
                        help="extra facts file or folder (YAML/JSON/TOML with a 'facts:' list); repeatable")
    common.add_argument("--verbose", action="store_true", help="also show third-party log lines")
    common.add_argument("--allow-edited", action="store_true",
                        help="question a record that was edited after it was written (its digest or its numbers do "
                             "not agree) instead of refusing it; every answer then says it is edited")
    ask = sub.add_parser("ask", parents=[common], help="answer a file of questions (one conversation)")
    ask.add_argument("--questions", required=True, help="text file, one question per line; '-' for stdin")
    ask.add_argument("--json", action="store_true", help="one JSON object per line")
    ask.add_argument("--export", type=Path, default=None, help="also save the conversation (.json or .md)")
    sub.add_parser("chat", parents=[common], help="interactive chat in the terminal")
    return parser


def _check_environment() -> None:
    """FACEX_THREADS and FACEX_DEVICE checked before any model loads, so a bad value is one line, not a traceback."""
    import os

    from chatbot.errors import ChatbotError

    threads = os.environ.get("FACEX_THREADS")
    if threads is not None and not (threads.strip().isdigit() and int(threads) > 0):
        raise ChatbotError(f"FACEX_THREADS must be a positive whole number, not {threads!r}")
    device = os.environ.get("FACEX_DEVICE", "auto")
    if device not in ("auto", "cpu", "cuda"):
        raise ChatbotError(f"FACEX_DEVICE must be 'auto', 'cpu' or 'cuda', not {device!r}")
    if device == "cuda":
        try:
            import torch

            usable = bool(torch.cuda.is_available())
        except ImportError:
            usable = False
        if not usable:
            raise ChatbotError("FACEX_DEVICE=cuda was asked for but torch cannot use CUDA on this machine; "
                               "unset it or set FACEX_DEVICE=cpu")


def _build(args: argparse.Namespace):
    from chatbot.answering import Chatbot
    from models.config import ModelConfig
    from prompts import load_prompts

    _check_environment()

    paths = {}
    if args.sentence_path:
        paths["sentence"] = args.sentence_path
    if args.qa_path:
        paths["qa"] = args.qa_path
    overrides = {"sentence": args.sentence, "qa": args.qa}
    config = ModelConfig.from_env(**overrides)
    if paths:
        config.paths = {**config.paths, **paths}
    prompts = load_prompts(extra_paths=args.facts) if args.facts else None
    if _is_refusal_file(args.explanation):  # a pair refused by the quality check: no decision, only the refusal
        from chatbot.refusal import RefusalChatbot

        return RefusalChatbot.from_file(args.explanation, prompts=prompts, allow_edited=args.allow_edited)
    return Chatbot.from_file(args.explanation, config=config, prompts=prompts, allow_edited=args.allow_edited)


def _is_refusal_file(path: Path) -> bool:
    """True when ``path`` is a refusal record (``explain --refusal-json FILE``) rather than an explanation."""
    from explain_engine.record import is_refusal

    path = path.expanduser()
    if not path.is_file():
        return False
    try:
        return is_refusal(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False  # the explanation loader reports what is wrong with the file


def _read_questions(source: str) -> list[str]:
    from chatbot.errors import ChatbotError

    if source == "-":
        text = sys.stdin.read()
    else:
        path = Path(source).expanduser()
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError as exc:
            raise ChatbotError(f"questions file {path} does not exist") from exc
        except OSError as exc:
            raise ChatbotError(f"cannot read questions file {path}: {exc}") from exc
    return [line.strip() for line in text.splitlines() if line.strip()]


def answer_record(turn) -> dict:
    a = turn.answer
    return {
        "turn": turn.index, "question": turn.question, "answer": a.text, "score": round(a.score, 4),
        "evidence": a.evidence, "method": a.method, "intent": a.intent, "regions": a.regions, "methods": a.methods,
        "links": [link.file for link in a.links], "followup": a.followup, "notes": a.notes,
        "elapsed_ms": a.elapsed_ms, "asked_at": turn.asked_at, "refusal": a.refusal,
    }


def _ask(args: argparse.Namespace) -> int:
    from chatbot.answering import format_answer
    from chatbot.conversation import Conversation
    from chatbot.errors import ChatbotError

    questions = _read_questions(args.questions)
    if not questions:
        raise ChatbotError(f"there were no questions in {args.questions} (one question per line; blank lines are "
                           "skipped)")
    bot = _build(args)
    bot.prepare(questions)
    conversation = Conversation(bot)
    for question in questions:
        conversation.ask(question)
        turn = conversation.turns[-1]
        if args.json:
            print(json.dumps(answer_record(turn), ensure_ascii=False), flush=True)
        else:
            print(f"Q: {turn.question}\nA: {format_answer(turn.answer)}\n", flush=True)
    if args.export:
        conversation.save(args.export)
    return 0


def _chat(args: argparse.Namespace) -> int:
    from chatbot.answering import format_answer
    from chatbot.conversation import Conversation
    from chatbot.errors import ChatbotError

    bot = _build(args)
    conversation = Conversation(bot)
    e = bot.explanation
    refused = e.get("kind") == "refusal"
    if refused:
        print(bot.say("loaded", path=args.explanation) + " /export PATH saves the log, /help, /quit.")
    else:
        print(f"Loaded {args.explanation}: decision {e['decision']} (similarity {e['similarity']:.3f}, threshold "
              f"{e['threshold']:.3f}). Ask a question; /export PATH saves the log, /help, /quit.")
    while True:
        try:
            line = input("> ")
        except (EOFError, KeyboardInterrupt):
            print()
            return 0
        command = line.strip()
        if command in ("/quit", "/exit", "/q"):
            return 0
        if command == "/help":
            print(bot.say("no_decision") if refused else bot.prompts.reply("help"))
            continue
        if command.startswith("/export"):
            target = command[len("/export"):].strip()
            if not target:
                print("usage: /export PATH (.json or .md)")
                continue
            try:
                print(f"saved {conversation.save(target)}")
            except ChatbotError as exc:
                print(f"error: {exc}")
            continue
        print(format_answer(conversation.ask(line)))


def main(argv: Sequence[str] | None = None) -> int:
    from models.errors import FaceXError
    from models.quiet import quiet_third_party
    from prompts import PromptsError

    args = _parser().parse_args(argv)
    try:
        # chat: a live terminal, so its stderr is not piped through the filter; the loading bars still go
        with quiet_third_party(verbose=args.verbose, filter_stderr=args.command != "chat"):
            return _ask(args) if args.command == "ask" else _chat(args)
    except (FaceXError, PromptsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
