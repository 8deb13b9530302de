"""What the Datasets page shows for a table dataset instead of the image grid: the rows (a
virtual view, ``TableModel``), filters by split and by target value, the split counts, and the
selected column's summary, type and role (``ColumnSummaryPanel``).

Loading, summaries, column changes and splits run as jobs of the page; target-cell edits are
steps of the session's undo history (``SetTableCellsCommand`` on the labelling controller's
stack), written with ``set_cells``.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import pyarrow as pa
import shiboken6
from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QSplitter,
    QStackedLayout,
    QStyledItemDelegate,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import StudioError
from studio.data.tables import dataset as table_data
from studio.data.tables.schema import ColumnType, Role, TableSchema
from studio.data.tables.splits import SPLITS
from studio.data.tables.summary import summarize_column
from studio.ui.common.page import Page
from studio.ui.common.style import show_error
from studio.ui.datasets.column_summary import ColumnSummaryPanel
from studio.ui.datasets.labelling.controller import LabellingController
from studio.ui.datasets.table_commands import SetTableCellsCommand
from studio.ui.datasets.table_model import MISSING, CellEdit, TableModel, format_cell

SPLIT_NAMES = {"train": "Train", "val": "Validation", "test": "Test"}
ROW_HEIGHT = 24
COLUMN_WIDTH = 130
BULK_EDIT_MAX_ROWS = 10_000  # one undo step, written on the GUI thread like labels (set_cells: ~50 ms a 1,000 cells)
BUSY_CURSOR_CELLS = 50
COPY_MAX_CELLS = 100_000


class TableBrowser(QWidget):
    """``page`` runs the jobs; ``ctl`` holds the undo history. Signals: ``status(str)``;
    ``changed()`` when rows, splits or the schema on screen changed (the page's title follows)."""

    status = Signal(str)
    changed = Signal()

    def __init__(self, page: Page, ctl: LabellingController, parent: QWidget | None = None):
        super().__init__(parent)
        self.page, self.lib, self.ctl = page, page.lib, ctl
        self.dataset: table_data.TableDataset | None = None
        self.loading_id: int | None = None
        self.target_choices: list[object] = []
        self._pending_row: int | None = None
        self._summary_request = 0
        self.model = TableModel(self)
        self.model.edit_requested.connect(self.edit_cells)
        self.model.edit_rejected.connect(lambda message: show_error(self, "Cannot change the cell", message))
        self.model.cells_changed.connect(self._on_cells_changed)
        self.model.modelReset.connect(self._update_shown_count)
        self._build()

    def _build(self) -> None:
        self.split_filter = QComboBox()
        self.split_filter.setObjectName("split_filter")
        self.split_filter.activated.connect(lambda _i: self._apply_filters())
        self.target_filter = QComboBox()
        self.target_filter.setObjectName("target_filter")
        self.target_filter.setMinimumContentsLength(14)
        self.target_filter.activated.connect(lambda _i: self._apply_filters())
        self.shown_label = QLabel()
        self.shown_label.setObjectName("rows_shown")
        self.shown_label.setStyleSheet("color: #5b6670")
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for widget in (QLabel("Split:"), self.split_filter, QLabel("Target:"), self.target_filter):
            bar.addWidget(widget)
        bar.addSpacing(12)
        bar.addWidget(self.shown_label, 1)

        self.view = QTableView()
        self.view.setObjectName("table_rows")
        self.view.setModel(self.model)
        self.view.setItemDelegate(CellDelegate(self.model, self.view))
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectItems)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                                  | QAbstractItemView.EditTrigger.EditKeyPressed
                                  | QAbstractItemView.EditTrigger.AnyKeyPressed)
        self.view.setWordWrap(False)
        self.view.setAlternatingRowColors(True)
        rows = self.view.verticalHeader()  # fixed heights: Qt never measures a million rows
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(ROW_HEIGHT)
        columns = self.view.horizontalHeader()
        columns.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        columns.setDefaultSectionSize(COLUMN_WIDTH)
        columns.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.view.selectionModel().currentChanged.connect(self._on_current_changed)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        copy = QAction("Copy", self.view)
        copy.setShortcut(QKeySequence(QKeySequence.StandardKey.Copy))
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy_selection)
        self.view.addAction(copy)
        self.view.customContextMenuRequested.connect(self._show_edit_menu)
        # at the top before rows change: a header left scrolled past the new end paints every row
        self.model.modelAboutToBeReset.connect(self.view.scrollToTop)

        self.summary_panel = ColumnSummaryPanel()
        self.summary_panel.change_requested.connect(self.change_column)

        self.message = QLabel()
        self.message.setObjectName("table_message")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #5b6670; font-size: 15px;")
        rows_area = QWidget()
        rows_layout = QVBoxLayout(rows_area)
        rows_layout.setContentsMargins(0, 0, 0, 0)
        rows_layout.addLayout(bar)
        rows_layout.addWidget(self.view, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(rows_area)
        self.splitter.addWidget(self.summary_panel)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setChildrenCollapsible(False)
        self.stack = QStackedLayout(self)
        self.stack.addWidget(self.splitter)
        self.stack.addWidget(self.message)

    # --- loading ------------------------------------------------------------------------------
    @property
    def dataset_id(self) -> int | None:
        return self.dataset.id if self.dataset is not None else None

    def open_dataset(self, dataset_id: int) -> None:
        """Show the table dataset's rows (read in a job)."""
        if dataset_id in (self.dataset_id, self.loading_id):
            return
        self.loading_id = dataset_id
        self._show_message("Loading the table…")
        job = self.page.run_job("table-load", _load_job, self.lib, dataset_id)
        job.finished.connect(partial(self._on_loaded, dataset_id))
        job.failed.connect(partial(self._on_load_failed, dataset_id))

    def _on_loaded(self, dataset_id: int, data: table_data.TableDataset) -> None:
        if dataset_id == self.loading_id:  # not a late answer for a table the user has left
            self.show_dataset(data)

    def _on_load_failed(self, dataset_id: int, message: str) -> None:
        if dataset_id == self.loading_id:
            self.loading_id = None
            self._show_message(f"Cannot read this table.\n\n{message}")

    def show_dataset(self, data: table_data.TableDataset) -> None:
        self.loading_id = None
        self.dataset = data
        self.model.set_table(data.table, data.schema, data.splits)
        self._fill_split_filter()
        self._fill_target_filter()
        self.split_filter.setCurrentIndex(0)  # a new table starts unfiltered, as the model does
        self.target_filter.setCurrentIndex(0)
        self.stack.setCurrentWidget(self.splitter)
        self.summary_panel.show_column(None)
        if self.isVisible():
            self._reveal_pending_row()
        self.changed.emit()

    def close_dataset(self) -> None:
        self.page.cancel_job("table-load")
        self.dataset, self.loading_id, self._pending_row = None, None, None
        self.model.set_table(pa.table({}), TableSchema([], 0, "classification"), np.zeros(0))

    def _show_message(self, text: str) -> None:
        self.message.setText(text)
        self.stack.setCurrentWidget(self.message)

    def describe(self) -> str:
        """The page's subtitle: rows, columns, task and what is shown."""
        if self.dataset is None:
            return "Loading the table…"
        schema = self.model.schema
        targets = ", ".join(c.name for c in schema.targets) or "no target"
        return (f"{self.model.table.num_rows:,} rows · {self.model.table.num_columns} columns · "
                f"{schema.task} of {targets} — showing {self.model.rowCount():,}")

    # --- jumping to a row ---------------------------------------------------------------------
    def reveal_row(self, row: int) -> None:
        """Scroll to table row ``row`` (0-based) and select it once the rows are loaded and on
        screen (scrolling a hidden view has no size to go by); a filter that hides it is cleared."""
        self._pending_row = row
        if self.dataset is not None and self.loading_id is None and self.isVisible():
            self._reveal_pending_row()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._pending_row is not None and self.dataset is not None and self.loading_id is None:
            self._reveal_pending_row()

    def _reveal_pending_row(self) -> None:
        row, self._pending_row = self._pending_row, None
        if row is None or not 0 <= row < self.model.table.num_rows:
            return
        if self.model.view_row(row) is None:
            self.split_filter.setCurrentIndex(0)
            self.target_filter.setCurrentIndex(0)
            self._apply_filters()
        index = self.model.index(self.model.view_row(row), 0)
        self.view.scrollTo(index, QAbstractItemView.ScrollHint.PositionAtCenter)
        self.view.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows)

    # --- filters ------------------------------------------------------------------------------
    def _fill_split_filter(self) -> None:
        counts = self.model.split_counts()
        chosen = self.split_filter.currentData()
        self.split_filter.clear()
        self.split_filter.addItem(f"All ({sum(counts.values()):,})", None)
        for name in SPLITS:
            self.split_filter.addItem(f"{SPLIT_NAMES[name]} ({counts[name]:,})", name)
        self.split_filter.setCurrentIndex(max(self.split_filter.findData(chosen), 0))

    def _fill_target_filter(self) -> None:
        """The first target's values with their counts; the choice stays when it still exists.
        The values live in ``target_choices`` (index = the box's row), never in Qt's item data."""
        chosen = self.target_choice()
        name = self.model.target_name()
        values = self.model.target_values()
        self.target_choices = [None, *(value for value, _ in values), *([MISSING] if name else [])]
        self.target_filter.clear()
        self.target_filter.addItem(f"Any {name}" if name else "Any value")
        self.target_filter.addItems([f"{format_cell(value)} ({rows:,})" for value, rows in values])
        if name is not None:
            self.target_filter.addItem("Missing")
        self.target_filter.setEnabled(name is not None)
        self.target_filter.setCurrentIndex(self._target_index(chosen))

    def target_choice(self) -> object:
        """The target value the rows are filtered by (None: any; ``MISSING``: none)."""
        index = self.target_filter.currentIndex()
        return self.target_choices[index] if 0 <= index < len(self.target_choices) else None

    def _target_index(self, target: object) -> int:
        for i, value in enumerate(self.target_choices):
            if i and (value is target or (target is not MISSING and value is not MISSING and value == target)):
                return i
        return 0

    def set_filters(self, split: str | None = None, target: object = None) -> None:
        """Show one split and/or one target value (None: all); as choosing them in the boxes."""
        self.split_filter.setCurrentIndex(max(self.split_filter.findData(split), 0))
        self.target_filter.setCurrentIndex(self._target_index(target))
        self._apply_filters()

    def _apply_filters(self) -> None:
        self.model.set_filter(self.split_filter.currentData(), self.target_choice())
        self.changed.emit()

    def _update_shown_count(self) -> None:
        total = self.model.table.num_rows
        shown = self.model.rowCount()
        self.shown_label.setText(f"{shown:,} of {total:,} rows" if shown != total else f"{total:,} rows")

    # --- the selected column --------------------------------------------------------------------
    def _on_current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        if current.isValid() and (not previous.isValid() or current.column() != previous.column()):
            self.select_column(current.column())

    def select_column(self, column: int) -> None:
        """Describe ``column`` in the panel (its summary is computed in a job)."""
        info = self.model.column_info(column)
        self.summary_panel.show_column(info)
        if info is None:
            return
        self._summary_request += 1  # a late summary of another column (or table) is dropped
        job = self.page.run_job("table-summary", _summary_job, self.model.table.column(column), info.type)
        job.finished.connect(partial(self._on_summary, self._summary_request, info.name))

    def _on_summary(self, request: int, name: str, summary) -> None:
        # the job outlives a closed window: its late result must not reach deleted widgets
        if request == self._summary_request and shiboken6.isValid(self.summary_panel):
            self.summary_panel.show_summary(name, summary)

    def change_column(self, name: str, column_type: ColumnType | None, role: Role | None) -> None:
        """Set a column's type and/or role in the library (a job); a refusal is shown and undone."""
        if self.dataset is None:
            return
        job = self.page.run_job("table-column", _set_column_job, self.lib, self.dataset.id, name, column_type, role)
        what = " and ".join(filter(None, [column_type and column_type.value, role and role.value]))
        self.status.emit(f"Changing {name}: {what}…")
        job.finished.connect(partial(self._on_schema_changed, self.dataset.id, name))
        job.failed.connect(partial(self._on_column_refused, name))

    def _on_schema_changed(self, dataset_id: int, name: str, schema: TableSchema) -> None:
        if dataset_id != self.dataset_id:
            return
        self.dataset.schema = schema
        target_before = (self.model.target_name(), self.model.schema.task)
        self.model.set_schema(schema)
        if (self.model.target_name(), schema.task) != target_before:  # other values to filter by
            self._fill_target_filter()
            self._apply_filters()
        self.select_column(self.model.column_index(name))
        column = schema.column(name)
        self.status.emit(f"{name} is now {column.type.value}, {column.role.value} ({schema.task})")
        self.changed.emit()

    def _on_column_refused(self, name: str, message: str) -> None:
        self.summary_panel.revert()
        show_error(self, f"Cannot change {name}", message)

    # --- splits -------------------------------------------------------------------------------
    def resplit(self, fractions: tuple[float, float, float], seed: int) -> None:
        """Split the rows again (a job); the counts and the split filter follow."""
        if self.dataset is None:
            return
        job = self.page.run_job("table-split", _resplit_job, self.lib, self.dataset.id, fractions, seed)
        job.finished.connect(partial(self._on_resplit, self.dataset.id))
        job.failed.connect(lambda message: show_error(self, "Cannot split the table", message))

    def _on_resplit(self, dataset_id: int, splits: np.ndarray) -> None:
        if dataset_id != self.dataset_id:
            return
        self.dataset.splits = splits
        self.model.set_splits(splits)
        self._fill_split_filter()
        counts = self.model.split_counts()
        self.status.emit("Split: " + ", ".join(f"{SPLIT_NAMES[k]} {v:,}" for k, v in counts.items()))
        self.changed.emit()

    # --- editing target cells -------------------------------------------------------------------
    def edit_cells(self, edits: list[CellEdit]) -> bool:
        """Write target-cell edits as one undoable step; a refusal is shown and nothing changes."""
        if self.dataset is None or not edits:
            return False
        command = SetTableCellsCommand(self.ctl, self.dataset.id, edits, self._write_cells, self._show_cells)
        busy = len(edits) >= BUSY_CURSOR_CELLS
        if busy:
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            command.apply()
            refusal = None
        except StudioError as exc:
            refusal = str(exc)
        finally:
            if busy:
                QApplication.restoreOverrideCursor()
        if refusal is not None:
            show_error(self, "Cannot change the cell", refusal)
            return False
        self.ctl.undo_stack.push(command)
        self.status.emit(command.text()[:1].upper() + command.text()[1:])
        return True

    def selected_rows(self) -> np.ndarray:
        """Table rows with a selected cell, ascending (from the selection's ranges: a selected
        column of a million rows costs one range, not a million indexes)."""
        ranges = [np.arange(r.top(), r.bottom() + 1) for r in self.view.selectionModel().selection()]
        shown = np.unique(np.concatenate(ranges)) if ranges else np.zeros(0, dtype=np.int64)
        return self.model.source_rows(shown)

    def copy_selection(self) -> str:
        """The selected cells as tab-separated lines on the clipboard (the selected rows × the
        selected columns, as a spreadsheet pastes them; missing cells empty)."""
        ranges = list(self.view.selectionModel().selection())
        if not ranges or sum(block.height() * block.width() for block in ranges) > COPY_MAX_CELLS:
            self.status.emit(f"Select at most {COPY_MAX_CELLS:,} cells to copy" if ranges else "Nothing selected")
            return ""
        rows = sorted({r for block in ranges for r in range(block.top(), block.bottom() + 1)})
        columns = sorted({c for block in ranges for c in range(block.left(), block.right() + 1)})
        edit = Qt.ItemDataRole.EditRole
        text = "\n".join("\t".join(self.model.data(self.model.index(r, c), edit) for c in columns) for r in rows)
        QApplication.clipboard().setText(text)
        self.status.emit(f"Copied {len(rows) * len(columns):,} cells")
        return text

    def set_target_of_selection(self, value: object) -> bool:
        """Give the first target of every selected row ``value`` (None: missing), as one step."""
        name, rows = self.model.target_name(), self.selected_rows()
        if name is None or not 0 < len(rows) <= BULK_EDIT_MAX_ROWS:
            return False
        return self.edit_cells([(int(row), name, value) for row in rows])

    def _show_edit_menu(self, position: QPoint) -> None:
        name, count = self.model.target_name(), len(self.selected_rows())
        if name is None or count == 0:
            return
        self.edit_menu = menu = QMenu(self)
        rows = f"{count:,} row{'s' if count != 1 else ''}"
        setting = menu.addMenu(f"Set {name} of {rows} to")
        for value, _ in self.model.target_values():
            setting.addAction(format_cell(value), partial(self.set_target_of_selection, value))
        too_many = count > BULK_EDIT_MAX_ROWS
        setting.setEnabled(not setting.isEmpty() and not too_many)
        menu.addAction(f"Clear {name} of {rows}", partial(self.set_target_of_selection, None)).setEnabled(not too_many)
        if too_many:
            menu.addAction(f"(at most {BULK_EDIT_MAX_ROWS:,} rows at a time)").setEnabled(False)
        menu.popup(self.view.viewport().mapToGlobal(position))

    def _write_cells(self, dataset_id: int, edits: list[CellEdit]) -> list[CellEdit]:
        return table_data.set_cells(self.lib, dataset_id, edits)

    def _show_cells(self, dataset_id: int, edits: list[CellEdit]) -> None:
        if dataset_id == self.dataset_id:
            self.model.apply_cells(edits)
            self.dataset.table = self.model.table

    def _on_cells_changed(self, columns: list[str]) -> None:
        current = self.summary_panel.column
        if current is not None and current.name in columns:
            self.select_column(self.model.column_index(current.name))
        if self.model.target_name() in columns:
            self._fill_target_filter()  # the counts per value changed


