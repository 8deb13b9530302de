"""`studio evaluate RUN` for table runs, as a user scripts it: the printed report and --json."""

from __future__ import annotations

import json

import pytest
from table_evaluation_runs import add_table_library

from studio.cli import main
from studio.train.tables.evaluation import evaluate_table_run


@pytest.fixture(scope="module")
def table_home(tmp_path_factory):
    folder = tmp_path_factory.mktemp("table_evaluation_cli")
    lib, runs = add_table_library(folder)
    results = {name: evaluate_table_run(lib, run_id, "test") for name, run_id in runs.items()}
    lib.close()
    return folder / "library", runs, results


def test_json_gives_each_target_its_errors(table_home, capsys):
    home, runs, results = table_home
    assert main(["--home", str(home), "evaluate", str(runs["sizes"]), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    expected = results["sizes"]
    assert (out["kind"], out["task"], out["split"]) == ("table", "regression", "test")
    assert out["samples"] == expected.split_rows and out["scored"] == len(expected.rows)
    assert [t["name"] for t in out["targets"]] == ["flipper_length_mm", "body_mass_g"]
    for printed, target in zip(out["targets"], expected.targets):
        assert (printed["mae"], printed["rmse"], printed["r2"]) == pytest.approx((target.mae, target.rmse, target.r2))
        assert [e["row"] for e in printed["largest_errors"]] == [e.row for e in target.largest[:10]]


def test_json_for_classes_has_the_image_keys(table_home, capsys):
    home, runs, results = table_home
    assert main(["--home", str(home), "evaluate", str(runs["species"]), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    expected = results["species"].classification
    assert out["classes"] == ["Adelie", "Chinstrap", "Gentoo"] and out["task"] == "classification"
    assert out["accuracy"] == expected.accuracy and out["confusion_matrix"] == expected.confusion.tolist()
    assert out["per_class"] == expected.per_class


def test_printed_report_names_targets_rows_and_errors(table_home, capsys):
    home, runs, results = table_home
    assert main(["--home", str(home), "evaluate", str(runs["progression"])]) == 0
    text = capsys.readouterr().out
    target = results["progression"].targets[0]
    assert f"{results['progression'].split_rows} rows" in text
    assert f"{target.mae:12.4g}" in text and f"{target.r2:8.4f}" in text
    worst = target.largest[0]
    assert f"row {worst.row + 1}: actual {worst.actual:.6g}, predicted {worst.predicted:.6g}" in text
    assert "predictions stored" not in text  # nothing is stored for a table


def test_printed_class_report_lists_mistaken_rows(table_home, capsys):
    home, runs, results = table_home
    assert main(["--home", str(home), "evaluate", str(runs["species"])]) == 0
    text = capsys.readouterr().out
    expected = results["species"].classification
    assert f"accuracy {expected.accuracy:.4f} ({expected.labelled} labelled)" in text
    for name, counts in zip(expected.classes, expected.confusion.tolist()):
        assert f"{name:>12s} " + " ".join(f"{c:5d}" for c in counts) in text
    for mistake in expected.mistakes[:5]:
        assert f"row {mistake.sample_id + 1}: labelled {mistake.true_class}, predicted {mistake.predicted_class}" in text


def test_a_split_tables_lack_is_one_clear_line(table_home, capsys):
    home, runs, _ = table_home
    assert main(["--home", str(home), "evaluate", str(runs["species"]), "--split", "unlabelled"]) != 0
    assert "unknown split 'unlabelled' for a table" in capsys.readouterr().err
