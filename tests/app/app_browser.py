"""Drive the real app in headless Chromium (selenium + Debian's chromium/chromedriver).

Shared by the end-to-end test and benchmarks/bench_app.py. Every wait is bounded.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("FACEX_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("FACEX_CHROMEDRIVER", "/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
)


def browser_missing() -> str | None:
    """Why the browser test cannot run here, or None when it can."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not (Path(path).exists() or shutil.which(path)):
            return (
                f"{path} not found: install Debian's chromium and chromium-driver "
                "(apt-get install chromium chromium-driver; scripts/test.sh does this)"
            )
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (pip install selenium; it is in the dev extra)"
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def streamlit_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(REPO / "streamlit_app.py"),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--server.fileWatcherType",
        "none",
    ]


class AppServer:
    """``streamlit run streamlit_app.py`` on a free localhost port, stopped (by its own pid) on exit."""

    def __init__(self, log_path: Path, command: list[str] | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.command = command or streamlit_command(self.port)
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def __enter__(self):
        self._log = open(self.log_path, "wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(self.command, cwd=REPO, stdout=self._log, stderr=subprocess.STDOUT, env=env)
        return self

    def wait_healthy(self, timeout: float = 90.0) -> float:
        """Seconds until the server answers its health check."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.process.returncode}:\n{self.log()}")
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as response:
                    if response.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.25)
        raise TimeoutError(f"streamlit did not answer within {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def __exit__(self, *exc) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self._log.close()


def make_driver(user_data_dir: Path, width: int = 1400, height: int = 1000):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={user_data_dir}")
    options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    return driver


def wait_for(driver, condition, timeout: float, what: str):
    """Poll ``condition(driver)`` until it is truthy; fail naming ``what`` (and the page's error, if any)."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition(driver)
            if value:
                return value
        except (StaleElementReferenceException, WebDriverException):
            pass
        time.sleep(0.3)
    errors = [e.text for e in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stAlertContentError"]')]
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}; errors on the page: {errors}")


def css(driver, selector: str):
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, selector)


def click(driver, element) -> None:
    """Scroll the element to the middle of the view (clear of Streamlit's sticky header), then click it."""
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", element)
    element.click()


def page_text(driver) -> str:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.TAG_NAME, "body").text


def upload_and_explain(driver, url: str, photo_a: Path, photo_b: Path, timeout: float = 240.0) -> float:
    """Open the app, upload both photos, press Explain; seconds from the click to the decision card shown."""
    driver.get(url)
    files = '[data-testid="stFileChip"], [data-testid="stFileUploaderFile"]'  # Streamlit 1.60 / earlier test ids
    for count, photo in enumerate((photo_a, photo_b), start=1):
        # one at a time, each into a freshly found input: an upload reruns the page and may replace the inputs
        wait_for(driver, lambda d: len(css(d, 'input[type="file"]')) >= 2, 90, "two photo uploaders")
        css(driver, 'input[type="file"]')[count - 1].send_keys(str(photo))
        wait_for(
            driver,
            lambda d, count=count: len(css(d, files)) >= count and not css(d, '[data-testid="stStatusWidget"]'),
            60,
            f"{count} file(s) listed",
        )
    button = wait_for(
        driver,
        lambda d: next((b for b in css(d, ".st-key-explain button") if b.is_enabled()), None),
        60,
        "an enabled Explain button",
    )
    start = time.perf_counter()
    click(driver, button)
    # elements stream in: wait for the card's four figures and for the run to end (the chat box is drawn last)
    wait_for(
        driver,
        lambda d: (
            len(css(d, '.st-key-decision-card [data-testid="stMetric"]')) >= 4
            and css(d, '[data-testid="stChatInputTextArea"]')
            and not css(d, '[data-testid="stStatusWidget"]')
        ),
        timeout,
        "the decision card",
    )
    return time.perf_counter() - start


def ask(driver, question: str, timeout: float = 60.0) -> str:
    """Type a question into the chat box and return the text of the assistant's answer."""
    from selenium.webdriver.common.keys import Keys

    before = len(css(driver, '[data-testid="stChatMessage"]'))
    box = wait_for(driver, lambda d: css(d, '[data-testid="stChatInputTextArea"]'), 30, "the chat input")[0]
    box.click()
    box.send_keys(question)
    box.send_keys(Keys.ENTER)

    def answered(d) -> bool:
        messages = css(d, '[data-testid="stChatMessage"]')
        if len(messages) < before + 2 or css(d, '[data-testid="stStatusWidget"]'):
            return False
        texts = messages[-1].find_elements("css selector", '[data-testid="stMarkdownContainer"]')
        return any(t.text.strip() for t in texts)

    wait_for(driver, answered, timeout, "the answer")
    return css(driver, '[data-testid="stChatMessage"]')[-1].text


def download(driver, button_text: str, folder: Path, timeout: float = 30.0) -> Path:
    """Click the download button labelled ``button_text`` and return the file Chromium saved into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)})
    before = set(folder.iterdir())
    button = wait_for(
        driver,
        lambda d: next((b for b in css(d, '[data-testid="stDownloadButton"] button') if button_text in b.text), None),
        timeout,
        f"the download button {button_text!r}",
    )
    click(driver, button)
    return wait_for(
        driver,
        lambda d: next((p for p in set(folder.iterdir()) - before if not p.name.endswith(".crdownload")), None),
        timeout,
        f"the file from {button_text!r}",
    )


def full_page_screenshot(driver, path: Path, width: int = 1400) -> Path:
    """Capture the whole page: Streamlit scrolls inside its main block, so grow the viewport to its height."""
    height = driver.execute_script(
        "const c = document.querySelector('[data-testid=\"stMainBlockContainer\"]');"
        "const s = document.querySelector('[data-testid=\"stSidebarContent\"]');"
        "return Math.max(c ? c.scrollHeight : 0, s ? s.scrollHeight : 0, window.innerHeight);"
    )
    height = min(int(height) + 160, 16000)
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )
    time.sleep(1.5)  # let images and charts lay out at the new size
    path.parent.mkdir(parents=True, exist_ok=True)
    driver.save_screenshot(str(path))
    driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    return path
