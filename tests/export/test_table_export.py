"""Table models exported as ONNX and TorchScript that take raw column values: the file, loaded
by its own runtime in a fresh process, gives the studio's predictions on held-out rows (penguins:
class probabilities; diabetes: values in the target's units); the example script beside it
reads a CSV and prints the same predictions; the card states the input convention."""

from __future__ import annotations

import copy
import csv
import json
import subprocess
import sys

import numpy as np
import pyarrow.csv as pacsv
import pytest
import torch
from table_models import diabetes, mixed_csv, penguins, train_table

from studio.export import tables
from studio.export.parity import MAX_PROB_DIFF
from studio.export.table_examples import write_table_example
from studio.export.table_model import TablePredictor
from studio.train.tables.raw_model import raw_inputs

pytest.importorskip("onnxruntime")
SUFFIX = {"onnx": ".onnx", "torchscript": ".pt"}


@pytest.fixture(scope="module")
def penguin_model():
    return train_table(penguins(), ["species"])


@pytest.fixture(scope="module")
def diabetes_model():
    return train_table(diabetes(), ["progression"])


def export(trained, fmt, folder):
    """Write the graph, its card and its example as export_table_run does."""
    predictor = TablePredictor(trained.parts, "run")
    raw = tables.export_graph(predictor)
    inputs = tuple(torch.as_tensor(a) for a in raw_inputs(predictor.encoder, tables.made_up_rows(predictor, 8, 1)))
    path = folder / f"model{SUFFIX[fmt]}"
    writer = tables.write_table_onnx if fmt == "onnx" else tables.write_table_torchscript
    writer(raw, predictor, inputs, path)
    card = tables.write_table_card(predictor, fmt, path, path.with_suffix(".json"))
    example = write_table_example(fmt, path, card, predictor)
    return predictor, path, example


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_penguin_export_gives_the_studios_probabilities_on_test_rows(penguin_model, fmt, tmp_path):
    predictor, path, _ = export(penguin_model, fmt, tmp_path)
    test_rows = penguin_model.rows("test")
    report = tables.check_table_parity(predictor, fmt, path, "test", test_rows)
    assert report["ok"], report
    assert report["n"] == test_rows.num_rows and report["split"] == "test"
    assert report["agreement"] == 1.0 and report["max_prob_diff"] < MAX_PROB_DIFF
    assert report["studio_loaded"] is False  # the file ran on its runtime alone


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_diabetes_export_gives_values_in_the_targets_units(diabetes_model, fmt, tmp_path):
    predictor, path, _ = export(diabetes_model, fmt, tmp_path)
    test_rows = diabetes_model.rows("test")
    report = tables.check_table_parity(predictor, fmt, path, "test", test_rows)
    assert report["ok"], report
    assert report["task"] == "regression" and report["max_scaled_diff"] < tables.MAX_SCALED_DIFF
    values = predictor.outputs(test_rows)[:, 0]
    assert 25 < values.mean() < 350  # disease progression, in its own units (the data spans 25..346)


def test_missing_values_and_unseen_categories_reach_the_same_answer(penguin_model, tmp_path):
    predictor, path, _ = export(penguin_model, "onnx", tmp_path)
    rows = tables.made_up_rows(predictor, 200, seed=7)  # 10% missing per column, some never-seen islands
    assert rows.column("island").null_count > 0
    report = tables.check_table_parity(predictor, "onnx", path, "random", rows)
    assert report["ok"], report


def test_a_file_that_computes_something_else_is_flagged(penguin_model, tmp_path):
    _, path, _ = export(penguin_model, "onnx", tmp_path)
    changed = copy.deepcopy(penguin_model.parts)
    with torch.no_grad():
        changed.model.head.bias += torch.tensor([0.0, 1.0, -1.0])  # the studio now answers differently
    report = tables.check_table_parity(TablePredictor(changed, "changed"), "onnx", path, "test", penguin_model.rows("test"))
    assert report["ok"] is False
    assert report["max_prob_diff"] > MAX_PROB_DIFF


