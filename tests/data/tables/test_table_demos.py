"""The demo tables that ship with the studio read, type and train as promised."""

from __future__ import annotations

import numpy as np

from studio.data.tables import encode_splits, infer_schema, read_table
from studio.data.tables.demos import DEMO_TABLES
from studio.data.tables.schema import ColumnType


def test_penguins_demo_is_a_real_table_with_missing_values_and_categories():
    demo = DEMO_TABLES["penguins"]
    table = read_table(demo.path)
    schema = infer_schema(table, targets=list(demo.targets))
    assert table.num_rows == 344 and schema.task == "classification"
    assert schema.column("island").type is ColumnType.CATEGORY and schema.column("sex").missing == 11
    encoder, _ = encode_splits(table, schema, np.arange(table.num_rows))
    assert encoder.class_names == ["Adelie", "Chinstrap", "Gentoo"]


def test_xor_demo_has_its_four_rows():
    demo = DEMO_TABLES["xor"]
    schema = infer_schema(read_table(demo.path), targets=list(demo.targets))
    assert schema.rows == 4 and [c.name for c in schema.features] == ["a", "b"]
