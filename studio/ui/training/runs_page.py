"""The Runs view: every run with its dataset, model, settings, status, best metric and duration;
overlay the curves of the selected runs; resume, stop, delete, fine-tune from, evaluate.

The table is a QAbstractTableModel over the engine's ``RunRecord``s (``studio.train.runs.list_runs``,
the listing `studio runs list` prints), loaded in a job. Curves are ``run_history``, also in jobs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QItemSelectionModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from studio.core.run_status import ACTIVE, RunStatus
from studio.train.spec import FromRun, Scratch, parse_start
from studio.ui.common.page import Page
from studio.ui.common.plots import PALETTE, LivePlot
from studio.ui.training.jobs import delete_run_job
from studio.ui.training.live_model import format_duration

if TYPE_CHECKING:
    from studio.store.library import Library
    from studio.train.history import RunHistory
    from studio.train.runs import RunRecord

ACTIVE_REFRESH_MS = 3000  # while a run is active, the table refreshes this often (only when shown)
STATUS_COLOURS = {
    RunStatus.RUNNING: "#0072B2", RunStatus.PAUSED: "#E69F00", RunStatus.QUEUED: "#777777", RunStatus.COMPLETED: "#009E73",
    RunStatus.STOPPED: "#555555", RunStatus.FAILED: "#D55E00", RunStatus.INTERRUPTED: "#CC79A7",
}
# metric choices for the overlay: (label, split/name key, x axis)
OVERLAY_METRICS = (
    ("Validation accuracy", "val/accuracy"),
    ("Validation loss", "val/loss"),
    ("Training loss (per step)", "train/loss"),
    ("Training accuracy", "train/accuracy"),
    ("Learning rate", "train/lr"),
)


def settings_text(spec: dict | None) -> str:
    """A run's main settings in a few words: "3 ep, bs 64, lr 0.003, adamw, 28px, from run 2"."""
    if not spec:
        return ""
    bits = [f"{spec.get('epochs', '?')} ep", f"bs {spec.get('batch_size', '?')}"]
    lr = spec.get("lr")
    if isinstance(lr, (int, float)):
        bits.append(f"lr {lr:g}")
    if spec.get("optimizer"):
        bits.append(str(spec["optimizer"]))
    if spec.get("image_size"):
        bits.append(f"{spec['image_size']}px")
    pretrained = spec.get("pretrained")
    start = parse_start(pretrained) if pretrained is not None else Scratch()
    if isinstance(start, FromRun):
        bits.append(f"from run {start.run_id}")
    elif not isinstance(start, Scratch):
        bits.append(f"from {pretrained}")  # as stored: auto, imagenet or a file
    if spec.get("freeze") == "backbone":
        bits.append("frozen backbone")
    return ", ".join(bits)


class RunsTableModel(QAbstractTableModel):
    COLUMNS = ("Run", "Dataset", "Model", "Settings", "Status", "Best val score", "Epochs", "Duration", "")
    ACTION_COLUMN = len(COLUMNS) - 1

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.rows: list[RunRecord] = []

    def set_rows(self, rows: list[RunRecord]) -> None:
        self.beginResetModel()
        self.rows = rows
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._text(row, col)
        if role == Qt.ItemDataRole.ForegroundRole and col == 4:
            return QBrush(QColor(STATUS_COLOURS.get(row.status, "#000000")))
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == 4 and row.error:
                return row.error
            if col == 3:
                return settings_text(row.spec)
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (0, 5, 6, 7):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.UserRole:
            return row.run_id
        return None

    @staticmethod
    def _text(row: RunRecord, col: int) -> str:
        if col == 0:
            return str(row.run_id)
        if col == 1:
            return row.dataset if row.dataset is not None else "(deleted)"
        if col == 2:
            return row.model
        if col == 3:
            return settings_text(row.spec)
        if col == 4:
            return row.status
        if col == 5:
            return row.score_text
        if col == 6:
            return f"{row.epoch}/{row.epochs}" if row.epochs else str(row.epoch)
        if col == 7:
            return format_duration(row.duration_s)
        return ""

    def row_for(self, run_id: int) -> int:
        for i, row in enumerate(self.rows):
            if row.run_id == run_id:
                return i
        return -1


