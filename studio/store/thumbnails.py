"""Upright thumbnails made on first use and cached on disk: thumbs/<size>/<ab>/<blob>.<ext>.

Safe from several threads and processes: each writer renders to its own temp file and renames it
into place (atomic), so a reader sees either no file or a whole one.
"""

from __future__ import annotations

import os
import threading
import uuid
from pathlib import Path

from PIL import Image

from studio.core.errors import NotFoundError
from studio.store.images import open_upright

_LOSSLESS_SOURCES = {"png", "gif", "bmp", "tiff", "webp", "ppm", "ico"}  # graphics: keep edges sharp
_EXTS = ("png", "jpg")


def thumbnail_path(lib, blob: str, size: int = 128) -> Path:
    """The cached thumbnail of ``blob`` fitting in ``size`` x ``size`` (aspect kept), made if missing."""
    if size < 8 or size > 2048:
        raise ValueError(f"thumbnail size {size} out of range 8..2048")
    folder = lib.thumbs_dir / str(size) / blob[:2]
    for ext in _EXTS:
        cached = folder / f"{blob}.{ext}"
        if cached.exists():
            return cached
    source = lib.blobs.path(blob)
    try:
        data = source.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"image file missing from the library: {blob[:12]}...") from None
    img = open_upright(data, draft_size=(size, size))
    img.thumbnail((size, size), Image.Resampling.LANCZOS, reducing_gap=2.0)
    ext = "png" if _source_format(data) in _LOSSLESS_SOURCES else "jpg"
    target = folder / f"{blob}.{ext}"
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / f".{blob}.{os.getpid()}.{threading.get_ident()}.{uuid.uuid4().hex[:8]}.tmp"
    try:
        if ext == "png":
            img.save(tmp, "PNG", optimize=False)
        else:
            img.save(tmp, "JPEG", quality=88)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def _source_format(data: bytes) -> str:
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if data[:2] == b"BM":
        return "bmp"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return ""
