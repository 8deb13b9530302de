"""Export: write a run as ONNX / TorchScript / safetensors, with the parity report of the file
loaded back by its own runtime in a fresh process, and the run's previous exports.

The export is the plain job ``studio.export.service.export_run`` run off the GUI thread, with
progress and Cancel; before it, the files it would write are checked off the GUI thread too
(``export_targets``: a file it did not write is replaced only when the user agrees). A file that disagrees with the studio is kept and shown FLAGGED, never hidden.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QColor, QDesktopServices, QGuiApplication
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.ui.common.page import Page

FORMATS = (
    ("ONNX (onnxruntime, any language)", "onnx"),
    ("TorchScript (PyTorch, C++ libtorch)", "torchscript"),
    ("safetensors weights + model card", "safetensors"),
    ("Hugging Face folder (transformers)", "hf"),
)
OK_COLOUR, FLAG_COLOUR = "#1b7f4b", "#b3261e"
USABLE_FORMATS = {"image": ("onnx", "torchscript", "safetensors"), "table": ("onnx", "torchscript"), "text": ("onnx", "hf")}
NOT_USABLE = {  # why a format is greyed out, by the run's kind of model
    "image": "A Hugging Face folder is the export of a text model",
    "table": "A table model exports as ONNX or TorchScript, which take the raw column values; "
             "its run folder already holds model.safetensors + model.json",
    "text": "A text model exports as ONNX (with tokenizer.json and predict.py beside it) or as a Hugging Face "
            "folder; its run folder already is one (model.safetensors + config.json + tokenizer)",
}
SAMPLES = {"image": "images", "table": "rows", "text": "texts"}  # what parity compares on
EXAMPLE_INPUTS = {"image": "image.png", "table": "data.csv", "text": '"a sentence to classify"'}


def export_job(lib, run_id: int, fmt: str, path: str, force: bool, state):
    from studio.export.service import export_run

    return export_run(lib, run_id, fmt, path, state, force=force)


def check_targets_job(lib, run_id: int, fmt: str, path: str, state) -> Path | None:
    """None when the export may write its files, else the existing file it would replace that
    it did not write (the user decides); other problems raise their StudioError."""
    from studio.export.service import export_targets
    from studio.export.targets import TargetExists

    try:
        export_targets(lib, run_id, fmt, path)
    except TargetExists as exc:
        return exc.path
    return None


def trained_runs_job(lib, state) -> list[tuple[str, int, str]]:
    """(title, run id, kind of data) of each run with trained weights, newest first: what may be exported."""
    from studio.export.play import playable_models
    from studio.export.table_model import run_model_kind

    return [(choice.title, choice.run_id, run_model_kind(lib, choice.run_id))
            for choice in playable_models(lib) if choice.kind == "run"]


def list_exports_job(lib, run_id: int, state):
    from studio.export.registry import list_exports

    return run_id, list_exports(lib, run_id)


class ExportPage(Page):
    export_finished = Signal(object)  # the ExportReport
    exports_listed = Signal()

    def __init__(self, lib, parent: QWidget | None = None):
        super().__init__(parent)
        self.lib = lib
        self.report = None
        self._path_edited = False
        self._wanted_run: int | None = None  # chosen while the run list was on its way
        self._run_kinds: dict[int, str] = {}  # run id -> "image" | "table" | "text"
        self._build()

    def _build(self) -> None:
        heading = QLabel("Export")
        heading.setStyleSheet("font-size: 18px; font-weight: 600;")
        intro = QLabel("Write a trained model to a file that works outside the studio. Each export is loaded back "
                       "by its own runtime in a fresh process and must give the studio's answers on the run's "
                       "held-out images, table rows or texts.")
        intro.setWordWrap(True)
        intro.setStyleSheet("color: #5b6670;")

        form = QFormLayout()
        self.run_combo = QComboBox()
        self.run_combo.currentIndexChanged.connect(self._run_changed)
        self.format_combo = QComboBox()
        for title, fmt in FORMATS:
            self.format_combo.addItem(title, fmt)
        self.format_combo.currentIndexChanged.connect(lambda _i: self._update_default_path())
        path_row = QHBoxLayout()
        self.path_edit = QLineEdit()
        self.path_edit.textEdited.connect(lambda _t: setattr(self, "_path_edited", True))
        browse = QPushButton("Browse...")
        browse.clicked.connect(self._browse)
        path_row.addWidget(self.path_edit, 1)
        path_row.addWidget(browse)
        form.addRow("Run", self.run_combo)
        form.addRow("Format", self.format_combo)
        self.path_title = QLabel("File")  # "Folder" for a Hugging Face folder
        form.addRow(self.path_title, path_row)

        actions = QHBoxLayout()
        self.export_button = QPushButton("Export")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start_export)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(lambda: self.cancel_job("export"))
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.progress_label = QLabel("")
        self.progress_label.setStyleSheet("color: #5b6670;")
        actions.addWidget(self.export_button)
        actions.addWidget(self.cancel_button)
        actions.addWidget(self.progress, 1)
        actions.addWidget(self.progress_label, 1)

        self.report_frame = QFrame()
        self.report_frame.setObjectName("parityReport")
        self.report_frame.setStyleSheet("QFrame#parityReport { background: white; border: 1px solid #d9dee3; border-radius: 8px; }")
        grid = QGridLayout(self.report_frame)
        self.verdict = QLabel("No export yet")
        self.verdict.setStyleSheet("font-size: 20px; font-weight: 700; color: #5b6670;")
        grid.addWidget(self.verdict, 0, 0, 1, 4)
        self.fields: dict[str, QLabel] = {}
        self.field_titles: dict[str, QLabel] = {}
        for i, (key, title) in enumerate((("agreement", "Top-1 agreement"), ("max_prob_diff", "Max probability difference"),
                                          ("n", "Held-out samples"), ("runtime", "Loaded back by"),
                                          ("path", "File"), ("example", "Try it"))):
            label = QLabel(title)
            label.setStyleSheet("color: #5b6670;")
            self.field_titles[key] = label
            value = QLabel("-")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            value.setWordWrap(True)
            self.fields[key] = value
            grid.addWidget(label, 1 + i, 0)
            grid.addWidget(value, 1 + i, 1, 1, 3)
        grid.setColumnStretch(1, 1)
        buttons = QHBoxLayout()
        self.open_folder_button = QPushButton("Open folder")
        self.open_folder_button.setEnabled(False)
        self.open_folder_button.clicked.connect(self.open_folder)
        self.copy_button = QPushButton("Copy example command")
        self.copy_button.setEnabled(False)
        self.copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.fields["example"].text()))
        buttons.addWidget(self.open_folder_button)
        buttons.addWidget(self.copy_button)
        buttons.addStretch(1)
        grid.addLayout(buttons, 7, 0, 1, 4)

        history_title = QLabel("Previous exports of this run")
        history_title.setStyleSheet("font-weight: 600;")
        self.history = QTableWidget(0, 6)
        self.history.setHorizontalHeaderLabels(["When", "Format", "Parity", "Agreement", "Max difference", "File"])
        self.history.verticalHeader().setVisible(False)
        self.history.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.history.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        header = self.history.horizontalHeader()
        for col in range(5):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(5, QHeaderView.ResizeMode.Stretch)
        self.history.setToolTip("Click an export to show its parity report above.")
        self.history.itemSelectionChanged.connect(self._show_selected_export)
        self._history_rows: list[dict[str, Any]] = []

        page = QVBoxLayout(self)
        page.addWidget(heading)
        page.addWidget(intro)
        page.addLayout(form)
        page.addLayout(actions)
        page.addWidget(self.report_frame)
        page.addWidget(history_title)
        page.addWidget(self.history, 1)

    # --- runs and paths ---------------------------------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh_runs()

    def refresh_runs(self) -> None:
        """List the trained runs in a job; the picker fills when it returns."""
        job = self.run_job("runs", trained_runs_job, self.lib)
        job.finished.connect(lambda runs, job=job: self.job("runs") is job and self._fill_runs(runs))

    def _fill_runs(self, runs: list[tuple[str, int]]) -> None:
        current = self._wanted_run if self._wanted_run is not None else self.run_combo.currentData()
        self._wanted_run = None
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        self._run_kinds = {run_id: kind for _title, run_id, kind in runs}
        for title, run_id, _kind in runs:
            self.run_combo.addItem(title, run_id)
        self.run_combo.blockSignals(False)
        index = self.run_combo.findData(current) if current is not None else 0
        self.run_combo.setCurrentIndex(max(index, 0))
        has_runs = self.run_combo.count() > 0
        self.export_button.setEnabled(has_runs and not self._exporting())
        if not has_runs:
            self.progress_label.setText("No trained run yet: train a model first.")
        self._run_changed()

    def select_run(self, run_id: int) -> None:
        """Choose the run to export; while the list is on its way, once it has come."""
        if self.job("runs") is not None:
            self._wanted_run = run_id
            return
        self.run_combo.setCurrentIndex(self.run_combo.findData(run_id))

    def set_format(self, fmt: str) -> None:
        self.format_combo.setCurrentIndex(self.format_combo.findData(fmt))

    def _run_changed(self) -> None:
        self._enable_formats()
        self._update_default_path()
        self.refresh_history()

    def run_kind(self) -> str:
        return self._run_kinds.get(self.run_combo.currentData(), "image")

    def _enable_formats(self) -> None:
        """Formats that do not apply to the run's kind of model are greyed out, with the reason."""
        kind = self.run_kind()
        for index in range(self.format_combo.count()):
            item = self.format_combo.model().item(index)
            usable = self.format_combo.itemData(index) in USABLE_FORMATS.get(kind, USABLE_FORMATS["image"])
            item.setEnabled(usable)
            item.setToolTip("" if usable else NOT_USABLE.get(kind, NOT_USABLE["image"]))
        if not self.format_combo.model().item(self.format_combo.currentIndex()).isEnabled():
            self.format_combo.setCurrentIndex(self.format_combo.findData("onnx"))

    def refresh_history(self) -> None:
        run_id = self.run_combo.currentData()
        if run_id is not None:
            job = self.run_job("history", list_exports_job, self.lib, run_id)
            job.finished.connect(self._show_history)

    def _update_default_path(self) -> None:
        from studio.export.service import default_export_path

        run_id, fmt = self.run_combo.currentData(), self.format_combo.currentData()
        self.path_title.setText("Folder" if fmt == "hf" else "File")
        if run_id is None:
            return
        if self._path_edited and self.path_edit.text():
            current = Path(self.path_edit.text())
            from studio.export.writers import SUFFIXES

            self.path_edit.setText(str(current.with_suffix(SUFFIXES.get(fmt, ""))))  # hf: a folder
        else:
            self.path_edit.setText(str(default_export_path(self.lib, run_id, fmt)))

    def _browse(self) -> None:
        if self.format_combo.currentData() == "hf":
            path = QFileDialog.getExistingDirectory(self, "Export the Hugging Face folder to", self.path_edit.text())
        else:
            path, _ = QFileDialog.getSaveFileName(self, "Export to", self.path_edit.text())
        if path:
            self.path_edit.setText(path)
            self._path_edited = True

    # --- export -----------------------------------------------------------------------------
    def start_export(self) -> None:
        run_id, fmt, path = self.run_combo.currentData(), self.format_combo.currentData(), self.path_edit.text().strip()
        if run_id is None or not path or self._exporting():
            return
        self.export_button.setEnabled(False)
        check = self.run_job("check", check_targets_job, self.lib, run_id, fmt, path)
        check.finished.connect(lambda existing: self._targets_checked(run_id, fmt, path, existing))
        check.failed.connect(self._failed)
        check.failed.connect(lambda _message: self._export_ended())

    def _exporting(self) -> bool:
        return self.job("check") is not None or self.job("export") is not None

    def _targets_checked(self, run_id: int, fmt: str, path: str, existing: Path | None) -> None:
        if existing is not None and not self.confirm_replace(existing):
            self._export_ended()
            return
        self.cancel_button.setEnabled(True)
        self.progress.setValue(0)
        self.progress_label.setStyleSheet("color: #5b6670;")
        job = self.run_job("export", export_job, self.lib, run_id, fmt, path, existing is not None)
        job.progress.connect(self._progress)
        job.finished.connect(self._finished)
        job.failed.connect(self._failed)
        job.cancelled.connect(lambda: self.progress_label.setText("Export cancelled."))
        job.done.connect(self._export_ended)

    def confirm_replace(self, existing: Path) -> bool:
        """A file the studio did not write would be replaced: the user decides."""
        answer = QMessageBox.question(self, "Replace file?", f"{existing} already exists and was not written by "
                                      "this export. Replace it?", QMessageBox.StandardButton.Yes
                                      | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
        return answer == QMessageBox.StandardButton.Yes

    def _progress(self, fraction: float, message: str) -> None:
        self.progress.setValue(round(fraction * 1000))
        self.progress_label.setText(message)

    def _export_ended(self) -> None:
        self.export_button.setEnabled(self.run_combo.count() > 0)
        self.cancel_button.setEnabled(False)

    def _failed(self, message: str) -> None:
        self.progress_label.setText(f"Export failed: {message}")
        self.progress_label.setStyleSheet(f"color: {FLAG_COLOUR};")

    def _finished(self, report) -> None:
        self.report = report
        self.show_report(report.parity, report.ok, report.path, report.example_path)
        self.refresh_history()
        self.export_finished.emit(report)

    def show_report(self, parity: dict[str, Any], ok: bool, path: str, example: str | None = None) -> None:
        colour = OK_COLOUR if ok else FLAG_COLOUR
        self.verdict.setText("OK: the file gives the studio's answers" if ok else "FLAGGED: the file disagrees with the studio")
        self.verdict.setStyleSheet(f"font-size: 20px; font-weight: 700; color: {colour};")
        kind = parity.get("kind", "image")
        if parity.get("task") == "regression" and "error" not in parity:
            self._show_regression_parity(parity)
        else:
            diff = parity.get("max_prob_diff")
            self.field_titles["agreement"].setText("Top-1 agreement")
            self.field_titles["max_prob_diff"].setText("Max probability difference")
            self.fields["agreement"].setText(f"{parity.get('agreement', 0):.2%} ({parity.get('top1_agree', 0)} of {parity.get('n', 0)})"
                                             if diff is not None else parity.get("error", "-"))
            self.fields["max_prob_diff"].setText("-" if diff is None else f"{diff:.2e} (limit {parity.get('threshold', 1e-4):.0e})")
        self.fields["n"].setText(f"{parity.get('n', 0)} {SAMPLES.get(kind, 'images')} from the {parity.get('split', '?')} split")
        self.fields["runtime"].setText(f"{parity.get('runtime', '-')} in a fresh process")
        self.fields["path"].setText(path)
        self.fields["example"].setText(f"python {example} {EXAMPLE_INPUTS.get(kind, 'image.png')}" if example else "-")
        self.open_folder_button.setEnabled(True)
        self.copy_button.setEnabled(bool(example))
        self.progress_label.setText("Export done." if ok else "Export done: PARITY FAILED.")
        self.progress_label.setStyleSheet(f"color: {colour};")

    def _show_regression_parity(self, parity: dict[str, Any]) -> None:
        """A regression model's outputs are numbers: how many rows agree, and by how much at most."""
        self.field_titles["agreement"].setText("Rows that agree")
        self.field_titles["max_prob_diff"].setText("Largest difference")
        self.fields["agreement"].setText(f"{parity['agreement']:.2%} ({parity.get('rows_within', 0)} of {parity['n']})")
        units = ", ".join(f"{name} {diff:.2e}" for name, diff in parity.get("max_abs_diff", {}).items())
        self.fields["max_prob_diff"].setText(f"{parity['max_scaled_diff']:.2e} target deviations (limit "
                                             f"{parity['threshold']:.0e}); in the targets' units: {units}")

    def _show_selected_export(self) -> None:
        """Show the report of the export clicked in the history (the file, its parity, its example)."""
        rows = sorted({index.row() for index in self.history.selectedIndexes()})
        if not rows or rows[0] >= len(self._history_rows):
            return
        row = self._history_rows[rows[0]]
        from studio.export.examples import example_path_for
        from studio.export.text_examples import text_example_path

        path = Path(row["path"])
        example = text_example_path(row["format"], path) if row["parity"].get("kind") == "text" else example_path_for(path)
        self.show_report(row["parity"], bool(row["ok"]), row["path"], str(example) if example.is_file() else None)
        when = row["created_at"].strftime("%Y-%m-%d %H:%M") if row["created_at"] else "earlier"
        self.progress_label.setText(f"Export of {when} ({row['format']})" + ("" if Path(row["path"]).exists() else ": the file is gone"))

    def _show_history(self, listed: tuple[int, list[dict[str, Any]]]) -> None:
        run_id, rows = listed
        if run_id != self.run_combo.currentData():
            return  # an older listing (the run was changed while it ran): a newer one follows
        self._history_rows = list(rows)
        self.history.blockSignals(True)  # refilling is not a click
        self.history.setRowCount(len(rows))
        for r, row in enumerate(rows):
            parity = row["parity"]
            diff = parity.get("max_prob_diff", parity.get("max_scaled_diff"))  # regression: in target deviations
            cells = [
                row["created_at"].strftime("%Y-%m-%d %H:%M") if row["created_at"] else "",
                row["format"],
                "OK" if row["ok"] else "FLAGGED",
                f"{parity.get('agreement', 0):.2%}" if diff is not None else "-",
                f"{diff:.1e}" if diff is not None else parity.get("error", "-"),
                row["path"],
            ]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 2:
                    item.setForeground(QColor(OK_COLOUR if row["ok"] else FLAG_COLOUR))
                if c == 5:
                    item.setToolTip(text)
                self.history.setItem(r, c, item)
        self.history.clearSelection()
        self.history.blockSignals(False)
        self.exports_listed.emit()

    def open_folder(self) -> None:
        path = self.fields["path"].text()
        if path and path != "-":
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))
