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


POLL_S = 0.05  # how often waits look at the page (the answer target is 0.5 s: poll well below it)


def wait_for(driver, condition, timeout: float, what: str, poll: float = POLL_S):
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
        time.sleep(poll)
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
        for attempt in range(3):  # a file sent while the page reran can be lost: send it again
            # the input of THIS uploader (an uploader holding a file may show a second input, to add more)
            slot = f'.st-key-upload_{"ab"[count - 1]} input[type="file"]'
            wait_for(driver, lambda d, slot=slot: css(d, slot), 90, f"photo uploader {count}")
            css(driver, slot)[0].send_keys(str(photo))
            try:
                wait_for(
                    driver,
                    # listed in the browser AND seen by the server (its preview drawn), the run over: only then is
                    # the next uploader safe to use
                    lambda d, count=count: (len(css(d, files)) >= count
                                            and len(css(d, '[data-testid="stImage"]')) >= count
                                            and not running(d)),
                    30 if attempt < 2 else 120,
                    f"{count} file(s) listed",
                )
                break
            except TimeoutError as exc:
                listed, busy = len(css(driver, files)), len(css(driver, '[data-testid="stStatusWidget"]'))
                if attempt == 2 or listed >= count:
                    raise TimeoutError(f"{exc} ({listed} listed, running indicator shown: {bool(busy)})") from exc
    button = wait_for(
        driver,
        lambda d: next((b for b in css(d, ".st-key-explain button") if b.is_enabled()), None),
        60,
        "an enabled Explain button",
    )
    start = time.perf_counter()
    click(driver, button)
    # elements stream in: wait for the card's four figures and for the run to end (the chat box is drawn last)
    wait_for(driver, lambda d: card_fresh(d) and chat_ready(d), timeout, "the decision card")
    return time.perf_counter() - start


def running(driver) -> bool:
    """A script run is under way (Streamlit's running indicator, or elements of the previous run marked stale)."""
    return bool(css(driver, '[data-testid="stStatusWidget"]') or css(driver, '[data-stale="true"]'))


def card_fresh(driver) -> bool:
    """The decision card of the CURRENT run is on screen: its four figures drawn and none of them left over (stale)
    from the previous run."""
    metrics = css(driver, '.st-key-decision-card [data-testid="stElementContainer"]')
    return (
        len(css(driver, '.st-key-decision-card [data-testid="stMetric"]')) >= 4
        and all(m.get_attribute("data-stale") != "true" for m in metrics)
    )


def chat_ready(driver) -> bool:
    """The run has finished and the chat box takes questions."""
    boxes = css(driver, '[data-testid="stChatInputTextArea"]')
    return bool(boxes) and boxes[0].is_enabled() and not running(driver)


def explain_again(driver, timeout: float = 600.0) -> tuple[float, float]:
    """Press Explain on the pair already chosen; (click -> new decision card, click -> chat ready) in seconds."""
    button = wait_for(
        driver,
        lambda d: next((b for b in css(d, ".st-key-explain button") if b.is_enabled()), None),
        60,
        "an enabled Explain button",
    )
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    driver.execute_script(WATCH_EXPLAIN, button)
    start = time.perf_counter()
    button.click()
    wait_for(driver, running, 30, "the run to start")
    wait_for(driver, card_fresh, timeout, "the new decision card")
    card = time.perf_counter() - start
    wait_for(driver, chat_ready, timeout, "the chat to be ready")
    ready = time.perf_counter() - start
    page = driver.execute_script(
        "const f = window.__facexExplain; return f && f.card !== null && f.ready !== null"
        " ? [(f.card - f.start) / 1000, (f.ready - f.start) / 1000] : null;"
    )
    if page:  # the page's own clock (the click event -> the DOM state): no polling delay
        card, ready = float(page[0]), float(page[1])
    return card, ready


