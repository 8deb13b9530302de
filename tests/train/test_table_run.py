"""Training table datasets through the worker's run (create_run + run_training): the same engine,
handlers, events, run row, checkpoints and model files as image runs, on real tables - XOR, the
Palmer penguins, scikit-learn's diabetes and Linnerud tables written as CSV files."""

from __future__ import annotations

import numpy as np
import pytest
from sqlalchemy import select

from studio.core.errors import InvalidInputError
from studio.core.jobs import JobState
from studio.data.tables.dataset import import_table, load_table_dataset
from studio.data.tables.demos import DEMO_TABLES
from studio.store.models import Checkpoint, Metric, Run
from studio.train import spec as spec_module
from studio.train.events import from_dict
from studio.train.runner import TrainingError, create_run, run_training
from studio.train.spec import TrainSpec
from studio.train.tables.artifacts import load_table_model
from studio.train.tables.fit import TableTrainSettings
from studio.train.tables.predict import predict_table


def write_csv(path, header: list[str], rows) -> None:
    path.write_text(",".join(header) + "\n" + "".join(",".join(f"{v:g}" for v in row) + "\n" for row in rows))


@pytest.fixture
def diabetes_csv(tmp_path):
    """scikit-learn's diabetes table (442 patients, 10 measurements, disease progression), unscaled."""
    from sklearn.datasets import load_diabetes

    data = load_diabetes(scaled=False)
    path = tmp_path / "diabetes.csv"
    write_csv(path, [*data.feature_names, "progression"], np.column_stack([data.data, data.target]))
    return path


@pytest.fixture
def linnerud_csv(tmp_path):
    """scikit-learn's Linnerud table: three exercises and three body measurements of 20 men."""
    from sklearn.datasets import load_linnerud

    data = load_linnerud()
    path = tmp_path / "linnerud.csv"
    write_csv(path, [*data.feature_names, *data.target_names], np.column_stack([data.data, data.target]))
    return path


def train(lib, dataset: str, settings: dict | None = None, **kwargs) -> tuple[dict, list]:
    events: list = []
    run_id = create_run(lib, dataset, settings or {})
    result = run_training(lib, run_id, emit=lambda e: events.append(from_dict(e)), **kwargs)
    return result, events


def run_row(lib, run_id: int) -> Run:
    with lib.session() as s:
        return s.get(Run, run_id)


def metric_names(lib, run_id: int, split: str) -> set[str]:
    with lib.session() as s:
        return set(s.scalars(select(Metric.name).where(Metric.run_id == run_id, Metric.split == split)))


def test_xor_reaches_every_row_through_the_worker_run(library):
    import_table(library, "xor", DEMO_TABLES["xor"].path, targets=["xor"])
    result, events = train(library, "xor")
    assert result["status"] == "completed" and result["metrics"]["val_accuracy"] == 1.0
    kinds = [type(e).kind for e in events]
    assert kinds[:2] == ["start", "data"] and kinds[-1] == "done"
    assert {"step", "epoch", "checkpoint"} <= set(kinds) and None not in events  # every line a typed event
    data = events[1]
    assert data.classes == ["no", "yes"] and data.train_samples == 4
    assert any("validation scores are on the training rows" in note for note in data.notes)
    epoch = next(e for e in events if type(e).kind == "epoch")
    assert epoch.train_accuracy is not None and set(epoch.scores) == {"val_f1"}

    run = run_row(library, result["run_id"])
    assert run.spec["kind"] == "table" and run.spec["task"] == "classification" and run.classes == ["no", "yes"]
    assert run.spec["auto_epochs"] and run.spec["hidden"] == [128, 64] and run.spec["early_stopping"] == 30
    parts = load_table_model(library.home / "runs" / str(result["run_id"]))
    assert parts.card.kind == "table" and parts.card.run_id == result["run_id"]
    predicted = predict_table(parts.model, parts.encoder, load_table_dataset(library, "xor").table)
    assert predicted["xor"].tolist() == ["no", "yes", "yes", "no"]


def test_penguins_classify_with_test_scores_and_notes(library):
    import_table(library, "penguins", DEMO_TABLES["penguins"].path, targets=["species"])
    result, _events = train(library, "penguins", {"epochs": 40, "hidden": "32,16"})
    assert result["status"] == "completed"
    assert result["metrics"]["val_accuracy"] > 0.9
    assert 0.0 < result["metrics"]["test_accuracy"] <= 1.0 and "test_f1" in result["metrics"]
    run = run_row(library, result["run_id"])
    assert run.summary["test"]["accuracy"] == result["metrics"]["test_accuracy"]
    assert run.model == "mlp-32-16" and run.spec["epochs"] == 40 and not run.spec["auto_epochs"]
    assert "missing values marked by an indicator column of their own: sex" in run.notes
    assert "plus an indicator column: bill_length_mm, bill_depth_mm, flipper_length_mm, body_mass_g" in run.notes
    assert metric_names(library, result["run_id"], "val") == {"loss", "accuracy", "f1"}
    card = load_table_model(library.home / "runs" / str(result["run_id"])).card
    assert card.metrics["test_accuracy"] == result["metrics"]["test_accuracy"]
    assert any("indicator column" in note for note in card.dataset["notes"])
    with library.session() as s:  # a checkpoint every epoch
        assert len(s.scalars(select(Checkpoint).where(Checkpoint.run_id == result["run_id"])).all()) == 40


