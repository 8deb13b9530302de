"""Import texts into a text dataset: folders of class folders of .txt files (zips too), CSV/TSV/
JSONL files with a text column and an optional label column, and pasted lines.

    report = import_text_files(lib, dataset_id, [Path("reviews/")], state)
    report = import_text_table(lib, dataset_id, Path("reviews.csv"), text_column="review")
    report = import_text_lines(lib, dataset_id, ["great film", "dull"], class_name="pos")

Each text is a Sample row, as an image is (format "txt", width = characters, the UTF-8 bytes a
blob), so classes, splits, undo and exact duplicates work unchanged. Which files a folder holds
and what their paths say (class folders, train/val/test folders) is the image importer's
``studio.store.import_sources``; rows are committed by its importer in batches, under a blob hold,
so a cancel or a full disk leaves every row with its file and no file without a row. Each batch's
texts go into the word index (``studio.data.text.search``) in the batch's transaction.
"""

from __future__ import annotations

import hashlib
import os
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from studio.core.errors import Cancelled, InvalidInputError, NotFoundError
from studio.core.jobs import JobState
from studio.core.limits import MiB, limits
from studio.data.text.reading import (
    LONG_TEXT_CHARS,
    TABLE_TEXT_SUFFIXES,
    TEXT_FILE_SUFFIXES,
    TextRow,
    clean_text,
    decode_text,
    pasted_rows,
    read_text_table,
    text_problem,
)
from studio.data.text.samples import TEXT_FORMAT
from studio.data.text.search import index_texts
from studio.store.adding import LibraryWriteError, StoredImage, display_text, write_blob
from studio.store.datasets import get_dataset, name_problem
from studio.store.gc import hold_blobs
from studio.store.import_sources import Candidate, candidates_for, os_reason
from studio.store.importers import BATCH_SIZE, PROGRESS_INTERVAL_S, ImportReport, _Failure, _Importer
from studio.store.models import Sample

TEXT_KIND = "text"


@dataclass
class TextImportReport(ImportReport):
    long_texts: int = 0  # kept whole; the tokenizer truncates them


@dataclass(frozen=True)
class _Text:
    """One text to import: where it came from (class, split) and its content or why it has none."""

    candidate: Candidate
    text: str | None
    problem: str | None = None


# --- public API --------------------------------------------------------------------------------


def import_text_files(lib, dataset_id: int, paths: list[Path], state: JobState | None = None, *,
                      batch_size: int = BATCH_SIZE) -> TextImportReport:
    """Folders of class folders of .txt files (train/val/test folders set the split), zips of
    them, single .txt files, and CSV/TSV/JSONL files (their columns found as read_text_table does)."""
    state = state or JobState()
    report = TextImportReport()
    paths = [Path(os.path.abspath(p)) for p in paths]
    for path in paths:  # all or nothing: a typo in one path imports none of them
        if not os.path.lexists(path):
            raise NotFoundError(f"no such file or folder: {display_text(str(path))}")
    _check_text_dataset(lib, dataset_id)
    state.set_progress(0.0, "finding files")
    texts: list[_Text | Candidate] = []
    try:
        for path in paths:
            if path.suffix.lower() in TABLE_TEXT_SUFFIXES and path.is_file():
                texts += _table_texts(path, None, None, report, state)
            else:
                texts += _file_texts(path, report, state)
    except Cancelled:
        report.cancelled = True
        return report
    return _run(lib, dataset_id, texts, state, report, batch_size)


def import_text_table(lib, dataset_id: int, path: Path, *, text_column: str | None = None,
                      label_column: str | None = None, state: JobState | None = None,
                      batch_size: int = BATCH_SIZE) -> TextImportReport:
    """A CSV/TSV/JSONL file: one text per row, its class from the label column (none: unlabelled)."""
    path = Path(os.path.abspath(path))
    if not path.is_file():
        raise NotFoundError(f"no such file: {display_text(str(path))}")
    _check_text_dataset(lib, dataset_id)
    state = state or JobState()
    report = TextImportReport()
    try:
        texts = _table_texts(path, text_column, label_column, report, state)
    except Cancelled:
        report.cancelled = True
        return report
    return _run(lib, dataset_id, texts, state, report, batch_size)


