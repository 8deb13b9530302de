"""The Evaluate page's view of a table run (a ``TableEvaluation``).

Classes: the page keeps its per-class table and confusion matrix; here a clicked cell lists its
rows with their values, beside the most confident mistakes. Numbers: per-target errors (a row per
target; choosing one switches the plots), a predicted-vs-actual scatter with the y = x line, a
histogram of the residuals and the rows with the largest errors. Any listed row, or a point of
the scatter, shows that row's values in the side panel ("Show in Datasets" opens it there when
the window offers it).

The plot items are created once; a new result or target only calls ``setData``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.ui.common.plots import PALETTE

if TYPE_CHECKING:
    from studio.train.tables.evaluation import TableEvaluation, TargetErrors

ROWS_SHOWN = 200  # rows listed for a confusion cell or as mistakes / largest errors
SCATTER_POINTS = 10_000  # more evaluated rows than this: an even sample (plus the largest errors) is drawn
HISTOGRAM_BINS = 40  # at most; fewer for few rows (twice the square root of the count)
SPLIT_WORDS = {"test": "test", "val": "validation", "train": "training"}
ShowRow = Callable[[int, int], None]  # (dataset id, row index): open the row on the Datasets page


def value_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def summary_text(result: TableEvaluation) -> str:
    """One line for the page's summary label."""
    which = f"all {result.split_rows:,}" if result.split == "all" else f"{result.split_rows:,} {SPLIT_WORDS[result.split]}"
    head = f"Run {result.run_id} on {which} rows"
    if result.classification is not None:
        evaluation = result.classification
        if evaluation.accuracy is None:
            return f"{head}: no row has a class the model knows."
        mistakes = len(evaluation.mistakes)
        return f"{head}: accuracy {evaluation.accuracy:.1%}, {mistakes} mistake{'' if mistakes == 1 else 's'}."
    if not len(result.rows):
        return f"{head}: no row has its target values."
    scores = ", ".join(f"{t.name}: MAE {t.mae:.4g}, R² {t.r2:.3f}" for t in result.targets)
    return f"{head} ({len(result.rows):,} with targets): {scores}."


class RowList(QTableWidget):
    """Listed rows, one per line: the row index, then the given cells. Choosing a line (click or
    keys) emits the row's index in the dataset."""

    row_chosen = Signal(int)

    def __init__(self, tooltip: str, parent: QWidget | None = None) -> None:
        super().__init__(0, 0, parent)
        self.rows: list[int] = []
        self.setToolTip(tooltip)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.currentCellChanged.connect(self._current_changed)

    def show_rows(self, headers: list[str], rows: list[int], cells: list[list[str]]) -> None:
        self.blockSignals(True)
        self.clear()
        self.rows = list(rows)
        self.setColumnCount(len(headers) + 1)
        self.setHorizontalHeaderLabels(["Row", *headers])
        self.setRowCount(len(rows))
        for line, (row, values) in enumerate(zip(rows, cells)):
            for column, text in enumerate([str(row + 1), *values]):  # numbered from 1, as on the Datasets page
                item = QTableWidgetItem(text)
                if column == 0:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(line, column, item)
        self.resizeColumnsToContents()  # once: a ResizeToContents header re-measures on every item set
        self.blockSignals(False)

    def _current_changed(self, line: int, *_args) -> None:
        if 0 <= line < len(self.rows):
            self.row_chosen.emit(self.rows[line])


