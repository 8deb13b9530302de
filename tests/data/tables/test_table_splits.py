"""Splitting the rows of a table: stratified for classes, deterministic, checked fractions."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from studio.core.errors import InvalidInputError
from studio.data.tables.schema import infer_schema
from studio.data.tables.splits import split_rows


def test_classes_keep_their_balance_in_every_split():
    labels = ["common"] * 900 + ["rare"] * 100
    table = pa.table({"x": np.arange(1000) % 37 * 0.5, "y": labels})
    codes = split_rows(table, infer_schema(table), (0.8, 0.1, 0.1), seed=4)
    rare = np.array(labels) == "rare"
    for split in (0, 1, 2):
        assert rare[codes == split].mean() == pytest.approx(0.1)
    assert np.bincount(codes).tolist() == [800, 100, 100]


def test_same_seed_same_split_and_another_seed_another():
    table = pa.table({"x": np.linspace(0, 1, 500), "y": np.linspace(5, 9, 500) ** 2})
    schema = infer_schema(table)
    assert schema.task == "regression"
    first = split_rows(table, schema, seed=1)
    assert np.array_equal(first, split_rows(table, schema, seed=1))
    assert not np.array_equal(first, split_rows(table, schema, seed=2))
    assert np.bincount(first).tolist() == [400, 50, 50]


def test_rows_without_target_are_a_group_of_their_own():
    table = pa.table({"x": np.arange(30) * 0.1, "y": ["a", "b", None] * 10})
    codes = split_rows(table, infer_schema(table), (0.6, 0.2, 0.2))
    missing = np.arange(30) % 3 == 2
    assert np.bincount(codes[missing]).tolist() == [6, 2, 2]


def test_fractions_are_checked():
    table = pa.table({"x": [1.0, 2.0, 3.0], "y": ["a", "b", "a"]})
    with pytest.raises(InvalidInputError, match="sum to 1"):
        split_rows(table, infer_schema(table), (0.5, 0.1, 0.1))
