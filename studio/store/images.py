"""Image decoding with Pillow only: THE one place that turns file bytes into upright pixels.

Every part of the studio that opens an image (import, thumbnails, the training cache, predict,
Play, the kernels' image inputs) goes through this module, so the same bounds hold everywhere:
only the raster formats of ``Limits.image_formats`` are decoded (never EPS/PostScript, which
Pillow would hand to Ghostscript), image size is checked in pixels and in bytes of the decoded
mode before any pixel is decoded, files are read with a size cap (never a FIFO or a device), and
large decodes take a slot of a small shared budget so parallel workers cannot multiply the peak.

``inspect_image`` validates a file (it decodes every pixel, so truncated files are caught) and
``open_upright`` gives the pixels every other part uses (training cache, thumbnails, predict):
RGB or L, EXIF-rotated, alpha flattened onto white, 16-bit scaled to 8-bit, first frame only.
"""

from __future__ import annotations

import io
import os
import stat
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from studio.core.errors import InvalidInputError
from studio.core.limits import MiB, limits

# File names the studio offers and looks for as images (folders, file dialogs, bundled pictures).
# What is decoded is decided by the file's content (Limits.image_formats), never by its name.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
IMAGE_FILE_FILTER = f"Images ({' '.join('*' + s for s in IMAGE_SUFFIXES)});;All files (*)"

# EXIF orientations 5..8 turn the image by 90 degrees, so width and height swap.
_ORIENTATION_TAG = 0x0112
_SWAPS_AXES = {5, 6, 7, 8}
_TRANSPOSED = {2, 3, 4, 5, 6, 7, 8}  # 1 (or none) = already upright

