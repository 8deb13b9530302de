"""Evaluate page, table runs, as a user goes: open Evaluate, pick a regression run, Evaluate; see
the errors per target, the predicted-vs-actual scatter and the residual histogram; click a
largest-error row (or a point) and see that row's values, then open it on the Datasets page. A classification run keeps the
per-class table and confusion matrix, and a clicked cell lists its rows."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import QPointF, Qt

sys.path.insert(0, str(Path(__file__).parents[2] / "train"))  # the table runs the engine tests use
from table_evaluation_runs import add_table_library, add_table_run
from train_gui_helpers import main_window_at_1280x800

from studio.data.tables.dataset import add_demo_table
from studio.store.library import Library

pytestmark = pytest.mark.gui
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def table_runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("table_evaluate")
    lib, runs = add_table_library(folder)
    runs["xor"] = add_table_run(lib, add_demo_table(lib, "xor", "xor"), "xor")  # four rows, all for training
    lib.close()
    return folder / "library", runs


@pytest.fixture
def evaluate_page(qtbot, table_runs):
    from studio.ui.training.evaluate_page import EvaluatePage

    home, runs = table_runs
    lib = Library.open(home)
    opened: list[tuple[int, int]] = []
    page = EvaluatePage(lib, show_row=lambda dataset_id, row: opened.append((dataset_id, row)))
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()
    qtbot.waitExposed(page)
    qtbot.waitUntil(lambda: page.run_combo.count() == len(runs), timeout=30_000)
    yield page, runs, opened
    page.shutdown()
    lib.close()


def evaluate(qtbot, page, run_id: int, split: str = "test"):
    page.run_combo.setCurrentIndex(page.run_combo.findData(run_id))
    page.split_combo.setCurrentIndex(page.split_combo.findData(split))
    qtbot.waitUntil(page.evaluate_button.isEnabled, timeout=WAIT_MS)
    qtbot.mouseClick(page.evaluate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.result is not None and page.result.run_id == run_id and page.result.split == split,
                    timeout=WAIT_MS)
    return page.result


def click_line(qtbot, table, line: int, column: int = 0) -> None:
    item = table.item(line, column)
    qtbot.waitUntil(lambda: table.viewport().rect().contains(table.visualItemRect(item).center()), timeout=5_000)
    rect = table.visualItemRect(item)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def panel_values(panel) -> dict[str, str]:
    return {panel.values.item(i, 0).text(): panel.values.item(i, 1).text() for i in range(panel.values.rowCount())}


def expected_values(result, row: int) -> dict[str, str]:
    from studio.ui.training.table_evaluation import value_text

    return {name: value_text(value) for name, value in result.row_values(row).items()}


def test_user_evaluates_a_regression_run_and_opens_its_worst_row(qtbot, table_runs, tmp_path, artifacts):
    home, runs = table_runs
    with main_window_at_1280x800(qtbot, Library.open(home), tmp_path / "s.ini") as window:
        window.show_page("evaluate")
        page = window.training.evaluate
        qtbot.waitUntil(lambda: page.run_combo.findData(runs["progression"]) >= 0, timeout=30_000)
        result = evaluate(qtbot, page, runs["progression"])
        view = page.table_view
        assert view.isVisible() and not page.class_view.isVisible() and not page.gallery_view.isVisible()
        target = result.targets[0]
        assert f"Run {result.run_id} on {result.split_rows} test rows" in page.summary.text()
        assert "progression: MAE" in page.summary.text() and f"R² {target.r2:.3f}" in page.summary.text()
        assert view.errors.rowCount() == 1 and view.errors.item(0, 1).text() == f"{target.mae:.4g}"
        # the scatter holds every test row, at (actual, predicted); the histogram counts them all
        xs, ys = view.plots.points.getData()
        np.testing.assert_allclose(xs, target.actual)
        np.testing.assert_allclose(ys, target.predicted)
        _edges, counts = view.plots.bars.getData()
        assert counts.sum() == len(result.rows) == len(target.residuals)
        worst = target.largest[0]
        assert view.largest_rows.rowCount() == len(target.largest)
        assert view.largest_rows.item(0, 0).text() == str(worst.row + 1)  # numbered as on the Datasets page
        window.grab().save(str(artifacts / "evaluate_table_regression.png"))  # the window, 1280x800

        click_line(qtbot, view.largest_rows, 0)
        assert view.panel.title() == f"Row {worst.row + 1}"
        assert panel_values(view.panel) == expected_values(result, worst.row)
        assert f"actual {worst.actual:.6g}, predicted {worst.predicted:.6g}\nerror" in view.panel.note.text()
        marked_x, marked_y = view.plots.marker.getData()
        assert (marked_x[0], marked_y[0]) == pytest.approx((worst.actual, worst.predicted))
        note = view.panel.note
        qtbot.waitUntil(lambda: note.height() >= note.sizeHint().height(), timeout=5_000)  # laid out
        page.grab().save(str(artifacts / "evaluate_table_regression_row.png"))

        # "Show in Datasets": the table open on the Datasets page, its row selected
        qtbot.mouseClick(view.panel.open_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.current_page_key() == "datasets", timeout=5_000)
        browser = window.datasets.table_browser
        qtbot.waitUntil(lambda: browser.view.currentIndex().isValid(), timeout=WAIT_MS)
        assert window.datasets.current_id == result.dataset_id
        assert browser.view.currentIndex().row() == browser.model.view_row(worst.row)
        window.grab().save(str(artifacts / "evaluate_table_row_in_datasets.png"))


def test_two_targets_switch_plots_and_a_point_click_opens_its_row(qtbot, evaluate_page):
    page, runs, opened = evaluate_page
    result = evaluate(qtbot, page, runs["sizes"], "all")
    view = page.table_view
    assert [view.errors.item(i, 0).text() for i in range(2)] == ["flipper_length_mm", "body_mass_g"]
    click_line(qtbot, view.errors, 1)
    mass = result.targets[1]
    xs, _ys = view.plots.points.getData()
    np.testing.assert_allclose(xs, mass.actual)
    assert view.largest_rows.item(0, 0).text() == str(mass.largest[0].row + 1)
    assert view.largest_box.title() == "Largest errors in body_mass_g"

    # a click on a point of the scatter opens that row
    at = len(result.rows) // 2
    plot = view.plots.scatter
    qtbot.waitUntil(lambda: plot.height() > 200, timeout=5_000)  # laid out: pixels map to values
    scene = plot.getPlotItem().getViewBox().mapViewToScene(QPointF(mass.actual[at], mass.predicted[at]))
    qtbot.mouseClick(plot.viewport(), Qt.MouseButton.LeftButton, pos=plot.mapFromScene(scene))
    qtbot.waitUntil(lambda: view.panel.row is not None, timeout=5_000)
    chosen = view.panel.row
    position = int(np.searchsorted(result.rows, chosen))
    assert abs(mass.actual[position] - mass.actual[at]) < 0.02 * np.ptp(mass.actual)  # the point under the mouse
    assert panel_values(view.panel) == expected_values(result, chosen)
    click_line(qtbot, view.panel.values, 0)  # reading is allowed, editing is not
    assert view.panel.open_button.isVisible()
    qtbot.mouseClick(view.panel.open_button, Qt.MouseButton.LeftButton)
    assert opened == [(result.dataset_id, chosen)]


def test_classification_cell_lists_its_rows_then_a_regression_run_hides_the_matrix(qtbot, evaluate_page, artifacts):
    page, runs, _ = evaluate_page
    result = evaluate(qtbot, page, runs["species"], "all")
    evaluation = result.classification
    assert page.class_view.isVisible() and page.table_view.isVisible() and not page.gallery_view.isVisible()
    assert page.per_class.rowCount() == 3 and page.per_class.horizontalHeaderItem(4).text() == "Rows"
    assert f"accuracy {evaluation.accuracy:.1%}" in page.summary.text()
    true_index = predicted_index = 0
    rect = page.matrix.visualItemRect(page.matrix.item(true_index, predicted_index))
    qtbot.mouseClick(page.matrix.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    rows = evaluation.cells[(true_index, predicted_index)]
    view = page.table_view
    assert view.cell_rows.rows == rows[:200]
    assert f"True Adelie, predicted Adelie: {len(rows)} rows" in view.cell_title.text()
    species_column = 1 + result.columns.index("species")
    assert {view.cell_rows.item(i, species_column).text() for i in range(view.cell_rows.rowCount())} == {"Adelie"}
    click_line(qtbot, view.cell_rows, 2)
    assert view.panel.row == rows[2] and view.panel.note.text() == "true Adelie\npredicted Adelie"
    assert panel_values(view.panel) == expected_values(result, rows[2])
    assert view.mistake_rows.rows == [m.sample_id for m in evaluation.mistakes[:200]]
    if evaluation.mistakes:  # true and predicted class, confidence, then the row's other values
        first = evaluation.mistakes[0]
        cells = [view.mistake_rows.item(0, c).text() for c in range(view.mistake_rows.columnCount())]
        others = [v for k, v in expected_values(result, first.sample_id).items() if k != "species"]
        assert cells == [str(first.sample_id + 1), first.true_class, first.predicted_class,
                         f"{first.confidence:.1%}", *others]
    assert f"Run {result.run_id} on all {result.table.num_rows} rows: accuracy" in page.summary.text()
    qtbot.waitUntil(lambda: view.panel.note.height() >= view.panel.note.sizeHint().height(), timeout=5_000)
    page.grab().save(str(artifacts / "evaluate_table_classes.png"))

    evaluate(qtbot, page, runs["progression"])
    assert not page.class_view.isVisible() and view.stack.currentIndex() == 1
    assert view.panel.row is None  # the row of the other run is gone


def test_a_large_test_split_draws_a_sample_of_points_with_every_largest_error(qtbot):
    """100,000 scored rows: the scatter draws an even sample plus every listed largest-error row;
    the histogram still counts every row."""
    import pyarrow as pa

    from studio.train.tables.evaluation import (
        TableEvaluation,
        TargetErrors,
        largest_errors,
    )
    from studio.ui.training.table_evaluation import SCATTER_POINTS, TableEvaluationView

    rng = np.random.default_rng(0)
    count = 100_000
    rows = np.sort(rng.choice(3 * count, count, replace=False))
    actual = rng.normal(50, 10, count)
    predicted = actual + rng.standard_t(3, count)
    target = TargetErrors("y", 1.0, 1.0, 0.9, predicted, actual, largest_errors(rows, predicted, actual))
    table = pa.table({"x": np.arange(3 * count, dtype=np.float64), "y": np.zeros(3 * count)})
    result = TableEvaluation(1, "test", 1, "regression", ["y"], count, rows, table, targets=[target])
    view = TableEvaluationView()
    qtbot.addWidget(view)
    view.show_result(result)
    drawn_rows = set(view.plots.drawn_rows.tolist())
    assert len(view.plots.points.data) == len(drawn_rows)
    assert SCATTER_POINTS <= len(drawn_rows) <= SCATTER_POINTS + len(target.largest)
    assert {e.row for e in target.largest} <= drawn_rows
    _edges, counts = view.plots.bars.getData()
    assert counts.sum() == count
    assert view.largest_rows.rowCount() == len(target.largest)


def test_a_table_without_test_rows_says_what_to_choose(qtbot, evaluate_page):
    page, runs, _ = evaluate_page
    page.run_combo.setCurrentIndex(page.run_combo.findData(runs["xor"]))
    page.split_combo.setCurrentIndex(page.split_combo.findData("test"))
    qtbot.mouseClick(page.evaluate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.summary.text().startswith("Could not evaluate"), timeout=WAIT_MS)
    assert "'xor' has no test rows (evaluate on all rows" in page.summary.text()
    assert not page.split_hint.isVisible()  # the image split dialog is not offered for a table
    result = evaluate(qtbot, page, runs["xor"], "all")
    assert result.classification.labelled == 4 and page.matrix.rowCount() == 2
