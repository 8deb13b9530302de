"""Evaluating a trained table run on a split of its dataset.

    result = evaluate_table_run(lib, run_id, "test")
    result.classification   # classes: the image ``Evaluation`` (per-class table, confusion cells
                            # listing ROW indices, most confident mistakes; ``Mistake.sample_id`` = row)
    result.targets          # numbers: one ``TargetErrors`` per target (MAE/RMSE/R² in its units,
                            # predicted and actual per row, the rows with the largest errors)
    result.row_values(17)   # {column: value} of row 17 as it was evaluated

The model reads its own columns with its own encoder (from the model card), so a table whose
columns were retyped after training is still evaluated the way the model was trained. Rows whose
target is missing, or is a class the model never saw, are counted but not scored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pyarrow as pa
import torch

from studio.core.errors import InvalidInputError, NotFoundError
from studio.core.jobs import JobState
from studio.data.tables.encoding import TableEncoder
from studio.data.tables.schema import numeric_values
from studio.store.models import Run
from studio.train.evaluate import Evaluation, cells_and_mistakes, classification_report
from studio.train.run_context import resolve_device
from studio.train.run_files import run_dir
from studio.train.tables.fit import predict_outputs
from studio.train.tables.metrics import regression_metrics
from studio.train.tables.model import TableNet

if TYPE_CHECKING:
    from studio.data.tables.dataset import TableDataset
    from studio.store.library import Library

SPLITS = ("test", "val", "train", "all")  # "all": every row with a target
LARGEST_ERRORS = 100  # rows kept per target, largest error first
JSON_ROWS = 10  # of them in `studio evaluate --json`
PREDICT_CHUNK = 65_536  # rows predicted between progress reports and cancel checks


class RowError(NamedTuple):
    row: int  # index of the row in the dataset's table, from 0 (people see it numbered from 1)
    predicted: float
    actual: float
    error: float  # predicted - actual, in the target's units


@dataclass
class TargetErrors:
    """One numeric target on the evaluated rows, in the target's own units."""

    name: str
    mae: float
    rmse: float
    r2: float
    predicted: np.ndarray  # float64, one per row of ``TableEvaluation.rows``
    actual: np.ndarray
    largest: list[RowError] = field(default_factory=list)  # largest absolute error first

    @property
    def residuals(self) -> np.ndarray:
        return self.predicted - self.actual

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "mae": self.mae, "rmse": self.rmse, "r2": self.r2,
                "largest_errors": [e._asdict() for e in self.largest[:JSON_ROWS]]}


@dataclass
class TableEvaluation:
    """What evaluating a table run on a split found: ``classification`` for a class target,
    ``targets`` for numeric ones."""

    run_id: int
    split: str
    dataset_id: int
    task: str  # "classification" | "regression"
    target_names: list[str]  # the model's target columns
    split_rows: int  # rows in the split
    rows: np.ndarray  # the rows scored (they have a target the model knows), in dataset order
    table: pa.Table = field(repr=False)  # the dataset's rows as evaluated; a row index is a position here
    classification: Evaluation | None = None
    targets: list[TargetErrors] = field(default_factory=list)
    kind = "table"

    @property
    def columns(self) -> list[str]:
        return list(self.table.column_names)

    def row_values(self, row: int) -> dict[str, Any]:
        return self.table.slice(int(row), 1).to_pylist()[0]

    def rows_values(self, rows: list[int]) -> list[dict[str, Any]]:
        return self.table.take(pa.array(np.asarray(rows, dtype=np.int64))).to_pylist()

    def to_dict(self) -> dict[str, Any]:
        """The stable keys of `studio evaluate --json` for a table run."""
        out: dict[str, Any] = {"run_id": self.run_id, "split": self.split, "kind": self.kind, "task": self.task,
                               "target_names": self.target_names, "samples": self.split_rows,
                               "scored": len(self.rows)}
        if self.classification is not None:
            out.update({k: v for k, v in self.classification.to_dict().items() if k not in out})
        else:
            out["targets"] = [target.to_dict() for target in self.targets]
        return out


def evaluate_table_run(lib: Library, run_id: int, split: str = "test", *, device: str = "auto",
                       state: JobState | None = None) -> TableEvaluation:
    """The run's best model (its run folder) on ``split`` of its dataset as the dataset is now."""
    from studio.data.tables.dataset import load_table_dataset
    from studio.train.tables.artifacts import load_table_model

    if split not in SPLITS:
        raise InvalidInputError(f"unknown split {split!r} for a table (choose from {', '.join(SPLITS)})")
    state = state or JobState()
    with lib.session() as s:
        run = s.get(Run, int(run_id))
        if run is None:
            raise NotFoundError(f"no run {run_id}")
        if run.dataset_id is None:
            raise InvalidInputError(f"run {run_id}: its dataset was deleted")
        dataset_id, seed = int(run.dataset_id), int((run.spec or {}).get("seed", 0))
    parts = load_table_model(run_dir(lib, int(run_id)), device=resolve_device(device))
    state.set_progress(0.2, "reading the table")
    dataset = load_table_dataset(lib, dataset_id)
    rows = _split_rows(dataset, split, seed)
    if not len(rows):
        raise InvalidInputError(f"dataset {dataset.name!r} has no {split} rows "
                                "(evaluate on all rows, or split the table again on the Datasets page)")
    state.check_cancelled()
    return evaluate_table_model(parts.model, parts.encoder, dataset.table, rows,
                                run_id=int(run_id), split=split, dataset_id=dataset_id, state=state)


