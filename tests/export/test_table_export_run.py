"""Exporting and predicting with table runs of a real library (penguins: species; diabetes:
progression), through the export service and the `studio export` / `studio predict` commands:
parity on the test split recorded in the Export row, a CSV predicted from the command line, and
a planted pickle in a run folder refused without ever being unpickled."""

from __future__ import annotations

import csv
import json
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pytest
from table_models import held_out_csv, make_table_library

from studio.export.registry import list_exports
from studio.export.service import export_run
from studio.export.table_model import (
    open_table_predictor,
    run_model_kind,
    run_table_dataset,
)
from studio.store.library import Library

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def table_home(tmp_path_factory):
    return make_table_library(tmp_path_factory.mktemp("tables"))


@pytest.fixture
def lib(table_home):
    library = Library.open(table_home[0])
    yield library
    library.close()


def studio(home, *args, timeout=600):
    return subprocess.run([sys.executable, "-m", "studio", "--home", str(home), *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_of_a_table_run_is_checked_on_its_test_rows_and_recorded(table_home, lib, fmt, tmp_path):
    runs = table_home[1]
    assert run_model_kind(lib, runs["species"]) == "table"
    report = export_run(lib, runs["species"], fmt, tmp_path / f"penguins{'.onnx' if fmt == 'onnx' else '.pt'}")
    assert report.kind == "table" and report.ok, report.parity
    test_rows = len(run_table_dataset(lib, runs["species"]).rows("test"))
    assert report.parity["split"] == "test" and report.parity["n"] == test_rows > 0
    recorded = next(e for e in list_exports(lib, runs["species"]) if e["id"] == report.export_id)
    assert recorded["ok"] and recorded["parity"]["agreement"] == 1.0 and recorded["format"] == fmt
    card = json.loads(Path(report.card_path).read_text())
    assert card["export"]["parity"]["ok"] and card["export"]["input"]["categories"]["dtype"] == "int64"


def test_regression_export_compares_values_in_the_targets_units(table_home, lib, tmp_path):
    report = export_run(lib, table_home[1]["progression"], "onnx", tmp_path / "model.onnx")
    assert report.ok, report.parity
    assert report.parity["task"] == "regression" and set(report.parity["max_abs_diff"]) == {"progression"}
    assert report.parity["max_abs_diff"]["progression"] < 0.01  # the target spans 25..346


def test_cli_exports_a_table_run_and_refuses_safetensors_with_a_reason(table_home, tmp_path):
    home, runs = table_home
    proc = studio(home, "export", runs["species"], "--format", "onnx", "-o", tmp_path / "penguins.onnx")
    assert proc.returncode == 0, proc.stderr
    assert "parity OK" in proc.stdout and "test rows" in proc.stdout and "data.csv" in proc.stdout
    proc = studio(home, "export", runs["species"], "--format", "safetensors", "-o", tmp_path / "w.safetensors")
    assert proc.returncode != 0
    assert "onnx or torchscript" in proc.stderr and len(proc.stderr.strip().splitlines()) <= 2


def test_cli_predicts_a_csv_as_the_studio_does(table_home, lib, tmp_path):
    home, runs = table_home
    data = held_out_csv(lib, runs["species"], tmp_path / "new penguins.csv", drop=("species",))
    out = tmp_path / "predictions.csv"
    proc = studio(home, "predict", runs["species"], data, "--out", out)
    assert proc.returncode == 0, proc.stderr
    written = pacsv.read_csv(out)
    given = pacsv.read_csv(data)
    assert written.num_rows == given.num_rows
    assert written.column_names[:given.num_columns] == given.column_names
    expected = open_table_predictor(lib, runs["species"]).prediction_columns(given)
    assert written.column("predicted species").to_pylist() == expected["predicted species"].tolist()
    np.testing.assert_allclose(written.column("P(Gentoo)").to_numpy(), expected["P(Gentoo)"], atol=1e-6)
    summary = studio(home, "predict", runs["species"], data, "--out", tmp_path / "again.csv", "--json")
    assert summary.returncode == 0, summary.stderr
    line = json.loads(summary.stdout)
    assert line["kind"] == "table" and line["rows"] == given.num_rows and "predicted species" in line["columns"]
    printed = studio(home, "predict", runs["species"], data)  # no --out: the same CSV on stdout
    assert printed.returncode == 0, printed.stderr
    rows = list(csv.DictReader(printed.stdout.splitlines()))
    assert [r["predicted species"] for r in rows] == expected["predicted species"].tolist()


def test_cli_predict_names_a_missing_column(table_home, tmp_path):
    home, runs = table_home
    data = tmp_path / "bad.csv"
    data.write_text("island,sex\nBiscoe,male\nDream,female\n")
    proc = studio(home, "predict", runs["species"], data)
    assert proc.returncode != 0
    assert "bill_length_mm" in proc.stderr and "Traceback" not in proc.stderr


class _Payload:
    """A pickle that would create a file when unpickled."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_a_planted_pickle_model_file_is_refused_and_never_unpickled(table_home, lib, tmp_path):
    home, runs = table_home
    from studio.train.run_files import run_dir

    source = run_dir(lib, runs["species"])
    planted_run = _copy_run(lib, runs["species"])
    folder = run_dir(lib, planted_run)
    shutil.copytree(source, folder)
    marker = tmp_path / "pwned"
    (folder / "model.safetensors").write_bytes(pickle.dumps(_Payload(marker)))
    data = held_out_csv(lib, runs["species"], tmp_path / "rows.csv")
    for args in (("predict", planted_run, data), ("export", planted_run, "--format", "onnx", "-o", tmp_path / "x.onnx")):
        proc = studio(home, *args)
        assert proc.returncode != 0
        assert "Traceback" not in proc.stderr and proc.stderr.strip()
    assert not marker.exists()


def _copy_run(lib, run_id: int) -> int:
    from studio.store.models import Run

    with lib.transaction() as s:
        original = s.get(Run, run_id)
        run = Run(dataset_id=original.dataset_id, name="planted", model=original.model, status=original.status,
                  classes=list(original.classes), epoch=original.epoch)
        s.add(run)
        s.flush()
        return run.id


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_the_librarys_own_table_export_predicts_as_its_run(table_home, lib, fmt, tmp_path):
    from studio.export.predictor import open_predictor

    run_id = table_home[1]["species"]
    report = export_run(lib, run_id, fmt, tmp_path / f"penguins{'.onnx' if fmt == 'onnx' else '.pt'}")
    played = open_predictor(report.path, lib)  # what Play opens for "Export ... of run N"
    assert played.kind == "table" and played.runtime in ("onnxruntime", "TorchScript")
    rows = run_table_dataset(lib, run_id).table
    expected = open_table_predictor(lib, run_id).prediction_columns(rows)
    got = played.prediction_columns(rows)
    assert got["predicted species"].tolist() == expected["predicted species"].tolist()
    np.testing.assert_allclose(got["P(Adelie)"], expected["P(Adelie)"], atol=1e-5)


def test_a_table_export_from_elsewhere_given_as_an_image_model_says_what_it_is(table_home, lib, tmp_path):
    from studio.core.errors import InvalidInputError
    from studio.export.predictor import open_predictor

    report = export_run(lib, table_home[1]["species"], "onnx", tmp_path / "penguins.onnx")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    for file in (report.path, report.card_path):
        shutil.copy(file, elsewhere)
    with pytest.raises(InvalidInputError, match="export of a table model"):
        open_predictor(elsewhere / "penguins.onnx", lib)


def test_exporting_again_to_the_default_place_replaces_its_own_files(table_home, lib):
    run_id = table_home[1]["progression"]
    first = export_run(lib, run_id, "torchscript")
    second = export_run(lib, run_id, "torchscript")  # the card and example it wrote are its own: no --force
    assert first.path == second.path and second.ok
    assert Path(second.example_path).read_text().startswith('"""Predictions for the rows of a CSV with model.pt')


def test_importing_a_table_export_as_a_model_is_refused_in_one_line(table_home, tmp_path):
    home, runs = table_home
    exported = tmp_path / "penguins.onnx"
    assert studio(home, "export", runs["species"], "--format", "onnx", "-o", exported).returncode == 0
    proc = studio(home, "models", "import", exported)
    assert proc.returncode != 0
    assert "export of a table model" in proc.stderr and "Traceback" not in proc.stderr
