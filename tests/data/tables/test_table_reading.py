"""Reading real CSV/TSV/Parquet files: sniffing, encodings, streaming, and each bad file's one message."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from studio.core.errors import Cancelled
from studio.core.jobs import JobState
from studio.core.limits import limits, set_limits
from studio.data.tables.errors import (
    EmptyTableError,
    HeaderError,
    NotATableError,
    RaggedRowsError,
    TableLimitError,
)
from studio.data.tables.reading import read_table, sniff


@pytest.fixture
def small_limits():
    def apply(**changes):
        set_limits(dataclasses.replace(limits(), **changes))
    yield apply
    set_limits(None)


def write(tmp_path, name: str, data: str | bytes, encoding: str = "utf-8"):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


def test_semicolon_csv_is_sniffed_and_read(tmp_path):
    path = write(tmp_path, "a.csv", "x;y;label\n1,5;2;a\n3;4;b\n")
    table = read_table(path)
    assert sniff(path).delimiter == ";"
    assert table.column_names == ["x", "y", "label"] and table.num_rows == 2


def test_tsv_and_quoted_delimiters(tmp_path):
    path = write(tmp_path, "a.tsv", 'name\tvalue\n"a, b"\t1\nc\t2\n')
    table = read_table(path)
    assert table.column("name").to_pylist() == ["a, b", "c"]


def test_latin1_file_reads_with_its_accents(tmp_path):
    path = write(tmp_path, "t.csv", "ville,température\nGenève,12.5\nZürich,9.0\n", encoding="latin-1")
    assert sniff(path).encoding == "latin-1"
    table = read_table(path)
    assert table.column_names == ["ville", "température"]
    assert table.column("ville").to_pylist() == ["Genève", "Zürich"]


def test_utf8_with_bom(tmp_path):
    path = write(tmp_path, "b.csv", b"\xef\xbb\xbfa,b\n1,2\n")
    assert read_table(path).column_names == ["a", "b"]


def test_parquet_file(tmp_path):
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"a": [1.0, 2.0], "b": ["x", "y"]}), path)
    table = read_table(path)
    assert table.num_rows == 2 and table.column_names == ["a", "b"]


def test_type_change_after_the_first_block_is_read_as_text(tmp_path):
    rows = "".join(f"{i},{i % 3}\n" for i in range(20_000))
    path = write(tmp_path, "late.csv", "a,b\n" + rows + "2.5x,1\n")
    table = read_table(path, block_bytes=16 * 1024)
    assert pa.types.is_string(table.column("a").type) and table.num_rows == 20_001


def test_streamed_read_reports_progress_and_can_be_cancelled(tmp_path):
    path = write(tmp_path, "big.csv", "a,b,c\n" + "".join(f"{i},{i * 0.5},{i % 7}\n" for i in range(200_000)))
    seen = []
    table = read_table(path, JobState(on_progress=lambda f, m: seen.append(f)), block_bytes=64 * 1024)
    assert table.num_rows == 200_000
    assert len(seen) > 10 and seen == sorted(seen) and seen[-1] == 1.0

    state = JobState()
    state._on_progress = lambda f, m: state.cancel() if f > 0.3 else None
    with pytest.raises(Cancelled):
        read_table(path, state, block_bytes=64 * 1024)


def test_empty_file(tmp_path):
    with pytest.raises(EmptyTableError, match="empty"):
        read_table(write(tmp_path, "e.csv", ""))


def test_blank_lines_only(tmp_path):
    with pytest.raises(EmptyTableError):
        read_table(write(tmp_path, "e.csv", "\n\n  \n"))


def test_header_only(tmp_path):
    with pytest.raises(EmptyTableError, match="no rows"):
        read_table(write(tmp_path, "h.csv", "a,b,c\n"))


def test_no_header(tmp_path):
    path = write(tmp_path, "n.csv", "1,2,3\n4,5,6\n")
    with pytest.raises(HeaderError, match="no header"):
        read_table(path)
    assert read_table(path, header=False).column_names == ["column_1", "column_2", "column_3"]


def test_ragged_rows_name_the_line(tmp_path):
    with pytest.raises(RaggedRowsError, match="line 3 has 4 fields where the header has 3"):
        read_table(write(tmp_path, "r.csv", "a,b,c\n1,2,3\n4,5,6,7\n8,9,10\n"))


def test_binary_file_is_not_a_table(tmp_path):
    png = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4
    with pytest.raises(NotATableError, match="not a table"):
        read_table(write(tmp_path, "image.csv", png))


def test_prose_is_not_a_table(tmp_path):
    text = ("It was the best of times, it was the worst of times; it was the age of wisdom. " * 4 + "\n") * 3
    text += "No separators line up here at all.\n"
    with pytest.raises(NotATableError):
        read_table(write(tmp_path, "story.txt", text))


def test_broken_parquet_is_not_a_table(tmp_path):
    with pytest.raises(NotATableError, match="Parquet"):
        read_table(write(tmp_path, "x.parquet", b"PAR1" + b"garbage" * 10))


def test_empty_column_name(tmp_path):
    with pytest.raises(HeaderError, match="column 2 has no name"):
        read_table(write(tmp_path, "c.csv", "a,,c\n1,2,3\n"))


def test_duplicated_column_name(tmp_path):
    with pytest.raises(HeaderError, match="'a' is used twice"):
        read_table(write(tmp_path, "c.csv", "a,b,a\n1,2,3\n"))


def test_non_utf8_column_names_over_utf8_rows(tmp_path):
    data = "température,ville\n".encode("latin-1") + "1,Genève\n".encode()
    with pytest.raises(HeaderError, match="not UTF-8"):
        read_table(write(tmp_path, "c.csv", data))


def test_file_over_the_size_limit_is_refused_unread(tmp_path, small_limits):
    path = write(tmp_path, "a.csv", "a,b\n" + "1,2\n" * 1000)
    small_limits(max_table_file_bytes=1000)
    with pytest.raises(TableLimitError, match="STUDIO_MAX_TABLE_FILE_BYTES"):
        read_table(path)


def test_row_and_column_limits(tmp_path, small_limits):
    path = write(tmp_path, "a.csv", "a,b,c\n" + "1,2,3\n" * 100)
    small_limits(max_table_rows=50)
    with pytest.raises(TableLimitError, match="STUDIO_MAX_TABLE_ROWS"):
        read_table(path)
    small_limits(max_table_rows=1000, max_table_columns=2)
    with pytest.raises(TableLimitError, match="STUDIO_MAX_TABLE_COLUMNS"):
        read_table(path)
    with pytest.raises(TableLimitError, match="STUDIO_MAX_TABLE_COLUMNS"):
        read_table(path, header=False)
