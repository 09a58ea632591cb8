"""End to end in a real browser: `streamlit run streamlit_app.py` on a free localhost port, driven by Debian's
headless Chromium through selenium. Uploads two photos, explains them, asks a question, checks the answer and its
heatmap are on the page, and saves a screenshot (also into $FACEX_SCREENSHOT_DIR when set).

Skips with the reason when chromium, chromedriver or selenium are missing (scripts/test.sh installs them).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import app_browser as browser  # tests/app/app_browser.py (the folder is put on sys.path by conftest.py)
import pytest

QUESTION = "Which region drove the match?"
REGIONS = ("forehead", "eyebrow", "eye", "nose", "cheek", "mouth", "chin", "hair", "ear")


@pytest.fixture(scope="module")
def skip_without_browser():
    reason = browser.browser_missing()
    if reason:
        pytest.skip(reason)


def test_upload_explain_ask_in_a_real_browser(skip_without_browser, tmp_path, sample_photos):
    from PIL import Image

    photo_a, photo_b = tmp_path / "astronaut.png", tmp_path / "astronaut-edited.png"
    Image.fromarray(sample_photos[0].image).save(photo_a)
    Image.fromarray(sample_photos[1].image).save(photo_b)

    with browser.AppServer(tmp_path / "streamlit.log") as server:
        server.wait_healthy(timeout=120)
        driver = browser.make_driver(tmp_path / "chromium-profile")
        try:
            browser.upload_and_explain(driver, server.url, photo_a, photo_b, timeout=420)
            card = browser.css(driver, ".st-key-decision-card")[0].text
            assert "Match:" in card or "No match:" in card
            assert "Similarity" in card and "Threshold" in card
            # every image on the page decoded (a broken media route shows 0-width images)
            images = browser.css(driver, '[data-testid="stImage"] img')
            assert len(images) >= 5
            widths = [driver.execute_script("return arguments[0].naturalWidth", i) for i in images]
            assert all(w > 0 for w in widths), widths

            answer = browser.ask(driver, QUESTION, timeout=120)
            # an answer about regions (which one depends on the photos), with its heatmap inside the message
            assert any(region in answer.lower() for region in REGIONS), answer
            last = browser.css(driver, '[data-testid="stChatMessage"]')[-1]
            heatmaps = browser.wait_for(
                driver,
                lambda d: [
                    i
                    for i in last.find_elements("css selector", "img")
                    if d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i)
                ],
                30,
                "a heatmap inside the answer",
            )
            assert heatmaps
            assert not browser.css(driver, '[data-testid="stException"]')  # never a traceback

            # the conversation downloads without resetting the page
            saved = browser.download(driver, "Conversation (JSON)", tmp_path / "downloads")
            turns = json.loads(saved.read_text())["turns"]
            assert [t["question"] for t in turns] == [QUESTION]
            assert len(browser.css(driver, '[data-testid="stChatMessage"]')) == 2
            assert browser.css(driver, ".st-key-decision-card")

            shot = browser.full_page_screenshot(driver, tmp_path / "facex-chat.png")
            assert shot.stat().st_size > 50_000
            if os.environ.get("FACEX_SCREENSHOT_DIR"):
                target = Path(os.environ["FACEX_SCREENSHOT_DIR"])
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy(shot, target / shot.name)
        finally:
            driver.quit()
    assert "Traceback" not in server.log(), server.log()
