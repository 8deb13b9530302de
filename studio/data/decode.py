"""Decoding image bytes for the training side: the store's ``open_upright`` (EXIF-upright, RGB
or L), which decodes only the allowed raster formats within the decode limits."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from studio.store.images import open_upright as _store_open_upright


def open_upright(source: bytes | Path) -> Image.Image:
    """THE decode function of the studio (studio.store.images.open_upright)."""
    return _store_open_upright(source)