def _split_rows(dataset: TableDataset, split: str, seed: int) -> np.ndarray:
    """The rows of ``split`` as the run used them: a table without validation rows was validated
    on rows held out of train (the same ones again, for the run's seed)."""
    if split == "all":
        return np.arange(dataset.table.num_rows)
    from studio.train.tables.run import split_for_training

    train, val, test, _notes = split_for_training(dataset, seed)
    return {"train": train, "val": val, "test": test}[split]


def evaluate_table_model(model: TableNet, encoder: TableEncoder, table: pa.Table, rows: np.ndarray, *,
                         run_id: int, split: str, dataset_id: int, state: JobState | None = None) -> TableEvaluation:
    """Score ``model`` on ``rows`` of ``table`` (what ``evaluate_table_run`` does once it has them)."""
    state = state or JobState()
    rows = np.sort(np.asarray(rows, dtype=np.int64))
    part = table.take(pa.array(rows))
    result = TableEvaluation(run_id, split, dataset_id, encoder.task, [t["name"] for t in encoder.targets],
                             len(rows), rows, table)
    outputs = _predict(model, encoder, part, state)
    if encoder.task == "classification":
        _score_classes(result, encoder, part, outputs)
    else:
        _score_numbers(result, encoder, part, outputs)
    return result


def _predict(model: TableNet, encoder: TableEncoder, part: pa.Table, state: JobState) -> np.ndarray:
    """The network's outputs, a chunk at a time: a million rows report progress and can be cancelled."""
    features = encoder.transform(part)
    outputs = []
    for start in range(0, part.num_rows, PREDICT_CHUNK):
        state.check_cancelled()
        state.set_progress(0.4 + 0.55 * start / part.num_rows, f"predicting row {start + 1:,} of {part.num_rows:,}")
        stop = start + PREDICT_CHUNK
        outputs.append(predict_outputs(model, features.numeric[start:stop], features.categorical[start:stop]))
    return np.concatenate(outputs)


def _score_classes(result: TableEvaluation, encoder: TableEncoder, part: pa.Table, outputs: np.ndarray) -> None:
    classes = list(encoder.class_names)
    labels, known = encoder.encode_targets(part)  # -1: missing, or a class the model does not know
    probabilities = _softmax(outputs)
    predicted = probabilities.argmax(axis=1)
    evaluation = Evaluation(result.run_id, result.split, result.dataset_id, classes, len(result.rows))
    result.classification, result.rows = evaluation, result.rows[known]
    if not known.any():
        return
    report = classification_report(labels[known], predicted[known], len(classes), classes)
    evaluation.labelled, evaluation.accuracy, evaluation.per_class = (
        report["labelled"], report["accuracy"], report["per_class"])
    evaluation.confusion = np.asarray(report["confusion_matrix"])
    confidence = probabilities[np.arange(len(predicted)), predicted]
    evaluation.cells, evaluation.mistakes = cells_and_mistakes(
        result.rows.tolist(), labels[known], predicted[known], confidence[known], classes)


def _score_numbers(result: TableEvaluation, encoder: TableEncoder, part: pa.Table, outputs: np.ndarray) -> None:
    names = result.target_names
    # the stored values themselves (not the standardised float32 targets): errors in exact units
    actual = np.stack([numeric_values(part.column(name)) for name in names], axis=1)
    scored = np.all(np.isfinite(actual), axis=1)
    predicted = encoder.decode(outputs)[scored]
    actual, result.rows = actual[scored], result.rows[scored]
    for i, name in enumerate(names):
        if not len(actual):
            result.targets.append(TargetErrors(name, np.nan, np.nan, np.nan, predicted[:, i], actual[:, i]))
            continue
        scores = regression_metrics(predicted[:, i], actual[:, i], [name])
        target = TargetErrors(name, scores["mae"], scores["rmse"], scores["r2"], predicted[:, i], actual[:, i])
        target.largest = largest_errors(result.rows, target.predicted, target.actual)
        result.targets.append(target)


def largest_errors(rows: np.ndarray, predicted: np.ndarray, actual: np.ndarray) -> list[RowError]:
    """The ``LARGEST_ERRORS`` rows furthest from the truth, furthest first."""
    error = predicted - actual
    order = np.argsort(-np.abs(error), kind="stable")[:LARGEST_ERRORS]
    return [RowError(int(rows[i]), float(predicted[i]), float(actual[i]), float(error[i])) for i in order]


def _softmax(logits: np.ndarray) -> np.ndarray:
    return torch.softmax(torch.as_tensor(logits, dtype=torch.float64), dim=1).numpy()
