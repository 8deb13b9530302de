"""Import images into a dataset: folders of class folders, flat folders, zips, single files.

Which files an import reads, and what their paths say (class folders, split folders, zips), is
``studio.store.import_sources``; each file is validated and stored as ``studio.store.adding`` does.

Speed: files are read, hashed, fully decoded (validated) and stored by a pool of worker
processes (one per core) in chunks, while the main process walks, commits rows and reports
progress. The perceptual hash for near-duplicate search is not computed here: the Problems view
and `studio labels duplicates` fill it in lazily (``duplicates.compute_missing_phashes``).

Crash safety: each blob file is written (atomically: temp file + rename) by a worker before the
batch of rows that names it is inserted in one transaction, and the whole import runs under a
blob hold (``studio.store.gc``) so a dataset deleted meanwhile cannot remove a file this import
relies on. An import killed at any moment leaves no row without its file (at worst files
without rows, which a re-run reuses and `studio doctor --clean` removes); a re-run skips what is
already there (same SHA-256 in this dataset = duplicate).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
import time
import zipfile
from collections import deque
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from studio.core.errors import Cancelled, InvalidInputError, NotFoundError, StudioError
from studio.core.jobs import JobState
from studio.core.limits import Limits, limits, set_limits
from studio.store.adding import LibraryWriteError, StoredImage, display_text, sample_values, store_image
from studio.store.images import InvalidImage, large_work, read_image_file, set_large_work_semaphore
from studio.store.import_sources import Candidate, candidates_for, os_reason
from studio.store.models import LabelClass, Sample, utcnow

BATCH_SIZE = 500
TASK_FILES = 32  # files per worker task: one task per small PNG costs more than decoding it
PROGRESS_INTERVAL_S = 0.1  # progress callbacks at most this often (the GUI posts each one)
FORKLESS_POOL_FACTOR = 5  # without fork a pool costs ~0.5 s to start: use it for 5x more files


@dataclass
class ImportReport:
    added: int = 0
    duplicates: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    cancelled: bool = False
    classes_created: list[str] = field(default_factory=list)
    splits_seen: dict = field(default_factory=dict)  # split -> files imported into it
    warnings: list[tuple[str, str]] = field(default_factory=list)  # imported (or skipped), worth a note

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rejected"] = [{"source": src, "reason": why} for src, why in self.rejected]
        d["warnings"] = [{"source": src, "reason": why} for src, why in self.warnings]
        return d



@dataclass(frozen=True)
class _Failure:
    reason: str
    fatal: bool = False  # the library cannot be written: stop the whole import


# --- public API --------------------------------------------------------------------------------


def import_path(
    lib, dataset_id: int, path: str | os.PathLike, state: JobState | None = None, *,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Import a folder (of class folders, or flat), a zip of either, or one image file."""
    return import_files(lib, dataset_id, [Path(path)], state, batch_size=batch_size)


def _check_image_dataset(lib, dataset_id: int) -> None:
    """Images go into image datasets only (a drop on an open table or text dataset must not mix them in)."""
    from studio.store.models import Dataset

    with lib.session() as s:
        dataset = s.get(Dataset, dataset_id)
        if dataset is not None and dataset.kind != "image":
            raise InvalidInputError(f"dataset {dataset.name!r} holds {dataset.kind}s, not images",
                                    hint="create an image dataset for them, or import them into one")


