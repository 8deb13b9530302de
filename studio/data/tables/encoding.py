"""Turning table columns into network inputs and targets, fitted on the train rows only.

    encoder = TableEncoder.fit(table, schema, train_rows)
    features = encoder.transform(table)          # numeric float32 [n, d], categorical int64 [n, k]
    targets = encoder.encode_targets(table)      # class index, or standardised numbers
    encoder.decode(outputs)                      # back to class names / the targets' own units

Numbers (and yes/no, and dates as numbers) are standardised with the train rows' mean and
deviation; a missing value becomes the mean plus a 1 in an indicator column. Categories are one-hot
when they are few and an index into an embedding when they are many, so a 10,000-value column costs
one int64 column, not 10,000 floats. Classes come from every row that has a target (they are the
label set, not a statistic); everything else is fitted on ``train_rows``. ``to_json`` is plain JSON
for the model card; ``from_json`` gives the same encoder back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from studio.data.tables.errors import MixedTypesError
from studio.data.tables.schema import (
    BOOLEAN_WORDS,
    ColumnType,
    TableSchema,
    numeric_values,
)

ONE_HOT_MAX = 16  # more categories than this are embedded
SECONDS_PER_DAY = 86_400.0
DATE_PARTS = {"month": (12, 1), "weekday": (7, 0), "hour": (24, 0)}  # period, first value
# A part is a feature only when what it is read from varies in the train rows: the weekday of dates
# that are all 1 January (a year column) says nothing but would look like a signal.
_PART_SOURCES = {"month": "month", "weekday": "day", "hour": "hour"}


@dataclass
class EncodedFeatures:
    numeric: np.ndarray  # float32 [rows, numeric_width]
    categorical: np.ndarray  # int64 [rows, embedded columns]; 0 = missing or unseen


@dataclass
class TableSplit:
    numeric: np.ndarray
    categorical: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.numeric)

    @classmethod
    def take(cls, features: EncodedFeatures, targets: np.ndarray, has_target: np.ndarray, rows) -> TableSplit:
        """The rows of one split that have a target."""
        rows = np.asarray(rows)[has_target[rows]]
        return cls(features.numeric[rows], features.categorical[rows], targets[rows])


def encode_splits(table: pa.Table, schema: TableSchema, train_rows, *other_rows) -> tuple[TableEncoder, list[TableSplit]]:
    """The encoder fitted on ``train_rows`` and the encoded arrays of the train split and of each
    other split given (validation, test...), each without its rows that have no target."""
    encoder = TableEncoder.fit(table, schema, train_rows)
    features = encoder.transform(table)
    targets, has_target = encoder.encode_targets(table)
    return encoder, [TableSplit.take(features, targets, has_target, rows) for rows in (train_rows, *other_rows)]


class TableEncoder:
    def __init__(self, task: str, features: list[dict], targets: list[dict]):
        self.task, self.features, self.targets = task, features, targets

    # --- fitting -------------------------------------------------------------------------
    @classmethod
    def fit(cls, table: pa.Table, schema: TableSchema, train_rows: np.ndarray) -> TableEncoder:
        train = table.take(pa.array(np.asarray(train_rows, dtype=np.int64)))
        features = [_fit_feature(train.column(c.name), c.name, c.type) for c in schema.features]
        if schema.task == "classification":
            target = schema.targets[0]
            targets = [{"name": target.name, "classes": _classes(table.column(target.name))}]
        else:
            targets = [_fit_regression_target(train.column(c.name), c.name) for c in schema.targets]
        return cls(schema.task, features, targets)

    # --- shapes --------------------------------------------------------------------------
    @property
    def numeric_names(self) -> list[str]:
        """One name per column of ``EncodedFeatures.numeric``, e.g. ``island=Biscoe``, ``age (missing)``."""
        return [name for spec in self.features for name in _numeric_names(spec)]

    @property
    def embedded(self) -> list[tuple[str, int]]:
        """(column name, vocabulary size including the 0 = missing/unseen slot) per embedded column."""
        return [(spec["name"], len(spec["categories"]) + 1) for spec in self.features if spec["method"] == "embed"]

    @property
    def output_size(self) -> int:
        return len(self.targets[0]["classes"]) if self.task == "classification" else len(self.targets)

    @property
    def class_names(self) -> list[str]:
        return self.targets[0]["classes"] if self.task == "classification" else []

    # --- transforming --------------------------------------------------------------------
    def transform(self, table: pa.Table) -> EncodedFeatures:
        """Encode the feature columns of any table that has them (train, test, a CSV to predict)."""
        missing = [spec["name"] for spec in self.features if spec["name"] not in table.column_names]
        if missing:
            raise KeyError(f"the table has no column {missing[0]!r}")
        rows = table.num_rows
        numeric = np.zeros((rows, len(self.numeric_names)), dtype=np.float32)
        categorical = np.zeros((rows, len(self.embedded)), dtype=np.int64)
        at, embed_at = 0, 0
        for spec in self.features:
            column = table.column(spec["name"])
            if spec["method"] == "embed":
                categorical[:, embed_at] = _category_index(column, spec["categories"])
                embed_at += 1
                continue
            block = _encode_numeric_block(column, spec)
            numeric[:, at: at + block.shape[1]] = block
            at += block.shape[1]
        return EncodedFeatures(numeric, categorical)

    def encode_targets(self, table: pa.Table) -> tuple[np.ndarray, np.ndarray]:
        """(targets, has_target): class indices int64 [n] (-1 when missing or unknown) or
        standardised float32 [n, targets] (NaN when missing); has_target marks usable rows."""
        if self.task == "classification":
            spec = self.targets[0]
            index = _category_index(table.column(spec["name"]), spec["classes"]) - 1
            return index, index >= 0
        values = np.stack([(numeric_values(table.column(t["name"])) - t["mean"]) / t["std"] for t in self.targets], axis=1)
        return values.astype(np.float32), np.all(np.isfinite(values), axis=1)

    def decode(self, outputs: np.ndarray) -> np.ndarray:
        """Network outputs back to the targets: class indices for classification (use
        ``class_names``), numbers in each target's own units for regression."""
        if self.task == "classification":
            return np.asarray(outputs).argmax(axis=1)
        mean = np.array([t["mean"] for t in self.targets])
        std = np.array([t["std"] for t in self.targets])
        return np.asarray(outputs, dtype=np.float64) * std + mean

    # --- JSON ----------------------------------------------------------------------------
    def to_json(self) -> dict:
        return {"task": self.task, "features": self.features, "targets": self.targets}

    @classmethod
    def from_json(cls, data: dict) -> TableEncoder:
        return cls(data["task"], list(data["features"]), list(data["targets"]))


