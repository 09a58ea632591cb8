"""Chatbot latency on this machine: model load time, chatbot build time, and answer latency p50/p95 after load.

    .venv/bin/python benchmarks/bench_chatbot.py [--explanation tests/chatbot/fixtures/match_coarse.json]
                                                 [--rounds 3] [--qa-path DIR]

Questions are answered one at a time (no batching, no cache: each round uses new wording by appending a round
marker), as a user would ask them. Prints figures only; targets: p50 <= 200 ms.
"""

from __future__ import annotations

import argparse
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
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--explanation", default=str(REPO / "tests/chatbot/fixtures/match_coarse.json"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--qa-path", default=None, help="a QA model folder: measure the cascade too")
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
    print(f"latency p50:             {p50:7.1f} ms   (target <= 200 ms)")
    print(f"latency p95:             {p95:7.1f} ms")
    print(f"latency max:             {latencies[-1]:7.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
