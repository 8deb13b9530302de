"""The About dialog's "Run self-test": `<app> self-test --json` in a child process (the same check
as the command line: train in a worker, export with parity, kernels), one line per step as it ends.
A child process, so a failing step cannot take the app down, and closing the dialog stops it."""

from __future__ import annotations

import json

from PySide6.QtCore import QProcess, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget


class SelfTestPanel(QWidget):
    finished = Signal(bool)  # passed

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.process: QProcess | None = None
        self._buffer = b""
        self.steps: list[dict] = []
        self.run_button = QPushButton("Run self-test")
        self.run_button.setToolTip("Check this installation end to end in a temporary library: import, train on "
                                   "the CPU (and CUDA when present), evaluate, export with parity, predict, kernels. "
                                   "About a minute or two; your library is not touched.")
        self.run_button.clicked.connect(self.start)
        self.status = QLabel("")
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        self.output.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.output.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.output.setMinimumHeight(150)
        self.output.hide()
        row = QHBoxLayout()
        row.addWidget(self.run_button)
        row.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.output)

    def start(self) -> None:
        from studio.core.paths import worker_command

        if self.process is not None:
            return
        self.steps.clear()
        self._buffer = b""
        self.output.clear()
        self.output.show()
        self.run_button.setEnabled(False)
        self.status.setText("running…")
        command = worker_command() + ["self-test", "--json"]
        self.process = QProcess(self)
        self.process.readyReadStandardOutput.connect(self._read)
        self.process.finished.connect(self._done)
        self.process.errorOccurred.connect(self._failed_to_start)
        self.process.start(command[0], command[1:])

    def _read(self) -> None:
        self._buffer += bytes(self.process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            try:
                step = json.loads(raw)
            except ValueError:
                continue  # not a step line
            if isinstance(step, dict) and step.get("event") == "self-test":
                self.steps.append(step)
                mark = "ok    " if step.get("ok") else "FAILED"
                self.output.appendPlainText(f"{mark} {step.get('step', ''):<28} {float(step.get('seconds', 0)):6.1f} s  "
                                            f"{step.get('detail', '')}")

    def _done(self, exit_code: int, _status) -> None:
        self._read()
        passed = exit_code == 0 and bool(self.steps) and all(s.get("ok") for s in self.steps)
        self.status.setText("passed" if passed else f"FAILED (exit {exit_code})")
        self.status.setStyleSheet(f"color: {'#1b7f4b' if passed else '#b3261e'}; font-weight: 600;")
        self.process = None
        self.run_button.setEnabled(True)
        self.finished.emit(passed)

    def _failed_to_start(self, error) -> None:
        if error == QProcess.ProcessError.FailedToStart:
            self.status.setText("could not start the self-test process")
            self.process = None
            self.run_button.setEnabled(True)
            self.finished.emit(False)

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.waitForFinished(3000)
