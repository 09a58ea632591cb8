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

            # the explainability table: every column on screen (none hidden off the right edge), region pinned
            check_table_columns_visible(driver)
            # the maps' fixed colour scale is explained in words on the page, next to the legend
            reading = browser.css(driver, ".st-key-scale-reading")
            assert reading and reading[0].is_displayed() and "How to read the colours" in reading[0].text

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
            # the answer's image is the panel's overlay with the region it names outlined, and says so
            assert "outlined:" in last.text, last.text
            assert "answered by" not in last.text  # the router's internals stay out of the chat
            assert not browser.css(driver, '[data-testid="stException"]')  # never a traceback

            # the conversation downloads without resetting the page
            saved = browser.download(driver, "Conversation (JSON)", tmp_path / "downloads")
            turns = json.loads(saved.read_text())["turns"]
            assert [t["question"] for t in turns] == [QUESTION]
            assert len(browser.css(driver, '[data-testid="stChatMessage"]')) == 2
            assert browser.css(driver, ".st-key-decision-card")

            # a changed setting marks the shown results stale until Explain is pressed again
            assert not browser.css(driver, ".st-key-stale-marker")
            choose_radio(driver, "12 (person's left/right split)")
            marker = browser.wait_for(driver, lambda d: browser.css(d, ".st-key-stale-marker"), 30, "the stale marker")
            assert "Out of date" in marker[0].text
            choose_radio(driver, "9 regions")
            browser.wait_for(
                driver,
                lambda d: not browser.css(d, ".st-key-stale-marker") and not browser.running(d),
                30,
                "the stale marker to go",
            )

            shot = browser.full_page_screenshot(driver, tmp_path / "facex-chat.png")
            assert shot.stat().st_size > 50_000
            if os.environ.get("FACEX_SCREENSHOT_DIR"):
                target = Path(os.environ["FACEX_SCREENSHOT_DIR"])
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy(shot, target / shot.name)
        finally:
            driver.quit()
    assert "Traceback" not in server.log(), server.log()


def check_table_columns_visible(driver) -> None:
    """The explainability table's grid shows every column header with no horizontal scrolling."""
    grid = browser.wait_for(
        driver, lambda d: browser.css(d, '.st-key-importance-table [data-testid="stDataFrame"]'), 30, "the table"
    )[0]
    browser.click(driver, grid)  # into view, so the grid lays out
    headers = browser.wait_for(
        driver,
        lambda d: [h.get_attribute("textContent") for h in grid.find_elements("css selector", 'th, [role="columnheader"]')],
        30,
        "the table's column headers",
    )
    for name in ("Region", "S0", "S0 (A only)", "S0 (B only)", "Mean", "Ratio of 1s"):
        assert any(name == (h or "").strip() for h in headers), (name, headers)
    overflow = driver.execute_script(
        "const s = arguments[0].querySelector('.dvn-scroller');"
        "return s ? s.scrollWidth - s.clientWidth : null;",
        grid,
    )
    assert overflow is not None and overflow <= 2, f"the table scrolls sideways by {overflow} px: columns are hidden"


def choose_radio(driver, label: str) -> None:
    """Click the sidebar radio option whose text is ``label``."""
    option = browser.wait_for(
        driver,
        lambda d: next(
            (e for e in browser.css(d, '[data-testid="stSidebar"] [data-testid="stRadio"] label') if e.text == label),
            None,
        ),
        30,
        f"the option {label!r}",
    )
    browser.click(driver, option)