class RowPanel(QGroupBox):
    """The values of one row, column by column; target columns in bold."""

    def __init__(self, show_row: ShowRow | None, parent: QWidget | None = None) -> None:
        super().__init__("Row", parent)
        self.show_row = show_row
        self.dataset_id: int | None = None
        self.row: int | None = None
        self.note = QLabel("Choose a row to see its values.")  # short lines: a wrapped label gets clipped
        self.values = QTableWidget(0, 2)
        self.values.setHorizontalHeaderLabels(["Column", "Value"])
        self.values.verticalHeader().setVisible(False)
        self.values.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.values.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.values.horizontalHeader().setStretchLastSection(True)
        self.open_button = QPushButton("Show in Datasets")
        self.open_button.setToolTip("Open the dataset on the Datasets page at this row.")
        self.open_button.clicked.connect(self._open)
        self.open_button.setVisible(show_row is not None)
        self.open_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.values, 1)
        layout.addWidget(self.open_button)

    def show_values(self, dataset_id: int, row: int, values: dict[str, Any], note: str, targets: set[str]) -> None:
        self.dataset_id, self.row = dataset_id, row
        self.setTitle(f"Row {row + 1}")
        self.note.setText(note)
        self.values.setRowCount(len(values))
        bold = QFont()
        bold.setBold(True)
        for line, (column, value) in enumerate(values.items()):
            name, text = QTableWidgetItem(column), QTableWidgetItem(value_text(value))
            if column in targets:
                name.setFont(bold)
                text.setFont(bold)
            self.values.setItem(line, 0, name)
            self.values.setItem(line, 1, text)
        self.open_button.setEnabled(True)

    def clear_values(self) -> None:
        self.dataset_id = self.row = None
        self.setTitle("Row")
        self.note.setText("Choose a row to see its values.")
        self.values.setRowCount(0)
        self.open_button.setEnabled(False)

    def _open(self) -> None:
        if self.show_row is not None and self.row is not None:
            self.show_row(self.dataset_id, self.row)


class RegressionPlots(QWidget):
    """Predicted against actual (with y = x) and the residual histogram of one target."""

    point_clicked = Signal(int)  # the row index of a clicked point

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scatter = pg.PlotWidget(background="w")
        self.scatter.setLabel("bottom", "Actual")
        self.scatter.setLabel("left", "Predicted")
        self.diagonal = pg.PlotDataItem(pen=pg.mkPen("#888888", width=1, style=Qt.PenStyle.DashLine))
        self.points = pg.ScatterPlotItem(size=6, pen=None, brush=pg.mkBrush(0, 114, 178, 150))  # PALETTE[0]
        self.points.sigClicked.connect(self._clicked)
        self.marker = pg.ScatterPlotItem(size=14, pen=pg.mkPen(PALETTE[1], width=2), brush=None)
        for item in (self.diagonal, self.points, self.marker):
            self.scatter.addItem(item)
        self.histogram = pg.PlotWidget(background="w")
        self.histogram.setLabel("bottom", "Residual (predicted − actual)")
        self.histogram.setLabel("left", "Rows")
        self.bars = pg.PlotDataItem(stepMode="center", fillLevel=0, pen=pg.mkPen(PALETTE[0]),
                                    brush=pg.mkBrush(0, 114, 178, 110))
        self.zero = pg.InfiniteLine(0, angle=90, pen=pg.mkPen("#888888", style=Qt.PenStyle.DashLine))
        self.drawn_rows = np.zeros(0, dtype=np.int64)  # the row of each drawn point
        self.histogram.addItem(self.bars)
        self.histogram.addItem(self.zero)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.scatter, 1)
        layout.addWidget(self.histogram, 1)

    def show_target(self, target: TargetErrors, rows: np.ndarray) -> None:
        drawn = _points_drawn(len(rows), [e.row for e in target.largest], rows)
        self.drawn_rows = rows[drawn]  # a clicked point's index is its position here (no per-point data objects)
        self.points.setData(x=target.actual[drawn], y=target.predicted[drawn])
        values = np.concatenate([target.actual, target.predicted])
        low, high = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
        self.diagonal.setData([low, high], [low, high])
        # both axes span the same values, so y = x is the diagonal and distances read alike
        self.scatter.getPlotItem().getViewBox().setRange(xRange=(low, high), yRange=(low, high), padding=0.04)
        self.scatter.setTitle(f"{target.name}: predicted against actual", color="#333", size="10pt")
        bins = int(np.clip(2 * np.sqrt(len(rows)), 5, HISTOGRAM_BINS))
        counts, edges = np.histogram(target.residuals, bins=bins) if len(rows) else ([0], [0.0, 1.0])
        self.bars.setData(edges, counts)
        self.histogram.setTitle(f"{target.name}: residuals", color="#333", size="10pt")
        self.histogram.getPlotItem().getViewBox().autoRange(padding=0.04)
        self.marker.setData([], [])

    def mark(self, actual: float, predicted: float) -> None:
        self.marker.setData([actual], [predicted])

    def _clicked(self, _item, points, _event=None) -> None:
        if len(points):
            self.point_clicked.emit(int(self.drawn_rows[points[0].index()]))


