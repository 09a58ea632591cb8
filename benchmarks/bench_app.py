"""Benchmark the Streamlit app the way a user meets it: cold start to the first explanation shown, in a real browser.

Starts `streamlit run streamlit_app.py` on a free localhost port, drives Debian's headless Chromium (selenium) to
upload the sample pair as two PNG files, press Explain and wait for the decision card, ask one question, then
explain the same pair again (warm). Prints the times and the peak resident memory (VmHWM) of the app process.

    .venv/bin/python benchmarks/bench_app.py [--repeats 1] [--screenshot out.png]

Needs /usr/bin/chromium and /usr/bin/chromedriver (apt-get install chromium chromium-driver).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "app"))
sys.path.insert(0, str(REPO))

import app_browser as browser


def memory_mib(pid: int) -> dict[str, float]:
    """Current (VmRSS) and peak (VmHWM) resident memory of a process, in MiB, from /proc (Linux)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) / 1024
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1, help="warm explanations after the first (default 1)")
    parser.add_argument("--question", default="Which region drove the match?")
    parser.add_argument("--screenshot", type=Path, help="save a full-page screenshot here at the end")
    args = parser.parse_args()

    reason = browser.browser_missing()
    if reason:
        print(f"cannot run: {reason}")
        return 2

    import numpy as np
    from PIL import Image
    from skimage import data

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

            t = time.perf_counter()
            browser.ask(driver, args.question, timeout=120)
            figures["question -> answer shown (s)"] = time.perf_counter() - t

            def status_labels(d) -> list[str]:
                return [e.text for e in browser.css(d, '[data-testid="stExpander"]') if "Explained in" in e.text]

            for i in range(args.repeats):
                before = status_labels(driver)
                button = browser.css(driver, ".st-key-explain button")[0]
                t = time.perf_counter()
                browser.click(driver, button)
                # done when a new "Explained in N s" label replaced the old one and the app stopped running
                browser.wait_for(
                    driver,
                    lambda d, before=before: (
                        (labels := status_labels(d))
                        and labels != before
                        and not browser.css(d, '[data-testid="stStatusWidget"]')
                    ),
                    600,
                    "the next explanation",
                )
                figures[f"Explain click -> decision card, warm #{i + 1} (s)"] = time.perf_counter() - t
            if args.screenshot:
                browser.full_page_screenshot(driver, args.screenshot)
        finally:
            driver.quit()
        memory = memory_mib(server.process.pid)
        figures["app process peak RSS, VmHWM (MiB)"] = memory["VmHWM"]
        figures["app process RSS at the end (MiB)"] = memory["VmRSS"]

    width = max(len(k) for k in figures)
    for key, value in figures.items():
        print(f"{key:<{width}}  {value:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