def import_files(
    lib, dataset_id: int, paths: list[Path], state: JobState | None = None, *,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Import what a drop or a file dialog gives: files and folders mixed (folders as import_path)."""
    _check_image_dataset(lib, dataset_id)
    state = state or JobState()
    report = ImportReport()
    candidates: list[Candidate] = []
    paths = [Path(os.path.abspath(p)) for p in paths]  # source_path must mean something later
    for path in paths:  # all or nothing: a typo in one path imports none of them
        if not os.path.lexists(path):
            raise NotFoundError(f"no such file or folder: {display_text(str(path))}")
    state.set_progress(0.0, "finding files")
    try:
        for path in paths:
            candidates += candidates_for(path, report, state)
    except Cancelled:
        report.cancelled = True
        return report
    _Importer(lib, dataset_id, state, report, batch_size).run(candidates)
    return report



# --- the work done per file (in a worker process or thread) -----------------------------------


class _Worker:
    """Reads, hashes, validates and stores files; the same code in a process or a thread."""

    def __init__(self, blob_root: str, existing: frozenset[str]):
        self.blob_root = str(blob_root)
        self.existing = existing  # digests the dataset has: counted as duplicates unread further
        self._local = threading.local()
        self._shards: set[str] = set()

    def process_chunk(self, chunk: list[Candidate]) -> list[StoredImage | _Failure | None]:
        out: list[StoredImage | _Failure | None] = []
        for cand in chunk:
            try:
                out.append(self.process(cand))
            except LibraryWriteError as exc:
                out.append(_Failure(str(exc), fatal=True))
            except Exception as exc:  # noqa: BLE001 - one odd file never aborts the import
                out.append(_Failure(_reason(exc)))
        return out

    def process(self, cand: Candidate) -> StoredImage | None:
        """Read, hash, skip what the dataset has (None), fully decode, store the blob.
        Two equal files in one import both get here; the main process keeps the first."""
        if cand.entry >= 0:
            data = self._read_entry(cand)
        else:
            data = read_image_file(cand.path)
        return store_image(self.blob_root, data, skip=self.existing, made_shards=self._shards)

    def _read_entry(self, cand: Candidate) -> bytes:
        zips = self._local.__dict__.setdefault("zips", {})
        zf = zips.get(cand.path)
        if zf is None:
            zf = zips[cand.path] = zipfile.ZipFile(cand.path)
        info = zf.infolist()[cand.entry]
        # The declared size is a hard cap (zipfile never returns more), checked against the
        # limits before; big entries wait for a large-work slot so workers cannot add up.
        with large_work(info.file_size):
            try:
                with zf.open(info) as fh:
                    return fh.read(limits().max_file_bytes + 1)
            except (zipfile.BadZipFile, EOFError, NotImplementedError, OSError) as exc:
                raise InvalidImage(f"damaged zip entry ({exc})") from None

    def close(self) -> None:
        for zf in self._local.__dict__.get("zips", {}).values():
            zf.close()


# The worker of a pool process (set by _init_pool_process).
_POOL_WORKER: _Worker | None = None


def _init_pool_process(blob_root: str, existing: frozenset[str], lim: Limits, slots, parent_pid: int) -> None:
    global _POOL_WORKER
    set_limits(lim)
    set_large_work_semaphore(slots)
    _POOL_WORKER = _Worker(blob_root, existing)
    threading.Thread(target=_exit_with_parent, args=(parent_pid,), daemon=True).start()


def _exit_with_parent(parent_pid: int) -> None:
    """A killed import (kill -9) must not leave its workers behind: when the importing process
    (or the fork server between us) is gone, this process is re-parented, and exits."""
    first_parent = os.getppid()
    while True:
        time.sleep(0.5)
        if os.getppid() != first_parent:
            os._exit(0)
        try:
            os.kill(parent_pid, 0)
        except ProcessLookupError:
            os._exit(0)
        except OSError:
            pass


def _pool_process_chunk(chunk: list[Candidate]) -> list:
    assert _POOL_WORKER is not None
    return _POOL_WORKER.process_chunk(chunk)


def _mp_context():
    """fork where it is safe (one thread, no Qt: the CLI) because it starts at once; else the
    fork server (its start-up is paid once per process) or spawn."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1 and "PySide6.QtCore" not in sys.modules:
        return multiprocessing.get_context("fork")
    frozen = getattr(sys, "frozen", False)  # a packaged app re-enters itself through spawn
    ctx = multiprocessing.get_context("forkserver" if "forkserver" in methods and not frozen else "spawn")
    if ctx.get_start_method() == "forkserver":
        ctx.set_forkserver_preload(["studio.store.importers"])
    return ctx


def _worker_count(lim: Limits) -> int:
    if lim.import_workers:
        return lim.import_workers
    return max(1, min(8, os.cpu_count() or 1))


# --- the import itself -------------------------------------------------------------------------


class _Importer:
    def __init__(self, lib, dataset_id: int, state: JobState, report: ImportReport, batch_size: int):
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        self.batch_size = batch_size
        self.lib = lib
        self.dataset_id = dataset_id
        self.state = state
        self.report = report
        with lib.session() as s:
            from studio.store.datasets import get_dataset

            get_dataset(s, int(dataset_id))
            self._existing = frozenset(s.scalars(select(Sample.blob).where(Sample.dataset_id == dataset_id)))
            self._class_ids = dict(
                s.execute(select(LabelClass.name, LabelClass.id).where(LabelClass.dataset_id == dataset_id)).all()
            )
        self._last_progress = 0.0
        self._seen: set[str] = set()  # digests taken by this import, in file order (main thread)
        self._written: set[str] = set()  # blob files this import created
        self._committed: set[str] = set()  # digests whose rows are in

    def run(self, candidates: list[Candidate]) -> None:
        from studio.store.gc import hold_blobs

        total = len(candidates)
        self._progress(0, total, force=True)
        if not candidates:
            return
        uncommitted: list[str] = []
        with hold_blobs(self.lib, "import", uncommitted=uncommitted):
            try:
                self._run_pool(candidates)
            finally:  # blobs this import wrote whose rows never went in: garbage unless shared
                uncommitted.extend(self._written - self._committed)
        if not self.report.cancelled:
            self._progress(total, total, force=True)

    def _thread_executor(self) -> tuple[Executor, object, _Worker]:
        """Threads of this process (Pillow and hashlib release the GIL for the heavy parts)."""
        worker = _Worker(str(self.lib.blobs.root), self._existing)
        threads = min(4, _worker_count(limits()) + 1)
        return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="import"), worker.process_chunk, worker

    def _executor(self, total: int) -> tuple[Executor, object, _Worker | None]:
        lim = limits()
        workers = _worker_count(lim)
        ctx = _mp_context()
        # A pool that cannot fork (the GUI) starts a fork server first: worth it for more files.
        min_files = lim.import_pool_min_files * (1 if ctx.get_start_method() == "fork" else FORKLESS_POOL_FACTOR)
        if total < min_files or workers < 2:
            return self._thread_executor()
        slots = ctx.BoundedSemaphore(max(1, lim.large_decodes))
        pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_init_pool_process,
            initargs=(str(self.lib.blobs.root), self._existing, lim, slots, os.getpid()),
        )
        return pool, _pool_process_chunk, None

    def _run_pool(self, candidates: list[Candidate]) -> None:
        """Keep the pool busy with a window of chunks in flight; consume results in file order and
        commit every ``batch_size`` of them, so the next files decode while a batch is written."""
        total = len(candidates)
        pool, task, local_worker = self._executor(total)
        window = max(2 * self.batch_size, 4 * 8 * TASK_FILES)
        pending: deque[tuple[list[Candidate], Future]] = deque()
        in_flight = 0
        rows: list[tuple[Candidate, StoredImage]] = []
        done = 0
        next_start = 0
        current: list = []
        done_in_chunk = 0
        fatal: str | None = None
        try:
            while fatal is None:
                while in_flight < window and next_start < total:
                    chunk = candidates[next_start : next_start + TASK_FILES]
                    next_start += len(chunk)
                    pending.append((chunk, pool.submit(task, chunk)))
                    in_flight += len(chunk)
                if not pending:
                    break
                chunk, fut = pending.popleft()
                in_flight -= len(chunk)
                try:
                    outcomes = fut.result()
                except BrokenProcessPool:
                    if local_worker is not None:
                        raise
                    # A worker process died (killed, out of memory): finish in threads here.
                    pool.shutdown(wait=False, cancel_futures=True)
                    pool, task, local_worker = self._thread_executor()
                    self.report.warnings.append(("(import)", "an import worker process died; "
                                                 "the rest was imported by the main process"))
                    pending = deque((c, pool.submit(task, c)) for c in [chunk] + [c for c, _ in pending])
                    in_flight += len(chunk)
                    continue
                current = list(zip(chunk, outcomes))
                for done_in_chunk, (cand, outcome) in enumerate(current):
                    self.state.check_cancelled()
                    fatal = self._collect(cand, outcome, rows) or fatal
                    done += 1
                    self._progress(done, total)
                done_in_chunk = len(current)
                if len(rows) >= self.batch_size:
                    self._insert(rows)
                    rows = []
        except Cancelled:
            self.report.cancelled = True
        except BaseException:
            for _, later in pending:  # do not decode a thousand more files before failing
                later.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            # Note the blob files the finished tasks wrote: without rows they are garbage.
            outcomes = [o for _, o in current] + [o for _, later in pending for o in _results(later)]
            self._written.update(o.digest for o in outcomes if isinstance(o, StoredImage) and o.wrote)
            raise
        if self.report.cancelled or fatal:
            # Files already decoded and stored still go in: nothing is wasted.
            for _, later in pending:
                later.cancel()
            leftovers = current[done_in_chunk:]
            for chunk, later in pending:
                leftovers += zip(chunk, _results(later))
            for cand, outcome in leftovers:
                self._collect(cand, outcome, rows, quiet=True)
        pool.shutdown(wait=True, cancel_futures=True)
        if local_worker is not None:
            local_worker.close()
        self._insert(rows)
        if fatal:
            raise LibraryWriteError(f"import stopped: {fatal} ({self.report.added} files were imported before)")

    def _progress(self, done: int, total: int, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_progress >= PROGRESS_INTERVAL_S:
            self._last_progress = now
            self.state.set_progress(done / total if total else 1.0, f"{done}/{total} files")

    def _collect(self, cand: Candidate, outcome, rows: list, quiet: bool = False) -> str | None:
        """Main thread: turn one file's outcome into a row, a duplicate or a rejection; returns
        the reason when the library cannot be written (the import stops)."""
        if isinstance(outcome, _Failure):
            if outcome.fatal:
                return outcome.reason
            if not quiet:
                self.report.rejected.append((cand.source, outcome.reason))
            return None
        decoded = outcome
        if decoded is not None and decoded.wrote:
            self._written.add(decoded.digest)
        if decoded is None or decoded.digest in self._seen:  # first file in order wins: stable labels
            if not quiet:
                self.report.duplicates += 1
            return None
        self._seen.add(decoded.digest)
        rows.append((cand, decoded))
        return None

    def _insert(self, rows: list[tuple[Candidate, StoredImage]]) -> None:
        """One transaction per batch: new classes, then every sample row in one executemany.

        If another import (another window, the CLI) committed some of the same files or classes
        meanwhile, the batch hits a unique constraint: drop the rows it already has, count them
        as duplicates, and try again."""
        for attempt in range(3):
            if not rows:
                return
            try:
                self._insert_once(rows)
                return
            except IntegrityError:
                if attempt == 2:
                    raise
                with self.lib.session() as s:
                    digests = [d.digest for _, d in rows]
                    taken = set(s.scalars(select(Sample.blob).where(
                        Sample.dataset_id == self.dataset_id, Sample.blob.in_(digests))))
                self.report.duplicates += sum(1 for _, d in rows if d.digest in taken)
                rows = [(c, d) for c, d in rows if d.digest not in taken]
            except OperationalError as exc:
                raise LibraryWriteError(
                    f"import stopped: cannot write to the library database ({_db_reason(exc)}); "
                    f"{self.report.added} files were imported before") from None

    def _insert_once(self, rows: list[tuple[Candidate, StoredImage]]) -> None:
        now = utcnow()
        new_classes: dict[str, int] = {}
        with self.lib.transaction() as s:
            values = [
                sample_values(self.dataset_id, image, class_id=self._class_id(s, cand.class_name, new_classes),
                              split=cand.split, source=cand.source, labelled_by="import", created_at=now)
                for cand, image in rows
            ]
            s.connection().execute(Sample.__table__.insert(), values)  # Core: 5x faster than ORM bulk
            self._rows_inserted(s, values)
        # Only after the commit: a failed batch must not leave ids of classes that were rolled back.
        self._class_ids.update(new_classes)
        self._committed.update(v["blob"] for v in values)
        self.report.classes_created += list(new_classes)
        self.report.added += len(values)
        for v in values:
            key = v["split"] or "none"
            self.report.splits_seen[key] = self.report.splits_seen.get(key, 0) + 1

    def _rows_inserted(self, s, values: list[dict]) -> None:
        """In the batch's transaction, after its rows: a kind of data that keeps more per row
        (the text importer's word index) adds it here, committed or rolled back with the rows."""

    def _class_id(self, s, name: str | None, new_classes: dict[str, int]) -> int | None:
        if name is None:
            return None
        class_id = self._class_ids.get(name) or new_classes.get(name)
        if class_id is None:
            from studio.store.datasets import get_or_create_class

            class_id = get_or_create_class(s, self.dataset_id, name).id
            new_classes[name] = class_id
        return class_id


def _results(fut: Future) -> list:
    """A task's outcomes once it has finished; [] if it was cancelled or its process died."""
    if fut.cancelled():
        return []
    try:
        return fut.result()
    except Exception:  # noqa: BLE001 - BrokenProcessPool and the like: nothing to collect
        return []


def _db_reason(exc: OperationalError) -> str:
    text = str(getattr(exc, "orig", exc) or exc).strip()
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _reason(exc: Exception) -> str:
    if isinstance(exc, StudioError):
        return exc.message
    if isinstance(exc, OSError):
        return os_reason(exc, "file")
    if isinstance(exc, MemoryError):
        return "not enough memory to decode this file"
    return f"cannot import ({type(exc).__name__}: {exc})"
