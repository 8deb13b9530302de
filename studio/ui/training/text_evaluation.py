"""The Evaluate page's view of a text run (a ``TextEvaluation``).

The page keeps its per-class table and confusion matrix; here a clicked cell lists its texts (the
start of each, its true and predicted class, the model's confidence), beside the most confident
mistakes. Choosing a text shows it whole, with "Show in Datasets" (the text in labelling mode on
the Datasets page, where a wrong label is fixed with a number key). Texts are read in the page's
jobs, never on the GUI thread: a list shows its classes at once and the texts a moment later.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGroupBox,
    QHeaderView,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

if TYPE_CHECKING:
    from studio.store.library import Library
    from studio.train.text.evaluation import TextEvaluation
    from studio.ui.common.page import Page

TEXTS_SHOWN = 200  # texts listed for a confusion cell or as mistakes
START_CHARS = 200  # of each listed text
WHOLE_TEXT_CHARS = 100_000  # a longer text shows its start: a 10 MB text would stall the text box
SPLIT_WORDS = {"test": "test", "val": "validation", "train": "training", "unlabelled": "unlabelled", "all": "labelled"}
Review = Callable[[int, Sequence[int]], None]  # (dataset id, sample ids): open them in labelling mode
Listed = tuple[int, str, str, float]  # sample id, true class, predicted class, confidence


def text_summary(result: TextEvaluation) -> str:
    """One line for the page's summary label."""
    cut = f" ({result.truncated:,} cut at the model's max length)" if result.truncated else ""
    head = f"Run {result.run_id} on {result.samples:,} {SPLIT_WORDS.get(result.split, result.split)} texts{cut}"
    if result.accuracy is None:
        return f"{head}: no labelled texts to compare with."
    mistakes = len(result.mistakes)
    return f"{head}: accuracy {result.accuracy:.1%}, {mistakes} mistake{'' if mistakes == 1 else 's'}."


def text_starts_job(lib: Library, dataset_id: int, sample_ids: list[int], state: Any = None) -> dict[int, str]:
    """Worker thread: the start of each text, on one line."""
    from studio.data.text.samples import text_previews

    return {p.id: p.preview for p in text_previews(lib, dataset_id, sample_ids, preview_chars=START_CHARS)}


def whole_text_job(lib: Library, dataset_id: int, sample_id: int, state: Any = None) -> tuple[int, str, int]:
    """Worker thread: (sample id, the text up to WHOLE_TEXT_CHARS, its length in characters)."""
    from studio.data.text.samples import read_text

    text = read_text(lib, sample_id, dataset_id=dataset_id)
    return sample_id, text[:WHOLE_TEXT_CHARS], len(text)


class TextList(QTableWidget):
    """Listed texts, one per line: the start of the text (on two lines), true and predicted class
    (unless ``with_classes`` is False: a cell's title says them), confidence. Choosing a line
    (click or keys) emits its entry (a ``Listed``)."""

    text_chosen = Signal(object)

    def __init__(self, tooltip: str, with_classes: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(0, 4, parent)
        self.listed: list[Listed] = []
        self.setHorizontalHeaderLabels(["Text", "True", "Predicted", "Confidence"])
        self.setToolTip(tooltip)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setWordWrap(True)  # the text's start on two lines: each line shows more of it
        self.verticalHeader().setDefaultSectionSize(2 * self.fontMetrics().lineSpacing() + 10)
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in (1, 2):
            self.setColumnHidden(column, not with_classes)
        self.currentCellChanged.connect(self._current_changed)

    def show_texts(self, listed: list[Listed]) -> None:
        self.blockSignals(True)
        self.clearContents()
        self.listed = list(listed)
        self.setRowCount(len(listed))
        for line, (sample_id, truth, predicted, confidence) in enumerate(listed):
            for column, text in enumerate(["…", truth, predicted, f"{confidence:.1%}"]):
                item = QTableWidgetItem(text)
                if column == 3:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.setItem(line, column, item)
        self.blockSignals(False)

    @property
    def sample_ids(self) -> list[int]:
        return [entry[0] for entry in self.listed]

    def set_starts(self, starts: dict[int, str], missing: str = "") -> None:
        for line, sample_id in enumerate(self.sample_ids):
            start = starts.get(sample_id, missing)
            self.item(line, 0).setText(start)
            self.item(line, 0).setToolTip(f"text {sample_id}: {start}")

    def selected_ids(self) -> list[int]:
        return [self.sample_ids[index.row()] for index in self.selectionModel().selectedRows()]

    def _current_changed(self, line: int, *_args) -> None:
        if 0 <= line < len(self.listed):
            self.text_chosen.emit(self.listed[line])


class TextPanel(QGroupBox):
    """One text whole, with what the model made of it."""

    def __init__(self, review: Review | None, parent: QWidget | None = None) -> None:
        super().__init__("Text", parent)
        self.review = review
        self.dataset_id: int | None = None
        self.sample_id: int | None = None
        self.note = QLabel("Choose a text to read it whole.")
        self.note.setWordWrap(True)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.open_button = QPushButton("Show in Datasets")
        self.open_button.setToolTip("Open this text on the Datasets page in labelling mode (a number key relabels it).")
        self.open_button.clicked.connect(self._open)
        self.open_button.setVisible(review is not None)
        self.open_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.text, 1)
        layout.addWidget(self.open_button)

    def show_choice(self, dataset_id: int, sample_id: int, note: str) -> None:
        """The chosen text's classes now; its words when ``show_text`` brings them."""
        self.dataset_id, self.sample_id = dataset_id, sample_id
        self.setTitle(f"Text {sample_id}")
        self.note.setText(note)
        self.text.setPlainText("Reading the text…")
        self.open_button.setEnabled(True)

    def show_text(self, sample_id: int, text: str, length: int) -> None:
        if sample_id != self.sample_id:
            return  # another text was chosen meanwhile
        more = f"\n\n[… the first {len(text):,} of {length:,} characters]" if length > len(text) else ""
        self.text.setPlainText(text + more)

    def clear_text(self) -> None:
        self.dataset_id = self.sample_id = None
        self.setTitle("Text")
        self.note.setText("Choose a text to read it whole.")
        self.text.clear()
        self.open_button.setEnabled(False)

    def _open(self) -> None:
        if self.review is not None and self.sample_id is not None:
            self.review(self.dataset_id, [self.sample_id])