# --- one column, fitted ----------------------------------------------------------------------

def _fit_feature(column: pa.ChunkedArray, name: str, kind: ColumnType) -> dict:
    if kind is ColumnType.CATEGORY:
        categories = _categories_by_count(column)
        return {"name": name, "type": kind.value, "method": "one_hot" if len(categories) <= ONE_HOT_MAX else "embed",
                "categories": categories, "indicator": column.null_count > 0}
    if kind is ColumnType.DATETIME:
        seconds = datetime_seconds(column)
        timestamps = _as_timestamps(column)
        parts = [part for part in DATE_PARTS if _varies(getattr(pc, _PART_SOURCES[part])(timestamps))]
        return {"name": name, "type": kind.value, "method": "datetime", "parts": parts, **_moments(seconds)}
    return {"name": name, "type": kind.value, "method": "standardise", **_moments(feature_values(column, kind.value))}


def _moments(values: np.ndarray) -> dict:
    finite = values[np.isfinite(values)]
    mean = float(finite.mean()) if finite.size else 0.0
    std = float(finite.std()) if finite.size else 1.0
    return {"mean": mean, "std": std if std > 0 and math.isfinite(std) else 1.0,
            "indicator": bool(finite.size < values.size)}


def _fit_regression_target(column: pa.ChunkedArray, name: str) -> dict:
    moments = _moments(numeric_values(column))
    return {"name": name, "mean": moments["mean"], "std": moments["std"]}


def _categories_by_count(column: pa.ChunkedArray) -> list[str]:
    """The train values, most frequent first (ties by value, so the order is reproducible)."""
    counts = pc.value_counts(_as_text(column).drop_null())
    pairs = sorted(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist()), key=lambda p: (-p[1], p[0]))
    return [value for value, _ in pairs]


def _classes(column: pa.ChunkedArray) -> list[str]:
    return sorted(pc.unique(_as_text(column).drop_null()).to_pylist())


# --- one column, encoded ---------------------------------------------------------------------

