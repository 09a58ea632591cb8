"""Chatbot latency on this machine: model load time, chatbot build time, and answer latency p50/p95 after load;
with ``--accuracy``, per-kind accuracy of the sentence model in use on both question banks.

    .venv/bin/python benchmarks/bench_chatbot.py [--explanation tests/chatbot/fixtures/match_coarse.json]
                                                 [--rounds 3] [--qa-path DIR] [--accuracy]
    FACEX_SENTENCE=mpnet FACEX_SENTENCE_PATH=DIR .venv/bin/python benchmarks/bench_chatbot.py --accuracy

Questions are answered one at a time in one conversation per round (no batching; the question-vector cache is
cleared each round, so encoding is measured), as a user would ask them: routed questions and questions answered
from the facts (rankings, what-ifs, follow-ups, refusals). Prints figures only; targets: p50 <= 50 ms,
p95 <= 200 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

QUESTIONS = [
    "What is the decision?", "why?", "How sure are you?", "Which region mattered most?", "and the least?",
    "What about the nose?", "and the eyes?", "what about S1?", "What is explainable AI?", "What do the colours mean?",
    "What is the similarity score?", "What is the threshold?", "Which regions made the faces less similar?",
    "Which face model was used?", "How were the heatmaps made?", "Do the methods agree?", "Would anything flip it?",
    "What's the weather today?", "", "<b>Is it a match?</b>",
    "list the top 3 regions", "and the bottom two?", "which region came second?",
    "is the nose more important than the eyes?", "by how much did hiding the nose change the score?",
    "what share of the margin is that?", "is that a lot?", "if the threshold were 0.95, would it still be a match?",
    "what is the smallest set of regions that flips it?", "and by the greedy method?", "who is this person?",
    "why is the mouth blue in the heatmap?", "what is the treshold?", "how sure can I be about the explanation itself?",
    "what is the likelihood ratio?", "Quelle est la décision ?",
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--explanation", default=str(REPO / "tests/chatbot/fixtures/match_coarse.json"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--qa-path", default=None, help="a QA model folder: measure the cascade too")
    parser.add_argument("--accuracy", action="store_true",
                        help="also grade both question banks (tests/chatbot) with this sentence model")
    args = parser.parse_args()

    from chatbot import Chatbot, Conversation
    from chatbot.retrieval import QUESTIONS as QUESTION_CACHE
    from models import registry
    from models.config import ModelConfig

    config = ModelConfig.from_env(qa="hf" if args.qa_path else None)
    if args.qa_path:
        config.paths["qa"] = args.qa_path
    t0 = time.perf_counter()
    embedder = registry.create("sentence", config)
    qa = registry.create("qa", config) if args.qa_path else None
    load_models = time.perf_counter() - t0
    t0 = time.perf_counter()
    bot = Chatbot.from_file(args.explanation, embedder=embedder, qa=qa, config=config)
    build = time.perf_counter() - t0
    t0 = time.perf_counter()
    Chatbot.from_file(args.explanation, embedder=embedder, qa=qa, config=config)
    rebuild = time.perf_counter() - t0

    latencies = []
    for r in range(args.rounds):
        QUESTION_CACHE._store.clear()  # measure encoding too, as for a new question
        conv = Conversation(bot)
        for q in QUESTIONS:
            t0 = time.perf_counter()
            conv.ask(q)
            latencies.append(1000 * (time.perf_counter() - t0))
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    load_avg = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"machine: {os.cpu_count()} CPUs, load average {load_avg:.1f}; torch threads {config.threads}")
    print(f"sentence model: {embedder.name} ({getattr(embedder, 'source', '')}); QA: {qa.name if qa else 'none'}")
    print(f"model load:              {load_models:7.2f} s")
    print(f"chatbot build (first):   {build:7.2f} s  (context + index + intent examples)")
    print(f"chatbot build (next):    {rebuild:7.2f} s  (intent examples cached per process)")
    print(f"answers:                 {len(latencies)} ({args.rounds} rounds x {len(QUESTIONS)} questions)")
    print(f"latency p50:             {p50:7.1f} ms   (target <= 50 ms)")
    print(f"latency p95:             {p95:7.1f} ms   (target <= 200 ms)")
    print(f"latency max:             {latencies[-1]:7.1f} ms")
    if args.accuracy:
        accuracy(embedder)
    return 0


def _module(path: Path):
    import importlib.util

    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def accuracy(embedder) -> None:
    """Per-kind accuracy on the intent bank (question_bank.yaml) and the facts bank (chat_bank.yaml)."""
    from chatbot import Chatbot

    tests = REPO / "tests" / "chatbot"
    intent_bank, facts_bank = _module(tests / "test_question_bank.py"), _module(tests / "test_chat_bank.py")
    bots = {n: Chatbot(json.loads((tests / "fixtures" / f"{n}.json").read_text()), embedder=embedder,
                       base_dir=tests / "fixtures") for n in ("match_coarse", "nonmatch_coarse", "match_fine_weak")}
    for split in ("bank", "held_out", "held_out_2"):
        results, _, contradictions = intent_bank.run_bank(bots, split)
        table = intent_bank.per_kind(results)
        ok, n = sum(v[0] for v in table.values()), sum(v[1] for v in table.values())
        worst = min(table.items(), key=lambda kv: kv[1][0] / kv[1][1])
        print(f"question_bank {split:11s} {ok:4d}/{n:<4d} {100 * ok / n:5.1f}%  worst kind {worst[0]} "
              f"{worst[1][0]}/{worst[1][1]}; contradictions {len(contradictions)}")
    bots = {n: Chatbot(facts_bank.load(n), embedder=embedder) for n in facts_bank.EXPLANATIONS}
    for split in facts_bank.BANK:
        results, _, contradictions = facts_bank.run_split(bots, split)
        print(facts_bank.table(f"chat_bank {split} (contradictions {len(contradictions)})", results))


if __name__ == "__main__":
    sys.exit(main())