def test_regression_records_mae_rmse_and_r2(library, diabetes_csv):
    import_table(library, "diabetes", diabetes_csv, targets=["progression"])
    result, events = train(library, "diabetes", {"epochs": 30})
    assert result["status"] == "completed"
    metrics = result["metrics"]
    assert "val_accuracy" not in metrics and {"val_mae", "val_rmse", "val_r2", "test_r2"} <= set(metrics)
    assert metrics["test_r2"] > 0.3 and 20 < metrics["test_mae"] < 80  # in the target's own units (25..346)
    epoch = next(e for e in events if type(e).kind == "epoch")
    assert epoch.val_accuracy is None and epoch.train_accuracy is None
    assert set(epoch.scores) == {"val_mae", "val_rmse", "val_r2"}
    assert "accuracy" not in epoch.to_dict()  # regression events carry no accuracy at all
    assert metric_names(library, result["run_id"], "val") == {"loss", "mae", "rmse", "r2"}
    assert run_row(library, result["run_id"]).classes == ["progression"]
    from studio.train.runs import list_runs

    listed = next(r for r in list_runs(library) if r.run_id == result["run_id"])
    assert listed.val_accuracy is None and listed.val_r2 == pytest.approx(metrics["val_r2"])
    assert listed.score_text == f"R² {metrics['val_r2']:.3f}"  # what the Runs page and `studio runs list` show


def test_several_numeric_targets_at_once(library, linnerud_csv):
    import_table(library, "linnerud", linnerud_csv, targets=["Weight", "Waist", "Pulse"])
    result, events = train(library, "linnerud", {"epochs": 20})
    assert result["status"] == "completed"
    assert events[1].classes == ["Weight", "Waist", "Pulse"]
    for name in ("Weight", "Waist", "Pulse"):
        assert np.isfinite(result["metrics"][f"val_mae/{name}"]) and f"test_r2/{name}" in result["metrics"]
    assert {"mae/Weight", "rmse/Pulse", "r2/Waist"} <= metric_names(library, result["run_id"], "val")


def test_a_stopped_run_keeps_its_model_and_resumes_to_the_end(library):
    import_table(library, "penguins", DEMO_TABLES["penguins"].path, targets=["species"])
    run_id = create_run(library, "penguins", {"epochs": 12, "early_stopping": 0})
    state = JobState()

    def stop_in_epoch_5(event: dict) -> None:
        if event["event"] == "step" and event["epoch"] == 5:
            state.cancel()

    stopped = run_training(library, run_id, state, emit=stop_in_epoch_5)
    assert stopped["status"] == "stopped" and 4 <= stopped["epochs"] < 12
    assert run_row(library, run_id).status == "stopped"
    assert (library.home / "runs" / str(run_id) / "model.safetensors").is_file()

    events: list = []
    resumed = run_training(library, run_id, emit=lambda e: events.append(from_dict(e)), resume=True)
    assert resumed["status"] == "completed" and resumed["epochs"] == 12
    assert events[0].resume and events[1].resumed_from_epoch == stopped["epochs"]
    assert next(e.epoch for e in events if type(e).kind == "epoch") == stopped["epochs"] + 1


def test_settings_that_do_not_fit_the_kind_are_refused(digits_lib):
    import_table(digits_lib, "xor", DEMO_TABLES["xor"].path, targets=["xor"])
    with pytest.raises(InvalidInputError, match="--image-size is a setting for image datasets"):
        create_run(digits_lib, "xor", {"image_size": 32})
    with pytest.raises(InvalidInputError, match="--hidden is a setting for table datasets"):
        create_run(digits_lib, "digits", {"hidden": "8"})
    with pytest.raises(InvalidInputError, match="hidden layers are sizes"):
        create_run(digits_lib, "xor", {"hidden": "32,lots"})
    table_run = create_run(digits_lib, "xor", {"epochs": 1})
    run_training(digits_lib, table_run)
    with pytest.raises(InvalidInputError, match=f"run {table_run} trained a table model"):
        create_run(digits_lib, "digits", {"pretrained": str(table_run)})


def test_the_spec_defaults_for_tables_are_the_table_core_defaults():
    core = TableTrainSettings()
    assert (spec_module.TABLE_HIDDEN, spec_module.TABLE_DROPOUT, spec_module.TABLE_PATIENCE) == \
        (core.hidden, core.dropout, core.early_stopping)
    assert TrainSpec().activation == core.activation and TrainSpec().batch_norm == core.batch_norm
    from studio.train.tables import fit

    assert (spec_module.TABLE_STEPS, spec_module.TABLE_EPOCHS) == (fit.TARGET_STEPS, (fit.MIN_EPOCHS, fit.MAX_EPOCHS))


def test_a_table_changed_since_the_run_was_made_fails_clearly(library):
    from studio.data.tables.dataset import set_cells

    import_table(library, "xor", DEMO_TABLES["xor"].path, targets=["xor"])
    run_id = create_run(library, "xor", {"epochs": 2})
    set_cells(library, "xor", [(0, "xor", "maybe")])  # a third class
    with pytest.raises(TrainingError, match="classes or targets changed"):
        run_training(library, run_id)
    assert run_row(library, run_id).status == "failed"

