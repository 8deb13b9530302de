"""Adding images to a dataset, one file's worth: hash, validate (full decode), write the blob,
make the Sample row. The importer does this for each file in its worker pool (``store_image``,
``sample_values``); ``add_image`` does all of it for one image given as bytes (webcam capture,
Play's "add to dataset"), under a blob hold like an import, so a dataset deleted meanwhile cannot
remove the file its new row names (``studio.store.gc``).
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import insert, select

from studio.core.errors import InvalidInputError, StudioError
from studio.store.duplicates import phash_of
from studio.store.gc import hold_blobs
from studio.store.images import InvalidImage, inspect_image, large_work
from studio.store.labelling import check_split, set_labels
from studio.store.models import Sample, utcnow
from studio.store.rows import check_dataset, get_class

# Errors of writing into the library: an import stops (every later file would fail the same way).
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO, errno.EFBIG}


class LibraryWriteError(StudioError):
    """The library folder cannot be written (full disk, read-only): the import stops."""


@dataclass(frozen=True)
class StoredImage:
    """A validated image whose blob file is in the library (not yet its row)."""

    digest: str
    fmt: str
    width: int
    height: int
    channels: int
    byte_size: int
    wrote: bool  # this call created the blob file


def display_text(text: str) -> str:
    """A str that is valid UTF-8: undecodable bytes of a file name become U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def store_image(
    blob_root: str, data: bytes, *, skip: frozenset[str] = frozenset(), made_shards: set[str] | None = None,
) -> StoredImage | None:
    """Hash, skip what ``skip`` holds (None), fully decode (InvalidImage says why not), store the
    blob. Only files that decode get a blob."""
    with large_work(len(data)):
        digest = hashlib.sha256(data).hexdigest()
        if digest in skip:
            return None
        info = inspect_image(data)
        wrote = write_blob(blob_root, data, digest, made_shards)
    return StoredImage(digest, info.format, info.width, info.height, info.channels, len(data), wrote)


def sample_values(
    dataset_id: int, image: StoredImage, *, class_id: int | None, split: str | None, source: str,
    labelled_by: str, phash: str | None = None, created_at: datetime | None = None,
) -> dict:
    """The column values of one Sample row (for a Core insert: the importer inserts thousands)."""
    return {
        "dataset_id": dataset_id, "blob": image.digest, "format": image.fmt,
        "width": image.width, "height": image.height, "channels": image.channels,
        "byte_size": image.byte_size, "class_id": class_id, "split": split, "source_path": source,
        "labelled_by": labelled_by if class_id is not None else "", "phash": phash,
        "created_at": created_at or utcnow(),
    }


def add_image(
    lib, dataset_id: int, data: bytes, *, source: str, class_id: int | None = None,
    split: str | None = None, labelled_by: str = "user", relabel_existing: bool = False,
) -> tuple[int, bool]:
    """Store one encoded image like an imported file and return (sample_id, added).

    An identical file already in the dataset is not stored twice: its id comes back with
    added=False, and it is labelled ``class_id`` only when ``relabel_existing``. ``source`` is
    what the sample's source_path shows (a file path, "capture:<time>")."""
    if not data:
        raise InvalidInputError("the image is empty")
    split = check_split(split)
    with lib.session() as s:
        check_dataset(s, dataset_id)
        if class_id is not None and get_class(s, class_id).dataset_id != dataset_id:
            raise InvalidInputError("the class belongs to another dataset")
        existing = s.scalar(select(Sample.id).where(Sample.dataset_id == dataset_id,
                                                    Sample.blob == hashlib.sha256(data).hexdigest()))
    if existing is not None:
        if relabel_existing:
            with lib.transaction() as s:
                set_labels(s, dataset_id, [existing], class_id, by=labelled_by)
        return existing, False
    uncommitted: list[str] = []
    with hold_blobs(lib, "add image", uncommitted=uncommitted):  # a dataset delete cannot take the file
        try:
            image = store_image(str(lib.blobs.root), data)
        except InvalidImage as exc:
            raise InvalidInputError(f"not a readable image ({exc.message})") from None
        try:
            with lib.transaction() as s:
                row = sample_values(dataset_id, image, class_id=class_id, split=split, source=source,
                                    labelled_by=labelled_by, phash=phash_of(data))
                return s.execute(insert(Sample).values(**row)).inserted_primary_key[0], True
        except BaseException:
            if image.wrote:
                uncommitted.append(image.digest)
            raise


def write_blob(blob_root: str, data: bytes, digest: str, made_shards: set[str] | None = None) -> bool:
    """BlobStore.put's contract (temp file + atomic rename, existing files kept) without a mkdir
    call per file (``made_shards`` remembers them); True if this call created the file. A failed
    write removes its temp file; a full or read-only disk raises LibraryWriteError."""
    shard = os.path.join(blob_root, digest[:2])
    target = os.path.join(shard, digest)
    if os.path.exists(target):
        return False
    tmp = os.path.join(shard, f".{digest}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        if made_shards is None or shard not in made_shards:
            os.makedirs(shard, exist_ok=True)
            if made_shards is not None:
                made_shards.add(shard)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if exc.errno in _WRITE_ERRNOS or isinstance(exc, PermissionError):
            raise LibraryWriteError(_write_reason(exc, Path(blob_root).parent)) from None
        raise
    return True


def _write_reason(exc: OSError, home: Path) -> str:
    what = {
        errno.ENOSPC: "the disk is full", errno.EDQUOT: "the disk quota is used up",
        errno.EROFS: "the library folder is on a read-only file system",
        errno.EACCES: "no permission to write into the library folder",
        errno.EPERM: "no permission to write into the library folder",
    }.get(exc.errno, exc.strerror or str(exc))
    return f"cannot write to the library at {display_text(str(home))}: {what}"
