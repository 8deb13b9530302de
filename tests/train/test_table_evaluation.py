"""Evaluating table runs on real tables in a library: the Palmer penguins (species: classes; body
mass and flipper length: two numeric targets) and scikit-learn's diabetes table (one numeric
target). Every score is checked against scikit-learn's metrics on the same predictions, and every
listed row against the table itself."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from sklearn import metrics
from table_evaluation_runs import add_table_library, add_table_run

from studio.core.errors import InvalidInputError
from studio.data.tables.dataset import (
    add_demo_table,
    load_table_dataset,
    resplit,
    set_cells,
)
from studio.store.library import Library
from studio.store.models import Run
from studio.train.evaluate import evaluate_run
from studio.train.run_files import run_dir
from studio.train.tables import predict_table
from studio.train.tables.artifacts import load_table_model
from studio.train.tables.evaluation import (
    LARGEST_ERRORS,
    TableEvaluation,
    evaluate_table_run,
)


@pytest.fixture(scope="module")
def table_library(tmp_path_factory):
    """species (penguins), progression (diabetes), sizes (penguins' mass + flipper length): one run each."""
    lib, runs = add_table_library(tmp_path_factory.mktemp("table_evaluation"))
    yield lib, runs
    lib.close()


def run_summary(lib: Library, run_id: int) -> dict:
    with lib.session() as s:
        return dict(s.get(Run, run_id).summary)


def predicted_by_the_model(lib: Library, result: TableEvaluation) -> dict[str, np.ndarray]:
    """The run's model on the scored rows, through the studio's predict path (not evaluation's)."""
    parts = load_table_model(run_dir(lib, result.run_id))
    return predict_table(parts.model, parts.encoder, result.table.take(pa.array(result.rows)))


def test_classification_scores_equal_sklearn_on_the_same_predictions(table_library):
    lib, runs = table_library
    result = evaluate_run(lib, runs["species"], "test")
    assert isinstance(result, TableEvaluation) and result.task == "classification" and not result.targets
    dataset = load_table_dataset(lib, result.dataset_id)
    test_rows = dataset.rows("test")
    assert result.split_rows == len(test_rows) and result.rows.tolist() == test_rows.tolist()
    truth = np.array(dataset.table.column("species").take(pa.array(result.rows)).to_pylist())
    predicted = predicted_by_the_model(lib, result)["species"]
    evaluation = result.classification
    classes = evaluation.classes
    assert classes == ["Adelie", "Chinstrap", "Gentoo"] and evaluation.labelled == len(test_rows)
    assert evaluation.accuracy == pytest.approx(metrics.accuracy_score(truth, predicted), abs=1e-6)
    assert evaluation.accuracy > 0.8  # a trained model, not chance
    assert evaluation.accuracy == pytest.approx(run_summary(lib, result.run_id)["test"]["accuracy"], abs=1e-6)
    precision, recall, f1, support = metrics.precision_recall_fscore_support(truth, predicted, labels=classes,
                                                                             zero_division=0)
    for i, row in enumerate(evaluation.per_class):
        assert row["class"] == classes[i] and row["support"] == support[i]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((precision[i], recall[i], f1[i]), abs=1e-6)
    np.testing.assert_array_equal(evaluation.confusion, metrics.confusion_matrix(truth, predicted, labels=classes))


def test_confusion_cells_and_mistakes_list_the_rows(table_library):
    lib, runs = table_library
    result = evaluate_table_run(lib, runs["species"], "all")
    evaluation = result.classification
    species = result.table.column("species").to_pylist()
    parts = load_table_model(run_dir(lib, result.run_id))
    listed = []
    for (true_index, predicted_index), rows in evaluation.cells.items():
        assert len(rows) == evaluation.confusion[true_index, predicted_index]
        assert {species[row] for row in rows} == {evaluation.classes[true_index]}
        predicted = predict_table(parts.model, parts.encoder, result.table.take(pa.array(rows)))["species"]
        assert set(predicted) == {evaluation.classes[predicted_index]}
        listed += rows
    assert sorted(listed) == result.rows.tolist() == list(range(result.table.num_rows))
    mistakes = evaluation.mistakes
    assert len(mistakes) == len(result.rows) - np.trace(evaluation.confusion)
    assert [m.confidence for m in mistakes] == sorted((m.confidence for m in mistakes), reverse=True)
    for mistake in mistakes:
        assert species[mistake.sample_id] == mistake.true_class != mistake.predicted_class
    row = int(result.rows[5])
    assert result.row_values(row) == {name: result.table.column(name)[row].as_py() for name in result.columns}


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


def test_one_numeric_target_errors_in_its_units_equal_sklearn(table_library):
    lib, runs = table_library
    result = evaluate_run(lib, runs["progression"], "test")
    assert result.task == "regression" and result.classification is None
    assert [t.name for t in result.targets] == result.target_names == ["progression"]
    assert result.rows.tolist() == load_table_dataset(lib, result.dataset_id).rows("test").tolist()
    check_target(result.targets[0], result.rows, result.table, predicted_by_the_model(lib, result))
    assert result.targets[0].r2 > 0.2  # a real fit: better than predicting the mean
    scored_by_training = run_summary(lib, result.run_id)["test"]  # the scores training recorded
    target = result.targets[0]
    assert (target.mae, target.rmse, target.r2) == pytest.approx(
        (scored_by_training["mae"], scored_by_training["rmse"], scored_by_training["r2"]), rel=1e-5)
    out = result.to_dict()
    assert (out["kind"], out["task"], out["targets"][0]["mae"]) == ("table", "regression", result.targets[0].mae)
    assert len(out["targets"][0]["largest_errors"]) == 10


def test_two_numeric_targets_skip_rows_missing_either(table_library):
    lib, runs = table_library
    result = evaluate_table_run(lib, runs["sizes"], "all")
    mass, flipper = (result.table.column(name).to_pylist() for name in ("body_mass_g", "flipper_length_mm"))
    present = [i for i, (a, b) in enumerate(zip(mass, flipper)) if a is not None and b is not None]
    assert result.split_rows == result.table.num_rows and result.rows.tolist() == present
    assert len(present) < result.table.num_rows  # the real table has penguins that were never measured
    assert [t.name for t in result.targets] == ["flipper_length_mm", "body_mass_g"]  # the table's order
    predicted_all = predicted_by_the_model(lib, result)
    for target in result.targets:
        check_target(target, result.rows, result.table, predicted_all)


def test_an_edited_target_is_evaluated_as_it_is_now(table_library):
    """The user's corrections count: a test row given another value is scored against it."""
    lib, runs = table_library
    before = evaluate_table_run(lib, runs["progression"], "test")
    row = int(before.rows[0])
    previous = set_cells(lib, before.dataset_id, [(row, "progression", 1000)])
    try:
        after = evaluate_table_run(lib, runs["progression"], "test")
    finally:
        set_cells(lib, before.dataset_id, previous)
    target = after.targets[0]
    assert target.actual[0] == 1000.0 and target.largest[0].row == row
    assert target.mae > before.targets[0].mae


def test_a_missing_class_target_is_counted_but_not_scored(table_library):
    lib, runs = table_library
    before = evaluate_table_run(lib, runs["species"], "test")
    blanked = [int(r) for r in before.rows[:3]]
    previous = set_cells(lib, before.dataset_id, [(r, "species", None) for r in blanked])
    try:
        after = evaluate_table_run(lib, runs["species"], "test")
    finally:
        set_cells(lib, before.dataset_id, previous)
    assert after.split_rows == before.split_rows and not set(blanked) & set(after.rows.tolist())
    assert after.classification.labelled == int(after.classification.confusion.sum()) == before.split_rows - 3


def test_unknown_split_is_refused_in_words(table_library):
    lib, runs = table_library
    with pytest.raises(InvalidInputError, match="unknown split 'unlabelled' for a table"):
        evaluate_run(lib, runs["progression"], "unlabelled")


def test_validation_rows_held_out_of_train_are_the_val_split(tmp_path):
    """A table split into train and test only: the run validated on rows it held out of train, and
    evaluating on "val" scores exactly those (as many as the run's card says it validated on)."""
    lib = Library.open(tmp_path / "library")
    try:
        dataset_id = add_demo_table(lib, "penguins", "penguins")
        resplit(lib, dataset_id, (0.9, 0.0, 0.1))
        run_id = add_table_run(lib, dataset_id, "no validation split")
        result = evaluate_table_run(lib, run_id, "val")
        train = evaluate_table_run(lib, run_id, "train")
        card = load_table_model(run_dir(lib, run_id)).card
        dataset = load_table_dataset(lib, dataset_id)
    finally:
        lib.close()
    assert len(dataset.rows("val")) == 0
    assert len(result.rows) == card.dataset["rows"]["val"] > 0
    assert len(train.rows) == card.dataset["rows"]["train"]
    assert set(result.rows.tolist()) | set(train.rows.tolist()) == set(dataset.rows("train").tolist())
    assert not set(result.rows.tolist()) & set(train.rows.tolist())


def test_a_table_without_test_rows_says_what_to_do(tmp_path):
    """XOR's four rows are all for training: evaluating on test says so and what to choose instead."""
    lib = Library.open(tmp_path / "library")
    try:
        run_id = add_table_run(lib, add_demo_table(lib, "xor", "xor"), "xor")
        with pytest.raises(InvalidInputError, match=r"'xor' has no test rows \(evaluate on all rows"):
            evaluate_table_run(lib, run_id, "test")
        everything = evaluate_table_run(lib, run_id, "all")
    finally:
        lib.close()
    assert everything.classification.labelled == 4 and everything.classification.confusion.sum() == 4


def test_evaluation_reports_progress_and_can_be_cancelled(table_library, monkeypatch):
    """Predicting goes a chunk at a time: each chunk reports progress, and a cancel stops it."""
    from studio.core.errors import Cancelled
    from studio.core.jobs import JobState
    from studio.train.tables import evaluation

    lib, runs = table_library
    monkeypatch.setattr(evaluation, "PREDICT_CHUNK", 100)  # the 442 diabetes rows in five chunks
    messages = []

    class Recording(JobState):
        def set_progress(self, fraction, message=None):
            messages.append(message)
            if message and message.startswith("predicting row 201 "):
                self.cancel()
            super().set_progress(fraction, message)

    with pytest.raises(Cancelled):
        evaluate_table_run(lib, runs["progression"], "all", state=Recording())
    assert [m for m in messages if m and m.startswith("predicting")] == [
        "predicting row 1 of 442", "predicting row 101 of 442", "predicting row 201 of 442"]
    whole = evaluate_table_run(lib, runs["progression"], "all", state=JobState())
    assert len(whole.rows) == len(whole.targets[0].predicted) == 442
