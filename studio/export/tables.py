"""Exporting a table run: ONNX and TorchScript graphs that take the RAW column values and return
de-normalised predictions, with the parity check run in a fresh process on held-out rows.

The graph is ``studio.train.tables.raw_model.RawTableModel``: standardisation, imputation with
missing indicators, one-hot and embedded categories and date parts all happen inside it.

Input convention (also written into the exported model card under ``export.input``):
  - ``numbers``: float64 [rows, number columns]; numbers as they are, yes/no as 1/0, dates as
    seconds since 1970-01-01 UTC; NaN = missing. float64, because dates in seconds need its
    precision (float32 is off by a minute and would move the hour of the day).
  - ``categories``: int64 [rows, category columns]; the 1-based position of the value in that
    column's ``values`` list of the card; 0 = a value the model never saw; -1 = missing.
Output: ``probabilities`` float32 [rows, classes], or ``values`` float64 [rows, targets] in the
targets' own units. The example script beside the export turns a CSV into these inputs.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
import tempfile
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import torch

from studio.core.errors import InvalidInputError
from studio.core.jobs import JobState
from studio.export.parity import (
    CHILD_TIMEOUT_S,
    MAX_SAMPLES,
    child_command,
    probability_agreement,
)
from studio.export.registry import file_sha256
from studio.export.service import ExportReport, _record, export_targets
from studio.export.table_examples import write_table_example
from studio.export.table_model import (
    TablePredictor,
    open_table_predictor,
    run_table_dataset,
)
from studio.export.targets import write_via_temp
from studio.train.tables.raw_model import RawTableModel, raw_input_names, raw_inputs

TABLE_FORMATS = ("onnx", "torchscript")
INPUT_NAMES = ["numbers", "categories"]
MAX_SCALED_DIFF = 1e-4  # regression: the largest difference allowed, in target standard deviations
TRACE_ROWS = 8
ONNX_OPSET = 17


def output_name(task: str) -> str:
    return "probabilities" if task == "classification" else "values"


def export_table_run(lib, run_id: int, fmt: str, path=None, state: JobState | None = None, *,
                     force: bool = False, follow_symlinks: bool = False) -> ExportReport:
    """Write a table run as ONNX or TorchScript (+ card + example), check parity on held-out
    rows in a fresh process and record the export; a file that disagrees is kept and flagged."""
    state = state or JobState()
    if fmt not in TABLE_FORMATS:
        raise InvalidInputError(f"a table model exports as {' or '.join(TABLE_FORMATS)}, not {fmt}",
                                hint="its run folder already holds model.safetensors + model.json")
    targets = export_targets(lib, run_id, fmt, path, force=force, follow_symlinks=follow_symlinks)
    state.set_progress(0.02, f"loading run {run_id}")
    predictor = open_table_predictor(lib, run_id)
    split, rows = held_out_rows(lib, run_id, predictor)
    raw = export_graph(predictor)
    state.check_cancelled()
    state.set_progress(0.1, f"writing {targets.model.name}")
    example_inputs = tuple(torch.as_tensor(a) for a in raw_inputs(predictor.encoder, made_up_rows(predictor, TRACE_ROWS, 1)))
    (write_table_onnx if fmt == "onnx" else write_table_torchscript)(raw, predictor, example_inputs, targets.model)
    write_table_card(predictor, fmt, targets.model, targets.card)
    example = write_table_example(fmt, targets.model, targets.card, predictor, target=targets.example)
    state.check_cancelled()
    state.set_progress(0.5, f"checking parity on {rows.num_rows} {split} rows")
    parity = check_table_parity(predictor, fmt, targets.model, split, rows)
    parity["file_sha256"] = file_sha256(targets.model)
    write_table_card(predictor, fmt, targets.model, targets.card,
                     {"parity": {k: v for k, v in parity.items() if k != "file_sha256"}})
    export_id = _record(lib, run_id, fmt, targets.model, parity)
    state.set_progress(1.0, "export done" if parity["ok"] else "export done: PARITY FAILED")
    return ExportReport(export_id, run_id, fmt, str(targets.model), str(targets.card), str(example), parity,
                        bool(parity["ok"]), kind="table")


class _BothInputs(torch.nn.Module):
    """RawTableModel with both inputs always in the graph: ONNX drops an input nothing reads (a
    table without category columns), yet every caller feeds both. A sum over no columns is 0."""

    def __init__(self, raw: RawTableModel, has_numbers: bool, has_categories: bool):
        super().__init__()
        self.raw, self.has_numbers, self.has_categories = raw, has_numbers, has_categories

    def forward(self, numbers: torch.Tensor, categories: torch.Tensor) -> torch.Tensor:
        out = self.raw(numbers, categories)
        if not self.has_numbers:
            out = out + numbers.sum(dim=1, keepdim=True).to(out.dtype)
        if not self.has_categories:
            out = out + categories.sum(dim=1, keepdim=True).to(out.dtype)
        return out


def export_graph(predictor: TablePredictor) -> torch.nn.Module:
    """The module an export writes: raw column values in, predictions in the targets' terms out."""
    numbers, categories = raw_input_names(predictor.encoder)
    return _BothInputs(RawTableModel(predictor.model, predictor.encoder), bool(numbers), bool(categories)).eval()


