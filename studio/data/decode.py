"""Decoding image bytes: the store's ``open_upright`` (EXIF-upright, RGB or L) when present."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageOps


def open_upright(source: bytes | Path) -> Image.Image:
    """Delegate to studio.store.images.open_upright, THE decode function of the studio."""
    try:
        from studio.store.images import open_upright as store_open_upright
    except ImportError:  # the store helper's module is not there yet
        return _fallback_open_upright(source)
    return store_open_upright(source)


def _fallback_open_upright(source: bytes | Path) -> Image.Image:
    image = Image.open(io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source)
    image = ImageOps.exif_transpose(image)
    return image if image.mode in ("RGB", "L") else image.convert("RGB")
