"""Image decoding with Pillow only: THE one place that turns file bytes into upright pixels.

``inspect_image`` validates a file (it decodes every pixel, so truncated files are caught) and
``open_upright`` gives the pixels every other part uses (training cache, thumbnails, predict):
RGB or L, EXIF-rotated, alpha flattened onto white, 16-bit scaled to 8-bit, first frame only.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from studio.core.errors import InvalidInputError

MAX_PIXELS = 100_000_000  # 100 megapixels: far beyond any training image, stops decompression bombs

# EXIF orientations 5..8 turn the image by 90 degrees, so width and height swap.
_ORIENTATION_TAG = 0x0112
_SWAPS_AXES = {5, 6, 7, 8}
_TRANSPOSED = {2, 3, 4, 5, 6, 7, 8}  # 1 (or none) = already upright

_GREY_MODES = {"1", "L", "I", "F", "I;16", "I;16L", "I;16B", "I;16N"}
_GREY_ALPHA_MODES = {"LA", "La"}
_ALPHA_MODES = {"RGBA", "RGBa", "PA"}
_COLOUR_MODES = {"RGB", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"}
SUPPORTED_MODES = _GREY_MODES | _GREY_ALPHA_MODES | _ALPHA_MODES | _COLOUR_MODES | {"P"}


class InvalidImage(InvalidInputError):
    """A file that is not a usable image; the message says why in a few words."""


@dataclass(frozen=True)
class ImageInfo:
    format: str  # lower-case Pillow format name: png, jpeg, gif, webp, ...
    width: int  # upright, i.e. after the EXIF orientation is applied
    height: int
    channels: int  # 1 grey, 3 colour, 4 colour with transparency (flattened onto white when opened)


def inspect_image(data: bytes) -> ImageInfo:
    """Fully decode ``data`` and describe it; raise InvalidImage with a clear reason if it is bad."""
    img = _open_checked(data)
    try:
        img.load()
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types for broken files
        raise InvalidImage(_decode_failure_reason(img, exc)) from None
    return _describe(img)


def open_upright(data: bytes | Path, *, draft_size: tuple[int, int] | None = None) -> Image.Image:
    """Decode to an upright RGB or L image (alpha flattened onto white, first frame of animations).

    ``draft_size`` lets JPEG decode at a reduced scale no smaller than that size (fast thumbnails)."""
    if isinstance(data, (str, Path)):
        data = Path(data).read_bytes()
    img = _open_checked(data)
    if draft_size is not None and img.format == "JPEG":
        img.draft(img.mode, draft_size)  # same mode, DCT-domain downscale only
    try:
        img.load()
        img = _upright(img)
    except Exception as exc:  # noqa: BLE001
        raise InvalidImage(_decode_failure_reason(img, exc)) from None
    return _to_rgb_or_l(img)


def read_info_and_image(data: bytes) -> tuple[ImageInfo, Image.Image]:
    """One decode for both: the file's description and its upright pixels (used by the importer)."""
    img = _open_checked(data)
    try:
        img.load()
        orientation = _orientation(img)
        info = _describe(img, orientation)
        upright = ImageOps.exif_transpose(img) if orientation in _TRANSPOSED else img
    except Exception as exc:  # noqa: BLE001
        raise InvalidImage(_decode_failure_reason(img, exc)) from None
    return info, _to_rgb_or_l(upright)


# --- internals -------------------------------------------------------------------------------


def _open_checked(data: bytes) -> Image.Image:
    """Open (header only) and check size and mode before any pixel is decoded."""
    if not data:
        raise InvalidImage("empty file (0 bytes)")
    try:
        img = Image.open(io.BytesIO(data))  # header only; raises for > 2x Pillow's own limit
    except Image.DecompressionBombError:
        raise InvalidImage(f"image too large (over {MAX_PIXELS // 1_000_000} megapixels)") from None
    except UnidentifiedImageError:
        raise InvalidImage(_not_an_image_reason(data)) from None
    except Exception as exc:  # noqa: BLE001 - corrupt headers raise SyntaxError, ValueError, ...
        raise InvalidImage(f"corrupt image header ({_short(exc)})") from None
    width, height = img.size
    if width <= 0 or height <= 0:
        raise InvalidImage(f"image has no pixels ({width}x{height})")
    if width * height > MAX_PIXELS:
        raise InvalidImage(
            f"image too large ({width}x{height} pixels, limit {MAX_PIXELS // 1_000_000} megapixels)"
        )
    if img.mode not in SUPPORTED_MODES:
        raise InvalidImage(f"unsupported pixel format ({img.mode})")
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
    """16/32-bit integer or float grey to 8 bits: 16-bit ranges scale by 1/257, floats 0..1 by 255."""
    arr = np.asarray(img)
    if img.mode == "F":
        hi = float(np.nanmax(arr)) if arr.size else 0.0
        scale = 255.0 if hi <= 1.0 else 1.0
        out = np.clip(np.nan_to_num(arr) * scale, 0, 255)
    else:
        arr = arr.astype(np.int64)
        hi = int(arr.max()) if arr.size else 0
        if hi <= 255 and img.mode == "I":
            out = np.clip(arr, 0, 255)
        elif hi <= 65535:
            out = np.clip(arr, 0, 65535) / 257.0
        else:
            lo = int(arr.min())
            out = (arr - lo) * (255.0 / max(hi - lo, 1))
    return Image.fromarray(np.rint(out).astype(np.uint8), "L")


def _not_an_image_reason(data: bytes) -> str:
    head = data[:512]
    if b"\x00" not in head:
        try:
            head.decode("utf-8")
            return "not an image file (text?)"
        except UnicodeDecodeError:
            pass
    return "not an image file (unknown format)"


def _decode_failure_reason(img: Image.Image, exc: Exception) -> str:
    fmt = (img.format or "image").upper()
    text = str(exc).lower()
    if "truncated" in text or isinstance(exc, (EOFError, SyntaxError)) or "broken" in text:
        return f"truncated or damaged {fmt} file ({_short(exc)})"
    if isinstance(exc, (Image.DecompressionBombError,)):
        return f"image too large (over {MAX_PIXELS // 1_000_000} megapixels)"
    return f"cannot decode {fmt} file ({_short(exc)})"


def _short(exc: Exception) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:120]
