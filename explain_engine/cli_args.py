"""Checks shared by the command lines: numeric arguments, output paths, one-line errors and the exit codes.

Every check runs before any model is loaded or any photo is read, so a bad argument costs nothing and leaves
nothing behind. Numbers are checked for being finite and in range by argparse ``type=`` callables (argparse turns
their ``ValueError`` into ``error: argument --threshold: ...`` and exit status 2).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from models.errors import FaceXError

EXIT_OK = 0
EXIT_BUG = 1
EXIT_BAD_INPUT = 2
EXIT_CODES_HELP = (
    "exit status: 0 done; 2 bad input or arguments (one line on stderr, nothing written); 1 a bug "
    "(please report it; FACEX_DEBUG=1 shows the traceback). Third-party log lines are hidden unless --verbose "
    "(or FACEX_VERBOSE=1)."
)


class OutputError(FaceXError):
    """An output path cannot be used: it is a file where a folder is needed (or the reverse), or not writable."""


class OneLineParser(argparse.ArgumentParser):
    """argparse with a one-line error (``error: ... (see --help)``) and exit status 2; the exit codes in --help."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("epilog", EXIT_CODES_HELP)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> None:  # argparse would print the whole usage first
        print(f"error: {message} (see {self.prog} --help)", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


# ---- numbers -----------------------------------------------------------------------------------------------
def _interval(lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    left = "(" if lo_open else "["
    right = ")" if hi_open else "]"
    if lo is not None and hi is not None:
        return f"in {left}{lo:g}, {hi:g}{right}"
    if lo is not None:
        return f"{'above' if lo_open else 'at least'} {lo:g}"
    if hi is not None:
        return f"{'below' if hi_open else 'at most'} {hi:g}"
    return "a finite number"


def real(lo: float | None = None, hi: float | None = None, *, lo_open: bool = False, hi_open: bool = False,
         what: str = "a number") -> Callable[[str], float]:
    """An argparse ``type`` for a finite float in [lo, hi] (open ends with ``lo_open`` / ``hi_open``).

    Args:
        lo, hi: bounds (None: unbounded on that side).
        lo_open, hi_open: exclude the bound itself.
        what: what the number is, for the message (e.g. "a cosine similarity").

    Returns:
        A callable str -> float that raises ``argparse.ArgumentTypeError`` for text, NaN, infinities and
        numbers outside the range.
    """
    span = _interval(lo, hi, lo_open, hi_open)

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number; expected {what} {span}") from None
        if not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"{text} is not a finite number; expected {what} {span}")
        bad = (
            (lo is not None and (value < lo or (lo_open and value == lo)))
            or (hi is not None and (value > hi or (hi_open and value == hi)))
        )
        if bad:
            raise argparse.ArgumentTypeError(f"{text} is out of range: expected {what} {span}")
        return value

    parse.__name__ = "number"  # argparse names the type in some messages
    return parse


def whole(lo: int | None = None, hi: int | None = None, *, what: str = "a whole number") -> Callable[[str], int]:
    """An argparse ``type`` for an integer in [lo, hi] ("3", not "3.5", "nan" or "-1" when lo is 0)."""
    span = _interval(lo, hi, False, False)

    def parse(text: str) -> int:
        try:
            value = int(text.strip())
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; expected {what} {span}") from None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise argparse.ArgumentTypeError(f"{text} is out of range: expected {what} {span}")
        return value

    parse.__name__ = "whole number"
    return parse


# Cosine similarities lie in [-1, 1], so does any threshold on them.
THRESHOLD = real(-1.0, 1.0, what="a cosine-similarity threshold")
RATE = real(0.0, 1.0, lo_open=True, hi_open=True, what="a rate")
NON_NEGATIVE = real(0.0, what="a number")
COUNT_1 = whole(1, what="a count")
COUNT_0 = whole(0, what="a count")
SEED = whole(0, 2**32 - 1, what="a seed")


# ---- output paths ------------------------------------------------------------------------------------------
def _os_reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def check_output_folder(path: str | Path) -> Path:
    """Make sure ``path`` can be an output folder before any work: not a file, creatable, writable.

    Creates nothing that stays: a folder that had to be made for the check is removed again.

    Raises:
        OutputError: ``path`` is an existing file, lies under a file, or its place is not writable.
    """
    out = Path(path).expanduser()
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: a file with that name exists; give a folder (new or existing)")
    where = out if out.is_dir() else out.parent
    made = _missing_parents(where)
    try:
        where.mkdir(parents=True, exist_ok=True)
        Path(tempfile.mkdtemp(prefix=f".{out.name}.check-", dir=where)).rmdir()
    except OSError as exc:
        raise OutputError(f"--out {out}: cannot write there ({_os_reason(exc)})") from None
    finally:
        _remove_empty(made)
    return out


def check_output_file(path: str | Path, option: str = "--out") -> Path:
    """Make sure a file can be written at ``path`` before any work: not a folder, its folder writable.

    Args:
        path: the file; option: the command-line option that named it (for the message).

    Raises:
        OutputError: ``path`` is a folder, or its folder cannot be created or written.
    """
    out = Path(path).expanduser()
    if out.is_dir():
        raise OutputError(f"{option} {out}: is a folder; give a file name")
    parent = out.parent
    made = _missing_parents(parent)
    try:
        parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".check", dir=parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{option} {out}: cannot write there ({_os_reason(exc)})") from None
    finally:
        _remove_empty(made)
    return out


@contextlib.contextmanager
def staged_file(out: str | Path, option: str = "--out") -> Iterator[Path]:
    """A temporary file beside ``out`` to write; it replaces ``out`` only when the body succeeds (an earlier
    ``out`` stays intact otherwise, and no partial file is left).

    Raises:
        OutputError: the file cannot be written there.
    """
    out = check_output_file(out, option)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        tmp.chmod(0o666 & ~_umask())
        os.replace(tmp, out)
    except OSError as exc:
        raise OutputError(f"{option} {out}: writing failed ({_os_reason(exc)}); nothing was written") from None
    finally:
        tmp.unlink(missing_ok=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _missing_parents(folder: Path) -> list[Path]:
    """The folders that do not exist yet on the way to ``folder``, deepest first.

    Raises:
        OutputError: the nearest existing one is a file.
    """
    missing = []
    for p in [folder, *folder.parents]:
        if p.exists():
            if not p.is_dir():
                raise OutputError(f"--out: {p} is a file, so no folder can be made under it")
            break
        missing.append(p)
    return missing


def _remove_empty(folders: list[Path]) -> None:
    for p in folders:
        with contextlib.suppress(OSError):
            p.rmdir()


@contextlib.contextmanager
def staged_folder(out: str | Path) -> Iterator[Path]:
    """A temporary folder beside ``out`` to write into; on success its files move into ``out``, on failure it
    is removed, so ``out`` never holds a half-written result. Entering it checks that ``out`` is writable.

    Yields:
        The staging folder (write every output file there, with the names it should have in ``out``).

    Raises:
        OutputError: ``out`` is a file, lies under a file, or its place is not writable.
    """
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out}: a file with that name exists; give a folder (new or existing)")
    made = _missing_parents(out.parent)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
        stage.chmod(0o777 & ~_umask())  # mkdtemp makes it private; the output folder gets the usual rights
    except OSError as exc:
        _remove_empty(made)
        raise OutputError(f"--out {out}: cannot write there ({_os_reason(exc)})") from None
    try:
        yield stage
        if not out.exists():
            os.replace(stage, out)
        else:
            for item in stage.iterdir():
                target = out / item.name
                if target.is_dir() and not item.is_dir():
                    raise OutputError(f"--out {out}: {target} is a folder; cannot replace it with a file")
                if target.is_dir():
                    shutil.rmtree(target)
                os.replace(item, target)
            stage.rmdir()
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        _remove_empty(made)
        raise