class TextEvaluationView(QWidget):
    """Everything the Evaluate page shows of a text run below its per-class table and confusion
    matrix: the texts of the clicked cell, the most confident mistakes and the chosen text.
    ``page`` runs the jobs that read texts."""

    def __init__(self, page: Page, lib: Library, review: Review | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.page, self.lib, self.review = page, lib, review
        self.result: TextEvaluation | None = None
        self.cell_title = QLabel("Click a confusion-matrix cell to list its texts.")
        self.cell_texts = TextList("The texts of the clicked cell, surest prediction first. Click one to read it.",
                                   with_classes=False)
        self.mistakes_title = QLabel()
        self.mistake_texts = TextList("Texts the model got wrong, surest first. Click one to read it.")
        self.review_button = QPushButton("Review in labelling")
        self.review_button.setToolTip("Open these mistakes (or the selected ones) in labelling mode to fix wrong labels.")
        self.review_button.clicked.connect(self._review)
        self.review_button.setVisible(review is not None)
        self.panel = TextPanel(review)
        for texts in (self.cell_texts, self.mistake_texts):
            texts.text_chosen.connect(self.choose_text)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(_box("Texts in the cell", self.cell_title, self.cell_texts))
        split.addWidget(_box("Most confident mistakes", self.mistakes_title, self.mistake_texts, self.review_button))
        split.addWidget(self.panel)
        split.setSizes([420, 420, 340])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

    def show_result(self, result: TextEvaluation) -> None:
        self.result = result
        self.panel.clear_text()
        self.cell_title.setText("Click a confusion-matrix cell to list its texts.")
        self.cell_texts.show_texts([])
        shown = result.mistakes[:TEXTS_SHOWN]
        if shown:
            more = f" (the surest {len(shown)})" if len(result.mistakes) > len(shown) else ""
            self.mistakes_title.setText(f"{len(result.mistakes):,} texts wrong{more}, surest first")
        elif result.accuracy is not None:
            self.mistakes_title.setText(f"No mistakes: the model got all {result.labelled:,} labelled texts right.")
        else:
            self.mistakes_title.setText("No labelled texts in this split: nothing to compare the predictions with.")
        self.review_button.setEnabled(bool(shown))
        self._list("text_mistakes", self.mistake_texts, [tuple(m) for m in shown])

    def show_cell(self, true_index: int, predicted_index: int) -> None:
        """List the texts of a confusion cell (true class, predicted class)."""
        if self.result is None:
            return
        ids = self.result.cells.get((true_index, predicted_index), [])
        shown = ids[:TEXTS_SHOWN]
        more = f" (showing {len(shown)})" if len(ids) > len(shown) else ""
        truth, predicted = self.result.classes[true_index], self.result.classes[predicted_index]
        self.cell_title.setText(f"True {truth}, predicted {predicted}: {len(ids):,} texts{more}")
        self._list("text_cell", self.cell_texts, [(i, truth, predicted, self.result.confidences[i]) for i in shown])

    def _list(self, key: str, texts: TextList, listed: list[Listed]) -> None:
        texts.show_texts(listed)
        self.page.cancel_job(key)
        if not listed:
            return
        job = self.page.run_job(key, text_starts_job, self.lib, self.result.dataset_id, [entry[0] for entry in listed])
        job.finished.connect(lambda starts, j=job: self.page.job(key) is j and texts.set_starts(starts))
        job.failed.connect(lambda message: texts.set_starts({}, f"(cannot read the texts: {message})"))

    def choose_text(self, entry: Listed) -> None:
        """Show a listed text whole (read in a job) with its true and predicted class."""
        if self.result is None:
            return
        sample_id, truth, predicted, confidence = entry
        note = f"labelled {truth}, predicted {predicted} with {confidence:.1%} confidence"
        self.panel.show_choice(self.result.dataset_id, sample_id, note)
        job = self.page.run_job("text_whole", whole_text_job, self.lib, self.result.dataset_id, sample_id)
        job.finished.connect(lambda found: self.panel.show_text(*found))
        job.failed.connect(lambda message: self.panel.text.setPlainText(f"Cannot read the text: {message}"))

    def _review(self) -> None:
        if self.review is not None and self.result is not None:
            ids = self.mistake_texts.selected_ids() or [m.sample_id for m in self.result.mistakes]
            self.review(self.result.dataset_id, ids)


def _box(title: str, *widgets: QWidget) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    for widget in widgets:
        layout.addWidget(widget, 1 if isinstance(widget, TextList) else 0)
    return box
