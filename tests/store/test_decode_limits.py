"""Decoding hostile files: allow-listed formats everywhere, size in pixels and in decoded bytes,
bounded reads, and the shared budget for large decodes. Every input is a real file."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hostile import EPS_LOOP, HTML_PAGE, real_png
from imagefactory import digit_png
from studio.core.limits import Limits, MiB, limits, set_limits
from studio.store.images import (
    InvalidImage,
    inspect_image,
    large_work,
    open_image,
    open_upright,
    read_image_file,
    set_large_work_semaphore,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def custom_limits():
    """Set limits for one test; the process's own come back afterwards."""
    yield lambda **kw: set_limits(Limits(**kw))
    set_limits(None)


@pytest.fixture
def eps_png(tmp_path) -> Path:
    path = tmp_path / "x.png"  # a PostScript program pretending to be a PNG
    path.write_bytes(EPS_LOOP)
    return path


def _gs_processes() -> int:
    out = subprocess.run(["ps", "-eo", "comm"], capture_output=True, text=True).stdout.split()
    return sum(1 for name in out if name == "gs")


# --- the allow-list ----------------------------------------------------------------------------


def _decoders():
    """Every entry point that turns a file into pixels, for the parametrised tests."""
    from studio.export.images import decode_image

    return {
        "inspect_image": lambda p: inspect_image(p.read_bytes()),
        "open_upright": open_upright,
        "open_image": open_image,
        "predict decode_image": lambda p: decode_image(p),
    }


@pytest.mark.timeout(60)
@pytest.mark.parametrize("entry", ["inspect_image", "open_upright", "open_image",
                                   "predict decode_image"])
def test_postscript_named_png_is_refused_by_every_decoder(eps_png, entry):
    before = _gs_processes()
    from studio.core.errors import InvalidInputError

    started = time.monotonic()
    with pytest.raises(InvalidInputError) as caught:
        _decoders()[entry](eps_png)
    assert time.monotonic() - started < 30  # refused, not run (the timeout mark ends a hang)
    assert "EPS/PostScript files are not decoded" in str(caught.value)
    assert "STUDIO_IMAGE_FORMATS" in str(caught.value)
    assert _gs_processes() <= before  # Ghostscript never started


@pytest.mark.timeout(60)
def test_postscript_is_refused_by_the_kernels_and_the_thumbnails(library, eps_png):
    from studio.core.errors import InvalidInputError
    from studio.kernels.input_images import load_image
    from studio.store.thumbnails import thumbnail_path

    with pytest.raises(InvalidInputError, match="EPS/PostScript files are not decoded"):
        load_image(eps_png)
    digest = library.blobs.put(EPS_LOOP)  # a blob that got in some other way
    with pytest.raises(InvalidImage, match="EPS/PostScript"):
        thumbnail_path(library, digest)


def test_no_module_opens_images_with_pillow_directly():
    """Every decode goes through studio.store.images (the generated export example, a script
    for the user's own machine, names the allowed formats itself)."""
    offenders = []
    for path in (REPO / "studio").rglob("*.py"):
        rel = path.relative_to(REPO).as_posix()
        if rel == "studio/store/images.py":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if "Image.open(" in line and "formats=" not in line:
                offenders.append(f"{rel}:{number}: {line.strip()}")
    assert offenders == []


def test_html_saved_as_jpg_random_bytes_and_one_pixel(tmp_path):
    import numpy as np
    from PIL import Image

    with pytest.raises(InvalidImage, match=r"not an image file \(text\?\)"):
        inspect_image(HTML_PAGE)
    noise = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    with pytest.raises(InvalidImage, match=r"not an image file \(unknown format\)"):
        inspect_image(noise)
    one = tmp_path / "one.png"
    Image.new("RGB", (1, 1), (200, 10, 10)).save(one)
    info = inspect_image(one.read_bytes())
    assert (info.width, info.height, info.channels) == (1, 1, 3)
    assert open_upright(one).getpixel((0, 0)) == (200, 10, 10)


def test_formats_setting_narrows_the_allow_list(custom_limits):
    custom_limits(image_formats=("JPEG",))
    with pytest.raises(InvalidImage, match="PNG files are not decoded"):
        inspect_image(digit_png(1))


# --- size limits on real files -----------------------------------------------------------------


def test_real_decompression_bomb_is_refused_before_decoding(tmp_path):
    """20000 x 20000 grey: 400 MB of pixels, every row present, in a file of a few hundred KB."""
    bomb = real_png(tmp_path / "bomb.png", 20000, 20000)
    assert bomb.stat().st_size < 2 * MiB
    with pytest.raises(InvalidImage, match=r"image too large \(20000x20000 pixels, limit 100 megapixels"):
        inspect_image(bomb.read_bytes())