def _points_drawn(count: int, must: list[int], rows: np.ndarray) -> np.ndarray:
    """Positions of the points to draw: all of them, or an even spread plus the largest errors."""
    if count <= SCATTER_POINTS:
        return np.arange(count)
    spread = np.linspace(0, count - 1, SCATTER_POINTS).astype(np.int64)
    return np.union1d(spread, np.searchsorted(rows, must))


class TableEvaluationView(QWidget):
    """Everything the Evaluate page shows of a table run below its summary, except the
    per-class table and confusion matrix (the page's own)."""

    def __init__(self, show_row: ShowRow | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.result: TableEvaluation | None = None
        self.target_index = 0
        self.panel = RowPanel(show_row)
        self.stack = QStackedWidget()
        self.stack.addWidget(self._build_classes())
        self.stack.addWidget(self._build_numbers())
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.stack)
        split.addWidget(self.panel)
        split.setSizes([860, 320])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

    def _build_classes(self) -> QWidget:
        self.cell_title = QLabel("Click a confusion-matrix cell to list its rows.")
        self.cell_rows = RowList("The rows of the clicked cell, surest prediction first. Click one to see it.")
        self.mistake_rows = RowList("Rows the model got wrong, surest first. Click one to see it.")
        cell_box = QGroupBox("Rows in the cell")
        cell_layout = QVBoxLayout(cell_box)
        cell_layout.addWidget(self.cell_title)
        cell_layout.addWidget(self.cell_rows, 1)
        mistakes_box = QGroupBox("Most confident mistakes")
        QVBoxLayout(mistakes_box).addWidget(self.mistake_rows)
        page = QSplitter(Qt.Orientation.Horizontal)
        page.addWidget(cell_box)
        page.addWidget(mistakes_box)
        for rows in (self.cell_rows, self.mistake_rows):
            rows.row_chosen.connect(self.choose_row)
        return page

    def _build_numbers(self) -> QWidget:
        self.errors = QTableWidget(0, 5)
        self.errors.setHorizontalHeaderLabels(["Target", "MAE", "RMSE", "R²", "Rows"])
        self.errors.verticalHeader().setVisible(False)
        self.errors.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.errors.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.errors.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.errors.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.errors.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.errors.setToolTip("Errors in each target's own units. MAE: mean absolute error; RMSE: root mean "
                               "squared error; R²: 1 = perfect, 0 = no better than the mean. Choose a "
                               "target to plot it.")
        self.errors.currentCellChanged.connect(lambda line, *_: self.show_target(line))
        self.plots = RegressionPlots()
        self.plots.point_clicked.connect(self.choose_row)
        self.largest_rows = RowList("The rows whose prediction is furthest from the truth. Click one to see it.")
        self.largest_rows.row_chosen.connect(self.choose_row)
        self.largest_box = QGroupBox("Largest errors")
        QVBoxLayout(self.largest_box).addWidget(self.largest_rows)
        errors_box = QGroupBox("Errors per target")
        QVBoxLayout(errors_box).addWidget(self.errors)
        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(errors_box)
        top.addWidget(self.largest_box)
        top.setSizes([340, 520])
        page = QSplitter(Qt.Orientation.Vertical)
        page.addWidget(top)
        page.addWidget(self.plots)
        page.setSizes([220, 380])
        return page

    # ---- a result ----------------------------------------------------------------------------
    def show_result(self, result: TableEvaluation) -> None:
        self.result = result
        self.panel.clear_values()
        if result.classification is not None:
            self.stack.setCurrentIndex(0)
            self.cell_title.setText("Click a confusion-matrix cell to list its rows.")
            self.cell_rows.show_rows([], [], [])
            self._fill_mistakes(result)
            return
        self.stack.setCurrentIndex(1)
        self.errors.blockSignals(True)
        self.errors.setRowCount(len(result.targets))
        for line, target in enumerate(result.targets):
            cells = [target.name, f"{target.mae:.4g}", f"{target.rmse:.4g}", f"{target.r2:.3f}", f"{len(result.rows):,}"]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.errors.setItem(line, column, item)
        self.errors.selectRow(0)
        self.errors.blockSignals(False)
        self.show_target(0)

    def show_target(self, index: int) -> None:
        if self.result is None or not 0 <= index < len(self.result.targets):
            return
        self.target_index = index
        target = self.result.targets[index]
        self.plots.show_target(target, self.result.rows)
        shown = target.largest[:ROWS_SHOWN]
        rows = [entry.row for entry in shown]
        self.largest_box.setTitle(f"Largest errors in {target.name}")
        self.largest_rows.show_rows(
            ["Actual", "Predicted", "Error", *self._other_columns({target.name})], rows,
            [[value_text(e.actual), value_text(e.predicted), f"{e.error:+.4g}", *values]
             for e, values in zip(shown, self._values(rows, {target.name}))])

    def show_cell(self, true_index: int, predicted_index: int) -> None:
        """List the rows of a confusion cell (true class, predicted class)."""
        if self.result is None or self.result.classification is None:
            return
        evaluation = self.result.classification
        rows = evaluation.cells.get((true_index, predicted_index), [])
        shown = rows[:ROWS_SHOWN]
        more = f" (showing {len(shown)})" if len(rows) > len(shown) else ""
        classes = evaluation.classes
        self.cell_title.setText(f"True {classes[true_index]}, predicted {classes[predicted_index]}: "
                                f"{len(rows)} rows{more}")
        self.cell_rows.show_rows(self._other_columns(set()), shown, self._values(shown, set()))

    def _fill_mistakes(self, result: TableEvaluation) -> None:
        shown = result.classification.mistakes[:ROWS_SHOWN]
        rows, targets = [m.sample_id for m in shown], set(result.target_names)
        self.mistake_rows.show_rows(
            ["True", "Predicted", "Confidence", *self._other_columns(targets)], rows,
            [[m.true_class, m.predicted_class, f"{m.confidence:.1%}", *values]
             for m, values in zip(shown, self._values(rows, targets))])

    def _other_columns(self, left_out: set[str]) -> list[str]:
        return [name for name in self.result.columns if name not in left_out]

    def _values(self, rows: list[int], left_out: set[str]) -> list[list[str]]:
        return [[value_text(v) for k, v in record.items() if k not in left_out]
                for record in self.result.rows_values(rows)] if rows else []

    # ---- one row -----------------------------------------------------------------------------
    def choose_row(self, row: int) -> None:
        result = self.result
        if result is None:
            return
        values = result.row_values(row)
        if result.classification is not None:
            note = self._class_note(row)
        else:
            target = result.targets[self.target_index]
            at = int(np.searchsorted(result.rows, row))
            actual, predicted = float(target.actual[at]), float(target.predicted[at])
            self.plots.mark(actual, predicted)
            note = f"{target.name}\nactual {actual:.6g}, predicted {predicted:.6g}\nerror {predicted - actual:+.4g}"
        self.panel.show_values(result.dataset_id, row, values, note, set(result.target_names))

    def _class_note(self, row: int) -> str:
        evaluation = self.result.classification
        for (true_index, predicted_index), rows in evaluation.cells.items():
            if row in rows:
                return f"true {evaluation.classes[true_index]}\npredicted {evaluation.classes[predicted_index]}"
        return "not scored: no class the model knows"