# --- held-out rows -----------------------------------------------------------------------------

def held_out_rows(lib, run_id: int, predictor: TablePredictor, limit: int = MAX_SAMPLES) -> tuple[str, pa.Table]:
    """(split name, rows) of the run's dataset: test, else val, else train; a run whose dataset
    is gone gets made-up rows around the training statistics (the numbers' parity still holds)."""
    dataset = run_table_dataset(lib, run_id)
    if dataset is not None:
        for split in ("test", "val", "train"):
            rows = np.asarray(dataset.rows(split), dtype=np.int64)[:limit]
            if len(rows):
                return split, dataset.table.take(pa.array(rows))
    return "random", made_up_rows(predictor, 64)


def made_up_rows(predictor: TablePredictor, count: int, seed: int = 0) -> pa.Table:
    """Rows of plausible raw values with some missing and some unseen categories (also what the
    graph is traced with: the traced graph does not depend on the values)."""
    generator = np.random.default_rng(seed)
    columns = {}
    for spec in predictor.encoder.features:
        missing = generator.random(count) < 0.1
        if spec["method"] in ("one_hot", "embed"):
            pool = list(spec["categories"]) + ["(never seen)"]
            values = [None if m else pool[i] for m, i in zip(missing, generator.integers(0, len(pool), count))]
            columns[spec["name"]] = pa.array(values, pa.string())
        elif spec["type"] == "boolean":
            columns[spec["name"]] = pa.array([None if m else bool(b) for m, b in zip(missing, generator.random(count) < 0.5)])
        else:
            numbers = generator.normal(spec["mean"], spec["std"], count)
            if spec["method"] == "datetime":
                columns[spec["name"]] = pa.array([None if m else int(v) for m, v in zip(missing, numbers)], pa.timestamp("s"))
            else:
                columns[spec["name"]] = pa.array(np.where(missing, np.nan, numbers)).cast(pa.float64())
    return pa.table(columns)


# --- writing -------------------------------------------------------------------------------------

def write_table_onnx(raw: torch.nn.Module, predictor: TablePredictor, example_inputs, path: Path) -> None:
    from studio.export.predictor import import_onnxruntime

    import_onnxruntime()
    try:
        import onnx
    except ImportError as exc:
        raise InvalidInputError("ONNX export needs the onnx package, which is not installed",
                                hint="pip install 'model-studio[onnx]'") from exc
    name = output_name(predictor.task)

    def save(tmp: Path) -> None:
        noise = io.StringIO()  # the exporter prints on stdout, which must stay JSON lines
        try:
            with contextlib.redirect_stdout(noise), warnings.catch_warnings(), torch.no_grad():
                warnings.simplefilter("ignore")
                torch.onnx.export(raw.cpu(), example_inputs, str(tmp), input_names=INPUT_NAMES, output_names=[name],
                                  dynamic_axes={"numbers": {0: "rows"}, "categories": {0: "rows"}, name: {0: "rows"}},
                                  opset_version=ONNX_OPSET, dynamo=False)
            model = onnx.load(str(tmp))
        except Exception as exc:  # the exporter raises many types; one line for the user
            raise InvalidInputError(f"ONNX export of the table model failed ({_first_line(exc)})") from exc
        model.doc_string = f"Model Studio table model: raw numbers + category indices -> {name}"
        for key, value in (("classes", json.dumps(predictor.classes)), ("model_card", predictor.card.to_json())):
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(model, str(tmp))

    write_via_temp(path, save)


def write_table_torchscript(raw: torch.nn.Module, predictor: TablePredictor, example_inputs, path: Path) -> None:
    def save(tmp: Path) -> None:
        try:
            with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
                warnings.simplefilter("ignore")
                torch.jit.save(torch.jit.trace(raw.cpu(), example_inputs), str(tmp))
        except Exception as exc:
            raise InvalidInputError(f"TorchScript export of the table model failed ({_first_line(exc)})") from exc

    write_via_temp(path, save)


def table_input_description(predictor: TablePredictor) -> dict[str, Any]:
    """How to feed the exported graph, column by column (the card's ``export.input``)."""
    numbers, categories = raw_input_names(predictor.encoder)
    specs = {spec["name"]: spec for spec in predictor.encoder.features}
    notes = {"number": "as it is", "boolean": "1 = yes/true, 0 = no/false",
             "datetime": "seconds since 1970-01-01 00:00 UTC"}
    return {
        "numbers": {"name": "numbers", "dtype": "float64", "shape": ["rows", len(numbers)], "missing": "NaN",
                    "columns": [{"name": n, "type": specs[n]["type"], "value": notes.get(specs[n]["type"], "as it is")}
                                for n in numbers]},
        "categories": {"name": "categories", "dtype": "int64", "shape": ["rows", len(categories)],
                       "coding": "the 1-based position of the value in the column's 'values'; 0 = a value the "
                                 "model never saw; -1 = missing",
                       "columns": [{"name": n, "values": list(specs[n]["categories"])} for n in categories]},
        "note": "any number of rows; standardisation, missing-value imputation and category encoding happen inside",
    }