_GREY_MODES = {"1", "L", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"}
_GREY_ALPHA_MODES = {"LA", "La"}
_ALPHA_MODES = {"RGBA", "RGBa", "PA"}
_COLOUR_MODES = {"RGB", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"}
SUPPORTED_MODES = _GREY_MODES | _GREY_ALPHA_MODES | _ALPHA_MODES | _COLOUR_MODES | {"P"}
_JPEG_FORMATS = {"JPEG", "MPO"}
_CONVERT_ROWS_BYTES = 8 * MiB  # 16/32-bit to 8-bit conversion works in row blocks this big

# _open_checked checks the size right after the header, like Pillow's own check, but against the
# studio's setting and with a message that names the size; Pillow's would fire first otherwise.
Image.MAX_IMAGE_PIXELS = None


class InvalidImage(InvalidInputError):
    """A file that is not a usable image; the message says why in a few words."""


@dataclass(frozen=True)
class ImageInfo:
    format: str  # lower-case Pillow format name: png, jpeg, gif, webp, ...
    width: int  # upright, i.e. after the EXIF orientation is applied
    height: int
    channels: int  # 1 grey, 3 colour, 4 colour with transparency (flattened onto white when opened)


# --- reading files -----------------------------------------------------------------------------


def read_image_file(path: str | os.PathLike, max_bytes: int | None = None) -> bytes:
    """The bytes of a regular file, at most ``max_bytes`` (Limits.max_file_bytes).

    Never blocks on a FIFO or reads a device endlessly (/dev/zero): the file is opened
    non-blocking and must be a regular file; what it holds is read only up to the cap."""
    max_bytes = limits().max_file_bytes if max_bytes is None else max_bytes
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InvalidImage(f"not a regular file ({special_file_kind(st.st_mode)}); not read")
        if st.st_size > max_bytes:
            raise InvalidImage(f"file too large ({_mib(st.st_size)}, limit {_mib(max_bytes)}: "
                               "setting STUDIO_MAX_FILE_BYTES)")
        with large_work(st.st_size):
            data = os.read(fd, st.st_size + 1)  # one call for the whole file (the usual case)
            if len(data) != st.st_size:  # a short read, or the file changed while we read it
                parts = [data]
                while sum(map(len, parts)) <= max_bytes and (part := os.read(fd, 1 << 20)):
                    parts.append(part)
                data = b"".join(parts)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise InvalidImage(f"file too large (over {_mib(max_bytes)})")
    return data


def special_file_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "a special file"


def _mib(n: int) -> str:
    return f"{n / MiB:.0f} MB" if n >= MiB else f"{n} bytes"


# --- the budget for large decodes --------------------------------------------------------------

_large_slots = None  # a threading or multiprocessing semaphore; made on first use
_held = threading.local()


def set_large_work_semaphore(semaphore) -> None:
    """Share one budget of large-decode slots between processes (the import pool's initializer
    passes a multiprocessing semaphore here), so N workers still hold at most that many."""
    global _large_slots
    _large_slots = semaphore


@contextmanager
def large_work(nbytes: int):
    """Hold a large-decode slot while doing work of ``nbytes`` over Limits.large_decode_bytes.
    Re-entrant per thread: reading a big file and then decoding it takes one slot, not two."""
    global _large_slots
    if nbytes <= limits().large_decode_bytes or getattr(_held, "depth", 0):
        yield
        return
    if _large_slots is None:
        _large_slots = threading.BoundedSemaphore(max(1, limits().large_decodes))
    slots = _large_slots
    slots.acquire()
    _held.depth = 1
    try:
        yield
    finally:
        _held.depth = 0
        slots.release()


# --- decoding ----------------------------------------------------------------------------------


def inspect_image(data: bytes) -> ImageInfo:
    """Fully decode ``data`` and describe it; raise InvalidImage with a clear reason if it is bad.

    Big JPEGs decode at a reduced DCT scale: every byte of the stream is still decoded (damage is
    caught) for a fraction of the memory."""
    img = _open_checked(data)
    info = _describe(img)
    if img.format in _JPEG_FORMATS and decoded_bytes(img) > limits().large_decode_bytes:
        img.draft(img.mode, (1024, 1024))
    _load(img)
    return info


def open_image(data: bytes | str | os.PathLike) -> Image.Image:
    """Decode (allowed formats and limits only) and turn upright, keeping the image's own mode:
    for code that needs the original pixels (exact-duplicate search, capture checks)."""
    if not isinstance(data, (bytes, bytearray)):
        data = read_image_file(data)
    img = _open_checked(data)
    _load(img)
    with large_work(decoded_bytes(img)):
        try:
            return _upright(img)
        except Exception as exc:  # noqa: BLE001
            raise InvalidImage(_decode_failure_reason(img, exc)) from None


def open_upright(data: bytes | str | os.PathLike, *, draft_size: tuple[int, int] | None = None) -> Image.Image:
    """Decode to an upright RGB or L image (alpha flattened onto white, first frame of animations).

    ``draft_size`` lets JPEG decode at a reduced scale no smaller than that size (fast thumbnails)."""
    if not isinstance(data, (bytes, bytearray)):
        data = read_image_file(data)
    img = _open_checked(data)
    if draft_size is not None and img.format in _JPEG_FORMATS:
        img.draft(img.mode, draft_size)  # same mode, DCT-domain downscale only
    with large_work(decoded_bytes(img)):
        _load(img)
        try:
            img = _upright(img)
            return _to_rgb_or_l(img)
        except Exception as exc:  # noqa: BLE001
            raise InvalidImage(_decode_failure_reason(img, exc)) from None


def decoded_bytes(img: Image.Image) -> int:
    """Memory Pillow needs for ``img``'s pixels in its own mode (bands are padded to 4 bytes)."""
    width, height = img.size
    mode = img.mode
    if mode in ("1", "L", "P"):
        per_pixel = 1
    elif mode.startswith("I;16"):
        per_pixel = 2
    else:
        per_pixel = 4  # RGB, RGBA, CMYK, LA, I, F ... are stored 32 bits a pixel
    return width * height * per_pixel


# --- internals -------------------------------------------------------------------------------


def _load(img: Image.Image) -> None:
    with large_work(decoded_bytes(img)):
        try:
            img.load()
        except Exception as exc:  # noqa: BLE001 - Pillow raises many types for broken files
            raise InvalidImage(_decode_failure_reason(img, exc)) from None


_OPENERS: dict[tuple[str, ...], list[str]] = {}


def _openers(allowed: tuple[str, ...]) -> list[str]:
    """The allowed formats Pillow has an opener for (MPO, say, is opened by the JPEG opener)."""
    found = _OPENERS.get(allowed)
    if found is None:
        Image.init()
        found = _OPENERS[allowed] = [fmt for fmt in allowed if fmt in Image.OPEN]
    return found


def _open_checked(data: bytes) -> Image.Image:
    """Open (header only) with the allowed formats alone, and check pixels, decoded bytes and
    mode before any pixel is decoded."""
    if not data:
        raise InvalidImage("empty file (0 bytes)")
    lim = limits()
    try:
        img = Image.open(io.BytesIO(data), formats=_openers(lim.image_formats))  # header only
    except Image.DecompressionBombError:
        raise InvalidImage(f"image too large (over {lim.max_image_pixels // 1_000_000} megapixels)") from None
    except UnidentifiedImageError:
        raise InvalidImage(_not_an_image_reason(data, lim.image_formats)) from None
    except Exception as exc:  # noqa: BLE001 - corrupt headers raise SyntaxError, ValueError, ...
        raise InvalidImage(f"corrupt image header ({_short(exc)})") from None
    width, height = img.size
    if width <= 0 or height <= 0:
        raise InvalidImage(f"image has no pixels ({width}x{height})")
    if width * height > lim.max_image_pixels:
        raise InvalidImage(
            f"image too large ({width}x{height} pixels, limit {lim.max_image_pixels // 1_000_000} "
            "megapixels: setting STUDIO_MAX_IMAGE_PIXELS)"
        )
    if img.mode not in SUPPORTED_MODES:
        raise InvalidImage(f"unsupported pixel format ({img.mode})")
    need = decoded_bytes(img)
    if need > lim.max_decoded_bytes:
        raise InvalidImage(
            f"image too large to decode ({width}x{height} {img.mode} needs {_mib(need)}, limit "
            f"{_mib(lim.max_decoded_bytes)}: setting STUDIO_MAX_DECODED_BYTES)"
        )
    return img


def _orientation(img: Image.Image) -> int:
    try:
        return int(img.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # noqa: BLE001 - a broken EXIF block must not reject good pixels
        return 1


def _upright(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation; untouched (no copy) when there is none to apply."""
    if _orientation(img) in _TRANSPOSED:
        return ImageOps.exif_transpose(img)
    return img


def _describe(img: Image.Image, orientation: int | None = None) -> ImageInfo:
    width, height = img.size
    if (_orientation(img) if orientation is None else orientation) in _SWAPS_AXES:
        width, height = height, width
    return ImageInfo(
        format=(img.format or "").lower(), width=width, height=height, channels=_channels(img)
    )


def _channels(img: Image.Image) -> int:
    mode = img.mode
    if mode in _GREY_MODES or mode in _GREY_ALPHA_MODES:
        return 1
    if mode in _ALPHA_MODES or (mode == "P" and "transparency" in img.info):
        return 4
    return 3


def _to_rgb_or_l(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode == "L":
        return img
    if mode == "RGB":
        return img
    if mode == "1":
        return img.convert("L")
    if mode in _GREY_ALPHA_MODES:
        la = img.convert("LA")
        out = Image.new("L", la.size, 255)
        out.paste(la.getchannel("L"), mask=la.getchannel("A"))
        return out
    if mode.startswith("I") or mode == "F":
        return _high_depth_to_l(img)
    if mode in _ALPHA_MODES or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        out = Image.new("RGB", rgba.size, (255, 255, 255))
        out.paste(rgba, mask=rgba.getchannel("A"))
        return out
    return img.convert("RGB")  # P, RGBX, CMYK (Adobe-inverted ones included), YCbCr, LAB, HSV


def _high_depth_to_l(img: Image.Image) -> Image.Image:
    """16/32-bit integer or float grey to 8 bits: 16-bit ranges scale by 1/257, floats 0..1 by 255.

    Converted in blocks of rows, so the temporaries stay small (a whole 16-bit 10k x 10k image in
    int64 and float64 would cost 1.6 GB on top of its 200 MB)."""
    arr = np.asarray(img)
    if arr.size == 0:
        return Image.new("L", img.size, 0)
    if img.mode == "F":
        hi = float(np.nanmax(arr))
        scale_f = 255.0 if hi <= 1.0 else 1.0

        def block(rows):
            return np.clip(np.nan_to_num(rows) * scale_f, 0, 255)
    else:
        hi, lo = int(arr.max()), int(arr.min())
        if hi <= 255 and img.mode == "I":
            def block(rows):
                return np.clip(rows, 0, 255)
        elif hi <= 65535:
            def block(rows):
                return np.clip(rows.astype(np.int64), 0, 65535) / 257.0
        else:
            span = 255.0 / max(hi - lo, 1)

            def block(rows):
                return (rows.astype(np.int64) - lo) * span
    out = np.empty(arr.shape, dtype=np.uint8)
    step = max(1, _CONVERT_ROWS_BYTES // max(1, arr.shape[1] * 8))
    for top in range(0, arr.shape[0], step):
        out[top : top + step] = np.rint(block(arr[top : top + step]))
    return Image.fromarray(out, "L")


def _not_an_image_reason(data: bytes, allowed: tuple[str, ...]) -> str:
    """Why Pillow found no allowed format: a format we refuse to decode is named as such."""
    refused = _refused_format(data[:64], allowed)
    if refused:
        return (f"{refused} files are not decoded (allowed: {', '.join(allowed)}: setting "
                "STUDIO_IMAGE_FORMATS)")
    head = data[:512]
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "not an image file (text?)"
        except UnicodeDecodeError:
            pass
    return "not an image file (unknown format)"


_NAMED_FORMATS = {"EPS": "EPS/PostScript", "PDF": "PDF", "SVG": "SVG"}


def _refused_format(prefix: bytes, allowed: tuple[str, ...]) -> str | None:
    """The name of a known but refused format whose signature ``prefix`` carries. Only the
    plugins' prefix checks run (no plugin opens the data)."""
    if prefix.startswith(b"%!PS") or prefix.startswith(b"\xc5\xd0\xd3\xc6"):
        return "EPS/PostScript"
    if prefix.startswith(b"%PDF"):
        return "PDF"
    Image.init()
    for fmt in Image.ID:
        if fmt in allowed:
            continue
        accept = Image.OPEN.get(fmt, (None, None))[1]
        try:
            if accept is not None and accept(prefix):
                return _NAMED_FORMATS.get(fmt, fmt)
        except Exception:  # noqa: BLE001 - a plugin's check must not turn into a crash
            continue
    return None


def _decode_failure_reason(img: Image.Image, exc: Exception) -> str:
    fmt = (img.format or "image").upper()
    text = str(exc).lower()
    if "truncated" in text or isinstance(exc, (EOFError, SyntaxError)) or "broken" in text:
        return f"truncated or damaged {fmt} file ({_short(exc)})"
    if isinstance(exc, (Image.DecompressionBombError,)):
        return f"image too large (over {limits().max_image_pixels // 1_000_000} megapixels)"
    return f"cannot decode {fmt} file ({_short(exc)})"


def _short(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:120]