# Installed before Explain is clicked: notes (performance.now) the click, then the first moment the new decision
# card is drawn (its figures present, none left over from the previous run) and the first moment the run is over
# with the chat box enabled, after the run was seen to start.
WATCH_EXPLAIN = """
const f = window.__facexExplain = {start: null, started: false, card: null, ready: null};
arguments[0].addEventListener('click', () => { if (f.start === null) f.start = performance.now(); }, {capture: true});
const running = () => !!(document.querySelector('[data-testid="stStatusWidget"]')
                         || document.querySelector('[data-stale="true"]'));
const tick = () => {
  if (f.start === null) return;
  const now = performance.now();
  if (!f.started) { if (running()) f.started = true; else return; }
  if (f.card === null) {
    const metrics = document.querySelectorAll('.st-key-decision-card [data-testid="stMetric"]');
    const boxes = document.querySelectorAll('.st-key-decision-card [data-testid="stElementContainer"]');
    if (metrics.length >= 4 && Array.from(boxes).every(b => b.getAttribute('data-stale') !== 'true')) f.card = now;
  }
  if (f.card !== null && f.ready === null) {
    const box = document.querySelector('[data-testid="stChatInputTextArea"]');
    if (box && !box.disabled && !running()) { f.ready = now; obs.disconnect(); }
  }
};
const obs = new MutationObserver(tick);
obs.observe(document.body, {childList: true, subtree: true, attributes: true, characterData: true});
"""


def engine_seconds(driver) -> float | None:
    """The engine's own time for the shown explanation, as the card states it ("explanation N s")."""
    import re

    text = " ".join(e.text for e in css(driver, ".st-key-decision-card"))
    found = re.search(r"explanation (\d+(?:\.\d+)?) s", text)
    return float(found.group(1)) if found else None


def ask(driver, question: str, timeout: float = 60.0) -> str:
    """Type a question into the chat box and return the text of the assistant's answer."""
    return ask_timed(driver, question, timeout)[2]


def ask_timed(driver, question: str, timeout: float = 60.0) -> tuple[float, float, str]:
    """Ask ``question``; (seconds from Enter to the answer's text on screen, seconds until the run finished, the
    answer's text)."""
    from selenium.webdriver.common.keys import Keys

    before = len(css(driver, '[data-testid="stChatMessage"]'))
    box = wait_for(driver, lambda d: css(d, '[data-testid="stChatInputTextArea"]'), 30, "the chat input")[0]
    box.click()
    box.send_keys(question)
    driver.execute_script(WATCH_ANSWER, before)
    start = time.perf_counter()
    box.send_keys(Keys.ENTER)

    def shown(d) -> bool:
        messages = css(d, '[data-testid="stChatMessage"]')
        if len(messages) < before + 2:
            return False
        texts = messages[before + 1].find_elements("css selector", '[data-testid="stMarkdownContainer"]')
        return any(t.text.strip() for t in texts)

    wait_for(driver, shown, timeout, "the answer")
    shown_s = time.perf_counter() - start
    wait_for(driver, lambda d: not running(d), timeout, "the run to finish")
    done_s = time.perf_counter() - start
    page = driver.execute_script("const f = window.__facexAnswer; return f && f.start !== null && f.shown !== null"
                                 " ? (f.shown - f.start) / 1000 : null;")
    if page is not None:  # the page's own clock (Enter keydown -> answer text in the DOM): no polling delay
        shown_s = float(page)
    return shown_s, done_s, css(driver, '[data-testid="stChatMessage"]')[before + 1].text


# Installed before Enter is pressed: notes (performance.now) the Enter keydown in the chat box and the moment the
# new answer's text is in the page, so the answer time does not include selenium's polling.
WATCH_ANSWER = """
const before = arguments[0];
const f = window.__facexAnswer = {start: null, shown: null};
const box = document.querySelector('[data-testid="stChatInputTextArea"]');
box.addEventListener('keydown', e => { if (e.key === 'Enter' && f.start === null) f.start = performance.now(); },
                     {capture: true});
const check = () => {
  const msgs = document.querySelectorAll('[data-testid="stChatMessage"]');
  if (msgs.length < before + 2) return false;
  for (const t of msgs[before + 1].querySelectorAll('[data-testid="stMarkdownContainer"]')) {
    if (t.textContent.trim()) { if (f.shown === null) f.shown = performance.now(); return true; }
  }
  return false;
};
const obs = new MutationObserver(() => { if (check()) obs.disconnect(); });
obs.observe(document.body, {childList: true, subtree: true, characterData: true});
"""


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