def table_output_description(predictor: TablePredictor) -> dict[str, Any]:
    if predictor.task == "classification":
        return {"name": "probabilities", "dtype": "float32", "shape": ["rows", len(predictor.classes)],
                "columns": predictor.classes, "targets": predictor.target_names,
                "meaning": "the probability of each class"}
    return {"name": "values", "dtype": "float64", "shape": ["rows", len(predictor.target_names)],
            "columns": predictor.target_names, "targets": predictor.target_names,
            "meaning": "each target in its own units (de-normalised)"}


def write_table_card(predictor: TablePredictor, fmt: str, model_path: Path, target: Path,
                     extra: dict[str, Any] | None = None) -> Path:
    data = asdict(predictor.card)
    data["export"] = {"format": fmt, "file": model_path.name, "input": table_input_description(predictor),
                      "output": table_output_description(predictor), **(extra or {})}
    text = json.dumps(data, indent=2, default=str)
    write_via_temp(target, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return target


# --- parity --------------------------------------------------------------------------------------

def run_table_in_fresh_process(fmt: str, model_path: Path, numbers: np.ndarray,
                               categories: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="studio-parity-") as tmp:
        inputs, outputs = Path(tmp) / "inputs.npz", Path(tmp) / "outputs.npz"
        np.savez(inputs, numbers=numbers, categories=categories)
        proc = subprocess.run(child_command(f"table-{fmt}", model_path, inputs, outputs), capture_output=True,
                              text=True, timeout=CHILD_TIMEOUT_S)
        if proc.returncode != 0 or not outputs.exists():
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]
            return np.zeros((0,)), {"error": f"the exported file failed to run in a fresh process: {tail}"}
        with np.load(outputs) as out:
            return np.asarray(out["outputs"]), {"runtime": str(out["runtime"]), "studio_loaded": bool(out["studio_loaded"])}


def check_table_parity(predictor: TablePredictor, fmt: str, model_path: Path, split: str, rows: pa.Table) -> dict[str, Any]:
    """The file's outputs (own runtime, fresh process) against the studio's on the same rows:
    class probabilities within MAX_PROB_DIFF and the same top class on every row, or target
    values within MAX_SCALED_DIFF target deviations."""
    started = time.perf_counter()
    expected = predictor.outputs(rows)
    got, info = run_table_in_fresh_process(fmt, model_path, *raw_inputs(predictor.encoder, rows))
    report: dict[str, Any] = {"kind": "table", "task": predictor.task, "split": split, "n": rows.num_rows, **info}
    if "error" in info or got.shape != expected.shape:
        report.setdefault("error", f"the file gives outputs of shape {got.shape}, the studio {expected.shape}")
        report.update(agreement=0.0, max_prob_diff=None, ok=False)
    elif predictor.task == "classification":
        report.update(probability_agreement(got, expected))
    else:
        std = np.array([t["std"] for t in predictor.encoder.targets])
        scaled = np.abs(got - expected) / std
        within = int(np.all(scaled < MAX_SCALED_DIFF, axis=1).sum())
        report.update(threshold=MAX_SCALED_DIFF, agreement=within / max(len(got), 1), rows_within=within,
                      max_scaled_diff=float(scaled.max()) if len(got) else 0.0,
                      max_abs_diff={t: float(d) for t, d in zip(predictor.target_names, np.abs(got - expected).max(axis=0))}
                      if len(got) else {}, ok=bool(len(got) and within == len(got)))
    report["seconds"] = round(time.perf_counter() - started, 3)
    return report


def parity_summary(parity: dict[str, Any]) -> str:
    """One line for the CLI and the Export page: what was compared and how closely."""
    if "error" in parity:
        return f"PARITY FAILED: {parity['error']}"
    verdict = "OK" if parity.get("ok") else "PARITY FAILED"
    where = f"{parity['n']} {parity['split']} rows"
    if parity.get("task") == "regression":
        return (f"parity {verdict}: {parity['agreement']:.2%} of {where} within {parity['threshold']:.0e} target "
                f"deviations, largest difference {parity['max_scaled_diff']:.2e} deviations "
                f"({parity.get('runtime', '')}, fresh process)")
    return (f"parity {verdict}: top-1 agreement {parity['agreement']:.2%} on {where}, max probability difference "
            f"{parity['max_prob_diff']:.2e} ({parity.get('runtime', '')}, fresh process)")


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return (lines[0] if lines else type(exc).__name__)[:200]
