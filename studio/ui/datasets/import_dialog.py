"""Importing from the GUI: the job function, the progress panel and the summary dialog.

``run_import`` is a plain job function (no Qt): it hands files and folders, mixed, to the
importer's ``import_files`` (what `studio import` calls) and keeps its report: rejected files and
the notes (warnings) the CLI prints. The GUI runs it through ``studio.ui.common.workers.start_job``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import InvalidInputError
from studio.core.jobs import JobState
from studio.store.library import Library


@dataclass
class ImportSummary:
    added: int = 0
    duplicates: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    cancelled: bool = False
    roots: list[str] = field(default_factory=list)  # what was imported: folders, zips, files
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (source, note): imported or skipped
    classes_created: list[str] = field(default_factory=list)

    def text(self) -> str:
        parts = f"{self.added:,} added, {self.duplicates:,} duplicates, {len(self.rejected):,} rejected"
        if self.warnings:
            parts += f", {len(self.warnings):,} note{'s' if len(self.warnings) > 1 else ''}"
        return f"Import cancelled: {parts}" if self.cancelled else parts

    def shown_source(self, source: str) -> str:
        """``source`` as the user knows it: relative to the folder or zip it was imported from
        ("cats/broken.png"), prefixed with that folder's name when several were imported."""
        for root in self.roots:
            root = root.rstrip("/" + os.sep) or root
            name = Path(root).name or root
            for sep in ("!/", os.sep, "/"):
                if source.startswith(root + sep) and len(source) > len(root) + len(sep):
                    inside = source[len(root) + len(sep):]
                    return f"{name}/{inside}" if len(self.roots) > 1 else inside
            if source == root:
                return name
        return source


def run_import(lib: Library, dataset_id: int, paths: Sequence[str | Path], state: JobState) -> ImportSummary:
    """Import ``paths`` (folders, zips, image files, in any mix) into the dataset, as `studio import`."""
    from studio.store.importers import import_files

    paths = [Path(p) for p in paths]
    if not paths:
        raise InvalidInputError("Nothing to import: no files were given")
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise InvalidInputError(f"Cannot import {missing[0]}: it does not exist")
    report = import_files(lib, dataset_id, paths, state)
    state.set_progress(1.0, "cancelled" if report.cancelled else "done")
    return ImportSummary(report.added, report.duplicates, list(report.rejected), report.cancelled,
                         roots=[str(p) for p in paths], warnings=list(report.warnings),
                         classes_created=list(report.classes_created))


class ImportProgressPanel(QWidget):
    """Lives in the status bar while an import runs: what it does, a bar, and Cancel."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.label = QLabel("Importing…")
        self.label.setMinimumWidth(180)
        self.label.setMaximumWidth(360)
        self.bar = QProgressBar()
        self.bar.setRange(0, 1000)
        self.bar.setFixedWidth(220)
        self.bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the import; what was imported so far is kept")
        self.cancel_button.clicked.connect(self._on_cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)

    def start(self, what: str) -> None:
        self.label.setText(f"Importing {what}…")
        self.bar.setValue(0)
        self.cancel_button.setEnabled(True)
        self.show()

    def set_progress(self, fraction: float, message: str) -> None:
        self.bar.setValue(int(fraction * 1000))
        self.bar.setFormat(f"{fraction * 100:.0f}%")
        if message:
            metrics = self.label.fontMetrics()
            self.label.setText(metrics.elidedText(message, Qt.TextElideMode.ElideMiddle, self.label.maximumWidth()))

    def _on_cancel(self) -> None:
        self.cancel_button.setEnabled(False)
        self.label.setText("Cancelling…")
        self.cancel_requested.emit()


class ImportSummaryDialog(QDialog):
    """"N added, M duplicates, K rejected, W notes", with Details: a table of each rejected file and
    why, and one of the importer's notes (links skipped, names repaired), as `studio import` prints."""

    def __init__(self, summary: ImportSummary, dataset_name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.summary = summary
        self.setWindowTitle("Import cancelled" if summary.cancelled else "Import finished")
        self.headline = QLabel(summary.text())
        font = self.headline.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.headline.setFont(font)
        new = f"; new classes: {', '.join(summary.classes_created)}" if summary.classes_created else ""
        self.where = QLabel(f"into dataset “{dataset_name}”{new}")
        self.where.setWordWrap(True)
        self.where.setStyleSheet("color: #5b6670")

        single = Path(summary.roots[0]).name if len(summary.roots) == 1 else ""
        where_from = f" (in “{single}”)" if single else ""
        self.details = self._table(summary, summary.rejected, f"Rejected file{where_from}", "Reason")
        self.notes = self._table(summary, summary.warnings, f"File{where_from}", "Note")

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        self.details_button = buttons.addButton("Details…", QDialogButtonBox.ButtonRole.ActionRole)
        self.details_button.setCheckable(True)
        self.details_button.setEnabled(bool(summary.rejected or summary.warnings))
        self.details_button.toggled.connect(self.show_details)
        buttons.accepted.connect(self.accept)

        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(self.where)
        layout.addWidget(self.details, 1)
        layout.addWidget(self.notes, 1)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)

    @staticmethod
    def _table(summary: ImportSummary, rows: list[tuple[str, str]], first: str, second: str) -> QTableWidget:
        """(source as the user knows it, text) per row; hidden until Details is pressed."""
        table = QTableWidget(len(rows), 2)
        table.setHorizontalHeaderLabels([first, second])
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        table.setWordWrap(False)
        header = table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for row, (source, text) in enumerate(rows):
            src_item = QTableWidgetItem(summary.shown_source(source))
            src_item.setToolTip(source)  # the full path
            text_item = QTableWidgetItem(text)
            text_item.setToolTip(text)
            table.setItem(row, 0, src_item)
            table.setItem(row, 1, text_item)
        table.setColumnWidth(0, 300)
        table.setVisible(False)
        return table

    def show_details(self, visible: bool = True) -> None:
        self.details.setVisible(visible and bool(self.summary.rejected))
        self.notes.setVisible(visible and bool(self.summary.warnings))
        self.details_button.setText("Hide details" if visible else "Details…")
        self.resize(max(self.width(), 720), 420 if visible else self.minimumSizeHint().height())

    def rejected_rows(self) -> list[tuple[str, str]]:
        """What the Details table shows (file as shown, reason), for tests."""
        return _rows(self.details)

    def note_rows(self) -> list[tuple[str, str]]:
        """What the notes table shows (file as shown, note), for tests."""
        return _rows(self.notes)


def _rows(table: QTableWidget) -> list[tuple[str, str]]:
    return [(table.item(r, 0).text(), table.item(r, 1).text()) for r in range(table.rowCount())]
