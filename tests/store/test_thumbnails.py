"""Thumbnails: made once, cached on disk, upright, aspect kept, safe from many threads."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from imagefactory import digit_png, encode, photo
from studio.core.errors import NotFoundError
from studio.store.thumbnails import thumbnail_path


def test_thumbnail_is_cached_and_sized(library):
    blob = library.blobs.put(encode(photo("astronaut"), "JPEG", quality=90))
    path = thumbnail_path(library, blob, 128)
    assert path.parent == library.thumbs_dir / "128" / blob[:2] and path.suffix == ".jpg"
    with Image.open(path) as img:
        assert img.size == (128, 128)
    mtime = path.stat().st_mtime_ns
    assert thumbnail_path(library, blob, 128) == path
    assert path.stat().st_mtime_ns == mtime  # served from the cache, not rewritten


def test_thumbnail_is_upright_and_keeps_aspect(library):
    stored = np.zeros((100, 200, 3), np.uint8)  # left half black, right half white
    stored[:, 100:] = 255
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    blob = library.blobs.put(encode(Image.fromarray(stored), "JPEG", quality=95, exif=exif.tobytes()))
    with Image.open(thumbnail_path(library, blob, 64)) as img:
        assert img.size == (32, 64)  # upright is 100 wide, 200 tall
        pixels = np.asarray(img.convert("L"))
    assert pixels[:28].mean() < 25 and pixels[36:].mean() > 230


def test_small_graphics_stay_png(library):
    blob = library.blobs.put(digit_png(7, size=28))
    path = thumbnail_path(library, blob, 128)
    assert path.suffix == ".png"
    with Image.open(path) as img:
        assert img.size == (28, 28)  # never enlarged


def test_many_threads_asking_at_once_get_one_good_file(library):
    blob = library.blobs.put(encode(photo("coffee"), "PNG"))
    with ThreadPoolExecutor(8) as pool:
        paths = list(pool.map(lambda _: thumbnail_path(library, blob, 96), range(16)))
    assert len(set(paths)) == 1
    with Image.open(paths[0]) as img:
        img.load()
        assert max(img.size) == 96
    assert not list(paths[0].parent.glob(".*.tmp"))  # no temp files left behind


def test_missing_blob_is_not_found(library):
    with pytest.raises(NotFoundError, match="image file missing"):
        thumbnail_path(library, "ab" * 32)


def test_cmyk_jpeg_thumbnail_keeps_its_colours(library):
    rgb = photo("astronaut")
    blob = library.blobs.put(encode(rgb.convert("CMYK"), "JPEG", quality=95))
    with Image.open(thumbnail_path(library, blob, 64)) as img:
        got = np.asarray(img.convert("RGB"), np.float32).mean(axis=(0, 1))
    want = np.asarray(rgb, np.float32).mean(axis=(0, 1))
    assert np.abs(got - want).max() < 12
