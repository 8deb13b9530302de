"""Turning bytes into texts: decoding (UTF-8, else Latin-1 with a note), what makes a text
unusable, and the texts of a CSV/TSV/JSONL file with its text and label columns found.

Texts are stored with surrounding whitespace removed (so "a\\n" and "a" are one duplicate) and
"\\r\\n" line ends made "\\n"; everything else is kept, however long: truncation happens only at
tokenization.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from studio.core.errors import InvalidInputError
from studio.core.jobs import JobState
from studio.core.limits import MiB, limits
from studio.store.adding import display_text

LONG_TEXT_CHARS = 10_000  # texts longer than this are counted in the import's note
TEXT_FILE_SUFFIXES = (".txt",)
DELIMITED_SUFFIXES = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
JSONL_SUFFIXES = (".jsonl", ".ndjson")
TABLE_TEXT_SUFFIXES = (*DELIMITED_SUFFIXES, *JSONL_SUFFIXES)
TEXT_NAMES = ("text", "texts", "sentence", "review", "content", "body", "message", "comment", "document",
              "question", "tweet")
LABEL_NAMES = ("label", "labels", "class", "category", "target", "sentiment", "y")
SNIFF_ROWS = 1000  # rows looked at to find the text and label columns
MAX_SNIFFED_CLASSES = 100  # a column with more distinct values is not taken as labels unasked


def decode_text(data: bytes) -> tuple[str, bool]:
    """(text, was_latin1): UTF-8 (a BOM dropped); bytes that are not UTF-8 are read as Latin-1,
    which never fails, and the caller notes it."""
    try:
        return data.decode("utf-8-sig"), False
    except UnicodeDecodeError:
        return data.decode("latin-1"), True


def clean_text(text: str) -> str:
    """Surrounding whitespace removed, Windows line ends made "\n" (the same text from any system
    is one duplicate); a lone surrogate (pasted from a broken source) becomes "?" so the text can be
    stored as UTF-8."""
    return text.strip().replace("\r\n", "\n").encode("utf-8", "replace").decode("utf-8")


def text_problem(text: str) -> str | None:
    """Why a cleaned text cannot be imported; None when it can."""
    if not text:
        return "empty text (nothing but whitespace)"
    if "\x00" in text:
        return "contains NUL characters: a binary file, not text"
    return None


@dataclass
class TextRow:
    line: int  # where the row starts in the file (1-based)
    text: str | None  # None: the row has a problem
    label: str | None = None
    problem: str | None = None


@dataclass
class TextTable:
    """The rows of a delimited or JSON-lines file and which columns were used."""

    rows: list[TextRow]
    text_column: str
    label_column: str | None
    notes: list[str] = field(default_factory=list)


def read_text_table(path: Path, text_column: str | None = None, label_column: str | None = None,
                    state: JobState | None = None) -> TextTable:
    """Every row's text and label. Columns not given are found: the text is the column with the
    longest values; the label a column named like one (label, class, ...), else the column with
    the fewest distinct values (2 to 100, at most one per two rows), else none. Each choice is
    said in ``notes``, as are lines read as Latin-1 (each line is decoded on its own: a file of
    mixed encodings loses nothing). A cancel through ``state`` is seen between the steps."""
    state = state or JobState()
    size = path.stat().st_size
    if size > limits().max_file_bytes:
        raise InvalidInputError(f"{display_text(path.name)} is too large ({size / MiB:,.0f} MB, limit "
                                f"{limits().max_file_bytes / MiB:,.0f} MB, setting STUDIO_MAX_FILE_BYTES)")
    lines, latin1_lines = _decoded_lines(path.read_bytes())
    state.check_cancelled()
    notes = []
    if latin1_lines:
        shown = ", ".join(map(str, latin1_lines[:5])) + (" ..." if len(latin1_lines) > 5 else "")
        notes.append(f"{len(latin1_lines)} lines are not valid UTF-8 and were read as Latin-1 (lines {shown})")
    if path.suffix.lower() in JSONL_SUFFIXES:
        columns, records = _jsonl_records(lines)
    else:
        columns, records = _delimited_records(lines, DELIMITED_SUFFIXES.get(path.suffix.lower(), ","))
    state.check_cancelled()
    if not records:
        raise InvalidInputError(f"{display_text(path.name)} has no rows of texts")
    text_column, label_column = _choose_columns(path, columns, records, text_column, label_column, notes)
    rows = [_text_row(line, record, text_column, label_column) for line, record in records]
    if all(_cell(r, text_column).strip() == "" for _, r in records if isinstance(r, dict)):
        raise InvalidInputError(f"column {text_column!r} of {display_text(path.name)} is empty in every row: "
                                "there is no text to import", hint="name the column of texts with --text-column")
    return TextTable(rows, text_column, label_column, notes)


def _decoded_lines(data: bytes) -> tuple[list[str], list[int]]:
    """Lines decoded one by one, so a file of mixed encodings loses nothing; (lines, the 1-based
    numbers of those read as Latin-1)."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    lines, latin1 = [], []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        text, was_latin1 = decode_text(raw)
        if was_latin1:
            latin1.append(number)
        lines.append(text + "\n")
    if lines and lines[-1] == "\n":
        lines.pop()
    return lines, latin1


