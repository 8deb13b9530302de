"""Blob lifetime: files are shared between datasets by hash, so removing one is decided in the DB.

Writers (imports, webcam capture, Play's "add to dataset") take a *hold* before they write or
reuse a blob file and release it once their rows are committed. Deleting a dataset only queues
its blobs in the *trash*; ``collect_garbage`` removes a queued file when no sample references it
and no hold is in progress. It does so while holding SQLite's write lock, which a writer needs to
register its hold: either the writer's hold came first (nothing is removed) or the removal
finishes before the writer looks for the file (it writes it again). So no interleaving leaves a
row pointing at a missing file. A hold whose process died (kill -9) is dropped at the next run.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from studio.store.models import BlobHold, BlobTrash, Sample, TableData, utcnow
from studio.store.rows import IN_CHUNK

log = logging.getLogger(__name__)

GC_BATCH = 2000  # files removed per write transaction (the write lock is held meanwhile)
OTHER_HOST_HOLD_TTL = timedelta(days=1)  # a hold from another machine (shared folder) expires
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


@dataclass
class GcResult:
    removed: int = 0  # blob files removed
    deferred: int = 0  # blobs left queued because a hold is in progress
    holds_dropped: int = 0  # holds of processes that are gone


# --- holds -------------------------------------------------------------------------------------


def _process_start(pid: int) -> str:
    """The start time of ``pid`` (Linux: clock ticks since boot), "" where unknown."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
        return raw.rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return ""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def hold_is_alive(hold: BlobHold) -> bool:
    if hold.host != socket.gethostname():
        return utcnow() - hold.started_at < OTHER_HOST_HOLD_TTL
    if not _pid_alive(hold.pid):
        return False
    started = _process_start(hold.pid)
    return not (started and hold.pid_started and started != hold.pid_started)


def take_hold(lib, purpose: str) -> int:
    with lib.transaction() as s:
        hold = BlobHold(purpose=purpose[:40], host=socket.gethostname(), pid=os.getpid(),
                        pid_started=_process_start(os.getpid()))
        s.add(hold)
        s.flush()
        return hold.id


@contextmanager
def hold_blobs(lib, purpose: str, *, uncommitted: list[str] | None = None) -> Iterator[int]:
    """Hold blob removal while writing blobs and their rows. On exit the hold is released and
    garbage is collected, ``uncommitted`` included: digests this writer stored but whose rows
    never went in (a cancel, a full disk) are removed unless another sample uses them."""
    hold_id = take_hold(lib, purpose)
    try:
        yield hold_id
    finally:
        try:
            collect_garbage(lib, extra=list(uncommitted or ()), release=hold_id)
        except Exception as exc:  # noqa: BLE001 - never hide the writer's own error; doctor cleans up
            log.warning("could not release blob hold %s: %s", hold_id, exc)


# --- trash and collection ----------------------------------------------------------------------


def queue_for_removal(s: Session, digests: Iterable[str]) -> None:
    """In the caller's transaction (the one deleting the rows): these blobs may have lost their
    last reference; the next collection decides."""
    rows = [{"digest": d, "queued_at": utcnow()} for d in set(digests)]
    for i in range(0, len(rows), IN_CHUNK):
        s.execute(insert(BlobTrash).prefix_with("OR IGNORE"), rows[i : i + IN_CHUNK])


def _lock_for_writing(s: Session) -> None:
    """Take SQLite's write lock now (a no-op write), so that no hold can be registered until this
    transaction ends and what is read next stays true while files are removed."""
    s.execute(text("UPDATE blob_trash SET digest = digest WHERE 0"))


def _drop_dead_holds(s: Session) -> tuple[int, int]:
    """(live holds, dropped holds)."""
    holds = list(s.scalars(select(BlobHold)))
    dead = [h.id for h in holds if not hold_is_alive(h)]
    if dead:
        s.execute(delete(BlobHold).where(BlobHold.id.in_(dead)))
    return len(holds) - len(dead), len(dead)


def queued_count(lib) -> int:
    """Blobs waiting in the trash (a hold was in progress when they were queued)."""
    with lib.session() as s:
        return s.scalar(select(func.count()).select_from(BlobTrash)) or 0


