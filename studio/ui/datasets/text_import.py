"""Importing texts from the GUI: the job functions (no Qt, W1's ``studio.data.text.importing``
behind them, reported as the image import's ``ImportSummary``) and the "Paste texts" dialog."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from studio.core.jobs import JobState
from studio.store.library import Library
from studio.ui.datasets.import_dialog import ImportSummary

TEXT_FILE_FILTER = "Texts (*.csv *.tsv *.tab *.jsonl *.ndjson *.zip *.txt);;All files (*)"
TEXT_ONLY_SUFFIXES = (".txt", ".jsonl", ".ndjson")  # files that hold texts, never images or tables
NO_CLASS = "(no class: unlabelled)"


def is_text_only_file(path: Path) -> bool:
    return path.suffix.lower() in TEXT_ONLY_SUFFIXES and path.is_file()


def _summary(report, roots: list[str]) -> ImportSummary:
    return ImportSummary(report.added, report.duplicates, list(report.rejected), report.cancelled, roots=roots,
                         warnings=list(report.warnings), classes_created=list(report.classes_created))


def run_text_import(lib: Library, dataset_id: int, paths: Sequence[str], state: JobState) -> ImportSummary:
    """Folders of class folders of .txt, zips, .txt files and CSV/TSV/JSONL files, as `studio import`."""
    from studio.data.text.importing import import_text_files

    report = import_text_files(lib, dataset_id, [Path(p) for p in paths], state)
    state.set_progress(1.0, "cancelled" if report.cancelled else "done")
    return _summary(report, [str(p) for p in paths])


def run_paste_import(lib: Library, dataset_id: int, text: str, class_name: str | None,
                     state: JobState) -> ImportSummary:
    """Each non-blank line of ``text`` one text, all of ``class_name`` when given (blank lines
    separate texts, as `studio import --paste`, and are not rejected texts)."""
    from studio.data.text.importing import import_text_lines

    lines = [line for line in text.splitlines() if line.strip()]
    report = import_text_lines(lib, dataset_id, lines, class_name=class_name, state=state)
    state.set_progress(1.0, "cancelled" if report.cancelled else "done")
    return _summary(report, [])


class PasteTextsDialog(QDialog):
    """A box for texts, one per line, and the class they all get (or none)."""

    def __init__(self, classes: Sequence[str], target: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Paste texts")
        self.resize(640, 420)
        self.text_box = QPlainTextEdit()
        self.text_box.setObjectName("paste_texts_box")
        self.text_box.setPlaceholderText("One text per line. Blank lines are skipped.")
        self.class_box = QComboBox()
        self.class_box.setEditable(True)  # a new name makes a new class
        self.class_box.addItem(NO_CLASS)
        self.class_box.addItems(list(classes))
        self.count_label = QLabel()
        self.count_label.setStyleSheet("color: #5b6670")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.text_box.textChanged.connect(self._count)
        form = QFormLayout()
        form.addRow("Class:", self.class_box)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"Texts to add to “{target}”:"))
        layout.addWidget(self.text_box, 1)
        layout.addLayout(form)
        layout.addWidget(self.count_label)
        layout.addWidget(self.buttons)
        self._count()

    def texts(self) -> str:
        return self.text_box.toPlainText()

    def class_name(self) -> str | None:
        name = self.class_box.currentText().strip()
        return None if name in ("", NO_CLASS) else name

    def _count(self) -> None:
        n = sum(1 for line in self.texts().splitlines() if line.strip())
        self.count_label.setText(f"{n:,} text{'s' if n != 1 else ''}")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(n > 0)
