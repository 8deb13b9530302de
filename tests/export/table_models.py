"""Real table models for the table export, Play and predict tests: the Palmer penguins (species,
with missing values and categories) and scikit-learn's diabetes table (a numeric target), each
trained briefly on its train split, as a run does."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pyarrow as pa

from studio.data.tables import encode_splits, infer_schema, read_table, split_rows
from studio.data.tables.demos import DEMO_TABLES
from studio.train.card import ModelCard
from studio.train.tables import TableTrainSettings, fit_table

FAST = TableTrainSettings(epochs=25, early_stopping=0)


def penguins() -> pa.Table:
    return read_table(DEMO_TABLES["penguins"].path)


def diabetes() -> pa.Table:
    from sklearn.datasets import load_diabetes

    data = load_diabetes(scaled=False)
    columns = {name: data.data[:, i] for i, name in enumerate(data.feature_names)}
    return pa.table({**columns, "progression": data.target})


@dataclass
class TrainedTable:
    parts: SimpleNamespace  # model, encoder, schema, card: what load_table_model gives
    table: pa.Table
    splits: np.ndarray

    def rows(self, split: str) -> pa.Table:
        code = ("train", "val", "test").index(split)
        return self.table.take(pa.array(np.flatnonzero(self.splits == code)))


def train_table(table: pa.Table, targets: list[str]) -> TrainedTable:
    schema = infer_schema(table, targets=targets)
    splits = split_rows(table, schema)
    encoder, (train, val) = encode_splits(table, schema, np.flatnonzero(splits == 0), np.flatnonzero(splits == 1))
    model = fit_table(encoder, train, val, FAST).model
    card = ModelCard("table-mlp", encoder.class_names or [t["name"] for t in encoder.targets], 0, kind="table",
                     table={"encoder": encoder.to_json(), "net": model.config.to_json(), "schema": schema.to_json()})
    return TrainedTable(SimpleNamespace(model=model, encoder=encoder, schema=schema, card=card), table, splits)