_PART_FUNCTIONS = {"month": "month", "weekday": "day_of_week", "hour": "hour"}


def _numeric_names(spec: dict) -> list[str]:
    name = spec["name"]
    if spec["method"] == "embed":
        return []
    if spec["method"] == "one_hot":
        names = [f"{name}={value}" for value in spec["categories"]]
    elif spec["method"] == "datetime":
        names = [name] + [f"{name} {part} {fn}" for part in spec["parts"] for fn in ("sin", "cos")]
    else:
        names = [name]
    return names + ([f"{name} (missing)"] if spec["indicator"] else [])


def _encode_numeric_block(column: pa.ChunkedArray, spec: dict) -> np.ndarray:
    if spec["method"] == "one_hot":
        index = _category_index(column, spec["categories"])
        block = np.zeros((len(index), len(spec["categories"])), dtype=np.float32)
        seen = index > 0
        block[np.flatnonzero(seen), index[seen] - 1] = 1.0
        missing = _as_text(column).is_null().to_numpy(zero_copy_only=False)
        return _with_indicator(block, missing, spec)
    try:
        values = datetime_seconds(column) if spec["method"] == "datetime" else feature_values(column, spec["type"])
    except pa.ArrowInvalid:
        raise MixedTypesError(f"column {spec['name']!r} holds values that are not {spec['type']} values "
                              "like those the model was trained on") from None
    missing = ~np.isfinite(values)
    standard = np.where(missing, 0.0, (values - spec["mean"]) / spec["std"]).astype(np.float32)
    columns = [standard[:, None]]
    if spec["method"] == "datetime" and spec["parts"]:
        columns.append(_cyclic_parts(column, spec["parts"], missing))
    return _with_indicator(np.concatenate(columns, axis=1), missing, spec)


def _with_indicator(block: np.ndarray, missing: np.ndarray, spec: dict) -> np.ndarray:
    if not spec["indicator"]:
        return block
    return np.concatenate([block, missing.astype(np.float32)[:, None]], axis=1)


def _cyclic_parts(column: pa.ChunkedArray, parts: list[str], missing: np.ndarray) -> np.ndarray:
    timestamps = _as_timestamps(column)
    out = []
    for part in parts:
        period, first = DATE_PARTS[part]
        values = getattr(pc, _PART_FUNCTIONS[part])(timestamps).to_numpy(zero_copy_only=False)
        angle = 2 * np.pi * (np.nan_to_num(values.astype(np.float64)) - first) / period
        out += [np.where(missing, 0.0, np.sin(angle)), np.where(missing, 0.0, np.cos(angle))]
    return np.stack(out, axis=1).astype(np.float32)


def _category_index(column: pa.ChunkedArray, categories: list[str]) -> np.ndarray:
    """1-based position in ``categories``; 0 for a missing or never-seen value."""
    found = pc.index_in(_as_text(column), value_set=pa.array(categories, pa.string()))
    return pc.fill_null(pc.add(found, 1), 0).to_numpy(zero_copy_only=False).astype(np.int64)


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(column.type):
        return pc.utf8_trim_whitespace(column)
    return pc.cast(column, pa.string())


def feature_values(column: pa.ChunkedArray, kind: str) -> np.ndarray:
    """float64, NaN when missing; yes/no words become 1/0."""
    if kind == ColumnType.BOOLEAN.value and not pa.types.is_boolean(column.type):
        words = pc.utf8_lower(_as_text(column))
        truth = pc.index_in(words, value_set=pa.array(list(BOOLEAN_WORDS)))
        table = np.array([float(v) for v in BOOLEAN_WORDS.values()] + [np.nan])
        index = pc.fill_null(truth, len(BOOLEAN_WORDS)).to_numpy(zero_copy_only=False)
        return table[index]
    return numeric_values(column)


def _as_timestamps(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        column = pc.utf8_trim_whitespace(column)
    return pc.cast(column, pa.timestamp("s"))


def datetime_seconds(column: pa.ChunkedArray) -> np.ndarray:
    seconds = pc.cast(_as_timestamps(column), pa.int64())
    return pc.cast(seconds, pa.float64()).to_numpy(zero_copy_only=False).astype(np.float64)


def _varies(values: pa.ChunkedArray) -> bool:
    return pc.count_distinct(values, mode="only_valid").as_py() > 1
