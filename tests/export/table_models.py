"""Real table models for the table export, Play and predict tests: the Palmer penguins (species,
with missing values and categories) and scikit-learn's diabetes table (a numeric target), each
trained briefly on its train split, as a run does."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from studio.data.tables import encode_splits, infer_schema, read_table, split_rows
from studio.data.tables.demos import DEMO_TABLES
from studio.train.tables import TableTrainSettings, fit_table
from studio.train.tables.artifacts import TableModelParts, table_card

FAST = TableTrainSettings(epochs=25, early_stopping=0)


def penguins() -> pa.Table:
    return read_table(DEMO_TABLES["penguins"].path)


def diabetes() -> pa.Table:
    from sklearn.datasets import load_diabetes

    data = load_diabetes(scaled=False)
    columns = {name: data.data[:, i] for i, name in enumerate(data.feature_names)}
    return pa.table({**columns, "progression": data.target})


def mixed_csv(path, rows: int = 300):
    """Yes/no, dates with times, a 40-value (embedded) category, a 3-value (one-hot) one, gaps in each."""
    rng = np.random.default_rng(3)
    lines = ["size,member,colour,code,day,label"]
    for i in range(rows):
        size = "" if i % 17 == 0 else f"{rng.normal(50, 10):.2f}"
        member = "" if i % 19 == 0 else ["yes", "no"][i % 2]
        colour = "" if i % 23 == 0 else ["red", "green", "blue"][i % 3]
        day = "" if i % 29 == 0 else f"20{10 + i % 12}-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:30:00"
        lines.append(f"{size},{member},{colour},k{i % 40},{day},{['a', 'b', 'c'][(i // 3) % 3]}")
    path.write_text("\n".join(lines) + "\n")
    return path


@dataclass
class TrainedTable:
    parts: TableModelParts
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
    parts = TableModelParts(model, encoder, schema, table_card(model, encoder, schema))
    return TrainedTable(parts, table, splits)


# --- a library with table runs ------------------------------------------------------------------

def diabetes_csv(folder: Path) -> Path:
    path = folder / "diabetes.csv"
    pacsv.write_csv(diabetes(), path)
    return path


def add_table_run(lib, dataset_id: int, name: str) -> int:
    """A completed run trained as the worker trains it (create_run + run_training), briefly."""
    from studio.train.runner import create_run, run_training

    run_id = create_run(lib, dataset_id, {"epochs": 25, "early_stopping": 0, "device": "cpu"}, name=name)
    run_training(lib, run_id)
    return run_id


def make_table_library(folder: Path) -> tuple[Path, dict[str, int]]:
    """(library home, {"species": run id, "progression": run id}): penguins and diabetes, one run each."""
    from studio.data.tables.dataset import add_demo_table, import_table
    from studio.store.library import Library

    home = folder / "library"
    lib = Library.open(home)
    try:
        species = add_demo_table(lib, "penguins", "penguins")
        progression = import_table(lib, "diabetes", diabetes_csv(folder), targets=["progression"]).dataset_id
        runs = {"species": add_table_run(lib, species, "species"),
                "progression": add_table_run(lib, progression, "progression")}
    finally:
        lib.close()
    return home, runs


def held_out_csv(lib, run_id: int, path: Path, drop: tuple[str, ...] = ()) -> Path:
    """The test rows of a run's dataset written as a CSV (the rows a user would predict)."""
    from studio.export.table_model import run_table_dataset

    dataset = run_table_dataset(lib, run_id)
    rows = dataset.table.take(pa.array(dataset.rows("test")))
    pacsv.write_csv(rows.drop([c for c in drop if c in rows.column_names]), path)
    return path