def test_decoded_bytes_limit_counts_the_mode(tmp_path, custom_limits):
    """Pixels alone are not the cost: 16-bit grey takes 2 bytes a pixel, RGB 4 in Pillow."""
    path = real_png(tmp_path / "deep.png", 3000, 3000, bit_depth=16)  # 18 MB decoded
    custom_limits(max_decoded_bytes=16 * MiB)
    with pytest.raises(InvalidImage, match=r"too large to decode \(3000x3000 I;16 needs 17 MB, limit 16 MB"):
        inspect_image(path.read_bytes())
    custom_limits(max_decoded_bytes=32 * MiB)
    assert inspect_image(path.read_bytes()).width == 3000


_PEAK_SCRIPT = """
import resource, sys, time
from pathlib import Path
from studio.store.images import inspect_image, open_upright
data = Path(sys.argv[1]).read_bytes()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
info = inspect_image(data)
img = open_upright(data)
assert img.mode == "L" and img.size == (9999, 9999), (img.mode, img.size)
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((peak - base) // 1024)
"""


@pytest.mark.timeout(180)
def test_16_bit_9999_square_png_decodes_in_bounded_memory(tmp_path):
    """The review's file: 194 KB on disk, 200 MB as 16-bit pixels; converting it to 8 bits used
    to cost 2.7 GB (int64 and float64 copies of the whole image). Now in row blocks."""
    path = real_png(tmp_path / "deep.png", 9999, 9999, bit_depth=16)
    assert path.stat().st_size < 1 * MiB
    proc = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=170)
    assert proc.returncode == 0, proc.stderr
    extra_mb = int(proc.stdout.strip())
    print("peak extra memory:", extra_mb, "MB")
    assert extra_mb < 600  # 200 MB of 16-bit pixels + 100 MB of 8-bit output + blocks


# --- reading files -----------------------------------------------------------------------------


@pytest.mark.timeout(30)
def test_fifo_and_devices_are_not_read(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(InvalidImage, match=r"not a regular file \(a FIFO\)"):
        read_image_file(fifo)  # opened non-blocking: no writer, no hang
    with pytest.raises(InvalidImage, match=r"not a regular file \(a character device\)"):
        read_image_file("/dev/zero")
    with pytest.raises(InvalidImage, match=r"not a regular file \(a character device\)"):
        open_upright(Path("/dev/zero"))


def test_file_over_the_size_limit_is_refused_unread(tmp_path, custom_limits):
    path = tmp_path / "big.png"
    path.write_bytes(digit_png(3) + b"\x00" * 5000)
    custom_limits(max_file_bytes=4096)
    with pytest.raises(InvalidImage, match=r"file too large \(\d+ bytes, limit 4096 bytes"):
        read_image_file(path)


# --- the budget of large decodes ---------------------------------------------------------------


def test_large_decodes_take_turns(custom_limits):
    """With one slot, a second large decode waits until the first is done (across threads;
    the import pool shares the same kind of semaphore between its processes)."""
    custom_limits(large_decode_bytes=1000, large_decodes=1)
    slots = threading.BoundedSemaphore(1)
    set_large_work_semaphore(slots)
    try:
        inside, release, order = threading.Event(), threading.Event(), []

        def first():
            with large_work(5000):
                order.append("first in")
                inside.set()
                release.wait(10)
                order.append("first out")

        def second():
            with large_work(5000):
                order.append("second in")

        t1 = threading.Thread(target=first)
        t1.start()
        inside.wait(10)
        assert not slots.acquire(blocking=False)  # the one slot is taken
        t2 = threading.Thread(target=second)
        t2.start()
        with large_work(10):  # small work never waits
            pass
        release.set()
        t1.join(10)
        t2.join(10)
        assert order == ["first in", "first out", "second in"]
        with large_work(5000), large_work(5000):  # re-entrant in one thread: no deadlock
            pass
    finally:
        set_large_work_semaphore(None)


def test_limits_come_from_the_environment():
    from studio.core.errors import InvalidInputError

    got = Limits.from_env({"STUDIO_MAX_IMAGE_PIXELS": "2_000_000", "STUDIO_IMAGE_FORMATS": "png, jpeg"})
    assert got.max_image_pixels == 2_000_000 and got.image_formats == ("PNG", "JPEG")
    assert got.max_file_bytes == Limits().max_file_bytes
    with pytest.raises(InvalidInputError, match="STUDIO_MAX_ZIP_RATIO must be a whole number"):
        Limits.from_env({"STUDIO_MAX_ZIP_RATIO": "lots"})
    assert limits() == Limits.from_env()


def test_readme_lists_every_limit():
    from studio.core.limits import describe_limits

    readme = (REPO / "README.md").read_text()
    missing = [name for name, _, _ in describe_limits() if name not in readme]
    assert missing == []
