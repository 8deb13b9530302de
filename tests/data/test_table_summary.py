"""Per-column summaries (studio.data.tables.summary), checked against sums and counts done by hand
in plain Python: missing values, min/max/mean, histograms, top categories, dates, a million rows."""

from __future__ import annotations

import random
import statistics
from datetime import date, datetime, timezone

import pyarrow as pa
import pytest

from studio.data.tables.demos import DEMO_TABLES
from studio.data.tables.reading import read_table
from studio.data.tables.schema import ColumnType, infer_schema
from studio.data.tables.summary import summarize_column


def test_numbers_skip_missing_and_nan_in_range_and_mean():
    summary = summarize_column(pa.array([4.0, None, 1.0, float("nan"), 7.0, 4.0]), ColumnType.NUMBER)
    assert summary.rows == 6
    assert summary.missing == 2
    assert summary.distinct == 3
    assert (summary.minimum, summary.maximum) == (1.0, 7.0)
    assert summary.mean == pytest.approx(4.0)
    assert summary.is_range
    assert summary.top == []


def test_histogram_counts_every_finite_value_in_its_bin():
    values = [0.0, 0.5, 1.0, 2.5, 9.9, 10.0, None]
    summary = summarize_column(pa.array(values), ColumnType.NUMBER, bins=4)
    assert list(summary.bin_edges) == [0.0, 2.5, 5.0, 7.5, 10.0]
    # bins are [0, 2.5) [2.5, 5) [5, 7.5) [7.5, 10]: the last one holds its right edge
    assert list(summary.histogram) == [3, 1, 0, 2]


def test_numbers_written_as_text_are_read_as_numbers():
    summary = summarize_column(pa.array([" 1e3", "2.5", None]), ColumnType.NUMBER)
    assert (summary.minimum, summary.maximum, summary.missing) == (2.5, 1000.0, 1)


def test_categories_most_frequent_first_ties_by_value_and_the_rest_counted():
    cells = ["b", "a", "c", "a", None, "b", "d", "a", "e"]
    summary = summarize_column(pa.array(cells), ColumnType.CATEGORY, top=3)
    assert summary.missing == 1
    assert summary.distinct == 5
    assert summary.top == [("a", 3), ("b", 2), ("c", 1)]
    assert summary.other == 2  # d and e
    assert not summary.is_range
    assert summary.minimum is None


def test_a_number_column_read_as_category_lists_its_values():
    summary = summarize_column(pa.array([1, 2, 2, None]), ColumnType.CATEGORY)
    assert summary.top == [("2", 2), ("1", 1)]
    assert summary.missing == 1


def test_booleans_count_true_and_false():
    summary = summarize_column(pa.array([True, False, True, None]), ColumnType.BOOLEAN)
    assert summary.top == [("true", 2), ("false", 1)]
    assert summary.missing == 1


def test_dates_from_text_dates_and_timestamps_give_date_ranges():
    text = summarize_column(pa.array(["2020-01-01", "2020-01-03", None]), ColumnType.DATETIME)
    assert text.missing == 1
    assert text.format_value(text.minimum) == "2020-01-01"
    assert text.format_value(text.maximum) == "2020-01-03"
    assert text.format_value(text.mean) == "2020-01-02"
    days = summarize_column(pa.array([date(1999, 12, 31), date(2000, 1, 2)]), ColumnType.DATETIME)
    assert days.format_value(days.mean) == "2000-01-01"
    moments = pa.array([datetime(2021, 5, 1, 6, 30, tzinfo=timezone.utc)], pa.timestamp("ms", tz="UTC"))
    stamped = summarize_column(moments, ColumnType.DATETIME)
    assert stamped.format_value(stamped.maximum) == "2021-05-01 06:30:00"


def test_text_that_is_not_a_date_falls_back_to_top_values():
    summary = summarize_column(pa.array(["soon", "later", "soon"]), ColumnType.DATETIME)
    assert summary.top == [("soon", 2), ("later", 1)]
    assert not summary.is_range


def test_an_all_missing_column():
    summary = summarize_column(pa.array([None, None], pa.float64()), ColumnType.NUMBER)
    assert (summary.missing, summary.distinct, summary.minimum) == (2, 0, None)
    assert len(summary.histogram) == 0
    nulls = summarize_column(pa.nulls(3), ColumnType.CATEGORY)
    assert (nulls.missing, nulls.top) == (3, [])


def test_penguins_columns_match_hand_counts():
    table = read_table(DEMO_TABLES["penguins"].path)
    schema = infer_schema(table, targets=["species"])
    species = summarize_column(table.column("species"), schema.column("species").type)
    cells = table.column("species").to_pylist()
    by_hand = {name: cells.count(name) for name in set(cells) if name is not None}
    assert dict(species.top) == by_hand
    mass = summarize_column(table.column("body_mass_g"), schema.column("body_mass_g").type)
    present = [v for v in table.column("body_mass_g").to_pylist() if v is not None]
    assert mass.missing == table.num_rows - len(present)
    assert (mass.minimum, mass.maximum) == (min(present), max(present))
    assert mass.mean == pytest.approx(statistics.fmean(present))
    assert int(mass.histogram.sum()) == len(present)


def test_a_million_rows():
    rng = random.Random(0)
    values = [rng.uniform(-5, 5) if i % 10 else None for i in range(1_000_000)]
    summary = summarize_column(pa.array(values), ColumnType.NUMBER)
    present = [v for v in values if v is not None]
    assert summary.missing == 100_000
    assert summary.mean == pytest.approx(sum(present) / len(present))
    assert (summary.minimum, summary.maximum) == (min(present), max(present))
    assert int(summary.histogram.sum()) == len(present)
    words = pa.array([("red", "green", "blue")[i % 3] for i in range(1_000_000)])
    # red is on rows 0, 3, ...: one more than the others; the tie between blue and green goes by name
    assert summarize_column(words, ColumnType.CATEGORY).top == [("red", 333_334), ("blue", 333_333), ("green", 333_333)]
