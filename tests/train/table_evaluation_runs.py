"""Table datasets with a trained run each, for the evaluation tests (service, CLI and GUI): the
penguins demo (species), scikit-learn's diabetes table (progression) and the penguins again with
two numeric targets (flipper length, body mass)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv

from studio.data.tables.dataset import add_demo_table, import_table
from studio.data.tables.demos import DEMO_TABLES
from studio.store.library import Library
from studio.train.runner import create_run, run_training

FAST = {"epochs": 30, "early_stopping": 0}


def diabetes_csv(folder: Path) -> Path:
    """scikit-learn's diabetes table in its own units (age in years, bmi, blood pressure, ...)."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes(scaled=False)
    columns = {name: data.data[:, i] for i, name in enumerate(data.feature_names)}
    path = folder / "diabetes.csv"
    pa_csv.write_csv(pa.table({**columns, "progression": data.target}), path)
    return path


def add_table_run(lib: Library, dataset_id: int, name: str) -> int:
    """A run trained as the Train page and `studio train` train it (a short one)."""
    run_id = create_run(lib, dataset_id, FAST, name=name)
    run_training(lib, run_id)
    return run_id


def add_table_library(folder: Path) -> tuple[Library, dict[str, int]]:
    lib = Library.open(folder / "library")
    species = add_demo_table(lib, "penguins", "penguins")
    progression = import_table(lib, "diabetes", diabetes_csv(folder), targets=["progression"]).dataset_id
    sizes = import_table(lib, "penguin sizes", DEMO_TABLES["penguins"].path,
                         targets=["body_mass_g", "flipper_length_mm"]).dataset_id
    runs = {"species": add_table_run(lib, species, "species"),
            "progression": add_table_run(lib, progression, "progression"),
            "sizes": add_table_run(lib, sizes, "sizes")}
    return lib, runs
