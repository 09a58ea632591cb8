"""models.images.load_image: awkward but valid photos load (and still show a face); bad input raises ImageError."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from models import images
from models.errors import ImageError
from models.images import load_image


def _png_bytes(array: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    (Image.fromarray(array, mode) if mode else Image.fromarray(array)).save(buf, format="PNG")
    return buf.getvalue()


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` x ``height`` RGB pixels, with almost no pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


# --- bad input -----------------------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(ImageError, match="not found"):
        load_image(tmp_path / "nobody.jpg")


def test_empty_file_and_empty_bytes(tmp_path):
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_image(empty)
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")
    with pytest.raises(ImageError, match="empty"):
        load_image(io.BytesIO(b""))


def test_folder(tmp_path):
    with pytest.raises(ImageError, match="folder"):
        load_image(tmp_path)


def test_text_file_named_jpg(tmp_path):
    fake = tmp_path / "notes.jpg"
    fake.write_text("this is not a photo\n" * 20)
    with pytest.raises(ImageError, match="not an image") as info:
        load_image(fake)
    assert "notes.jpg" in str(info.value)


def test_truncated_and_corrupt_jpeg(tmp_path, astronaut):
    buf = io.BytesIO()
    Image.fromarray(astronaut).save(buf, format="JPEG", quality=90)
    data = buf.getvalue()
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(data[: len(data) // 3])
    with pytest.raises(ImageError, match="corrupt or truncated"):
        load_image(truncated)
    # the header survives but the entropy-coded data is garbage
    corrupt = bytearray(data)
    corrupt[600:] = bytes(len(corrupt) - 600)
    corrupt[-2:] = b"\xff\xd9"
    with pytest.raises(ImageError):
        load_image(bytes(corrupt[:700]))


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_oversized_dimensions_are_refused_before_decoding(monkeypatch):
    # 12000 x 10000 = 120 M pixels: over our limit (checked from the header)
    with pytest.raises(ImageError, match="limit is 100,000,000 pixels"):
        load_image(_png_header_only(12000, 10000))
    # 30000 x 30000: PIL itself refuses it as a decompression bomb; that must still be an ImageError
    with pytest.raises(ImageError, match="too large"):
        load_image(_png_header_only(30000, 30000))
    # a lower limit applies to a real photo too
    monkeypatch.setattr(images, "MAX_PIXELS", 1000)
    with pytest.raises(ImageError, match="limit is 1,000 pixels"):
        load_image(_png_bytes(np.zeros((64, 64, 3), np.uint8)))


def test_oversized_file(tmp_path, monkeypatch):
    big = tmp_path / "big.png"
    big.write_bytes(_png_bytes(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)))
    monkeypatch.setattr(images, "MAX_FILE_BYTES", 100)
    with pytest.raises(ImageError, match="MiB"):
        load_image(big)


def test_tiny_image_and_bad_arrays():
    with pytest.raises(ImageError, match="only 8x8"):
        load_image(_png_bytes(np.zeros((8, 8, 3), np.uint8)))
    with pytest.raises(ImageError, match="shape"):
        load_image(np.zeros((4, 4, 4, 4), np.uint8))
    with pytest.raises(ImageError, match="NaN"):
        load_image(np.full((32, 32, 3), np.nan, np.float32))
    with pytest.raises(ImageError, match="cannot read"):
        load_image(12345)


# --- awkward but valid ------------------------------------------------------------------------------------------


def test_grayscale_rgba_16bit_palette_all_show_the_face(astronaut, mp_detector):
    gray = np.round(astronaut.mean(2)).astype(np.uint8)
    rgba = np.dstack([astronaut, np.full(astronaut.shape[:2], 255, np.uint8)])
    rgba[:50, :50, 3] = 0  # a transparent corner composites onto white
    gray16 = gray.astype(np.uint16) * 257
    palette = Image.fromarray(astronaut).convert("P", palette=Image.Palette.ADAPTIVE, colors=256)
    buf = io.BytesIO()
    palette.save(buf, format="PNG")
    cases = {
        "gray": _png_bytes(gray),
        "rgba": _png_bytes(rgba),
        "gray16": _png_bytes(gray16),
        "palette": buf.getvalue(),
    }
    ref_box = mp_detector.detect(astronaut)[0].box
    for name, data in cases.items():
        image = load_image(data)
        assert image.dtype == np.uint8 and image.shape == (512, 512, 3), name
        faces = mp_detector.detect(image)
        assert len(faces) == 1, name
        np.testing.assert_allclose(faces[0].box, ref_box, atol=12, err_msg=name)
    assert (load_image(cases["rgba"])[:50, :50] == 255).all()
    # 16-bit values are scaled, not clipped
    np.testing.assert_allclose(load_image(cases["gray16"])[..., 0].astype(int), gray, atol=1)


def test_exif_rotated_jpeg(tmp_path, astronaut, mp_detector):
    # a camera held sideways stores the pixels rotated and Orientation=6 ("rotate 90 degrees clockwise to view")
    stored = np.ascontiguousarray(np.rot90(astronaut, k=1))  # what such a camera writes
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "rotated.jpg"
    Image.fromarray(stored).save(path, format="JPEG", quality=95, exif=exif.tobytes())
    assert Image.open(path).getexif()[0x0112] == 6
    image = load_image(path)
    assert image.shape == astronaut.shape
    assert np.abs(image.astype(int) - astronaut.astype(int)).mean() < 6  # upright again
    faces = mp_detector.detect(image)
    assert len(faces) == 1
    np.testing.assert_allclose(faces[0].box, mp_detector.detect(astronaut)[0].box, atol=8)
    # without the EXIF rotation the face lies on its side: BlazeFace sees it, but rolled 90 degrees it is refused
    assert mp_detector.detect(stored) == []


def test_very_large_photo_is_downscaled(tmp_path, astronaut):
    import cv2

    big = cv2.resize(astronaut, (5000, 5000), interpolation=cv2.INTER_LINEAR)
    path = tmp_path / "big.jpg"
    Image.fromarray(big).save(path, format="JPEG", quality=80)
    image = load_image(path)
    assert max(image.shape[:2]) == images.MAX_SIDE
    assert load_image(path, max_side=None).shape[:2] == (5000, 5000)
