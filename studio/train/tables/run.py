"""A training run on a table dataset: the same worker, Engine, handlers, events, run row and
checkpoints as an image run; only the data (encoded columns, held on the device) and the network
(a TableNet trained by the TableLoop that fit_table uses too) are the table's own.

    run_id = create_run(lib, "penguins", TrainSpec(hidden=(32, 16)))   # studio.train.runner
    run_training(lib, run_id, emit=print)                               # -> TableTrainingRun

Numbers are standardised with statistics of the train rows only; the fitted encoder goes into the
model card (and a resumed run reads it back from there, so its inputs mean what they meant). The
best epoch (lowest validation loss, as fit_table and its benchmarks choose) is the saved model;
after training its scores on the test rows go into the run summary and the card.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from studio import __version__
from studio.core.errors import InvalidInputError
from studio.core.run_status import RunStatus
from studio.data.tables.dataset import TableDataset, load_table_dataset
from studio.data.tables.encoding import TableEncoder, TableSplit
from studio.data.tables.splits import split_rows
from studio.store.models import Run
from studio.train.artifacts import CARD_NAME
from studio.train.card import ModelCard
from studio.train.engine import Engine
from studio.train.events import DataReady, Started
from studio.train.handlers import (
    EarlyStopping,
)
from studio.train.recording import (
    Heartbeat,
)
from studio.train.run_context import device_text, resolve_device
from studio.train.spec import (
    TABLE,
    TABLE_PATIENCE,
    Scratch,
    TrainSpec,
    check_kind,
    default_lr,
)
from studio.train.tables.artifacts import load_table_model, save_table_model
from studio.train.tables.fit import (
    TableLoop,
    TableTrainSettings,
    build_table_net,
    evaluate_table,
    split_tensors,
    validation_scores,
)
from studio.train.training_run import TrainingRun, Wiring

if TYPE_CHECKING:
    from studio.store.library import Library

HOLDOUT = (0.9, 0.1, 0.0)  # a table without validation rows: this share of train is held out


# --- creating a run ------------------------------------------------------------------------------

def create_table_run(lib: Library, dataset: str | int, spec: TrainSpec, name: str = "") -> int:
    """Check the settings against the table, store a queued run, return its id."""
    table = load_table_dataset(lib, dataset)
    check_kind(spec, TABLE, table.name)
    train = split_for_training(table, spec.seed)[0]
    encoder = TableEncoder.fit(table.table, table.schema, train)
    trainable = int(encoder.encode_targets(table.table)[1][train].sum())  # rows without a target are left out
    if trainable == 0:
        raise InvalidInputError(f"table {table.name!r} has no training rows with a target value")
    full = resolve_table_spec(spec, trainable, encoder)
    classes = encoder.class_names or [t["name"] for t in encoder.targets]
    with lib.transaction() as s:
        run = Run(dataset_id=table.id, name=name or f"{table.name} {full['model']}", model=full["model"], spec=full,
                  classes=classes, status=RunStatus.QUEUED)
        s.add(run)
        s.flush()
        return run.id


def resolve_table_spec(spec: TrainSpec, train_rows: int, encoder: TableEncoder) -> dict[str, Any]:
    """The settings that apply to tables, with every automatic one decided (and marked so)."""
    if spec.gpus > 1:
        raise InvalidInputError("tables train in one process: --gpus is for image datasets")
    out: dict[str, Any] = {"kind": TABLE, "task": encoder.task, "targets": [t["name"] for t in encoder.targets]}
    out.update({key: value for key, value in spec.to_dict().items() if key in TABLE_SETTINGS})
    if out["lr"] is None:
        out["lr"] = default_lr(spec.optimizer, Scratch())
    if out["early_stopping"] is None:
        out["early_stopping"] = TABLE_PATIENCE
    batch_size, epochs = table_settings(out).resolved(train_rows)
    out.update(auto_batch_size=out["batch_size"] is None, auto_epochs=out["epochs"] is None,
               batch_size=batch_size, epochs=epochs, train_count=train_rows)
    out["model"] = "mlp-" + ("-".join(map(str, spec.hidden)) or "linear")
    resolve_device(out["device"])  # fail now, not in the worker
    return out


TABLE_SETTINGS = ("hidden", "activation", "dropout", "batch_norm", "epochs", "batch_size", "lr", "weight_decay",
                  "early_stopping", "seed", "device", "optimizer", "schedule", "log_every")


def table_settings(spec: dict[str, Any], device: str | None = None) -> TableTrainSettings:
    """The stored spec as the table core's settings."""
    names = {f.name for f in dataclasses.fields(TableTrainSettings)}
    values = {key: spec[key] for key in names if key in spec}
    values["hidden"] = tuple(values["hidden"])
    if device is not None:
        values["device"] = device
    return TableTrainSettings(**values)