class RunsPage(Page):
    """All runs. Resume / fine-tune / evaluate are requests the app routes to the right page."""

    resume_requested = Signal(int)  # run id: continue it from its last checkpoint, live
    fine_tune_requested = Signal(int, object)  # run id, dataset id (or None)
    evaluate_requested = Signal(int)

    def __init__(self, library: Library, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lib = library
        self._curves: dict[int, RunHistory] = {}
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(ACTIVE_REFRESH_MS)
        self._timer.timeout.connect(self._refresh_if_active)
        self._timer.start()

    def on_first_show(self) -> None:
        self.refresh()

    # ---- layout ----------------------------------------------------------------------------
    def _build(self) -> None:
        root = QVBoxLayout(self)
        head = QHBoxLayout()
        title = QLabel("Runs")
        title.setStyleSheet("font-size: 13pt; font-weight: 600;")
        head.addWidget(title)
        head.addStretch(1)

        def button(text: str, tip: str, slot) -> QPushButton:
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(slot)
            head.addWidget(b)
            return b

        self.refresh_button = button("Refresh", "Reload the list of runs.", self.refresh)
        self.resume_button = button("Resume", "Continue the selected stopped or interrupted run from its "
                                    "last checkpoint.", self._resume_selected)
        self.stop_button = button("Stop", "Ask the selected running run to stop after its current step "
                                  "(it saves a checkpoint and can be resumed).", self._stop_selected)
        self.fine_tune_button = button("Fine-tune from this run", "Open the Train page with this run's "
                                       "trained model as the starting weights.", self._fine_tune_selected)
        self.evaluate_button = button("Evaluate", "Open the Evaluate view for the selected run.",
                                      self._evaluate_selected)
        self.delete_button = button("Delete…", "Delete the selected runs with their checkpoints and "
                                    "models (asks first).", self._delete_selected)
        root.addLayout(head)

        self.model = RunsTableModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setAlternatingRowColors(True)
        self.table.verticalHeader().setVisible(False)
        self.table.setWordWrap(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)
        self.table.doubleClicked.connect(lambda _i: self._evaluate_selected())

        self.detail = QLabel("Select runs to compare their curves (Ctrl/Shift-click for several).")
        self.detail.setWordWrap(True)
        self.detail.setStyleSheet("color: #444;")

        plot_box = QWidget()
        plot_layout = QVBoxLayout(plot_box)
        plot_layout.setContentsMargins(0, 0, 0, 0)
        metric_row = QHBoxLayout()
        metric_row.addWidget(QLabel("Compare"))
        self.metric_combo = QComboBox()
        self.metric_combo.setToolTip("Which curve to overlay for the selected runs.")
        for label, key in OVERLAY_METRICS:
            self.metric_combo.addItem(label, key)
        self.metric_combo.currentIndexChanged.connect(self._draw_overlay)
        metric_row.addWidget(self.metric_combo)
        metric_row.addStretch(1)
        plot_layout.addLayout(metric_row)
        self.overlay = LivePlot("", "step", "")
        plot_layout.addWidget(self.overlay, 1)

        split = QSplitter(Qt.Orientation.Vertical)
        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.table, 1)
        top_layout.addWidget(self.detail)
        split.addWidget(top)
        split.addWidget(plot_box)
        split.setSizes([380, 320])
        root.addWidget(split, 1)
        self._update_buttons()

    # ---- data ------------------------------------------------------------------------------
    def on_shown(self) -> None:
        self.refresh()

    def refresh(self) -> None:
        if self.job("runs") is not None:
            return
        job = self.run_job("runs", _newest_first, self.lib)
        job.finished.connect(self._show_rows)
        job.failed.connect(lambda msg: self.detail.setText(f"Could not list runs: {msg}"))

    def _refresh_if_active(self) -> None:
        if self.isVisible() and any(r.status in ACTIVE for r in self.model.rows):
            self.refresh()

    def _show_rows(self, rows: list[RunRecord]) -> None:
        selected = self.selected_ids()
        self.model.set_rows(rows)
        selection = self.table.selectionModel()
        for run_id in selected:
            row = self.model.row_for(run_id)
            if row >= 0:
                selection.select(self.model.index(row, 0), QItemSelectionModel.SelectionFlag.Select
                                 | QItemSelectionModel.SelectionFlag.Rows)
        for i, run in enumerate(rows):
            if run.status in (RunStatus.STOPPED, RunStatus.INTERRUPTED):
                b = QPushButton("Resume")
                b.clicked.connect(lambda _c=False, rid=run.run_id: self.resume_requested.emit(rid))
                b.setEnabled(run.has_checkpoint)
                b.setToolTip(f"Continue run {run.run_id} from its last checkpoint." if run.has_checkpoint else
                             f"Run {run.run_id} ended before its first checkpoint: start a new run instead.")
                self.table.setIndexWidget(self.model.index(i, RunsTableModel.ACTION_COLUMN), b)
        self._update_buttons()
        if selected:
            self._load_curves(self.selected_ids(), force=True)

    def selected_ids(self) -> list[int]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.rows[r].run_id for r in rows if r < len(self.model.rows)]

    def selected_rows(self) -> list[RunRecord]:
        ids = set(self.selected_ids())
        return [r for r in self.model.rows if r.run_id in ids]

    def select_runs(self, run_ids: list[int]) -> None:
        selection = self.table.selectionModel()
        selection.clearSelection()
        for run_id in run_ids:
            row = self.model.row_for(run_id)
            if row >= 0:
                selection.select(self.model.index(row, 0), QItemSelectionModel.SelectionFlag.Select
                                 | QItemSelectionModel.SelectionFlag.Rows)

    def _selection_changed(self, *_args) -> None:
        self._update_buttons()
        rows = self.selected_rows()
        if len(rows) == 1:
            r = rows[0]
            text = f"Run {r.run_id}: {r.name}. {settings_text(r.spec)}."
            if r.error:
                text += f" {r.error}"
            self.detail.setText(text)
        elif rows:
            self.detail.setText(f"{len(rows)} runs selected: their curves are overlaid below.")
        self._load_curves(self.selected_ids())

    def _update_buttons(self) -> None:
        rows = self.selected_rows()
        one = rows[0] if len(rows) == 1 else None
        self.resume_button.setEnabled(one is not None and one.resumable)
        self.stop_button.setEnabled(one is not None and one.status in ACTIVE)
        self.fine_tune_button.setEnabled(one is not None and one.has_weights and one.finished)
        self.evaluate_button.setEnabled(one is not None and one.has_weights)
        self.delete_button.setEnabled(bool(rows))

    # ---- curves ----------------------------------------------------------------------------
    def _load_curves(self, run_ids: list[int], force: bool = False) -> None:
        missing = [r for r in run_ids if force or r not in self._curves]
        if not missing:
            self._draw_overlay()
            return
        from studio.train.history import run_history

        for run_id in missing:
            self.run_job(f"curves{run_id}", run_history, self.lib, run_id).finished.connect(self._curves_loaded)

    def _curves_loaded(self, history: RunHistory) -> None:
        self._curves[history.run_id] = history
        self._draw_overlay()

    def _draw_overlay(self) -> None:
        key = self.metric_combo.currentData()
        for series in self.overlay.series_keys():
            self.overlay.remove_series(series)
        self.overlay.clear_data()
        for i, run_id in enumerate(self.selected_ids()):
            series = self._curves[run_id].get(key) if run_id in self._curves else None
            if series is None:
                continue
            xs, ys = series.steps, series.values
            name = f"run {run_id}"
            per_epoch = key.startswith("val/") or key == "train/accuracy"  # few points: markers, thick
            self.overlay.add_series(name, name, PALETTE[i % len(PALETTE)], width=2 if per_epoch else 1,
                                    symbol="o" if per_epoch else None)
            self.overlay.set_series(name, xs, ys)
        self.overlay.getPlotItem().setLabel("left", self.metric_combo.currentText())
        self.overlay.flush()

    def overlay_runs(self) -> list[str]:
        return self.overlay.series_keys()

    # ---- actions ---------------------------------------------------------------------------
    def _resume_selected(self) -> None:
        rows = self.selected_rows()
        if len(rows) == 1 and rows[0].resumable:
            self.resume_requested.emit(rows[0].run_id)

    def _stop_selected(self) -> None:
        from studio.core.errors import StudioError
        from studio.train.runs import request_stop

        rows = self.selected_rows()
        if len(rows) != 1:
            return
        try:
            sent = request_stop(self.lib, rows[0].run_id)  # a signal and one short transaction
        except StudioError as exc:
            QMessageBox.warning(self, "Stop run", str(exc))
            return
        self.detail.setText(f"Asked run {rows[0].run_id} to stop." if sent else
                            f"Run {rows[0].run_id} had no live worker; it is marked accordingly.")
        self.refresh()

    def _fine_tune_selected(self) -> None:
        rows = self.selected_rows()
        if len(rows) == 1:
            self.fine_tune_requested.emit(rows[0].run_id, rows[0].dataset_id)

    def _evaluate_selected(self) -> None:
        rows = self.selected_rows()
        if len(rows) == 1 and rows[0].has_weights:
            self.evaluate_requested.emit(rows[0].run_id)

    def _delete_selected(self) -> None:
        rows = self.selected_rows()
        if not rows:
            return
        names = ", ".join(str(r.run_id) for r in rows)
        answer = QMessageBox.question(
            self, "Delete runs",
            f"Delete run{'s' if len(rows) > 1 else ''} {names} with their checkpoints, trained models "
            "and metrics? This cannot be undone.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        if answer != QMessageBox.StandardButton.Yes:
            return
        self.delete_runs([r.run_id for r in rows])

    def delete_runs(self, run_ids: list[int]) -> None:
        """Delete without asking (the confirmation is the caller's)."""
        for run_id in run_ids:
            job = self.run_job(f"delete{run_id}", delete_run_job, self.lib, run_id)
            job.finished.connect(lambda rid: self._curves.pop(rid, None))
            job.failed.connect(lambda msg: QMessageBox.warning(self, "Delete run", msg))
            job.done.connect(self.refresh)

    def shutdown(self) -> None:
        self._timer.stop()
        self.overlay.stop_updates()
        super().shutdown()


def _newest_first(lib: Library, state=None) -> list[RunRecord]:
    from studio.train.runs import list_runs

    return list(reversed(list_runs(lib)))