def import_text_lines(lib, dataset_id: int, lines: Iterable[str], *, class_name: str | None = None,
                      state: JobState | None = None, batch_size: int = BATCH_SIZE) -> TextImportReport:
    """Each string one text (source "pasted:N"), all in ``class_name`` when given."""
    if class_name is not None and (problem := name_problem(class_name.strip(), "class")):
        raise InvalidInputError(problem)
    _check_text_dataset(lib, dataset_id)
    label = class_name.strip() if class_name is not None else None
    texts = [_Text(Candidate(f"pasted:{row.line}", "", label, None), row.text, row.problem)
             for row in pasted_rows(list(lines))]
    return _run(lib, dataset_id, texts, state or JobState(), TextImportReport(), batch_size)


# --- where texts come from ---------------------------------------------------------------------


def _file_texts(path: Path, report: TextImportReport, state: JobState) -> list[Candidate]:
    """The .txt files under a folder or in a zip (or one file): read one by one when stored."""
    texts, others = [], 0
    for candidate in candidates_for(path, report, state):
        name = candidate.source.rsplit("/", 1)[-1]
        if not name.lower().endswith(TEXT_FILE_SUFFIXES):
            others += 1
            continue
        texts.append(candidate)
    if others:
        report.warnings.append((display_text(str(path)), f"{others} files that are not .txt were skipped"))
    return texts


def _read_candidate(candidate: Candidate, report: TextImportReport, zips: dict[str, zipfile.ZipFile]) -> _Text:
    try:
        data = _read_bytes(candidate, zips)
    except OSError as exc:
        return _Text(candidate, None, os_reason(exc, "file"))
    except (zipfile.BadZipFile, EOFError, NotImplementedError) as exc:
        return _Text(candidate, None, f"damaged zip entry ({exc})")
    if data is None:
        return _Text(candidate, None, f"file too large (limit {limits().max_file_bytes / MiB:,.0f} MB, "
                                      "setting STUDIO_MAX_FILE_BYTES)")
    text, was_latin1 = decode_text(data)
    if was_latin1:
        report.warnings.append((candidate.source, "not valid UTF-8; read as Latin-1"))
    text = clean_text(text)
    return _Text(candidate, None if text_problem(text) else text, text_problem(text))


def _read_bytes(candidate: Candidate, zips: dict[str, zipfile.ZipFile]) -> bytes | None:
    """The file's bytes; None when it is over the size limit (not read further). A zip is opened
    once (``zips``, closed by the caller): its directory is read once, not once per entry."""
    most = limits().max_file_bytes
    if candidate.entry >= 0:
        if candidate.path not in zips:
            zips[candidate.path] = zipfile.ZipFile(candidate.path)
        zf = zips[candidate.path]
        with zf.open(zf.infolist()[candidate.entry]) as fh:
            data = fh.read(most + 1)
    else:
        with open(candidate.path, "rb") as fh:
            data = fh.read(most + 1)
    return None if len(data) > most else data


def _table_texts(path: Path, text_column: str | None, label_column: str | None,
                 report: TextImportReport, state: JobState) -> list[_Text]:
    state.set_progress(0.0, f"reading {path.name}")
    table = read_text_table(path, text_column, label_column, state)
    shown = display_text(str(path))
    report.warnings += [(shown, note) for note in table.notes]
    return [_row_text(shown, row) for row in table.rows]


def _row_text(shown: str, row: TextRow) -> _Text:
    problem = row.problem or (name_problem(row.label, "class") if row.label else None)
    return _Text(Candidate(f"{shown}:{row.line}", "", row.label, None), None if problem else row.text, problem)


# --- storing them ------------------------------------------------------------------------------


