"""What each column of a table is (its type) and what it is for (its role), inferred and overridable.

    schema = infer_schema(table, targets=["species"], ignore=["id"], types={"year": ColumnType.CATEGORY})

Types: number, category, boolean, datetime, text (free text), identifier. Roles: feature, target,
ignore. Identifiers, free text, all-missing and constant columns are ignored with a note saying
why; the notes travel with the schema into the model card. A ``TableSchema`` is plain JSON.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import Enum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from studio.core.limits import limits
from studio.data.tables.errors import (
    InfiniteValueError,
    MixedTypesError,
    TableError,
    TargetError,
    TooManyCategoriesError,
)

NUMBER_PATTERN = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
BOOLEAN_WORDS = {"true": True, "false": False, "yes": True, "no": False, "y": True, "n": False, "t": True, "f": False}
CLASS_TARGET_MAX_INTEGERS = 10  # a whole-number target with at most this many values is a class label
TEXT_MIN_MEAN_CHARS = 30  # longer strings, mostly distinct, are free text rather than categories
IDENTIFIER_MIN_ROWS = 20  # below this a column of distinct values may well be a real feature


class ColumnType(str, Enum):
    NUMBER = "number"
    CATEGORY = "category"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    TEXT = "text"
    IDENTIFIER = "identifier"


class Role(str, Enum):
    FEATURE = "feature"
    TARGET = "target"
    IGNORE = "ignore"


@dataclass
class ColumnInfo:
    name: str
    type: ColumnType
    role: Role
    missing: int = 0
    distinct: int = 0
    note: str = ""  # why an inferred role differs from "feature" (shown in the GUI and the card)


@dataclass
class TableSchema:
    columns: list[ColumnInfo]
    rows: int
    task: str  # "classification" | "regression"
    notes: list[str] = field(default_factory=list)

    @property
    def features(self) -> list[ColumnInfo]:
        return [c for c in self.columns if c.role is Role.FEATURE]

    @property
    def targets(self) -> list[ColumnInfo]:
        return [c for c in self.columns if c.role is Role.TARGET]

    def column(self, name: str) -> ColumnInfo:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(name)

    def to_json(self) -> dict:
        return {"rows": self.rows, "task": self.task, "notes": list(self.notes),
                "columns": [{**asdict(c), "type": c.type.value, "role": c.role.value} for c in self.columns]}

    @classmethod
    def from_json(cls, data: dict) -> TableSchema:
        columns = [ColumnInfo(c["name"], ColumnType(c["type"]), Role(c["role"]), c.get("missing", 0),
                              c.get("distinct", 0), c.get("note", "")) for c in data["columns"]]
        return cls(columns, int(data["rows"]), data["task"], list(data.get("notes", [])))


def infer_schema(table: pa.Table, *, targets: list[str] | None = None, ignore: list[str] = (),
                 types: dict[str, ColumnType] | None = None) -> TableSchema:
    """Types and roles of every column. ``targets`` default to the last column; ``types`` overrides
    the inferred type of a column (and so silences a mixed-types error for it)."""
    names = table.column_names
    targets = list(targets) if targets else [names[-1]]
    for name in [*targets, *ignore, *(types or {})]:
        if name not in names:
            raise TableError(f"there is no column {name!r} (columns: {', '.join(names[:20])})")
    if set(targets) & set(ignore):
        raise TableError(f"column {min(set(targets) & set(ignore))!r} cannot be both a target and ignored")
    columns = []
    for name in names:
        role = Role.TARGET if name in targets else Role.IGNORE if name in ignore else Role.FEATURE
        given = (types or {}).get(name)
        columns.append(_describe(table.column(name), name, role, given, single_target=len(targets) == 1))
    task = _task(columns)
    schema = TableSchema(columns, table.num_rows, task)
    for column in columns:
        if column.role is Role.TARGET:
            _check_target(table.column(column.name), column)
        elif column.role is Role.FEATURE:
            _check_feature(table.column(column.name), column)
    if not schema.features:
        raise TableError("no column is left to learn from", hint="every feature column was ignored or dropped")
    schema.notes = [f"{c.name}: {c.note}" for c in columns if c.note]
    return schema


# --- inference of one column ---------------------------------------------------------------

def _describe(column: pa.ChunkedArray, name: str, role: Role, given: ColumnType | None, *,
              single_target: bool) -> ColumnInfo:
    missing = column.null_count + _nan_count(column)
    distinct = _distinct_count(column)
    if given is ColumnType.NUMBER:
        _check_numbers(column, name)
    info = ColumnInfo(name, given or _infer_type_for(column, name, distinct, role), role, missing, distinct)
    if (role is Role.TARGET and single_target and given is None and info.type is ColumnType.NUMBER
            and _few_whole_numbers(column, distinct)):
        info.type = ColumnType.CATEGORY  # 0/1/2 labels: a class, not a quantity
    if role is Role.FEATURE:
        info.role, info.note = _feature_role(info, len(column))
    return info


def _distinct_count(column: pa.ChunkedArray) -> int:
    """Distinct valid values. Numbers are sorted with numpy: Arrow's hash count is several times
    slower on floats and dominated the import of large numeric tables."""
    if pa.types.is_null(column.type):
        return 0
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        values = column.drop_null().to_numpy()
        if values.dtype.kind == "f":
            values = values[~np.isnan(values)]
        values = np.sort(values)
        return int(values.size and 1 + np.count_nonzero(values[1:] != values[:-1]))
    return pc.count_distinct(column, mode="only_valid").as_py()


def _infer_type_for(column: pa.ChunkedArray, name: str, distinct: int, role: Role) -> ColumnType:
    try:
        return _infer_type(column, name, distinct)
    except MixedTypesError:
        if role is Role.IGNORE:
            return ColumnType.TEXT  # nobody trains on it: no reason to stop the import
        raise


def _infer_type(column: pa.ChunkedArray, name: str, distinct: int) -> ColumnType:
    kind = column.type
    if pa.types.is_boolean(kind):
        return ColumnType.BOOLEAN
    if pa.types.is_null(kind):
        return ColumnType.NUMBER  # every cell empty: dropped as a feature, refused as a target
    if pa.types.is_timestamp(kind) or pa.types.is_date(kind):
        return ColumnType.DATETIME
    if pa.types.is_integer(kind):
        return ColumnType.IDENTIFIER if _is_row_counter(column, distinct) else ColumnType.NUMBER
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return ColumnType.NUMBER
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return _infer_text_type(column, name, distinct)
    if pa.types.is_dictionary(kind):
        return ColumnType.CATEGORY
    return ColumnType.TEXT  # binary, lists, structs: nothing a feed-forward net takes


def _infer_text_type(column: pa.ChunkedArray, name: str, distinct: int) -> ColumnType:
    valid = column.drop_null()
    if len(valid) == 0:
        return ColumnType.CATEGORY
    numeric = pc.match_substring_regex(valid, NUMBER_PATTERN)
    numeric_count = pc.sum(numeric).as_py() or 0
    if numeric_count == len(valid):
        return ColumnType.NUMBER
    if numeric_count * 2 >= len(valid):
        first_text = pc.filter(valid, pc.invert(numeric))[0].as_py()
        row = _row_of(column, first_text)
        raise MixedTypesError(f"column {name!r} mixes numbers and text (row {row} is {first_text!r})",
                              hint="fix that row, or set the column's type to category")
    lowered = set(pc.unique(pc.utf8_lower(pc.utf8_trim_whitespace(valid))).to_pylist())
    if len(lowered) <= 2 and lowered <= set(BOOLEAN_WORDS):
        return ColumnType.BOOLEAN
    if _all_dates(valid):
        return ColumnType.DATETIME
    mean_chars = pc.mean(pc.utf8_length(valid)).as_py()
    if distinct > 0.5 * len(valid) and mean_chars >= TEXT_MIN_MEAN_CHARS:
        return ColumnType.TEXT
    if distinct == len(valid) and len(valid) >= IDENTIFIER_MIN_ROWS:
        return ColumnType.IDENTIFIER
    return ColumnType.CATEGORY


def _all_dates(valid: pa.ChunkedArray) -> bool:
    try:
        pc.cast(pc.utf8_trim_whitespace(valid), pa.timestamp("s"))
        return True
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False


def _is_row_counter(column: pa.ChunkedArray, distinct: int) -> bool:
    """0..n-1 or 1..n in any order: a row number, not a measurement."""
    n = len(column)
    if n < IDENTIFIER_MIN_ROWS or column.null_count or distinct != n:
        return False
    low, high = pc.min_max(column).values()
    return high.as_py() - low.as_py() == n - 1 and low.as_py() in (0, 1)


def _few_whole_numbers(column: pa.ChunkedArray, distinct: int) -> bool:
    if distinct > CLASS_TARGET_MAX_INTEGERS or distinct == 0:
        return False
    values = numeric_values(column)
    values = values[np.isfinite(values)]
    return bool(np.all(values == np.round(values)))


def _feature_role(info: ColumnInfo, rows: int) -> tuple[Role, str]:
    if info.type is ColumnType.IDENTIFIER:
        return Role.IGNORE, "ignored: an identifier (a different value on every row)"
    if info.type is ColumnType.TEXT:
        return Role.IGNORE, "ignored: free text (tables train on numbers and categories)"
    if info.missing >= rows:
        return Role.IGNORE, "dropped: every value is missing"
    if info.distinct <= 1:
        return Role.IGNORE, "dropped: the same value on every row"
    return Role.FEATURE, ""


def _task(columns: list[ColumnInfo]) -> str:
    targets = [c for c in columns if c.role is Role.TARGET]
    numeric = [c for c in targets if c.type is ColumnType.NUMBER]
    if len(numeric) == len(targets):
        return "regression"
    if len(targets) > 1:
        raise TargetError("several targets must all be numbers (regression); a category target goes alone",
                          hint=f"targets: {', '.join(c.name for c in targets)}")
    if targets[0].type not in (ColumnType.CATEGORY, ColumnType.BOOLEAN):
        raise TargetError(f"the target {targets[0].name!r} is {targets[0].type.value}; a target must be a number, "
                          "a category or a yes/no column")
    return "classification"


# --- checks --------------------------------------------------------------------------------

def _check_target(column: pa.ChunkedArray, info: ColumnInfo) -> None:
    if info.missing >= len(column):
        raise TargetError(f"the target {info.name!r} has no values (every row is empty)")
    if info.distinct <= 1:
        raise TargetError(f"the target {info.name!r} has one value only ({_first_valid(column)!r}): nothing to learn")
    if info.type is ColumnType.NUMBER:
        _check_finite(column, info.name)
    if info.type is ColumnType.CATEGORY and info.distinct > limits().max_model_classes:
        raise TargetError(f"the target {info.name!r} has {info.distinct:,} classes, over the limit of "
                          f"{limits().max_model_classes:,} (STUDIO_MAX_MODEL_CLASSES)")
    if info.missing:
        info.note = f"{info.missing:,} rows without a target value are left out of training"


def _check_feature(column: pa.ChunkedArray, info: ColumnInfo) -> None:
    if info.type is ColumnType.NUMBER:
        _check_finite(column, info.name)
    if info.type is ColumnType.CATEGORY and info.distinct > limits().max_table_categories:
        raise TooManyCategoriesError(
            f"column {info.name!r} has {info.distinct:,} different values, over the limit of "
            f"{limits().max_table_categories:,} categories (STUDIO_MAX_TABLE_CATEGORIES)",
            hint="ignore the column, or set its type to text")


def _check_finite(column: pa.ChunkedArray, name: str) -> None:
    values = numeric_values(column)
    infinite = np.flatnonzero(np.isinf(values))
    if infinite.size:
        row = int(infinite[0]) + 1
        raise InfiniteValueError(f"column {name!r} has an infinite value on row {row} ({values[infinite[0]]:g})",
                                 hint="replace it with a number, or leave the cell empty to mark it missing")


# --- values --------------------------------------------------------------------------------

def numeric_values(column: pa.ChunkedArray) -> np.ndarray:
    """float64 with NaN for missing; text columns of numbers are parsed ("1e3", " 2.5 ")."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        column = pc.utf8_trim_whitespace(column)
    if pa.types.is_boolean(column.type):
        column = pc.cast(column, pa.int8())
    as_float = pc.cast(column, pa.float64())
    return np.asarray(as_float.to_numpy(zero_copy_only=False), dtype=np.float64)


def _check_numbers(column: pa.ChunkedArray, name: str) -> None:
    """A column the user calls a number must read as one in every cell."""
    try:
        numeric_values(column)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        for value in column.drop_null().to_pylist():
            try:
                float(str(value))
            except ValueError:
                raise TableError(f"column {name!r} cannot be a number: it holds {value!r} (row "
                                 f"{_row_of(column, value)})", hint="use category or text for it") from None
        raise


def _nan_count(column: pa.ChunkedArray) -> int:
    if not pa.types.is_floating(column.type):
        return 0
    return int(pc.sum(pc.is_nan(column)).as_py() or 0)


def _row_of(column: pa.ChunkedArray, value: str) -> int:
    """1-based data row of the first cell equal to ``value``."""
    return int(pc.index(column, value).as_py()) + 1


def _first_valid(column: pa.ChunkedArray):
    valid = column.drop_null()
    return valid[0].as_py() if len(valid) else None