def split_for_training(table: TableDataset, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """(train, val, test) row indices and a note on how validation was chosen. Without validation
    rows a stratified 10% of train is held out (the same rows for the same data and seed); a table
    too small for that (XOR's four rows) is validated on its training rows, and says so."""
    train, val, test = (table.rows(name) for name in ("train", "val", "test"))
    if len(val):
        return train, val, test, []
    codes = split_rows(table.table.take(train), table.schema, HOLDOUT, seed)
    if np.any(codes == 1) and np.any(codes == 0):
        held = train[codes == 1]
        note = f"no validation split: held out a stratified 10% of the training rows ({len(held)} rows)"
        return train[codes == 0], held, test, [note]
    note = (f"no validation rows and too few training rows ({len(train)}) to hold some out: validation scores "
            "are on the training rows")
    return train, train, test, [note]


# --- the run ------------------------------------------------------------------------------------

@dataclass
class TableData:
    table: TableDataset
    encoder: TableEncoder
    train: TableSplit
    val: TableSplit
    test: TableSplit
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """For the model card: the dataset and what training made of its columns."""
        return {"name": self.table.name, "kind": TABLE, "source": self.table.source_name,
                "rows": {"train": len(self.train), "val": len(self.val), "test": len(self.test)},
                "task": self.encoder.task, "targets": [t["name"] for t in self.encoder.targets], "notes": self.notes}


def prepare_table_data(lib: Library, run_id: int, spec: dict[str, Any], dataset_id: int, folder, resume: bool) -> TableData:
    """The dataset's rows split and encoded. A fresh run fits the encoder on the train rows; a
    resumed one reads it from its model card."""
    table = load_table_dataset(lib, dataset_id)
    train, val, test, notes = split_for_training(table, spec["seed"])
    if resume and (folder / CARD_NAME).is_file():
        encoder = TableEncoder.from_json(ModelCard.load(folder / CARD_NAME).table["encoder"])
    else:
        encoder = TableEncoder.fit(table.table, table.schema, train)
    with lib.session() as s:
        classes = list(s.get(Run, run_id).classes)
    if (encoder.class_names or [t["name"] for t in encoder.targets]) != classes:
        raise InvalidInputError("the table's classes or targets changed since this run was created: start a new run")
    features = encoder.transform(table.table)
    targets, has_target = encoder.encode_targets(table.table)
    train_split, val_split, test_split = (TableSplit.take(features, targets, has_target, rows) for rows in (train, val, test))
    if len(train_split) == 0:
        raise InvalidInputError(f"table {table.name!r} has no training rows with a target value")
    notes = [*table.schema.notes, *imputation_notes(encoder), *notes]
    return TableData(table, encoder, train_split, val_split, test_split, notes)


def imputation_notes(encoder: TableEncoder) -> list[str]:
    """What happens to the feature columns with missing values in the train rows (one note per way)."""
    numbers = [f["name"] for f in encoder.features if f.get("indicator") and f["method"] not in ("one_hot", "embed")]
    categories = [f["name"] for f in encoder.features if f.get("indicator") and f["method"] in ("one_hot", "embed")]
    notes = []
    if numbers:
        notes.append(f"missing values filled with the train mean, plus an indicator column: {', '.join(numbers)}")
    if categories:
        notes.append(f"missing values marked by an indicator column of their own: {', '.join(categories)}")
    return notes


class TableStep:
    """The engine's process function: one TableLoop step, reported as the handlers count it."""

    def __init__(self, loop: TableLoop):
        self.loop = loop
        self.classification = loop.task == "classification"

    def __call__(self, engine: Engine, index: torch.Tensor) -> dict[str, Any]:
        loss, outputs, targets = self.loop.step(index)
        out = {"loss": float(loss), "n": len(index)}
        if self.classification:
            out["correct"] = int((outputs.argmax(1) == targets).sum())
        return out


def lowest_val_loss(metrics: dict[str, Any]) -> tuple[float, ...]:
    return (-metrics["val_loss"],)


class TableTrainingRun(TrainingRun):
    """TrainingRun with a table's data and network; the start, end and failures are TrainingRun's."""

    def _prepare_and_train(self, spec: dict[str, Any], dataset_id: int, device: torch.device,
                           heartbeat: Heartbeat | None, resume: bool,
                           control: Callable[[Engine], None] | None) -> dict[str, Any]:
        ctx = self.ctx
        ctx.emit(Started(run_id=ctx.run_id, model=spec["model"], device=device_text(device, ctx.dist),
                         epochs=spec["epochs"], batch_size=spec["batch_size"], image_size=0, resume=resume))
        data = prepare_table_data(ctx.lib, ctx.run_id, spec, dataset_id, ctx.folder, resume)
        self.notes += data.notes
        torch.manual_seed(spec["seed"])
        settings = table_settings(spec, str(device))
        model = build_table_net(data.encoder, settings).to(device)
        loop = TableLoop(model, data.encoder.task, split_tensors(data.train, device), spec["batch_size"], spec["seed"])
        loop.set_optimizer(settings, spec["epochs"])
        val_tensors = split_tensors(data.val, device)
        wiring = Wiring(
            step=TableStep(loop), batches=loop.batches, steps_per_epoch=loop.steps_per_epoch,
            state={"model": model, "optimizer": loop.optimizer, "scheduler": loop.scheduler},
            validate=lambda: validation_scores(model, data.encoder, val_tensors),
            save=lambda metrics: self._save(spec, data, model, metrics), lr=lambda: loop.scheduler.get_last_lr()[0],
            early_stopping=lambda patience: EarlyStopping(patience, "val_loss", lower_is_better=True),
            best_score=lowest_val_loss, step_work=spec["batch_size"] * max(spec["hidden"], default=1),
            after_training=lambda: self._record_test_scores(spec, data, device))
        ready = DataReady(run_id=ctx.run_id, dataset=data.table.name, classes=ctx.run_classes(),
                          train_samples=len(data.train), val_samples=len(data.val), steps_per_epoch=loop.steps_per_epoch)
        return self._run_engine(spec, wiring, ready, device, heartbeat, resume, control)

    def _save(self, spec: dict[str, Any], data: TableData, model, metrics: dict[str, Any]) -> None:
        card = ModelCard(architecture=spec["model"], classes=self.ctx.run_classes(), image_size=0,
                         run_id=self.ctx.run_id, dataset=data.summary(), metrics=dict(metrics), training=dict(spec),
                         studio_version=__version__, kind=TABLE)
        save_table_model(self.ctx.folder, model, data.encoder, data.table.schema, card)

    def _record_test_scores(self, spec: dict[str, Any], data: TableData, device: torch.device) -> None:
        """The best model's scores on the test rows: in the run summary, the best metrics (so the
        Finished event and the card carry them) and the card."""
        if not len(data.test):
            self.notes.append("no test rows: the test scores are left out (set a test split to measure them)")
            return
        best_model = load_table_model(self.ctx.folder, device).model
        test = evaluate_table(best_model, data.encoder, data.test)
        self.best.metrics.update({f"test_{name}": value for name, value in test.items()})
        self._save(spec, data, best_model, self.best.metrics)
        with self.ctx.lib.session() as s:
            summary = dict(s.get(Run, self.ctx.run_id).summary or {})
        self.ctx.update_run(summary={**summary, "best": self.best.metrics, "test": test})