class _TextImporter(_Importer):
    """The image importer's batching, duplicate counting, class creation and retries, fed with
    texts stored here instead of images decoded by a worker pool (a text needs no decoding)."""

    def __init__(self, lib, dataset_id: int, state: JobState, report: TextImportReport, batch_size: int):
        super().__init__(lib, dataset_id, state, report, batch_size)
        self._pending: dict[str, str] = {}  # digest -> text of the rows not yet inserted
        self._shards: set[str] = set()
        self._zips: dict[str, zipfile.ZipFile] = {}

    def run_texts(self, texts: list[_Text | Candidate]) -> None:
        total = len(texts)
        self._progress(0, total, force=True)
        uncommitted: list[str] = []
        with hold_blobs(self.lib, "import texts", uncommitted=uncommitted):
            try:
                self._store_all(texts)
            finally:  # blobs written whose rows never went in: garbage unless shared
                uncommitted.extend(self._written - self._committed)
                for zf in self._zips.values():
                    zf.close()
        if not self.report.cancelled:
            self._progress(total, total, force=True)

    def _store_all(self, texts: list[_Text | Candidate]) -> None:
        rows: list[tuple[Candidate, StoredImage]] = []
        try:
            for done, item in enumerate(texts, start=1):
                self.state.check_cancelled()
                if isinstance(item, Candidate):  # a file: read now, so memory holds one batch
                    item = _read_candidate(item, self.report, self._zips)
                self._collect(item.candidate, self._store(item), rows)
                self._progress(done, len(texts))
                if len(rows) >= self.batch_size:
                    self._insert(rows)
                    rows = []
        except Cancelled:
            self.report.cancelled = True
        except LibraryWriteError as exc:  # a full disk: keep what is stored, then stop
            self._insert(rows)
            raise LibraryWriteError(f"import stopped: {exc.message} ({self.report.added} texts were "
                                    "imported before)") from None
        self._insert(rows)  # what is stored still goes in, after a cancel too: nothing is wasted

    def _store(self, item: _Text) -> StoredImage | _Failure | None:
        if item.text is None:
            return _Failure(item.problem or "no text")
        data = item.text.encode("utf-8")
        digest = hashlib.sha256(data).hexdigest()
        if digest in self._existing:
            return None
        if digest in self._seen:  # a duplicate within this import: counted, not written again
            return StoredImage(digest, TEXT_FORMAT, len(item.text), 0, 0, len(data), wrote=False)
        try:
            wrote = write_blob(str(self.lib.blobs.root), data, digest, self._shards)
        except OSError as exc:
            return _Failure(os_reason(exc, "file"))
        self._pending[digest] = item.text
        if len(item.text) > LONG_TEXT_CHARS:
            self.report.long_texts += 1
        return StoredImage(digest, TEXT_FORMAT, len(item.text), 0, 0, len(data), wrote)

    def _progress(self, done: int, total: int, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._last_progress >= PROGRESS_INTERVAL_S:
            self._last_progress = now
            self.state.set_progress(done / total if total else 1.0, f"{done:,}/{total:,} texts")

    def _rows_inserted(self, s, values: list[dict]) -> None:
        blobs = [v["blob"] for v in values]
        ids = dict(s.execute(select(Sample.blob, Sample.id).where(
            Sample.dataset_id == self.dataset_id, Sample.blob.in_(blobs))).all())
        index_texts(s, [(ids[b], self._pending[b]) for b in blobs])

    def _insert(self, rows: list) -> None:
        super()._insert(rows)
        for _, stored in rows:
            self._pending.pop(stored.digest, None)


def _check_text_dataset(lib, dataset_id: int) -> None:
    with lib.session() as s:
        ds = get_dataset(s, int(dataset_id))
        if ds.kind != TEXT_KIND:
            raise InvalidInputError(f"dataset {ds.name!r} holds {ds.kind}s, not texts: import texts into a text "
                                    "dataset (a new name creates one)")


def _run(lib, dataset_id: int, texts: list[_Text | Candidate], state: JobState, report: TextImportReport,
         batch_size: int) -> TextImportReport:
    _TextImporter(lib, dataset_id, state, report, batch_size).run_texts(texts)
    if report.long_texts:
        note = (f"{report.long_texts} texts are longer than {LONG_TEXT_CHARS:,} characters: kept whole, "
                "truncated only when tokenized")
        report.warnings.append(("(import)", note))
    return report
