"""Table datasets with a trained run each, for the evaluation tests (service, CLI and GUI): the
penguins demo (species), scikit-learn's diabetes table (progression) and the penguins again with
two numeric targets (flipper length, body mass)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv

from studio.core.run_status import RunStatus
from studio.data.tables.dataset import add_demo_table, import_table, load_table_dataset
from studio.data.tables.demos import DEMO_TABLES
from studio.data.tables.encoding import encode_splits
from studio.store.library import Library
from studio.store.models import Run
from studio.train.run_files import run_dir
from studio.train.tables import TableTrainSettings, fit_table
from studio.train.tables.artifacts import save_table_model

FAST = TableTrainSettings(epochs=30, early_stopping=0)


def diabetes_csv(folder: Path) -> Path:
    """scikit-learn's diabetes table in its own units (age in years, bmi, blood pressure, ...)."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes(scaled=False)
    columns = {name: data.data[:, i] for i, name in enumerate(data.feature_names)}
    path = folder / "diabetes.csv"
    pa_csv.write_csv(pa.table({**columns, "progression": data.target}), path)
    return path


def add_table_run(lib: Library, dataset_id: int, name: str) -> int:
    """A completed run on the dataset: a network fitted on its train rows (validated on its val
    rows) and saved in the run folder as training saves it."""
    dataset = load_table_dataset(lib, dataset_id)
    encoder, (train, val) = encode_splits(dataset.table, dataset.schema, dataset.rows("train"), dataset.rows("val"))
    model = fit_table(encoder, train, val, FAST).model
    with lib.transaction() as s:
        run = Run(dataset_id=dataset_id, name=name, model="table-mlp", status=RunStatus.COMPLETED.value,
                  classes=encoder.class_names or [t["name"] for t in encoder.targets], epoch=FAST.epochs)
        s.add(run)
        s.flush()
        run_id = run.id
    save_table_model(run_dir(lib, run_id), model, encoder, dataset.schema)
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
