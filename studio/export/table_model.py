"""A trained table model as Play, `studio predict` and the export see it: raw column values in,
predictions in the targets' own terms out (class probabilities, or numbers in the target's units).

    predictor = open_table_predictor(lib, run_id)
    predictor.predict_values({"island": "Biscoe", "bill_length_mm": 45.1, ...})   # one row, for Play
    predictor.predict_csv("new.csv", "predictions.csv", state)                     # every row, for a file

The numbers are the studio's own (``studio.train.tables.predict``): the encoder fitted on the
train split, then the network. Nothing here imports Qt.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from studio.core.errors import InvalidInputError, NotFoundError
from studio.core.jobs import JobState
from studio.train.run_files import CARD_NAME, WEIGHTS_NAME, run_dir

PREDICT_CHUNK_ROWS = 16_384  # progress and cancellation happen between chunks of a CSV
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".pq")


def run_model_kind(lib, run_id: int) -> str:
    """The kind of data a run's model was trained on ("image" | "table"), from its model card;
    "image" when the run has no card (older runs wrote none with a kind)."""
    card = run_dir(lib, int(run_id)) / CARD_NAME
    try:
        kind = json.loads(card.read_text(encoding="utf-8")).get("kind", "image")
    except (OSError, ValueError, AttributeError, RecursionError):
        return "image"
    return kind if isinstance(kind, str) else "image"


@dataclass
class FeatureField:
    """One input of a table model, as a form shows it."""

    name: str
    type: str                     # number | category | boolean | datetime
    categories: list[str] = field(default_factory=list)  # the values seen in training, most frequent first
    low: float | None = None      # the training range (numbers)
    high: float | None = None
    default: Any = None           # a typical value: the mean, the most frequent category


@dataclass
class RowPrediction:
    """One row's prediction: classes with probabilities (classification) or target values."""

    task: str
    probabilities: list[tuple[str, float]] = field(default_factory=list)  # in class order
    values: list[tuple[str, float]] = field(default_factory=list)         # (target, value in its units)

    @property
    def best(self) -> tuple[str, float] | None:
        return max(self.probabilities, key=lambda p: p[1]) if self.probabilities else None


