"""Import images into a dataset: folders of class folders, flat folders, zips, single files.

Layout rules: the folder holding a file names its class; folders called train, val/valid/
validation or test (at any depth) set the split instead and are never class names; files at the
top are unlabelled. Hidden files, __MACOSX and .DS_Store are skipped silently.

Crash safety: files are read, hashed and fully decoded on a thread pool (Pillow and hashlib drop
the GIL); each blob file is written (atomically) before the batch of rows that names it is inserted
in one transaction. An import killed at any moment therefore leaves no row without its file, and a
re-run skips what is already there (same SHA-256 in this dataset = duplicate).
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import zipfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from studio.core.errors import Cancelled, NotFoundError, StudioError
from studio.core.jobs import JobState
from studio.store.images import InvalidImage, read_info_and_image
from studio.store.models import LabelClass, Sample, utcnow

BATCH_SIZE = 500
TASK_FILES = 16  # files per thread-pool task
MAX_FILE_BYTES = 256 * 1024 * 1024  # a single image file larger than this is refused unread
PROGRESS_INTERVAL_S = 0.1  # progress callbacks at most this often (the GUI posts each one)

SPLIT_FOLDERS = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validation": "val",
    "test": "test", "testing": "test",
}
SKIP_NAMES = {"__macosx", ".ds_store", "thumbs.db", "desktop.ini", "__pycache__"}


@dataclass
class ImportReport:
    added: int = 0
    duplicates: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    cancelled: bool = False
    classes_created: list[str] = field(default_factory=list)
    splits_seen: dict = field(default_factory=dict)  # split -> files imported into it
    warnings: list[tuple[str, str]] = field(default_factory=list)  # imported, but worth a note

    def to_dict(self) -> dict:
        d = asdict(self)
        d["rejected"] = [{"source": src, "reason": why} for src, why in self.rejected]
        d["warnings"] = [{"source": src, "reason": why} for src, why in self.warnings]
        return d


@dataclass(frozen=True)
class _Candidate:
    """One file to import: where it came from, how to read it, and what its path says."""

    source: str  # shown to the user and stored as source_path (valid UTF-8)
    read: Callable[[], bytes]
    class_name: str | None
    split: str | None


@dataclass(frozen=True)
class _Decoded:
    digest: str
    fmt: str
    width: int
    height: int
    channels: int
    byte_size: int
    phash: str | None


# --- public API --------------------------------------------------------------------------------


def import_path(
    lib, dataset_id: int, path: str | os.PathLike, state: JobState | None = None, *,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Import a folder (of class folders, or flat), a zip of either, or one image file."""
    return import_files(lib, dataset_id, [Path(path)], state, batch_size=batch_size)


