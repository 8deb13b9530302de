"""What one column of a table holds, in a few numbers a person can read: the Datasets page's
column summary (and anything else that describes a column).

    summary = summarize_column(table.column("bill_length_mm"), ColumnType.NUMBER)
    summary.missing, summary.minimum, summary.mean, summary.histogram, summary.bin_edges

Numbers and dates get min / max / mean and a histogram of their finite values (dates as seconds
since 1970, shown as dates by ``format_value``); every other type gets its most frequent values
with their counts. Pure pyarrow/numpy, vectorised: a million rows take milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from studio.data.tables.schema import ColumnType, numeric_values

HISTOGRAM_BINS = 20
TOP_CATEGORIES = 10
TICKS_PER_SECOND = {"s": 1, "ms": 1e3, "us": 1e6, "ns": 1e9}


@dataclass
class ColumnSummary:
    type: ColumnType
    rows: int
    missing: int
    distinct: int
    minimum: float | None = None  # numbers and dates (dates: seconds since 1970, UTC)
    maximum: float | None = None
    mean: float | None = None
    histogram: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # counts per bin
    bin_edges: np.ndarray = field(default_factory=lambda: np.zeros(0))  # len(histogram) + 1 edges
    top: list[tuple[str, int]] = field(default_factory=list)  # most frequent values first, with counts
    other: int = 0  # present values outside ``top``

    @property
    def is_range(self) -> bool:
        """True when the column is summarised by a range and a histogram (numbers, dates)."""
        return self.type in (ColumnType.NUMBER, ColumnType.DATETIME) and self.minimum is not None

    def format_value(self, value: float | None) -> str:
        """A min/max/mean or bin edge as the user reads it: a date for dates, else a short number."""
        if value is None or not np.isfinite(value):
            return "–"
        if self.type is ColumnType.DATETIME:
            moment = datetime.fromtimestamp(float(value), tz=timezone.utc)
            return moment.strftime("%Y-%m-%d" if moment.time() == datetime.min.time() else "%Y-%m-%d %H:%M:%S")
        return f"{value:,.6g}" if abs(value) < 1e15 else f"{value:.4g}"


def summarize_column(column: pa.ChunkedArray | pa.Array, column_type: ColumnType, *,
                     bins: int = HISTOGRAM_BINS, top: int = TOP_CATEGORIES) -> ColumnSummary:
    """The summary of ``column`` read as ``column_type`` (the schema's type, which the user may
    have changed: a number column read as a category gets its top values)."""
    if isinstance(column, pa.Array):
        column = pa.chunked_array([column], type=column.type)
    if column_type in (ColumnType.NUMBER, ColumnType.DATETIME):
        values = _as_numbers(column, column_type)
        if values is not None:
            return _range_summary(values, column_type, bins)
    return _category_summary(column, column_type, top)


# --- numbers and dates -------------------------------------------------------------------------

def _as_numbers(column: pa.ChunkedArray, column_type: ColumnType) -> np.ndarray | None:
    """float64 with NaN for missing; None when the cells do not read as numbers (or dates)."""
    try:
        if column_type is ColumnType.DATETIME:
            return _seconds(column)
        return numeric_values(column)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _seconds(column: pa.ChunkedArray) -> np.ndarray:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        column = pc.cast(pc.utf8_trim_whitespace(column), pa.timestamp("s"))
    elif pa.types.is_date(column.type):
        column = pc.cast(column, pa.timestamp("s"))
    elif not pa.types.is_timestamp(column.type):
        raise pa.ArrowInvalid(f"{column.type} is not a date")
    ticks = pc.cast(column, pa.int64()).to_numpy(zero_copy_only=False)
    return np.asarray(ticks, dtype=np.float64) / TICKS_PER_SECOND[column.type.unit]


def _range_summary(values: np.ndarray, column_type: ColumnType, bins: int) -> ColumnSummary:
    missing = int(np.count_nonzero(np.isnan(values)))
    finite = values[np.isfinite(values)]
    summary = ColumnSummary(column_type, len(values), missing, int(np.unique(finite).size) if finite.size else 0)
    if finite.size == 0:
        return summary
    summary.minimum, summary.maximum = float(finite.min()), float(finite.max())
    summary.mean = float(finite.mean())
    summary.histogram, summary.bin_edges = np.histogram(finite, bins=bins)
    return summary


# --- categories, booleans, text, identifiers ---------------------------------------------------

def _category_summary(column: pa.ChunkedArray, column_type: ColumnType, top: int) -> ColumnSummary:
    rows = len(column)
    missing = column.null_count
    if pa.types.is_floating(column.type):
        missing += int(pc.sum(pc.is_nan(column)).as_py() or 0)
    if pa.types.is_null(column.type):
        return ColumnSummary(column_type, rows, rows, 0)
    present = column.drop_null()
    if pa.types.is_floating(column.type):
        present = present.filter(pc.invert(pc.is_nan(present)))
    counts = pc.value_counts(present)
    values = counts.field("values").to_pylist()
    numbers = counts.field("counts").to_numpy(zero_copy_only=False)
    texts = [_text(v) for v in values]
    order = sorted(range(len(texts)), key=lambda i: (-int(numbers[i]), texts[i]))  # ties: by value
    shown = order[:top]
    top_values = [(texts[i], int(numbers[i])) for i in shown]
    other = int(numbers.sum()) - sum(count for _, count in top_values)
    return ColumnSummary(column_type, rows, missing, len(values), top=top_values, other=other)


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