def referenced(s: Session, digests: list[str]) -> set[str]:
    used: set[str] = set()
    for i in range(0, len(digests), IN_CHUNK):
        chunk = digests[i : i + IN_CHUNK]
        used.update(s.scalars(select(Sample.blob).where(Sample.blob.in_(chunk)).distinct()))
    return used | (set(digests) & set(table_blobs(s)))


TABLE_BLOB_COLUMNS = (TableData.source_blob, TableData.data_blob, TableData.splits_blob)


def table_blobs(s: Session, dataset_id: int | None = None) -> dict[str, str]:
    """Every blob a table dataset uses (the imported file, its Parquet rows, its splits), with
    the dataset's name; one dataset's when ``dataset_id`` is given."""
    from studio.store.models import Dataset

    stmt = select(*TABLE_BLOB_COLUMNS, Dataset.name).join(Dataset, Dataset.id == TableData.dataset_id)
    if dataset_id is not None:
        stmt = stmt.where(TableData.dataset_id == dataset_id)
    return {digest: name for *digests, name in s.execute(stmt) for digest in digests}


def collect_garbage(lib, extra: Iterable[str] = (), *, release: int | None = None) -> GcResult:
    """Remove queued (and ``extra``) blob files that no sample references, when no hold is in
    progress; otherwise leave them queued for the collection that runs when the hold ends.
    ``release`` is the caller's own hold, dropped in the same transaction."""
    extra = sorted({d for d in extra if _DIGEST.match(d)})
    try:
        return _collect(lib, extra, release)
    except OperationalError:
        if release is None:
            raise
        # The DB cannot be written (a full disk): still remove this writer's own files if no one
        # else holds; its hold row stays until its process ends.
        return _remove_own_files(lib, extra, release)


def _collect(lib, extra: list[str], release: int | None) -> GcResult:
    result = GcResult()
    while True:
        with lib.transaction() as s:
            _lock_for_writing(s)
            if release is not None:
                s.execute(delete(BlobHold).where(BlobHold.id == release))
                release = None
            live, dropped = _drop_dead_holds(s)
            result.holds_dropped += dropped
            if live:
                queue_for_removal(s, extra)
                result.deferred = s.scalar(select(func.count()).select_from(BlobTrash)) or 0
                return result
            batch = list(s.scalars(select(BlobTrash.digest).limit(GC_BATCH)))
            if not batch and extra:
                batch, extra = extra[:GC_BATCH], extra[GC_BATCH:]
            if not batch:
                return result
            keep = referenced(s, batch)
            for digest in batch:
                if digest not in keep:
                    result.removed += remove_blob_files(lib, digest)
            s.execute(delete(BlobTrash).where(BlobTrash.digest.in_(batch)))


def _remove_own_files(lib, extra: list[str], own_hold: int) -> GcResult:
    result = GcResult()
    with lib.session() as s, s.begin():
        _lock_for_writing(s)
        others = [h for h in s.scalars(select(BlobHold).where(BlobHold.id != own_hold)) if hold_is_alive(h)]
        if others:
            return result
        keep = referenced(s, extra)
        for digest in extra:
            if digest not in keep:
                result.removed += remove_blob_files(lib, digest)
    return result


def remove_blob_files(lib, digest: str) -> int:
    """Remove a blob file and its thumbnails; 1 if the blob file was there."""
    removed = 0
    try:
        lib.blobs.path(digest).unlink()
        removed = 1
    except FileNotFoundError:
        pass
    for size_dir in _thumb_size_dirs(lib):
        for ext in ("png", "jpg"):
            (size_dir / digest[:2] / f"{digest}.{ext}").unlink(missing_ok=True)
    return removed


def _thumb_size_dirs(lib) -> list[Path]:
    try:
        return [p for p in lib.thumbs_dir.iterdir() if p.is_dir()]
    except OSError:
        return []


# --- the checker (`studio doctor`) -------------------------------------------------------------


