"""Real hostile files for the hardening tests: every one is a complete, valid file of its kind
(a PostScript program, a PNG whose every row is really there, a zip a real unzip would expand),
never a header-only fake.

Imported by the tests as ``from hostile import ...`` (tests/store is on sys.path)."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

# A PostScript program with an endless loop: Ghostscript would spin at 100% CPU on it forever.
EPS_LOOP = (b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\n%%EndComments\n"
            b"/spin { } def\n{ spin } loop\nshowpage\n%%EOF\n")

HTML_PAGE = (b"<!DOCTYPE html>\n<html><head><title>cat.jpg</title></head>\n"
             b"<body><img src=\"https://example.org/cat.jpg\"></body></html>\n")


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def real_png(path: Path, width: int, height: int, *, bit_depth: int = 8, level: int = 9) -> Path:
    """A complete grey PNG of ``width`` x ``height`` black pixels, every row in the compressed
    stream (streamed, so writing it takes little memory). A real decompression bomb when big."""
    row = b"\x00" * (1 + width * bit_depth // 8)  # filter byte 0, then the pixels
    comp = zlib.compressobj(level)
    with open(path, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n")
        fh.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, bit_depth, 0, 0, 0, 0)))
        block = row * max(1, (1 << 20) // len(row))
        rows_per_block = len(block) // len(row)
        idat = bytearray()
        left = height
        while left:
            n = min(left, rows_per_block)
            idat += comp.compress(block if n == rows_per_block else row * n)
            left -= n
        idat += comp.flush()
        fh.write(_chunk(b"IDAT", bytes(idat)))
        fh.write(_chunk(b"IEND", b""))
    return path


def overlapping_zip(path: Path, entries: int, entry_bytes: int, name: str = "bomb/x.bmp") -> Path:
    """One deflated entry of ``entry_bytes`` zeros, named by ``entries`` central-directory
    records that all point at its bytes: unzip reads the same stream ``entries`` times, so a
    small file expands to entries x entry_bytes."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, b"\x00" * entry_bytes)
    raw = buf.getvalue()
    eocd_at = raw.rfind(b"PK\x05\x06")
    cd_size, cd_offset = struct.unpack("<II", raw[eocd_at + 12 : eocd_at + 20])
    central = raw[cd_offset : cd_offset + cd_size]
    records = []
    for i in range(entries):  # same data, distinct names in the directory
        records.append(central)
    body = raw[:cd_offset]
    directory = b"".join(records)
    eocd = bytearray(raw[eocd_at : eocd_at + 22])
    struct.pack_into("<HHII", eocd, 8, entries, entries, len(directory), len(body))
    path.write_bytes(body + directory + bytes(eocd))
    return path


def zeros_zip(path: Path, entries: dict[str, int]) -> Path:
    """A deflated zip whose entries hold that many zero bytes each (highly compressible)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, size in entries.items():
            zf.writestr(name, b"\x00" * size)
    return path
