"""Predicting a whole file (a table's rows, a file of texts) as one of the Play page's jobs."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QWidget

MUTED, ERROR = "#5b6670", "#b3261e"
CANCELLED = "Cancelled: nothing was written."


class FileJobRow(QWidget):
    """A progress bar, what the job is doing and Cancel while it runs; then one line saying how it
    ended. ``button`` (the one that starts it) is disabled meanwhile. A cancelled or failed job
    writes nothing (the job functions write their file at the end)."""

    succeeded = Signal(object)  # the job's result

    def __init__(self, page, job_key: str, button: QPushButton, parent: QWidget | None = None):
        super().__init__(parent)
        self.page, self.job_key, self.button = page, job_key, button
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(False)
        self.label = QLabel("")
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.progress, 1)
        row.addWidget(self.label, 2)
        row.addWidget(self.cancel_button)
        self._set_running(False)

    def start(self, source: str, fn, *args) -> None:
        """Run ``fn(*args, state)`` as the page's job for this row."""
        name = Path(source).name
        self._set_running(True)
        self.progress.setValue(0)
        self._say(f"Reading {name}...")
        job = self.page.run_job(self.job_key, fn, *args)
        job.progress.connect(lambda fraction, message: (self.progress.setValue(round(fraction * 1000)),
                                                        self.label.setText(message)))
        job.finished.connect(self.succeeded.emit)
        job.failed.connect(lambda message: self.end(f"Cannot predict {name}: {message}", error=True))
        job.cancelled.connect(lambda: self.end(CANCELLED))

    def cancel(self) -> None:
        self.page.cancel_job(self.job_key)
        self.end(CANCELLED)

    def end(self, message: str, error: bool = False) -> None:
        self._set_running(False)
        self.label.setVisible(True)
        self._say(message, error)

    def _say(self, message: str, error: bool = False) -> None:
        self.label.setText(message)
        self.label.setStyleSheet(f"color: {ERROR if error else MUTED};")

    def _set_running(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.label.setVisible(running)
        self.cancel_button.setVisible(running)
        self.button.setEnabled(not running)
