"""Reading a CSV/TSV or Parquet file into an Arrow table: sniffed, streamed, bounded, cancellable.

    table = read_table(path, JobState(on_progress=bar))

The file is read in blocks (pyarrow's streaming readers), so a 2 GB file reports progress and can
be cancelled between blocks; every bound comes from ``studio.core.limits``. What cannot be used
raises a TableError subclass with one line that names the file, the column or the row.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from studio.core.jobs import JobState
from studio.core.limits import limits
from studio.data.tables.errors import (
    EmptyTableError,
    HeaderError,
    NotATableError,
    RaggedRowsError,
    TableLimitError,
)

SNIFF_BYTES = 64 * 1024
BLOCK_BYTES = 4 * 1024 * 1024  # one streamed block: progress and cancellation happen between blocks
DELIMITERS = ",;\t|"
# pyarrow's defaults plus "?" (UCI-style tables mark missing values with it)
NULL_VALUES = ["", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
               "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null", "?"]
PARQUET_MAGIC = b"PAR1"
_CONVERSION = re.compile(r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error")
_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")


@dataclass(frozen=True)
class TableSource:
    """How a file is read: what the sniffing found, kept so the same file reads the same way again."""

    format: str  # "csv" | "parquet"
    delimiter: str = ","
    encoding: str = "utf-8"  # "utf-8" | "latin-1"
    header: bool = True

    def to_json(self) -> dict:
        return {"format": self.format, "delimiter": self.delimiter, "encoding": self.encoding, "header": self.header}

    @classmethod
    def from_json(cls, data: dict) -> TableSource:
        return cls(data["format"], data.get("delimiter", ","), data.get("encoding", "utf-8"), data.get("header", True))


def sniff(path: str | Path, *, header: bool = True) -> TableSource:
    """Format, encoding and delimiter of ``path`` from its first 64 KiB; checks the column names."""
    path = Path(path)
    _check_size(path)
    with open(path, "rb") as f:
        head = f.read(SNIFF_BYTES)
    if head.startswith(PARQUET_MAGIC):
        return TableSource("parquet")
    if not head.strip():
        raise EmptyTableError(f"{path.name} is empty")
    if b"\x00" in head:
        raise NotATableError(f"{path.name} is not a table (it holds binary data, not text rows)")
    text, encoding = _decode_head(path, head)
    lines = [line for line in text.splitlines() if line.strip()]
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else _sniff_delimiter(lines[:50])
    if delimiter is None:
        raise NotATableError(f"{path.name} is not a table (no line has the same separator as the first)")
    names = next(csv.reader([lines[0]], delimiter=delimiter))
    _check_names(path, names, header=header)
    return TableSource("csv", delimiter, encoding, header)


def read_table(path: str | Path, state: JobState | None = None, *, source: TableSource | None = None,
               header: bool = True, block_bytes: int = BLOCK_BYTES) -> pa.Table:
    """The whole file as an Arrow table. Reports progress (0..1 of the bytes) and checks
    cancellation after each block; raises a TableError for a file that cannot be a table."""
    path = Path(path)
    state = state or JobState()
    source = source or sniff(path, header=header)
    if source.format == "parquet":
        table = _read_parquet(path, state)
    else:
        table = _read_csv(path, source, state, block_bytes)
    if table.num_rows == 0:
        raise EmptyTableError(f"{path.name} has column names but no rows")
    state.set_progress(1.0, f"read {table.num_rows:,} rows")
    return table


def looks_numeric(values: list[str]) -> bool:
    """True when every value reads as a number (a header row of numbers is data, not names)."""
    return bool(values) and all(_NUMBER.match(v) for v in values)


# --- sniffing ------------------------------------------------------------------------------

def _check_size(path: Path) -> None:
    size = path.stat().st_size
    if size > limits().max_table_file_bytes:
        raise TableLimitError(f"{path.name} is {size / 2**30:.1f} GiB, over the limit of "
                              f"{limits().max_table_file_bytes / 2**30:.1f} GiB (STUDIO_MAX_TABLE_FILE_BYTES)")


def _decode_head(path: Path, head: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 (a BOM is skipped) when the sample is valid UTF-8, else Latin-1.
    A header that is not UTF-8 above rows that are is refused: one of the two would be garbled."""
    first_line, _, rest = head.partition(b"\n")
    if _is_utf8(head):
        return codecs.decode(head.removeprefix(codecs.BOM_UTF8), "utf-8", "ignore"), "utf-8"
    if not _is_utf8(first_line) and _is_utf8(rest) and any(b > 0x7F for b in rest):
        raise HeaderError(f"{path.name}: the column names are not UTF-8 text while the rows are",
                          hint="save the file as UTF-8")
    return head.decode("latin-1"), "latin-1"


def _is_utf8(data: bytes) -> bool:
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(data, final=False)  # a character cut at the end of the sample is not an error
        return True
    except UnicodeDecodeError:
        return False


def _sniff_delimiter(lines: list[str]) -> str | None:
    """The separator that splits the first line into the most fields and every other line into as
    many (quotes respected); a one-column file has none and reads with ","."""
    best, best_fields = None, 1
    for delimiter in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        if counts and counts[0] > best_fields and sum(c == counts[0] for c in counts) >= 0.9 * len(counts):
            best, best_fields = delimiter, counts[0]
    if best is None and len(lines) > 1 and all(len(line) < 200 for line in lines):
        return ","  # one column of short values
    return best


