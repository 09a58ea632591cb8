"""Labelled pair lists (CSV with the columns img_a, img_b, label), read the same way by calibrate, evaluate and the
batch runs."""

from __future__ import annotations

import csv
from pathlib import Path

from models.errors import FaceXError, ImageError

PAIR_COLUMNS = ("img_a", "img_b", "label")


def read_pairs(path: Path, root: Path) -> list[tuple[Path, Path, int]]:
    """Read a pairs CSV.

    Args:
        path: the CSV file; a UTF-8 byte-order mark (spreadsheets' "CSV UTF-8") is accepted.
        root: the folder the image paths are relative to.

    Returns:
        [(root / img_a, root / img_b, label)] with label 1 = same person (genuine), 0 = different people (impostor).

    Raises:
        ImageError: the file does not exist.
        FaceXError: the file cannot be read as text, lacks a column, has a label other than 0/1, or lists no pair.
    """
    path, root = Path(path), Path(root)
    if not path.exists():
        raise ImageError(f"{path}: pairs file not found")
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not set(PAIR_COLUMNS) <= set(reader.fieldnames):
                raise FaceXError(f"{path}: needs the columns img_a, img_b, label (1 = same person, 0 = different)")
            rows = []
            for r in reader:
                try:
                    label = int(r["label"])
                except (TypeError, ValueError):
                    raise FaceXError(f"{path}: label must be 0 or 1, not {r['label']!r}") from None
                if label not in (0, 1):
                    raise FaceXError(f"{path}: label must be 0 or 1, not {label}")
                rows.append((root / r["img_a"], root / r["img_b"], label))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise FaceXError(f"{path}: not a readable CSV text file ({exc.__class__.__name__})") from None
    except IsADirectoryError:
        raise FaceXError(f"{path}: is a folder, not a CSV file") from None
    if not rows:
        raise FaceXError(f"{path}: no pairs listed")
    return rows
