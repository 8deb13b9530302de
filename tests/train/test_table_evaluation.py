"""Evaluating table models on real tables: the Palmer penguins (species: classes; body mass and
flipper length: two numeric targets) and scikit-learn's diabetes table (one numeric target).
Every score is checked against scikit-learn's metrics on the same predictions."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from sklearn import metrics

from studio.data.tables import infer_schema, read_table
from studio.data.tables.demos import DEMO_TABLES
from studio.data.tables.encoding import encode_splits
from studio.data.tables.splits import split_rows
from studio.train.tables import TableTrainSettings, fit_table, predict_table
from studio.train.tables.evaluation import LARGEST_ERRORS, evaluate_table_model

FAST = TableTrainSettings(epochs=25, early_stopping=0)


def penguins() -> pa.Table:
    return read_table(DEMO_TABLES["penguins"].path)


def diabetes() -> pa.Table:
    from sklearn.datasets import load_diabetes

    data = load_diabetes(scaled=False)
    columns = {name: data.data[:, i] for i, name in enumerate(data.feature_names)}
    return pa.table({**columns, "progression": data.target})


def trained(table: pa.Table, targets: list[str]):
    """A model fitted on the train rows (as a run does) and the test rows."""
    schema = infer_schema(table, targets=targets)
    splits = split_rows(table, schema)
    rows = {name: np.flatnonzero(splits == code) for code, name in enumerate(("train", "val", "test"))}
    encoder, (train, val) = encode_splits(table, schema, rows["train"], rows["val"])
    model = fit_table(encoder, train, val, FAST).model
    return model, encoder, rows["test"]


@pytest.fixture(scope="module")
def species_result():
    table = penguins()
    model, encoder, test_rows = trained(table, ["species"])
    result = evaluate_table_model(model, encoder, table, test_rows, run_id=1, split="test", dataset_id=1)
    return result, model, encoder, table, test_rows


def test_classification_scores_equal_sklearn_on_the_same_predictions(species_result):
    result, model, encoder, table, test_rows = species_result
    evaluation = result.classification
    assert result.task == "classification" and not result.targets
    truth_names = np.array(table.column("species").take(pa.array(result.rows)).to_pylist())
    predicted_names = predict_table(model, encoder, table.take(pa.array(result.rows)))["species"]
    classes = evaluation.classes
    assert classes == ["Adelie", "Chinstrap", "Gentoo"]
    assert evaluation.samples == len(test_rows) == result.split_rows
    assert evaluation.labelled == len(result.rows) == len(test_rows)  # every penguin has a species
    assert evaluation.accuracy == pytest.approx(metrics.accuracy_score(truth_names, predicted_names), abs=1e-6)
    precision, recall, f1, support = metrics.precision_recall_fscore_support(
        truth_names, predicted_names, labels=classes, zero_division=0)
    for i, row in enumerate(evaluation.per_class):
        assert row["class"] == classes[i] and row["support"] == support[i]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((precision[i], recall[i], f1[i]), abs=1e-6)
    np.testing.assert_array_equal(evaluation.confusion, metrics.confusion_matrix(truth_names, predicted_names,
                                                                                 labels=classes))


def test_confusion_cells_list_the_rows_that_fell_in_them(species_result):
    result, model, encoder, table, _ = species_result
    evaluation = result.classification
    species = table.column("species").to_pylist()
    listed = []
    for (true_index, predicted_index), rows in evaluation.cells.items():
        assert len(rows) == evaluation.confusion[true_index, predicted_index]
        assert {species[row] for row in rows} == {evaluation.classes[true_index]}
        predicted = predict_table(model, encoder, table.take(pa.array(rows)))["species"]
        assert set(predicted) == {evaluation.classes[predicted_index]}
        listed += rows
    assert sorted(listed) == result.rows.tolist()
    mistakes = evaluation.mistakes
    assert len(mistakes) == len(result.rows) - np.trace(evaluation.confusion)
    assert [m.confidence for m in mistakes] == sorted((m.confidence for m in mistakes), reverse=True)
    for mistake in mistakes:
        assert species[mistake.sample_id] == mistake.true_class != mistake.predicted_class
    assert result.row_values(int(result.rows[0]))["species"] == species[int(result.rows[0])]


def test_rows_without_a_target_are_counted_but_not_scored():
    table = penguins()
    model, encoder, test_rows = trained(table, ["species"])
    species = table.column("species").to_pylist()
    blanked = [None if i in set(test_rows[:3].tolist()) else value for i, value in enumerate(species)]
    edited = table.set_column(table.column_names.index("species"), "species", pa.array(blanked, pa.string()))
    result = evaluate_table_model(model, encoder, edited, test_rows, run_id=1, split="test", dataset_id=1)
    assert result.split_rows == len(test_rows) and len(result.rows) == len(test_rows) - 3
    assert result.classification.labelled == len(test_rows) - 3
    assert int(result.classification.confusion.sum()) == len(test_rows) - 3


def check_target(target, rows: np.ndarray, table: pa.Table, predicted_all: dict[str, np.ndarray]) -> None:
    """MAE/RMSE/R² as sklearn computes them from the same predictions; actual = the table's values."""
    actual = np.asarray(table.column(target.name).take(pa.array(rows)).to_pylist(), dtype=np.float64)
    np.testing.assert_array_equal(target.actual, actual)
    np.testing.assert_allclose(target.predicted, predicted_all[target.name], rtol=1e-5)
    assert target.mae == pytest.approx(metrics.mean_absolute_error(actual, target.predicted), rel=1e-9)
    assert target.rmse == pytest.approx(np.sqrt(metrics.mean_squared_error(actual, target.predicted)), rel=1e-9)
    assert target.r2 == pytest.approx(metrics.r2_score(actual, target.predicted), rel=1e-9)
    np.testing.assert_allclose(target.residuals, target.predicted - actual)
    errors = np.abs([e.error for e in target.largest])
    assert len(target.largest) == min(LARGEST_ERRORS, len(rows))
    assert errors[0] == pytest.approx(np.abs(target.residuals).max())
    assert np.all(np.diff(errors) <= 0)
    for entry in target.largest[:5]:
        assert entry.actual == table.column(target.name)[entry.row].as_py()
        assert entry.error == pytest.approx(entry.predicted - entry.actual)