def _check_names(path: Path, names: list[str], *, header: bool = True) -> None:
    if len(names) > limits().max_table_columns:
        raise TableLimitError(f"{path.name} has {len(names):,} columns, over the limit of "
                              f"{limits().max_table_columns:,} (STUDIO_MAX_TABLE_COLUMNS)")
    if not header:
        return
    for i, name in enumerate(names, 1):
        if not name.strip():
            raise HeaderError(f"{path.name}: column {i} has no name", hint="give every column a name in the first row")
    seen: dict[str, int] = {}
    for i, name in enumerate(names, 1):
        if name.strip() in seen:
            raise HeaderError(f"{path.name}: the column name {name.strip()!r} is used twice "
                              f"(columns {seen[name.strip()]} and {i})")
        seen[name.strip()] = i
    if looks_numeric(names):
        raise HeaderError(f"{path.name} has no header: its first row holds numbers, not column names",
                          hint="add a row of column names, or read it without a header")


# --- CSV -----------------------------------------------------------------------------------

def _read_csv(path: Path, source: TableSource, state: JobState, block_bytes: int) -> pa.Table:
    """Stream the blocks; a column whose type changes after the first block (pyarrow infers types
    from it) is read again as text, so the type inference sees all of it."""
    as_text: dict[str, pa.DataType] = {}
    while True:
        try:
            return _stream_csv(path, source, state, block_bytes, as_text)
        except pa.ArrowInvalid as exc:
            column = _conversion_column(exc, path, source)
            if column is None or column in as_text:
                raise _csv_error(path, source, exc) from None
            as_text[column] = pa.string()


def _stream_csv(path: Path, source: TableSource, state: JobState, block_bytes: int,
                as_text: dict[str, pa.DataType]) -> pa.Table:
    size = max(path.stat().st_size, 1)
    # use_threads=False: one block read and parsed at a time; with threads a starved consumer let
    # the reader run ahead and hold most of a 2 GB file in memory (seen under load)
    read_options = pacsv.ReadOptions(block_size=block_bytes, encoding=source.encoding, use_threads=False,
                                     autogenerate_column_names=not source.header)
    parse_options = pacsv.ParseOptions(delimiter=source.delimiter, newlines_in_values=True)
    convert_options = pacsv.ConvertOptions(null_values=NULL_VALUES, strings_can_be_null=True,
                                           column_types=as_text)
    batches, rows = [], 0
    with pa.OSFile(str(path), "rb") as raw:
        reader = pacsv.open_csv(raw, read_options=read_options, parse_options=parse_options,
                                convert_options=convert_options)
        for batch in reader:
            rows += batch.num_rows
            if rows > limits().max_table_rows:
                raise TableLimitError(f"{path.name} has more than {limits().max_table_rows:,} rows "
                                      f"(STUDIO_MAX_TABLE_ROWS)")
            batches.append(batch)
            state.set_progress(min(raw.tell() / size, 0.99), f"read {rows:,} rows")
            state.check_cancelled()
        schema = reader.schema
    table = pa.Table.from_batches(batches, schema=schema)
    if not source.header:
        table = table.rename_columns([f"column_{i}" for i in range(1, table.num_columns + 1)])
    return table


def _conversion_column(exc: pa.ArrowInvalid, path: Path, source: TableSource) -> str | None:
    found = _CONVERSION.search(str(exc))
    if not found:
        return None
    names = _header_names(path, source)
    index = int(found.group(1))
    return names[index] if index < len(names) else None


def _header_names(path: Path, source: TableSource) -> list[str]:
    with open(path, encoding=source.encoding, newline="", errors="replace") as f:
        first = next(csv.reader(f, delimiter=source.delimiter), [])
    if not source.header:
        return [f"f{i}" for i in range(len(first))]  # pyarrow's own autogenerated names
    return [name.lstrip("\ufeff") for name in first]


def _csv_error(path: Path, source: TableSource, exc: pa.ArrowInvalid) -> Exception:
    text = str(exc)
    found = re.search(r"Expected (\d+) columns, got (\d+)", text)
    if found:
        expected, got = int(found.group(1)), int(found.group(2))
        line = _first_ragged_line(path, source, expected)
        where = f"line {line}" if line else "a row"
        return RaggedRowsError(f"{path.name}: {where} has {got} fields where the header has {expected}")
    return NotATableError(f"{path.name} cannot be read as a table: {text.splitlines()[0][:200]}")


def _first_ragged_line(path: Path, source: TableSource, expected: int, max_lines: int = 2_000_000) -> int | None:
    """The line number of the first row whose field count differs (only run after a failure)."""
    with open(path, encoding=source.encoding, newline="", errors="replace") as f:
        reader = csv.reader(f, delimiter=source.delimiter)
        for row in reader:
            if reader.line_num > max_lines:
                return None
            if row and len(row) != expected:
                return reader.line_num
    return None


# --- Parquet -------------------------------------------------------------------------------

def _read_parquet(path: Path, state: JobState) -> pa.Table:
    try:
        parquet = pq.ParquetFile(str(path))
    except (pa.ArrowException, OSError) as exc:
        raise NotATableError(f"{path.name} is not a readable Parquet file ({str(exc).splitlines()[0][:200]})") from None
    names = parquet.schema_arrow.names
    _check_names(path, names)
    total = parquet.metadata.num_rows
    if total > limits().max_table_rows:
        raise TableLimitError(f"{path.name} has {total:,} rows, over the limit of {limits().max_table_rows:,} "
                              f"(STUDIO_MAX_TABLE_ROWS)")
    batches, rows = [], 0
    for batch in parquet.iter_batches(batch_size=65_536):
        batches.append(batch)
        rows += batch.num_rows
        state.set_progress(min(rows / max(total, 1), 0.99), f"read {rows:,} rows")
        state.check_cancelled()
    return pa.Table.from_batches(batches, schema=parquet.schema_arrow)