@dataclass
class Checkup:
    samples: int = 0
    blob_files: int = 0
    rows_without_files: list[dict] = field(default_factory=list)  # {sample_id, dataset, blob}
    files_without_rows: list[str] = field(default_factory=list)  # digests
    temp_files: list[str] = field(default_factory=list)  # paths of leftover .tmp files
    holds_in_progress: int = 0
    queued: int = 0
    cleaned_files: int = 0
    cleaned_temp: int = 0
    dropped_rows: int = 0
    clean_deferred: bool = False

    @property
    def healthy(self) -> bool:
        return not (self.rows_without_files or self.files_without_rows or self.temp_files)


def blob_files(lib) -> Iterator[Path]:
    """Every file in the blob store's shard folders (blob files and temp files)."""
    try:
        shards = sorted(p for p in lib.blobs.root.iterdir() if p.is_dir())
    except FileNotFoundError:
        return
    for shard in shards:
        with os.scandir(shard) as it:
            for entry in it:
                if entry.is_file(follow_symlinks=False):
                    yield Path(entry.path)


def check_library(lib) -> Checkup:
    """What is inconsistent between the DB and the blob store (reads only)."""
    from studio.store.models import Dataset

    out = Checkup()
    with lib.session() as s:
        rows = s.execute(select(Sample.id, Sample.blob, Dataset.name)
                         .join(Dataset, Dataset.id == Sample.dataset_id).order_by(Sample.id)).all()
        tables = table_blobs(s)
        holds = list(s.scalars(select(BlobHold)))
        out.holds_in_progress = sum(1 for h in holds if hold_is_alive(h))
        out.queued = s.scalar(select(func.count()).select_from(BlobTrash)) or 0
    out.samples = len(rows)
    on_disk: set[str] = set()
    for path in blob_files(lib):
        if _DIGEST.match(path.name):
            on_disk.add(path.name)
        elif path.name.endswith(".tmp"):
            out.temp_files.append(str(path))
    out.blob_files = len(on_disk)
    used = set()
    for sample_id, blob, dataset in rows:
        used.add(blob)
        if blob not in on_disk:
            out.rows_without_files.append({"sample_id": sample_id, "dataset": dataset, "blob": blob})
    for blob, dataset in tables.items():
        used.add(blob)
        if blob not in on_disk:  # a table's file is gone: the dataset cannot be read (kept for the user to see)
            out.rows_without_files.append({"sample_id": None, "dataset": dataset, "blob": blob})
    out.files_without_rows = sorted(on_disk - used)
    return out


def clean_library(lib, *, drop_missing_rows: bool = False) -> Checkup:
    """Remove files without rows and leftover temp files (not while a hold is in progress: an
    import's files have no rows yet); with ``drop_missing_rows`` also delete the sample rows whose
    file is gone (their labels are lost; the images were already). Returns the check after."""
    before = check_library(lib)
    with lib.transaction() as s:
        _lock_for_writing(s)
        live, _ = _drop_dead_holds(s)
        if live:
            before.clean_deferred = True
            return before
        still_orphans = set(before.files_without_rows) - referenced(s, before.files_without_rows)
        for digest in still_orphans:
            before.cleaned_files += remove_blob_files(lib, digest)
        for tmp in before.temp_files:
            try:
                os.unlink(tmp)
                before.cleaned_temp += 1
            except FileNotFoundError:
                pass
        if drop_missing_rows and before.rows_without_files:
            ids = [r["sample_id"] for r in before.rows_without_files if r["sample_id"] is not None]
            for i in range(0, len(ids), IN_CHUNK):
                gone = ids[i : i + IN_CHUNK]
                still_missing = [sid for sid, blob in s.execute(select(Sample.id, Sample.blob)
                                 .where(Sample.id.in_(gone))) if not lib.blobs.path(blob).exists()]
                s.execute(delete(Sample).where(Sample.id.in_(still_missing)))
                before.dropped_rows += len(still_missing)
        s.execute(delete(BlobTrash))
    after = check_library(lib)
    after.cleaned_files, after.cleaned_temp = before.cleaned_files, before.cleaned_temp
    after.dropped_rows = before.dropped_rows
    return after
