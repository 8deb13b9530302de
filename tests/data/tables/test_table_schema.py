"""Column types and roles inferred from real files, and the bad columns that stop a table with one line."""

from __future__ import annotations

import dataclasses
import json

import pytest

from studio.core.limits import limits, set_limits
from studio.data.tables.errors import (
    InfiniteValueError,
    MixedTypesError,
    TargetError,
    TooManyCategoriesError,
)
from studio.data.tables.reading import read_table
from studio.data.tables.schema import ColumnType, Role, TableSchema, infer_schema


def table_from(tmp_path, text: str, name: str = "t.csv"):
    path = tmp_path / name
    path.write_text(text)
    return read_table(path)


def rows(n: int, make) -> str:
    return "".join(make(i) + "\n" for i in range(n))


def test_every_type_is_inferred(tmp_path):
    header = "id,age,colour,member,joined,comment,label\n"
    body = rows(40, lambda i: f"{i},{20 + i % 30},{['red', 'green', 'blue'][i % 3]},{['yes', 'no'][i % 2]},"
                              f"2024-0{1 + i % 9}-1{i % 10},\"a long free-text remark number {i} about this row\","
                              f"{['cat', 'dog'][i % 2]}")
    schema = infer_schema(table_from(tmp_path, header + body))
    types = {c.name: c.type for c in schema.columns}
    assert types == {"id": ColumnType.IDENTIFIER, "age": ColumnType.NUMBER, "colour": ColumnType.CATEGORY,
                     "member": ColumnType.BOOLEAN, "joined": ColumnType.DATETIME, "comment": ColumnType.TEXT,
                     "label": ColumnType.CATEGORY}
    assert schema.column("label").role is Role.TARGET and schema.task == "classification"
    assert schema.column("id").role is Role.IGNORE and "identifier" in schema.column("id").note
    assert schema.column("comment").role is Role.IGNORE
    assert [c.name for c in schema.features] == ["age", "colour", "member", "joined"]


def test_schema_round_trips_through_json(tmp_path):
    schema = infer_schema(table_from(tmp_path, "a,b,y\n1,x,2.5\n2,y,3.5\n3,x,1.0\n"))
    again = TableSchema.from_json(json.loads(json.dumps(schema.to_json())))
    assert again == schema


def test_roles_and_types_can_be_given(tmp_path):
    table = table_from(tmp_path, "a,b,c,y\n1,2,3,0.5\n2,3,4,1.5\n3,4,4,2.5\n")
    schema = infer_schema(table, targets=["y"], ignore=["a"], types={"b": ColumnType.CATEGORY})
    assert schema.column("a").role is Role.IGNORE and schema.column("b").type is ColumnType.CATEGORY
    assert schema.task == "regression"


def test_whole_number_target_with_few_values_is_a_class(tmp_path):
    schema = infer_schema(table_from(tmp_path, "x,y\n" + rows(30, lambda i: f"{i * 0.1},{i % 3}")))
    assert schema.column("y").type is ColumnType.CATEGORY and schema.task == "classification"


def test_several_numeric_targets_make_a_regression(tmp_path):
    schema = infer_schema(table_from(tmp_path, "x,y1,y2\n" + rows(30, lambda i: f"{i % 7},{i * 1.5},{i * i}")),
                          targets=["y1", "y2"])
    assert schema.task == "regression" and [c.name for c in schema.targets] == ["y1", "y2"]


def test_category_target_cannot_have_company(tmp_path):
    with pytest.raises(TargetError, match="several targets"):
        infer_schema(table_from(tmp_path, "x,y1,y2\n" + rows(30, lambda i: f"{i},{i * 1.5},{'ab'[i % 2]}")),
                     targets=["y1", "y2"])


def test_mixed_types_in_a_column(tmp_path):
    text = "a,y\n" + rows(30, lambda i: f"{i * 2.5},{i % 2}") + "twelve,1\n"
    with pytest.raises(MixedTypesError, match=r"column 'a' mixes numbers and text \(row 31 is 'twelve'\)"):
        infer_schema(table_from(tmp_path, text))
    schema = infer_schema(table_from(tmp_path, text), types={"a": ColumnType.CATEGORY})
    assert schema.column("a").type is ColumnType.CATEGORY


def test_target_with_one_value(tmp_path):
    with pytest.raises(TargetError, match="one value only"):
        infer_schema(table_from(tmp_path, "x,y\n" + rows(10, lambda i: f"{i},same")))


def test_target_all_missing(tmp_path):
    with pytest.raises(TargetError, match="no values"):
        infer_schema(table_from(tmp_path, "x,y\n" + rows(10, lambda i: f"{i},")))


def test_rows_without_target_are_noted(tmp_path):
    schema = infer_schema(table_from(tmp_path, "x,y\n1,a\n2,\n3,b\n4,a\n"))
    assert "1 rows without a target" in schema.column("y").note


def test_all_missing_and_constant_features_are_dropped_with_a_note(tmp_path):
    schema = infer_schema(table_from(tmp_path, "empty,const,x,y\n" + rows(10, lambda i: f",7,{i},{i % 2}")))
    assert schema.column("empty").role is Role.IGNORE and "every value is missing" in schema.column("empty").note
    assert schema.column("const").role is Role.IGNORE and "same value" in schema.column("const").note
    assert any(note.startswith("const:") for note in schema.notes)
    assert [c.name for c in schema.features] == ["x"]


def test_infinity_in_a_feature(tmp_path):
    with pytest.raises(InfiniteValueError, match="column 'x' has an infinite value on row 3"):
        infer_schema(table_from(tmp_path, "x,y\n1,a\n2,b\ninf,a\n4,b\n"))


def test_infinity_in_a_target(tmp_path):
    with pytest.raises(InfiniteValueError, match="'y'"):
        infer_schema(table_from(tmp_path, "x,y\n1,0.5\n2,-inf\n3,2.5\n"))


def test_ten_thousand_categories_are_kept_and_over_the_limit_refused(tmp_path):
    text = "code,x,y\n" + rows(20_000, lambda i: f"c{i % 10_000},{i % 13},{i % 2}")
    schema = infer_schema(table_from(tmp_path, text))
    assert schema.column("code").type is ColumnType.CATEGORY and schema.column("code").distinct == 10_000
    set_limits(dataclasses.replace(limits(), max_table_categories=5_000))
    try:
        with pytest.raises(TooManyCategoriesError, match="10,000 different values.*STUDIO_MAX_TABLE_CATEGORIES"):
            infer_schema(table_from(tmp_path, text))
        assert infer_schema(table_from(tmp_path, text), ignore=["code"]).column("code").role is Role.IGNORE
    finally:
        set_limits(None)


def test_date_column_is_a_datetime_feature(tmp_path):
    schema = infer_schema(table_from(tmp_path, "day,x,y\n" + rows(30, lambda i: f"2023-{1 + i % 12:02d}-{1 + i % 28:02d},{i},{i * 2.0}")))
    assert schema.column("day").type is ColumnType.DATETIME and schema.column("day").role is Role.FEATURE
