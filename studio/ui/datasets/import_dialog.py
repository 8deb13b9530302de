"""Importing from the GUI: the job function, the progress panel and the summary dialog.

``run_import`` is a plain job function (no Qt): it sends folders and zips to ``import_path`` and
loose files to ``import_files`` and adds up their reports. The GUI runs it through
``studio.ui.common.workers.start_job``; tests call the same path.
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

from studio.core.errors import Cancelled, InvalidInputError
from studio.core.jobs import JobState
from studio.store.library import Library


@dataclass
class ImportSummary:
    added: int = 0
    duplicates: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (source, reason)
    cancelled: bool = False
    roots: list[str] = field(default_factory=list)  # what was imported: folders, zips, files

    def text(self) -> str:
        parts = f"{self.added:,} added, {self.duplicates:,} duplicates, {len(self.rejected):,} rejected"
        return f"Import cancelled: {parts}" if self.cancelled else parts

    def add(self, report) -> None:
        self.added += int(report.added)
        self.duplicates += int(report.duplicates)
        self.rejected.extend((str(src), str(reason)) for src, reason in report.rejected)
        self.cancelled = self.cancelled or bool(getattr(report, "cancelled", False))

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


class _SubState(JobState):
    """Maps one part's progress (0..1) into its share of the whole import."""

    def __init__(self, parent: JobState, start: float, share: float):
        super().__init__()
        self._parent = parent
        self._start = start
        self._share = share

    def set_progress(self, fraction: float, message: str | None = None) -> None:
        self._parent.set_progress(self._start + self._share * min(max(fraction, 0.0), 1.0), message)

    def set_partial_result(self, value) -> None:
        self._parent.set_partial_result(value)

    def is_cancelled(self) -> bool:
        return self._parent.is_cancelled()

    def check_cancelled(self) -> None:
        self._parent.check_cancelled()

    def cancel(self) -> None:
        self._parent.cancel()


def run_import(lib: Library, dataset_id: int, paths: Sequence[str | Path], state: JobState) -> ImportSummary:
    """Import ``paths`` (folders, zips, image files, in any mix) into the dataset."""
    from studio.store.importers import import_files, import_path

    paths = [Path(p) for p in paths]
    if not paths:
        raise InvalidInputError("Nothing to import: no files were given")
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise InvalidInputError(f"Cannot import {missing[0]}: it does not exist")
    containers = [p for p in paths if p.is_dir() or p.suffix.lower() == ".zip"]
    files = [p for p in paths if p not in containers]
    parts: list[tuple[str, object]] = [("path", p) for p in containers]
    if files:
        parts.append(("files", files))
    summary = ImportSummary(roots=[str(p) for p in paths])
    share = 1.0 / len(parts)
    for i, (kind, what) in enumerate(parts):
        sub = _SubState(state, i * share, share)
        try:
            if kind == "path":
                report = import_path(lib, dataset_id, what, sub)
            else:
                report = import_files(lib, dataset_id, what, sub)
        except Cancelled:
            summary.cancelled = True
            break
        summary.add(report)
        if summary.cancelled or state.is_cancelled():
            summary.cancelled = True
            break
    state.set_progress(1.0, "cancelled" if summary.cancelled else "done")
    return summary


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
    """"N added, M duplicates, K rejected", with a Details table of each rejected file and why."""

    def __init__(self, summary: ImportSummary, dataset_name: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.summary = summary
        self.setWindowTitle("Import cancelled" if summary.cancelled else "Import finished")
        self.headline = QLabel(summary.text())
        font = self.headline.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.headline.setFont(font)
        where = QLabel(f"into dataset “{dataset_name}”")
        where.setStyleSheet("color: #5b6670")

        self.details = QTableWidget(len(summary.rejected), 2)
        single = Path(summary.roots[0]).name if len(summary.roots) == 1 else ""
        first = f"Rejected file (in “{single}”)" if single else "Rejected file"
        self.details.setHorizontalHeaderLabels([first, "Reason"])
        self.details.verticalHeader().setVisible(False)
        self.details.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.details.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.details.setWordWrap(False)
        header = self.details.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for row, (source, reason) in enumerate(summary.rejected):
            src_item = QTableWidgetItem(summary.shown_source(source))
            src_item.setToolTip(source)  # the full path
            reason_item = QTableWidgetItem(reason)
            reason_item.setToolTip(reason)
            self.details.setItem(row, 0, src_item)
            self.details.setItem(row, 1, reason_item)
        self.details.setColumnWidth(0, 300)
        self.details.setVisible(False)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        self.details_button = buttons.addButton("Details…", QDialogButtonBox.ButtonRole.ActionRole)
        self.details_button.setCheckable(True)
        self.details_button.setEnabled(bool(summary.rejected))
        self.details_button.toggled.connect(self.show_details)
        buttons.accepted.connect(self.accept)

        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(where)
        layout.addWidget(self.details, 1)
        layout.addWidget(buttons)
        self.setMinimumWidth(460)

    def show_details(self, visible: bool = True) -> None:
        self.details.setVisible(visible)
        self.details_button.setText("Hide details" if visible else "Details…")
        self.resize(max(self.width(), 720), 420 if visible else self.minimumSizeHint().height())

    def rejected_rows(self) -> list[tuple[str, str]]:
        """What the Details table shows (file as shown, reason), for tests."""
        return [
            (self.details.item(r, 0).text(), self.details.item(r, 1).text())
            for r in range(self.details.rowCount())
        ]