def test_one_numeric_target_errors_in_its_units_equal_sklearn():
    table = diabetes()
    model, encoder, test_rows = trained(table, ["progression"])
    result = evaluate_table_model(model, encoder, table, test_rows, run_id=2, split="test", dataset_id=3)
    assert result.task == "regression" and result.classification is None
    assert [t.name for t in result.targets] == ["progression"]
    assert result.rows.tolist() == sorted(test_rows.tolist())
    predicted_all = predict_table(model, encoder, table.take(pa.array(result.rows)))
    check_target(result.targets[0], result.rows, table, predicted_all)
    assert result.targets[0].r2 > 0.2  # a real fit: better than predicting the mean
    out = result.to_dict()
    assert out["task"] == "regression" and out["targets"][0]["mae"] == result.targets[0].mae
    assert len(out["targets"][0]["largest_errors"]) == 10


def test_two_numeric_targets_skip_rows_missing_either():
    table = penguins()
    model, encoder, _ = trained(table, ["body_mass_g", "flipper_length_mm"])
    everything = np.arange(table.num_rows)
    result = evaluate_table_model(model, encoder, table, everything, run_id=3, split="all", dataset_id=1)
    present = [i for i, (a, b) in enumerate(zip(table.column("body_mass_g").to_pylist(),
                                                 table.column("flipper_length_mm").to_pylist()))
               if a is not None and b is not None]
    assert result.split_rows == table.num_rows and result.rows.tolist() == present
    assert len(present) < table.num_rows  # the real table has penguins that were never measured
    assert [t.name for t in result.targets] == ["flipper_length_mm", "body_mass_g"]  # the table's order
    predicted_all = predict_table(model, encoder, table.take(pa.array(result.rows)))
    for target in result.targets:
        check_target(target, result.rows, table, predicted_all)