def test_card_states_the_input_convention(penguin_model, tmp_path):
    _, path, _ = export(penguin_model, "onnx", tmp_path)
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["kind"] == "table"
    given = card["export"]["input"]
    assert given["numbers"]["dtype"] == "float64" and given["numbers"]["missing"] == "NaN"
    assert [c["name"] for c in given["numbers"]["columns"]] == ["bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                                                                "body_mass_g", "year"]
    islands = next(c for c in given["categories"]["columns"] if c["name"] == "island")
    assert sorted(islands["values"]) == ["Biscoe", "Dream", "Torgersen"]
    assert "-1 = missing" in given["categories"]["coding"]
    assert card["export"]["output"]["columns"] == ["Adelie", "Chinstrap", "Gentoo"]


def run_example(example, data) -> subprocess.CompletedProcess:
    """The exported example script on a CSV, as a user runs it: a fresh, isolated Python."""
    return subprocess.run([sys.executable, "-I", str(example), str(data)], capture_output=True, text=True,
                          timeout=300, check=False)


def assert_prints_the_studios_classes(proc, predictor, rows, target: str) -> None:
    assert proc.returncode == 0, proc.stderr
    printed = list(csv.DictReader(proc.stdout.splitlines()))
    expected = predictor.prediction_columns(rows)
    assert [r[f"predicted {target}"] for r in printed] == expected[f"predicted {target}"].tolist()
    np.testing.assert_allclose([float(r["probability"]) for r in printed], expected[f"predicted {target} probability"],
                               atol=1e-5)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_example_script_prints_the_studios_predictions_for_a_csv(penguin_model, fmt, tmp_path):
    predictor, _, example = export(penguin_model, fmt, tmp_path)
    test_rows = penguin_model.rows("test")
    data = tmp_path / "new penguins.csv"
    pacsv.write_csv(test_rows, data)
    proc = run_example(example, data)
    assert proc.stderr == ""
    assert_prints_the_studios_classes(proc, predictor, test_rows, "species")


def test_regression_example_prints_values_in_the_targets_units(diabetes_model, tmp_path):
    predictor, _, example = export(diabetes_model, "onnx", tmp_path)
    test_rows = diabetes_model.rows("test")
    data = tmp_path / "patients.csv"
    pacsv.write_csv(test_rows.drop(["progression"]), data)
    proc = run_example(example, data)
    assert proc.returncode == 0, proc.stderr
    printed = [float(r["predicted progression"]) for r in csv.DictReader(proc.stdout.splitlines())]
    np.testing.assert_allclose(printed, predictor.outputs(test_rows)[:, 0], rtol=1e-6)


def test_example_script_names_a_missing_column(penguin_model, tmp_path):
    _, _, example = export(penguin_model, "onnx", tmp_path)
    data = tmp_path / "partial.csv"
    data.write_text("island,sex\nBiscoe,male\n")
    proc = run_example(example, data)
    assert proc.returncode != 0
    assert "no column 'bill_length_mm'" in proc.stderr


def test_yes_no_dates_and_embedded_categories_survive_the_export_and_the_example(tmp_path):
    from studio.data.tables import read_table

    table = read_table(mixed_csv(tmp_path / "mixed.csv"))
    trained = train_table(table, ["label"])
    kinds = {spec["name"]: spec["method"] for spec in trained.parts.encoder.features}
    assert kinds["code"] == "embed" and kinds["colour"] == "one_hot" and kinds["day"] == "datetime"
    predictor, path, example = export(trained, "onnx", tmp_path)
    assert tables.check_table_parity(predictor, "onnx", path, "all", table)["ok"]
    proc = run_example(example, tmp_path / "mixed.csv")
    assert_prints_the_studios_classes(proc, predictor, table, "label")


def test_example_script_reads_a_latin1_tsv(penguin_model, tmp_path):
    predictor, _, example = export(penguin_model, "torchscript", tmp_path)
    rows = penguin_model.rows("test")
    data = tmp_path / "penguins.tsv"
    lines = ["\t".join(rows.column_names + ["note"])]
    for row in rows.to_pylist():
        lines.append("\t".join("" if v is None else str(v) for v in row.values()) + "\tobservé à Palmer")
    data.write_bytes(("\n".join(lines) + "\n").encode("latin-1"))
    proc = run_example(example, data)
    assert proc.returncode == 0, proc.stderr
    printed = [r["predicted species"] for r in csv.DictReader(proc.stdout.splitlines())]
    assert printed == predictor.prediction_columns(rows)["predicted species"].tolist()
