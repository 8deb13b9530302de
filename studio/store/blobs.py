"""Content-addressed files beside the DB: blobs/ab/abcdef... named by the SHA-256 of the bytes."""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        return self.root / digest[:2] / digest

    def exists(self, digest: str) -> bool:
        return self.path(digest).exists()

    def put(self, data: bytes, digest: str | None = None) -> str:
        """Store bytes atomically (temp file + rename) and return their digest.

        Written before the DB row that names it, so a killed import never leaves a row
        pointing at a missing file (at worst an orphan file, which a re-run reuses)."""
        digest = digest or sha256_bytes(data)
        target = self.path(digest)
        if target.exists():
            return digest
        target.parent.mkdir(exist_ok=True)
        tmp = target.with_name(f".{digest}.{os.getpid()}.{threading.get_ident()}.tmp")
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk leaves no half-written temp file
            raise
        return digest

    def put_file(self, source: Path, check=None, chunk: int = 8 << 20) -> str:
        """Store a file's bytes, streamed (a 2 GB table is never held in memory), hashed while
        copied; ``check`` is called between chunks and may raise (a cancel leaves no file)."""
        digest = hashlib.sha256()
        tmp = self.incoming() / f".import.{os.getpid()}.{threading.get_ident()}.tmp"
        try:
            with open(source, "rb") as src, open(tmp, "wb") as out:
                while block := src.read(chunk):
                    if check is not None:
                        check()
                    digest.update(block)
                    out.write(block)
            name = digest.hexdigest()
            target = self.path(name)
            target.parent.mkdir(exist_ok=True)
            if target.exists():
                tmp.unlink()
            else:
                os.replace(tmp, target)
            return name
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def adopt(self, tmp: Path) -> str:
        """Name a finished file written under ``incoming()`` by its hash and move it into place
        (no second copy of a large file); returns its digest."""
        digest = hashlib.sha256()
        with open(tmp, "rb") as f:
            while block := f.read(8 << 20):
                digest.update(block)
        name = digest.hexdigest()
        target = self.path(name)
        target.parent.mkdir(exist_ok=True)
        if target.exists():
            Path(tmp).unlink()
        else:
            os.replace(tmp, target)
        return name

    def incoming(self) -> Path:
        """Where files are written before they are named: a shard-like folder, so `studio doctor`
        finds what a killed writer left (names ending in .tmp)."""
        folder = self.root / "incoming"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def read(self, digest: str) -> bytes:
        return self.path(digest).read_bytes()