class TablePredictor:
    """A table model (network + encoder + schema + card) ready to predict on raw values."""

    kind = "table"
    runtime = "PyTorch (in the studio)"

    def __init__(self, parts, label: str, device: str = "cpu", ranges: dict[str, tuple[float, float]] | None = None):
        self.model, self.encoder, self.schema, self.card = parts.model, parts.encoder, parts.schema, parts.card
        self.label, self.device = label, device
        self.ranges = dict(ranges or {})
        self.task = self.encoder.task
        self.target_names = [t["name"] for t in self.encoder.targets]
        self.classes = list(self.encoder.class_names) or list(self.target_names)
        self.in_channels = 0  # not an image model (the image Play code reads this)

    # --- inputs ---------------------------------------------------------------------------
    def fields(self) -> list[FeatureField]:
        out = []
        for spec in self.encoder.features:
            kind, name = spec["type"], spec["name"]
            if spec["method"] in ("one_hot", "embed"):
                categories = list(spec["categories"])
                out.append(FeatureField(name, "category", categories, default=categories[0] if categories else None))
                continue
            low, high = self.ranges.get(name, (None, None))
            default = _round_sensibly(spec["mean"]) if kind == "number" else None
            if kind == "boolean":
                default = spec["mean"] >= 0.5
            elif kind == "datetime":  # the mean moment of the train rows, as the form writes dates
                moment = datetime.fromtimestamp(round(spec["mean"]), timezone.utc)
                default = moment.strftime("%Y-%m-%d %H:%M:%S")
            out.append(FeatureField(name, kind, low=low, high=high, default=default))
        return out

    def row_table(self, values: dict[str, Any]) -> pa.Table:
        """A one-row table of the feature columns from form values (None or "" = missing)."""
        columns = {}
        for item in self.fields():
            value = values.get(item.name)
            value = None if value == "" else value
            if item.type == "number":
                columns[item.name] = pa.array([None if value is None else float(value)], pa.float64())
            elif item.type == "boolean":
                columns[item.name] = pa.array([None if value is None else bool(value)], pa.bool_())
            else:
                columns[item.name] = pa.array([None if value is None else str(value)], pa.string())
        return pa.table(columns)

    # --- predicting -----------------------------------------------------------------------
    def outputs(self, table: pa.Table) -> np.ndarray:
        """Class probabilities [rows, classes] or target values in their units [rows, targets]:
        what an export of this model must return for the same rows."""
        from studio.train.tables.fit import predict_outputs

        features = self.encoder.transform(table)
        raw = predict_outputs(self.model, features.numeric, features.categorical)
        if self.task == "classification":
            shifted = np.exp(raw - raw.max(axis=1, keepdims=True))
            return (shifted / shifted.sum(axis=1, keepdims=True)).astype(np.float32)
        return self.encoder.decode(raw)

    def predict_values(self, values: dict[str, Any]) -> RowPrediction:
        out = self.outputs(self.row_table(values))[0]
        if self.task == "classification":
            return RowPrediction(self.task, probabilities=[(c, float(p)) for c, p in zip(self.classes, out)])
        return RowPrediction(self.task, values=[(t, float(v)) for t, v in zip(self.target_names, out)])

    def prediction_columns(self, table: pa.Table) -> dict[str, np.ndarray]:
        """The columns a predicted CSV gains: ``predicted TARGET`` (+ its probability and one
        ``P(class)`` per class for classification), as ``studio.train.tables.predict`` names them."""
        try:
            outputs = self.outputs(table)
        except KeyError as exc:
            raise InvalidInputError(f"{exc.args[0]}; the model needs the columns "
                                    f"{', '.join(f.name for f in self.fields())}") from None
        if self.task == "regression":
            return {f"predicted {name}": outputs[:, i] for i, name in enumerate(self.target_names)}
        best = outputs.argmax(axis=1)
        name = self.target_names[0]
        columns = {f"predicted {name}": np.asarray(self.classes, dtype=object)[best],
                   f"predicted {name} probability": outputs[np.arange(len(best)), best]}
        columns.update({f"P({cls})": outputs[:, i] for i, cls in enumerate(self.classes)})
        return columns

    def predict_table(self, table: pa.Table, state: JobState | None = None) -> pa.Table:
        """``table`` with the prediction columns appended (a column of the same name gets
        " (predicted)" added), predicted in chunks with progress and cancellation."""
        state = state or JobState()
        parts = []
        for start in range(0, max(table.num_rows, 1), PREDICT_CHUNK_ROWS):
            state.check_cancelled()
            chunk = table.slice(start, PREDICT_CHUNK_ROWS)
            parts.append(self.prediction_columns(chunk))
            state.set_progress(min(1.0, (start + chunk.num_rows) / max(table.num_rows, 1)),
                               f"{start + chunk.num_rows:,} of {table.num_rows:,} rows predicted")
        out = table
        for name in parts[0]:
            values = np.concatenate([p[name] for p in parts])
            column = name if name not in out.column_names else f"{name} (predicted)"
            out = out.append_column(column, pa.array(values.tolist() if values.dtype == object else values))
        return out

    def predict_csv(self, source: str | Path, target: str | Path | None, state: JobState | None = None) -> pa.Table:
        """Read a CSV/TSV/Parquet file, predict every row, and write the rows with their
        predictions as CSV to ``target`` (through a temporary file); returns that table."""
        from studio.data.tables.errors import TableError
        from studio.data.tables.reading import read_table

        state = state or JobState()
        source = Path(source).expanduser()
        if not source.is_file():
            raise NotFoundError(f"no such file: {source}")
        try:
            table = read_table(source, part_of(state, 0.0, 0.3))
            result = self.predict_table(table, part_of(state, 0.3, 0.6))
        except TableError as exc:
            raise InvalidInputError(f"{source.name}: {exc}") from None
        if target is not None:
            state.set_progress(0.9, "writing the predictions")
            write_csv(result, Path(target).expanduser())
        state.set_progress(1.0, f"{result.num_rows:,} rows predicted")
        return result


class ExportedTablePredictor(TablePredictor):
    """A table run's ONNX or TorchScript export played in the studio: the run's encoder turns the
    rows into the file's raw inputs (studio.train.tables.raw_model.raw_inputs), the file's own
    runtime predicts. The file is this library's own export, unchanged since (checked by hash)."""

    def __init__(self, parts, path: Path, device: str, ranges: dict[str, tuple[float, float]] | None = None):
        super().__init__(parts, str(path), device, ranges)
        if path.suffix.lower() == ".onnx":
            from studio.export.predictor import import_onnxruntime

            session = import_onnxruntime().InferenceSession(str(path), providers=["CPUExecutionProvider"])
            self.runtime, self.device = "onnxruntime", "cpu"
            self._run = lambda numbers, categories: session.run(None, {"numbers": numbers, "categories": categories})[0]
        else:
            import torch

            from studio.export.loading import load_torchscript

            module = load_torchscript(path, device, trusted=True)  # our own export, hash checked
            self.runtime = "TorchScript"

            def run(numbers, categories):
                with torch.inference_mode():
                    return module(torch.from_numpy(numbers).to(device), torch.from_numpy(categories).to(device)).cpu().numpy()

            self._run = run

    def outputs(self, table: pa.Table) -> np.ndarray:
        from studio.train.tables.raw_model import raw_inputs

        out = np.asarray(self._run(*raw_inputs(self.encoder, table)))
        return out.astype(np.float32) if self.task == "classification" else out