def _delimited_records(lines: list[str], delimiter: str) -> tuple[list[str], list[tuple[int, dict]]]:
    if delimiter == "," and lines:
        delimiter = _sniff_delimiter(lines[: SNIFF_ROWS])
    _allow_long_fields()
    reader = csv.reader(lines, delimiter=delimiter)
    header = next(reader, None)
    if not header or not any(name.strip() for name in header):
        raise InvalidInputError("the file is empty: it needs a header line naming its columns")
    columns = [name.strip() for name in header]
    records = []
    start = reader.line_num + 1
    for values in reader:
        if any(v.strip() for v in values):
            records.append((start, dict(zip(columns, values))))
        start = reader.line_num + 1
    return columns, records


def _sniff_delimiter(sample: list[str]) -> str:
    try:
        return csv.Sniffer().sniff("".join(sample), delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _allow_long_fields() -> None:
    """The csv module refuses fields over 128 KiB; one text may be a whole book."""
    wanted = min(sys.maxsize, 2**31 - 1)
    if csv.field_size_limit() < wanted:
        csv.field_size_limit(wanted)


def _jsonl_records(lines: list[str]) -> tuple[list[str], list[tuple[int, dict | str]]]:
    """(columns in first-seen order, records); a line that is not a JSON object is kept as a
    string saying why, so it becomes a rejected row, not a failed import."""
    columns: dict[str, None] = {}
    records: list[tuple[int, dict | str]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError as exc:
            records.append((number, f"not valid JSON ({exc.msg} at column {exc.colno})"))
            continue
        if not isinstance(value, dict):
            records.append((number, f"a JSON {type(value).__name__}, not an object with a text field"))
            continue
        columns.update(dict.fromkeys(value))
        records.append((number, value))
    return list(columns), records


def _choose_columns(path: Path, columns: list[str], records: list, text_column: str | None,
                    label_column: str | None, notes: list[str]) -> tuple[str, str | None]:
    name = display_text(path.name)
    if not columns:
        raise InvalidInputError(f"{name} holds no JSON object with a text field (each line should be one, "
                                'like {"text": "...", "label": "..."})')
    for given, what in ((text_column, "text"), (label_column, "label")):
        if given is not None and given not in columns:
            raise InvalidInputError(f"{name} has no column {given!r} for the {what}; its columns are: "
                                    + (", ".join(map(repr, columns)) or "none"))
    sample = [r for _, r in records[:SNIFF_ROWS] if isinstance(r, dict)]
    if text_column is None:
        text_column = _text_named_column(columns)
        why = "its name"
        if text_column is None:
            text_column, why = _longest_column(columns, sample), "the longest values"
        if text_column is None:
            raise InvalidInputError(f"{name} has no column of text (every column is empty or numbers)",
                                    hint="name it with --text-column")
        notes.append(f"texts from column {text_column!r} ({why}; choose another with --text-column)")
    if label_column is None:
        label_column = _label_like_column(columns, sample, text_column)
        if label_column is not None:
            notes.append(f"classes from column {label_column!r} (choose another with --label-column)")
    if label_column == text_column:
        raise InvalidInputError(f"{name}: the text and the label cannot be the same column ({text_column!r})")
    return text_column, label_column


def _cell(record: dict, column: str) -> str:
    value = record.get(column)
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def _text_named_column(columns: list[str]) -> str | None:
    """A column named like texts ("text", "review", ...) is the text column, even when empty: then the
    file is refused with that column named, rather than another column (a label's words) taken as texts."""
    return next((c for c in columns if c.strip().lower() in TEXT_NAMES), None)


def _longest_column(columns: list[str], sample: list[dict]) -> str | None:
    best, best_length = None, 0.0
    for column in columns:
        cells = [_cell(r, column).strip() for r in sample]
        words = [c for c in cells if c and not _is_number(c)]
        if not words:
            continue
        mean_length = sum(map(len, cells)) / len(cells)
        if mean_length > best_length:
            best, best_length = column, mean_length
    return best


def _label_like_column(columns: list[str], sample: list[dict], text_column: str) -> str | None:
    others = [c for c in columns if c != text_column]
    for column in others:
        if column.strip().lower() in LABEL_NAMES:
            return column
    most = min(MAX_SNIFFED_CLASSES, len(sample) // 2)
    best, best_count = None, most + 1
    for column in others:  # the fewest distinct values that still make classes
        count = len({_cell(r, column).strip() for r in sample} - {""})
        if 2 <= count < best_count:
            best, best_count = column, count
    return best


def _text_row(line: int, record: dict | str, text_column: str, label_column: str | None) -> TextRow:
    if isinstance(record, str):
        return TextRow(line, None, problem=record)
    if not isinstance(record.get(text_column, ""), (str, type(None))):
        return TextRow(line, None, problem=f"the {text_column!r} field is not a string")
    text = clean_text(_cell(record, text_column))
    problem = text_problem(text)
    if problem:
        return TextRow(line, None, problem=problem)
    label = _cell(record, label_column).strip() if label_column else ""
    return TextRow(line, text, label or None)


def pasted_rows(lines: list[str]) -> Iterator[TextRow]:
    for number, line in enumerate(lines, start=1):
        text = clean_text(line)
        problem = text_problem(text)
        yield TextRow(number, None if problem else text, problem=problem)