class CellDelegate(QStyledItemDelegate):
    """Category and yes/no targets are edited with a drop-down of their values (typing a new
    value is allowed); other cells with the usual line edit."""

    def __init__(self, model: TableModel, parent: QWidget | None = None):
        super().__init__(parent)
        self.table_model = model

    def createEditor(self, parent: QWidget, option, index: QModelIndex) -> QWidget:
        info = self.table_model.column_info(index.column())
        if info is None or info.type not in (ColumnType.CATEGORY, ColumnType.BOOLEAN):
            return super().createEditor(parent, option, index)
        box = QComboBox(parent)
        box.setEditable(True)
        values = [format_cell(v) for v, _ in self.table_model.target_values()] if \
            info.name == self.table_model.target_name() else []
        box.addItems(values)
        return box

    def setEditorData(self, editor: QWidget, index: QModelIndex) -> None:
        if isinstance(editor, QComboBox):
            editor.setCurrentText(index.data(Qt.ItemDataRole.EditRole) or "")
        else:
            super().setEditorData(editor, index)

    def setModelData(self, editor: QWidget, model, index: QModelIndex) -> None:
        if isinstance(editor, QComboBox):
            model.setData(index, editor.currentText(), Qt.ItemDataRole.EditRole)
        else:
            super().setModelData(editor, model, index)


# --- job functions (no Qt) -------------------------------------------------------------------

def _load_job(lib, dataset_id: int, state) -> table_data.TableDataset:
    return table_data.load_table_dataset(lib, dataset_id)


def _summary_job(column, column_type: ColumnType, state):
    return summarize_column(column, column_type)


def _set_column_job(lib, dataset_id: int, name: str, column_type, role, state) -> TableSchema:
    return table_data.set_column(lib, dataset_id, name, type=column_type, role=role)


def _resplit_job(lib, dataset_id: int, fractions, seed: int, state) -> np.ndarray:
    return table_data.resplit(lib, dataset_id, fractions, seed)
