"""Unreadable, animated and multi-page photos: a plain ImageError naming the file, exit 2 in the CLI."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from explain_engine.__main__ import main
from models.errors import ImageError
from models.images import load_image


def test_permission_denied_is_a_plain_error(photo_files, monkeypatch, capsys, one_line):
    # tests run as root, who may read any file: the refusal is simulated where the bytes are read
    target = photo_files["a"]
    real_read = Path.read_bytes

    def read_bytes(self):
        if self == target:
            raise PermissionError(13, "Permission denied", str(self))
        return real_read(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(ImageError, match="permission denied"):
        load_image(target)
    rc = main(["verify", str(target), str(photo_files["b"])])
    line = one_line(capsys.readouterr().err)
    assert rc == 2 and "permission denied" in line and target.name in line


def test_other_read_errors_are_plain_too(photo_files, monkeypatch):
    monkeypatch.setattr(Path, "read_bytes", lambda self: (_ for _ in ()).throw(OSError(5, "Input/output error")))
    with pytest.raises(ImageError, match="cannot be read .*Input/output error"):
        load_image(photo_files["a"])


def _frames(astronaut) -> list[Image.Image]:
    import cv2
    from skimage import data

    other = cv2.resize(data.coffee(), astronaut.shape[1::-1], interpolation=cv2.INTER_AREA)
    return [Image.fromarray(astronaut), Image.fromarray(other)]


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "PNG", "TIFF"])
def test_multi_frame_images_are_refused(fmt, astronaut, tmp_path):
    first, second = _frames(astronaut)
    path = tmp_path / f"two_people.{fmt.lower()}"
    first.save(path, format=fmt, save_all=True, append_images=[second], duration=500, loop=0)
    with Image.open(path) as check:
        if getattr(check, "n_frames", 1) < 2:
            pytest.skip(f"this Pillow writes no multi-frame {fmt}")
    with pytest.raises(ImageError, match="2 frames") as info:
        load_image(path)
    assert path.name in str(info.value) and "still PNG or JPEG" in str(info.value)
    with pytest.raises(ImageError, match="2 frames"):  # uploads (bytes) too
        load_image(path.read_bytes())


def test_multi_frame_refused_in_the_cli(astronaut, photo_files, tmp_path, capsys, one_line):
    first, second = _frames(astronaut)
    path = tmp_path / "animated.gif"
    first.save(path, save_all=True, append_images=[second], duration=500, loop=0)
    rc = main(["verify", str(path), str(photo_files["b"])])
    assert rc == 2 and "2 frames" in one_line(capsys.readouterr().err)


def test_single_frame_gif_and_webp_still_load(astronaut):
    for fmt in ("GIF", "WEBP"):
        buffer = io.BytesIO()
        Image.fromarray(astronaut).save(buffer, format=fmt)
        image = load_image(buffer.getvalue())
        assert image.shape == astronaut.shape and image.dtype == np.uint8