def import_files(
    lib, dataset_id: int, paths: list[Path], state: JobState | None = None, *,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Import what a drop or a file dialog gives: files and folders mixed (folders as import_path)."""
    state = state or JobState()
    report = ImportReport()
    candidates: list[_Candidate] = []
    paths = [Path(os.path.abspath(p)) for p in paths]  # source_path must mean something later
    for path in paths:  # all or nothing: a typo in one path imports none of them
        if not os.path.lexists(path):
            raise NotFoundError(f"no such file or folder: {_display(str(path))}")
    state.set_progress(0.0, "finding files")
    with _ExitStackOfZips() as zips:
        try:
            for path in paths:
                candidates += _candidates_for(path, report, zips, state)
        except Cancelled:
            report.cancelled = True
            return report
        _Importer(lib, dataset_id, state, report, batch_size).run(candidates)
    return report


# --- finding files -----------------------------------------------------------------------------


def _display(text: str) -> str:
    """A str that is valid UTF-8: undecodable bytes of a file name become U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _is_valid_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _skipped(name: str) -> bool:
    return name.startswith(".") or name.lower() in SKIP_NAMES


def _layout(folders: list[str]) -> tuple[str | None, str | None]:
    """(class, split) from the folders between the import root and the file."""
    split = None
    class_name = None
    for folder in folders:
        as_split = SPLIT_FOLDERS.get(folder.lower())
        if as_split:
            split = as_split
        else:
            class_name = _display(folder).strip() or None
    return class_name, split


def _candidates_for(path: Path, report: ImportReport, zips: _ExitStackOfZips, state: JobState) -> list[_Candidate]:
    if path.is_dir():
        return list(_walk_folder(path, report, state))
    if zipfile.is_zipfile(path):
        return _zip_candidates(path, report, zips)
    return [_file_candidate(path, class_name=None, split=None, report=report)]


def _file_candidate(path: Path, class_name: str | None, split: str | None, report: ImportReport) -> _Candidate:
    text = str(path)
    source = _display(text)
    if not _is_valid_utf8(text):
        report.warnings.append((source, "file name is not valid UTF-8; stored with U+FFFD in its place"))
    return _Candidate(source=source, read=lambda p=path: _read_file(p), class_name=class_name, split=split)


def _read_file(path: Path) -> bytes:
    size = os.stat(path).st_size
    if size > MAX_FILE_BYTES:
        raise InvalidImage(f"file too large ({size // (1024 * 1024)} MB)")
    with open(path, "rb") as fh:
        return fh.read()


def _walk_folder(root: Path, report: ImportReport, state: JobState) -> Iterator[_Candidate]:
    """Depth-first, sorted (stable order = stable ids); unreadable folders are reported, not fatal."""
    stack: list[tuple[Path, list[str]]] = [(root, [])]
    seen: set[tuple[int, int]] = set()  # (device, inode) of folders walked: links cannot loop us
    while stack:
        state.check_cancelled()  # a huge tree takes a while to list
        folder, parts = stack.pop()
        try:
            st = os.stat(folder)
            if (st.st_dev, st.st_ino) in seen:
                report.warnings.append((_display(str(folder)), "folder link seen before; skipped"))
                continue
            seen.add((st.st_dev, st.st_ino))
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as exc:
            report.rejected.append((_display(str(folder)) + os.sep, _os_reason(exc, "folder")))
            continue
        subfolders = []
        for entry in entries:
            if _skipped(entry.name):
                continue
            try:
                is_dir = entry.is_dir()
                is_file = entry.is_file()
            except OSError as exc:
                report.rejected.append((_display(entry.path), _os_reason(exc, "file")))
                continue
            if is_dir:
                subfolders.append((Path(entry.path), parts + [entry.name]))
            elif is_file:
                class_name, split = _layout(parts)
                yield _file_candidate(Path(entry.path), class_name, split, report)
        stack.extend(reversed(subfolders))


def _os_reason(exc: OSError, what: str) -> str:
    if isinstance(exc, PermissionError):
        return f"permission denied: cannot read this {what}"
    return f"cannot read this {what} ({exc.strerror or exc})"


class _ExitStackOfZips:
    """Zip files opened for an import; each worker thread gets its own handle per zip."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[zipfile.ZipFile] = []
        self._lock = threading.Lock()

    def handle(self, path: Path) -> zipfile.ZipFile:
        handles = self._local.__dict__.setdefault("handles", {})
        zf = handles.get(path)
        if zf is None:
            zf = zipfile.ZipFile(path)
            handles[path] = zf
            with self._lock:
                self._all.append(zf)
        return zf

    def __enter__(self) -> _ExitStackOfZips:
        return self

    def __exit__(self, *exc) -> None:
        for zf in self._all:
            zf.close()


def _zip_candidates(path: Path, report: ImportReport, zips: _ExitStackOfZips) -> list[_Candidate]:
    try:
        infos = zips.handle(path).infolist()
    except (OSError, zipfile.BadZipFile) as exc:
        report.rejected.append((_display(str(path)), f"damaged zip file ({exc})"))
        return []
    files = []
    for info in infos:
        parts = [p for p in info.filename.replace("\\", "/").split("/") if p]
        if info.is_dir() or not parts or any(_skipped(p) for p in parts):
            continue
        files.append((info, parts))
    # A zip that wraps everything in one top folder: that folder is the archive's name, not a class.
    tops = {parts[0] for _, parts in files}
    strip = 1 if len(tops) == 1 and all(len(parts) > 1 for _, parts in files) else 0
    out = []
    for info, parts in sorted(files, key=lambda f: f[0].filename):
        class_name, split = _layout(parts[strip:-1])
        source = f"{_display(str(path))}!/{info.filename}"
        if info.flag_bits & 0x1:
            report.rejected.append((source, "encrypted zip entry"))
            continue
        out.append(_Candidate(source, _zip_reader(zips, path, info), class_name, split))
    return out


def _zip_reader(zips: _ExitStackOfZips, path: Path, info: zipfile.ZipInfo) -> Callable[[], bytes]:
    def read() -> bytes:
        if info.file_size > MAX_FILE_BYTES:
            raise InvalidImage(f"file too large ({info.file_size // (1024 * 1024)} MB)")
        try:
            return zips.handle(path).read(info)
        except (zipfile.BadZipFile, EOFError, NotImplementedError) as exc:
            raise InvalidImage(f"damaged zip entry ({exc})") from None

    return read


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
            # Read by the workers (skip decoding what the dataset has), never written after this.
            self._existing = frozenset(s.scalars(select(Sample.blob).where(Sample.dataset_id == dataset_id)))
            self._class_ids = dict(
                s.execute(select(LabelClass.name, LabelClass.id).where(LabelClass.dataset_id == dataset_id)).all()
            )
        self._last_progress = 0.0
        self._shards: set[Path] = set()  # blob folders known to exist
        self._seen: set[str] = set()  # digests taken by this import, in file order (main thread)

    def run(self, candidates: list[_Candidate]) -> None:
        """Keep the pool busy with a window of files in flight (in small chunks: one task per file
        costs more in locking than decoding a small PNG); consume results in file order and commit
        every ``batch_size`` of them, so the next files decode while a batch is written."""
        total = len(candidates)
        self._progress(0, total, force=True)
        workers = min(16, 2 * (os.cpu_count() or 2))
        window = max(2 * self.batch_size, 4 * workers * TASK_FILES)
        pending: deque[tuple[list[_Candidate], Future]] = deque()
        in_flight = 0
        rows: list[tuple[_Candidate, _Decoded]] = []
        done = 0
        next_start = 0
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="import") as pool:
            try:
                while True:
                    while in_flight < window and next_start < total:
                        chunk = candidates[next_start : next_start + TASK_FILES]
                        next_start += len(chunk)
                        pending.append((chunk, pool.submit(self._process_chunk, chunk)))
                        in_flight += len(chunk)
                    if not pending:
                        break
                    chunk, fut = pending.popleft()
                    in_flight -= len(chunk)
                    current = list(zip(chunk, fut.result()))
                    for done_in_chunk, (cand, outcome) in enumerate(current):
                        self.state.check_cancelled()
                        self._collect(cand, outcome, rows)
                        done += 1
                        self._progress(done, total)
                    if len(rows) >= self.batch_size:
                        self._insert(rows)
                        rows = []
            except Cancelled:
                self.report.cancelled = True
                for _, later in pending:
                    later.cancel()
                # Files already decoded and stored still go in: nothing is wasted or orphaned.
                # (Those of the current chunk seen before the cancel are in rows or _seen already.)
                leftovers = current[done_in_chunk:] + [
                    pair for chunk, later in pending if not later.cancelled()
                    for pair in zip(chunk, later.result())
                ]
                for cand, outcome in leftovers:
                    self._collect(cand, outcome, rows, quiet=True)
            except BaseException:
                for _, fut in pending:  # do not decode a thousand more files before failing
                    fut.cancel()
                raise
            self._insert(rows)
        if not self.report.cancelled:
            self._progress(total, total, force=True)

    def _progress(self, done: int, total: int, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_progress >= PROGRESS_INTERVAL_S:
            self._last_progress = now
            self.state.set_progress(done / total if total else 1.0, f"{done}/{total} files")

    def _process_chunk(self, chunk: list[_Candidate]) -> list[_Decoded | None | Exception]:
        """Worker thread: each file's outcome (an exception is an outcome: that file is rejected)."""
        out: list[_Decoded | None | Exception] = []
        for cand in chunk:
            try:
                out.append(self._process(cand))
            except Exception as exc:  # noqa: BLE001 - reported per file by the main thread
                out.append(exc)
        return out

    def _process(self, cand: _Candidate) -> _Decoded | None:
        """Worker thread: read, hash, skip what the dataset has (None), fully decode, store the
        blob. Two equal files in one import both get here; the main thread keeps the first."""
        data = cand.read()
        digest = hashlib.sha256(data).hexdigest()
        if digest in self._existing:
            return None
        info, upright = read_info_and_image(data)
        phash = _phash(upright)
        self._put_blob(data, digest)  # only files that decoded get a blob
        return _Decoded(digest, info.format, info.width, info.height, info.channels, len(data), phash)

    def _put_blob(self, data: bytes, digest: str) -> None:
        """BlobStore.put's contract (temp file + atomic rename, existing files kept) without a
        mkdir call per file, which costs as much as the write on a busy disk."""
        target = self.lib.blobs.path(digest)
        if target.exists():
            return
        shard = target.parent
        if shard not in self._shards:
            shard.mkdir(parents=True, exist_ok=True)
            self._shards.add(shard)
        tmp = shard / f".{digest}.{os.getpid()}.{threading.get_ident()}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, target)

    def _collect(self, cand: _Candidate, outcome, rows: list, quiet: bool = False) -> None:
        """Main thread: turn one file's outcome into a row, a duplicate or a rejection."""
        if isinstance(outcome, Exception):  # one odd file never aborts the import
            if not quiet:
                self.report.rejected.append((cand.source, _reason(outcome)))
            return
        decoded = outcome
        if decoded is None or decoded.digest in self._seen:  # first file in order wins: stable labels
            if not quiet:
                self.report.duplicates += 1
            return
        self._seen.add(decoded.digest)
        rows.append((cand, decoded))

    def _insert(self, rows: list[tuple[_Candidate, _Decoded]]) -> None:
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

    def _insert_once(self, rows: list[tuple[_Candidate, _Decoded]]) -> None:
        now = utcnow()
        new_classes: dict[str, int] = {}
        with self.lib.transaction() as s:
            values = []
            for cand, d in rows:
                values.append({
                    "dataset_id": self.dataset_id, "blob": d.digest, "format": d.fmt,
                    "width": d.width, "height": d.height, "channels": d.channels,
                    "byte_size": d.byte_size, "class_id": self._class_id(s, cand.class_name, new_classes),
                    "split": cand.split, "source_path": cand.source,
                    "labelled_by": "import" if cand.class_name else "", "phash": d.phash,
                    "created_at": now,
                })
            s.execute(insert(Sample), values)
        # Only after the commit: a failed batch must not leave ids of classes that were rolled back.
        self._class_ids.update(new_classes)
        self.report.classes_created += list(new_classes)
        self.report.added += len(values)
        for v in values:
            key = v["split"] or "none"
            self.report.splits_seen[key] = self.report.splits_seen.get(key, 0) + 1

    def _class_id(self, s, name: str | None, new_classes: dict[str, int]) -> int | None:
        if name is None:
            return None
        class_id = self._class_ids.get(name) or new_classes.get(name)
        if class_id is None:
            from studio.store.datasets import get_or_create_class

            class_id = get_or_create_class(s, self.dataset_id, name).id
            new_classes[name] = class_id
        return class_id


def _reason(exc: Exception) -> str:
    if isinstance(exc, StudioError):
        return exc.message
    if isinstance(exc, OSError):
        return _os_reason(exc, "file")
    return f"cannot import ({type(exc).__name__}: {exc})"


def _dct_matrix(n: int):
    """DCT-II basis as a matrix: two small matmuls instead of scipy's per-call overhead."""
    import numpy as np

    k = np.arange(n)[:, None]
    return np.cos(np.pi * k * (2 * np.arange(n)[None, :] + 1) / (2 * n))


_PHASH_SIZE, _PHASH_HIGHFREQ = 8, 4
_DCT = None


def phash_hex(img) -> str:
    """imagehash.phash(img) as its hex string, bit for bit (tests check), about 5x faster:
    grey, Lanczos to 32x32, 2-D DCT-II, top-left 8x8 against its median."""
    import numpy as np
    from PIL import Image

    global _DCT
    if _DCT is None:
        _DCT = _dct_matrix(_PHASH_SIZE * _PHASH_HIGHFREQ)
    size = _PHASH_SIZE * _PHASH_HIGHFREQ
    grey = img if img.mode == "L" else img.convert("L")
    pixels = np.asarray(grey.resize((size, size), Image.Resampling.LANCZOS), dtype=np.float64)
    low = (_DCT @ pixels @ _DCT.T)[:_PHASH_SIZE, :_PHASH_SIZE]
    ordered = np.sort(low, axis=None)  # np.median is slow on 64 values; same result
    median = (ordered[31] + ordered[32]) / 2
    return np.packbits(low > median).tobytes().hex()


COMPUTE_PHASH = True  # perceptual hashes at import (near-duplicate search); bench measures its cost


def _phash(img) -> str | None:
    if not COMPUTE_PHASH:
        return None
    try:
        return phash_hex(img)
    except Exception:  # noqa: BLE001 - a missing hash only disables near-duplicate search
        return None