def own_table_export_run(lib, path: Path) -> int | None:
    """The run a file is this library's unchanged export of, when that run is a table run."""
    from sqlalchemy import select

    from studio.export.registry import file_sha256
    from studio.store.models import Export

    with lib.session() as s:
        rows = s.execute(select(Export.run_id, Export.parity).where(Export.path == str(Path(path).resolve()))).all()
    if not rows or run_model_kind(lib, rows[0][0]) != "table":
        return None
    current = file_sha256(Path(path))
    return next((run_id for run_id, parity in rows if (parity or {}).get("file_sha256") == current), None)


def open_exported_table_predictor(lib, path: Path, run_id: int, device: str = "cpu") -> ExportedTablePredictor:
    from studio.train.tables.artifacts import load_table_model

    parts = load_table_model(run_dir(lib, int(run_id)), device="cpu")
    return ExportedTablePredictor(parts, Path(path), device, training_ranges(lib, run_id, parts))


def part_of(state: JobState, start: float, span: float) -> JobState:
    """A state for one stage of a job: its progress maps into [start, start + span] of ``state``,
    and it stops when ``state`` is cancelled (checked at each progress report)."""
    def report(fraction: float, message: str) -> None:
        state.check_cancelled()
        state.set_progress(start + span * fraction, message)

    return JobState(on_progress=report)


def write_csv(table: pa.Table, path: Path) -> None:
    import pyarrow.csv as pacsv

    from studio.export.targets import write_via_temp

    path = path.absolute()
    if path.is_dir():
        raise InvalidInputError(f"{path} is a folder; name a .csv file to write")
    write_via_temp(path, lambda tmp: pacsv.write_csv(table, str(tmp)))


def open_table_predictor(lib, run_id: int, device: str = "cpu") -> TablePredictor:
    """The model of a finished table run, with its features' training ranges for the form."""
    folder = run_dir(lib, int(run_id))
    if not (folder / WEIGHTS_NAME).is_file():
        raise NotFoundError(f"run {run_id} has no trained model yet (train it to the end, or stop it to keep its best weights)")
    from studio.train.tables.artifacts import load_table_model

    parts = load_table_model(folder, device=device)
    return TablePredictor(parts, f"run {run_id}", device, training_ranges(lib, run_id, parts))


def training_ranges(lib, run_id: int, parts) -> dict[str, tuple[float, float]]:
    """(min, max) of each number feature over the run's dataset's train rows; {} when the
    dataset is gone (the form then shows no range)."""
    from studio.data.tables.encoding import feature_values

    table = train_rows(lib, run_id)
    if table is None:
        return {}
    ranges = {}
    for spec in parts.encoder.features:
        if spec["type"] != "number" or spec["name"] not in table.column_names:
            continue
        values = feature_values(table.column(spec["name"]), "number")
        values = values[np.isfinite(values)]
        if values.size:
            ranges[spec["name"]] = (float(values.min()), float(values.max()))
    return ranges


def train_rows(lib, run_id: int) -> pa.Table | None:
    dataset = run_table_dataset(lib, run_id)
    if dataset is None:
        return None
    return dataset.table.take(pa.array(np.asarray(dataset.rows("train"), dtype=np.int64)))


def run_table_dataset(lib, run_id: int):
    """The TableDataset a run was trained on, or None when it is gone."""
    from studio.core.errors import StudioError
    from studio.store.models import Run

    with lib.session() as s:
        run = s.get(Run, int(run_id))
        dataset_id = run.dataset_id if run is not None else None
    if dataset_id is None:
        return None
    from studio.data.tables.dataset import load_table_dataset

    try:
        return load_table_dataset(lib, dataset_id)
    except StudioError:
        return None


def _round_sensibly(value: float) -> float:
    """The mean shown as a starting value: four significant digits (3,764.2 -> 3764.0)."""
    if not math.isfinite(value) or value == 0:
        return 0.0
    digits = 4 - math.floor(math.log10(abs(value))) - 1
    return float(round(value, max(digits, 0)))
