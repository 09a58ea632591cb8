"""Benchmark the Streamlit app the way a user meets it: cold start to the first explanation shown, in a real browser.

Starts `streamlit run streamlit_app.py` on a free localhost port, drives Debian's headless Chromium (selenium) to
upload the sample pair as two PNG files, press Explain and wait for the decision card, ask one question, then
explain the same pair again (warm). Prints the times and the peak resident memory (VmHWM) of the app process.

For each explanation it measures, in the browser: click -> decision card shown (the new card, not the previous
run's faded one), click -> chat ready (the chat box enabled and the run finished), and reads the engine's own time
for the same run from the card ("explanation N s"); then question -> answer shown for each question. Targets
(issue #13): warm click -> chat ready within 1.5x the engine's time; an answer shown within 0.5 s.

    .venv/bin/python benchmarks/bench_app.py [--repeats 1] [--screenshot out.png]

Needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "app"))
sys.path.insert(0, str(REPO))

import app_browser as browser

QUESTIONS = ("Which region drove the match?", "Is this explanation reliable?", "Do the methods agree?")


def memory_mib(pid: int) -> dict[str, float]:
    """Current (VmRSS) and peak (VmHWM) resident memory of a process, in MiB, from /proc (Linux)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def server_share(server, label: str) -> dict[str, float]:
    """The app's own account of the last answer (FACEX_APP_TIMING): the chatbot's answer with its images, and the
    chat drawn, in seconds from the question's arrival on the server."""
    import re

    lines = [ln for ln in server.log_path.read_text(errors="replace").splitlines() if "facex-timing" in ln]
    if not lines:
        return {}
    found = dict(re.findall(r"(\w+)=([\d.]+)", lines[-1]))
    return {f"  server: answer + images {label} (s)": float(found.get("answer_s", "nan")),
            f"  server: chat drawn {label} (s)": float(found.get("drawn_s", "nan"))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="warm explanations after the first (default 1)")
    parser.add_argument("--question", action="append", help="a question to ask (repeatable; default: three)")
    parser.add_argument("--screenshot", type=Path, help="save a full-page screenshot here at the end")
    args = parser.parse_args()

    reason = browser.browser_missing()
    if reason:
        print(f"cannot run: {reason}")
        return 2

    import numpy as np
    from PIL import Image
    from skimage import data

    os.environ["FACEX_APP_TIMING"] = "1"  # the app prints its own share of each answer's wait
    work = Path(tempfile.mkdtemp(prefix="facex-bench-app-"))
    original = np.ascontiguousarray(data.astronaut())
    edited = np.roll(original[:, ::-1], shift=(12, -10), axis=(0, 1))
    edited = np.clip(edited.astype(np.int16) + 25, 0, 255).astype(np.uint8)
    photo_a, photo_b = work / "astronaut.png", work / "astronaut-edited.png"
    Image.fromarray(original).save(photo_a)
    Image.fromarray(edited).save(photo_b)

    figures: dict[str, float] = {}
    started = time.perf_counter()
    with browser.AppServer(work / "streamlit.log") as server:
        figures["server healthy (s)"] = server.wait_healthy(timeout=120)
        figures["memory after start, RSS (MiB)"] = memory_mib(server.process.pid)["VmRSS"]
        driver = browser.make_driver(work / "chromium-profile")
        try:
            page_start = time.perf_counter()
            explain_s = browser.upload_and_explain(driver, server.url, photo_a, photo_b, timeout=600)
            figures["Explain click -> decision card, cold (s)"] = explain_s
            figures["cold start -> first explanation shown (s)"] = time.perf_counter() - started
            figures["page open -> first explanation shown (s)"] = time.perf_counter() - page_start
            figures["memory after first explanation, RSS (MiB)"] = memory_mib(server.process.pid)["VmRSS"]

            engine_s = browser.engine_seconds(driver)
            figures["  engine's own time, cold run (s)"] = engine_s

            for i, question in enumerate(args.question or QUESTIONS):
                shown, done, _ = browser.ask_timed(driver, question, timeout=120)
                figures[f"question -> answer shown #{i + 1} (s)"] = shown
                figures[f"  question -> run finished #{i + 1} (s)"] = done
                figures.update(server_share(server, f"#{i + 1}"))

            ratios = []
            for i in range(args.repeats):
                card_s, ready_s = browser.explain_again(driver, timeout=600)
                engine_s = browser.engine_seconds(driver)
                figures[f"Explain click -> decision card, warm #{i + 1} (s)"] = card_s
                figures[f"Explain click -> chat ready, warm #{i + 1} (s)"] = ready_s
                figures[f"  engine's own time, warm #{i + 1} (s)"] = engine_s
                if engine_s:
                    ratios.append(ready_s / engine_s)
                    figures[f"  chat ready / engine time, warm #{i + 1} (x)"] = ready_s / engine_s
            for i, question in enumerate(args.question or QUESTIONS):
                shown, done, _ = browser.ask_timed(driver, question, timeout=120)
                figures[f"question -> answer shown, after warm run #{i + 1} (s)"] = shown
                figures[f"  question -> run finished, after warm run #{i + 1} (s)"] = done
                figures.update(server_share(server, f"after warm run #{i + 1}"))
            figures["load average (1 min) at the end"] = float(Path("/proc/loadavg").read_text().split()[0])
            if args.screenshot:
                browser.full_page_screenshot(driver, args.screenshot)
        finally:
            driver.quit()
        memory = memory_mib(server.process.pid)
        figures["app process peak RSS, VmHWM (MiB)"] = memory["VmHWM"]
        figures["app process RSS at the end (MiB)"] = memory["VmRSS"]

    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value:9.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
