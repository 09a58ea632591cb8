"""Restore an explanation from its exported zip (explanation.json, heatmap PNGs, legend, outlined crops, table.csv),
in memory, so that the app can bring a session back after a reload without storing anything on the server.

:class:`RestoredExplanation` offers what the app reads from a live :class:`~explain_engine.explanation.Explanation`:
``heatmap_images``, ``aligned_faces``, ``legend``, ``table`` and ``files()``. The record is validated by
:func:`explain_engine.record.load_record` (an edited record is refused unless ``allow_edited``).
"""

from __future__ import annotations

import io
import json
import zipfile
from functools import cached_property
from typing import Any

import numpy as np

from models.errors import FaceXError

MAX_ZIP_BYTES = 200 * 1024 * 1024
MAX_MEMBERS = 500


class RestoreError(FaceXError):
    """The uploaded explanation zip or conversation cannot be restored."""


def _png(data: bytes) -> np.ndarray:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


class RestoredExplanation:
    """An explanation read back from its zip: the record and its files, decoded on demand."""

    def __init__(self, record: dict, files: dict[str, bytes]) -> None:
        self.record = record
        self._files = dict(files)

    def files(self) -> dict[str, Any]:
        """{name: callable returning the bytes}, as ``Explanation.files()``; explanation.json is the record."""
        out = {name: (lambda data=data: data) for name, data in self._files.items() if name != "explanation.json"}
        text = (json.dumps(self.record, indent=2) + "\n").encode("utf-8")
        return {"explanation.json": lambda: text, **out}

    def _image(self, name: Any) -> np.ndarray | None:
        data = self._files.get(name) if isinstance(name, str) else None
        return None if data is None else _png(data)

    @cached_property
    def heatmap_images(self) -> dict[str, dict[str, np.ndarray]]:
        out = {}
        for method, names in (self.record.get("heatmaps") or {}).items():
            if not isinstance(names, dict):
                continue
            images = {key: img for key, name in names.items() if (img := self._image(name)) is not None}
            if images:
                out[method] = images
        return out

    @cached_property
    def aligned_faces(self) -> dict[str, np.ndarray]:
        names = self.record.get("region_outlines") or {"a": "regions_a.png", "b": "regions_b.png"}
        out = {}
        for side in ("a", "b"):
            image = self._image(names.get(side))
            out[side] = image if image is not None else np.full((150, 150, 3), 255, np.uint8)
        return out

    @cached_property
    def legend(self) -> np.ndarray | None:
        return self._image(self.record.get("legend") or "legend.png")

    @cached_property
    def table(self):
        import pandas as pd

        data = self._files.get(self.record.get("table_csv") or "table.csv")
        if data is not None:
            return pd.read_csv(io.BytesIO(data))
        return pd.DataFrame(self.record.get("table") or [])


def load_explanation_zip(data: bytes, *, allow_edited: bool = False) -> RestoredExplanation:
    """Read an exported explanation zip from memory.

    Args:
        data: the zip's bytes.
        allow_edited: accept a record whose digest or consistency check fails (it is then marked edited).

    Returns:
        The restored explanation; ``.record`` is the validated record as a dict.

    Raises:
        RestoreError: not a zip, too large, no explanation.json, or a record that does not validate.
    """
    from explain_engine.record import load_record

    if len(data) > MAX_ZIP_BYTES:
        raise RestoreError(f"the zip is {len(data) / 1e6:.0f} MB; the limit is {MAX_ZIP_BYTES / 1e6:.0f} MB")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = [m for m in archive.infolist() if not m.is_dir()]
            if len(members) > MAX_MEMBERS:
                raise RestoreError(f"the zip holds {len(members)} files; an explanation has far fewer")
            if sum(m.file_size for m in members) > MAX_ZIP_BYTES:
                raise RestoreError("the zip unpacks to more than the size limit")
            files = {m.filename.rsplit("/", 1)[-1]: archive.read(m) for m in members}
    except zipfile.BadZipFile:
        raise RestoreError("not a zip file (export the explanation as 'Heatmap PNGs + JSON (zip)')") from None
    if "explanation.json" not in files:
        raise RestoreError("the zip has no explanation.json")
    try:
        raw = json.loads(files["explanation.json"].decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RestoreError(f"explanation.json in the zip cannot be read ({exc})") from None
    try:
        record = load_record(raw, allow_edited=allow_edited)
    except FaceXError as exc:
        raise RestoreError(str(exc)) from None
    return RestoredExplanation(record.to_dict() if not allow_edited else raw, files)


def check_conversation_matches(conversation: dict, record: dict) -> None:
    """Raise RestoreError when a saved conversation belongs to another explanation than ``record``."""
    theirs = (conversation or {}).get("explanation") or {}
    keys = ("similarity", "threshold", "decision", "model")
    if any(theirs.get(k) != record.get(k) for k in keys):
        raise RestoreError("the conversation belongs to another explanation than the zip (decision, similarity or "
                           "model differ)")
