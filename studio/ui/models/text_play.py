"""Play with a text model: type or paste a text and see its class probabilities as you type, best
first; "Predict a file..." predicts every text of a .txt (one per line) or CSV/TSV/JSONL file and
saves them with their predictions.

Every prediction runs as a page job (``Page.run_job``) off the GUI thread: the text once the typing
pauses (debounced; a newer text replaces an older one still on its way), a file with progress and
Cancel. The numbers are those of `studio predict` (``studio.export.predict_texts.TextPredictor``).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.ui.models.file_job_row import FileJobRow
from studio.ui.models.live_panel import LivePredictPanel

TEXT_FILE_FILTER = "Texts (*.txt *.csv *.tsv *.jsonl *.ndjson);;All files (*)"
HEADLINE_STYLE = "font-size: 22px; font-weight: 700;"
BAR_STYLE = ("QProgressBar {{ background: #eef1f4; border: none; border-radius: 4px; }}"
             "QProgressBar::chunk {{ background: {colour}; border-radius: 4px; }}")
MUTED, ERROR, WARNING = "#5b6670", "#b3261e", "#9a6700"
MOST_BARS = 10  # classes shown as bars, best first; the rest are summed up in one line
TEXT_JOB, FILE_JOB = "text sentence", "text file"


def predict_text_job(predictor, text: str, state):
    return predictor.predict_text(text)


def predict_file_job(predictor, source: str, target: str, state):
    return predictor.predict_file(source, target, state)


def default_output_path(source: str) -> str:
    path = Path(source)
    return str(path.with_name(f"{path.stem} predictions.csv"))


def class_colours(classes: list[str], known: dict[str, str]) -> dict[str, str]:
    """Each class's colour in the dataset, else one of the palette's (a model from elsewhere)."""
    from studio.store.datasets import PALETTE

    return {name: known.get(name) or PALETTE[i % len(PALETTE)] for i, name in enumerate(classes)}


class ClassBars(QFrame):
    """The prediction of one text: the best class as a headline, a bar per class, best first."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("textOutput")
        self.setStyleSheet("QFrame#textOutput { background: white; border: 1px solid #d9dee3; border-radius: 8px; }")
        box = QVBoxLayout(self)
        self.headline = QLabel("-")
        self.headline.setStyleSheet(HEADLINE_STYLE)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.grid = QGridLayout()
        self.grid.setColumnStretch(1, 1)
        self.rest = QLabel("")  # "... and N more classes", when there are more than MOST_BARS
        self.rest.setStyleSheet(f"color: {MUTED};")
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.info = QLabel("")
        self.info.setStyleSheet(f"color: {MUTED};")
        self.info.setWordWrap(True)
        box.addWidget(self.headline)
        box.addLayout(self.grid)
        box.addWidget(self.rest)
        box.addWidget(self.note)
        box.addWidget(self.info)
        box.addStretch(1)
        self.rows: list[tuple[QLabel, QProgressBar, QLabel]] = []  # top to bottom
        self.colours: dict[str, str] = {}

    def configure(self, classes: list[str], colours: dict[str, str]) -> None:
        while self.grid.count():
            self.grid.takeAt(0).widget().deleteLater()
        self.rows, self.colours = [], colours
        for position, name in enumerate(classes[:MOST_BARS]):  # row i shows the i-th most probable class
            label = QLabel(name)
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(False)
            bar.setFixedHeight(14)
            percent = QLabel("")
            percent.setMinimumWidth(60)
            percent.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            for column, widget in enumerate((label, bar, percent)):
                self.grid.addWidget(widget, position, column)
            self.rows.append((label, bar, percent))
        self._fill([(name, 0.0) for name in classes])
        self.clear("Type a text to see how the model classifies it.")

    def _fill(self, ranked: list[tuple[str, float]]) -> None:
        for position, ((label, bar, percent), (name, probability)) in enumerate(zip(self.rows, ranked)):
            label.setText(name)
            label.setStyleSheet("font-weight: 600;" if position == 0 else "")
            bar.setStyleSheet(BAR_STYLE.format(colour=self.colours[name]))
            bar.setValue(round(probability * 1000))
            percent.setText(f"{probability:.1%}")
        rest = ranked[len(self.rows):]
        self.rest.setVisible(bool(rest))
        self.rest.setText(f"... and {len(rest)} more classes, {sum(p for _, p in rest):.1%} together" if rest else "")

    def shown_rows(self) -> list[tuple[str, int, str]]:
        """(class, bar value of 1000, percent shown), top to bottom."""
        return [(label.text(), bar.value(), percent.text()) for label, bar, percent in self.rows]

    def show_prediction(self, prediction, max_length: int) -> None:
        ranked = prediction.ranked
        best_name, best_p = ranked[0]
        self.headline.setText(f"{best_name}  {best_p:.1%}")
        self.headline.setStyleSheet(HEADLINE_STYLE)
        self._fill(ranked)
        self.note.setText(f"Cut at {max_length} tokens: the model sees only the start of this text." if prediction.truncated else "")
        self.note.setStyleSheet(f"color: {WARNING};")

    def clear(self, message: str) -> None:
        self.headline.setText("-")
        self.headline.setStyleSheet(HEADLINE_STYLE + " color: #9aa4ad;")
        for _label, bar, percent in self.rows:
            bar.setValue(0)
            percent.setText("")
        self.rest.setVisible(False)
        self.note.setText(message)
        self.note.setStyleSheet(f"color: {MUTED};")

    def show_problem(self, message: str) -> None:
        """The prediction could not be made; what is shown is greyed: it is of an earlier text."""
        self.note.setText(message)
        self.note.setStyleSheet(f"color: {ERROR};")
        self.headline.setStyleSheet(HEADLINE_STYLE + " color: #9aa4ad;")


class TextPlayPanel(LivePredictPanel):
    prediction_shown = Signal(object)  # the TextPrediction now on screen
    file_finished = Signal(int, str)   # texts predicted, the file written

    job_key = TEXT_JOB

    def _build(self) -> None:
        intro = QLabel("Type or paste a text: its class probabilities follow as you type (Ctrl+Enter predicts now).")
        intro.setStyleSheet(f"color: {MUTED};")
        self.file_button = QPushButton("Predict a file...")
        self.file_button.setToolTip("Predict every text of a .txt file (one text per line) or a CSV/TSV/JSONL file "
                                    "with a text column, and save them with their predictions as CSV")
        self.file_button.clicked.connect(self.choose_file)
        top = QHBoxLayout()
        top.addWidget(intro, 1)
        top.addWidget(self.file_button)

        self.editor = QPlainTextEdit()
        self.editor.setPlaceholderText("e.g. a gripping, funny film with a wonderful cast")
        self.editor.setStyleSheet("QPlainTextEdit { font-size: 15px; }")
        self.editor.textChanged.connect(self._text_changed)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):
            QShortcut(QKeySequence(keys), self.editor, activated=self.predict_now,
                      context=Qt.ShortcutContext.WidgetShortcut)
        self.predict_button = QPushButton("Predict")
        self.predict_button.setToolTip("Ctrl+Enter")
        self.predict_button.clicked.connect(self.predict_now)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.editor.clear)
        buttons = QHBoxLayout()
        buttons.addWidget(self.predict_button)
        buttons.addWidget(self.clear_button)
        buttons.addStretch(1)
        left = QWidget()
        left_box = QVBoxLayout(left)
        left_box.setContentsMargins(0, 0, 0, 0)
        left_box.addWidget(self.editor, 1)
        left_box.addLayout(buttons)

        self.output = ClassBars()
        split = QSplitter()
        split.addWidget(left)
        split.addWidget(self.output)
        split.setSizes([620, 420])

        self.file_row = FileJobRow(self.page, FILE_JOB, self.file_button)
        self.file_row.succeeded.connect(self._file_done)

        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(top)
        box.addWidget(split, 1)
        box.addWidget(self.file_row)

    # --- the model ----------------------------------------------------------------------------
    def set_predictor(self, predictor, known_colours: dict[str, str]) -> None:
        self.predictor, self.shown = predictor, None
        self.output.configure(predictor.classes, class_colours(predictor.classes, known_colours))
        self.output.info.setText(f"{predictor.label} on {predictor.device.upper()}; texts are cut at "
                                 f"{predictor.max_length} tokens")
        self.predict_now()  # a text already typed is predicted by the new model
        self.editor.setFocus()

    # --- one text -----------------------------------------------------------------------------
    def _text_changed(self) -> None:
        if self.predictor is not None:
            self._timer.start()

    def predict_now(self) -> None:
        self._timer.stop()
        if self.predictor is None:
            return
        text = self.editor.toPlainText()
        if not text.strip():
            self.page.cancel_job(TEXT_JOB)  # a prediction of the text just deleted must not come back
            self.shown = None
            self.output.clear("Type a text to see how the model classifies it.")
            return
        job = self.page.run_job(TEXT_JOB, predict_text_job, self.predictor, text, pool=self.page.pool)
        job.finished.connect(lambda prediction, job=job: self.page.job(TEXT_JOB) is job and self._show(prediction))
        job.failed.connect(lambda message, job=job: self.page.job(TEXT_JOB) is job and self.output.show_problem(message))

    def _show(self, prediction) -> None:
        self.shown = prediction
        self.output.show_prediction(prediction, self.predictor.max_length)
        self.prediction_shown.emit(prediction)

    def take_dropped(self, paths: list[str], text: str) -> None:
        """A dropped or pasted file is predicted whole (asking where to save); dropped text is typed in."""
        files = [p for p in paths if Path(p).is_file()]
        if files:
            self.choose_target(files[0])
        elif text:
            self.editor.setPlainText(text)

    # --- a whole file ------------------------------------------------------------------------
    def choose_file(self) -> None:
        source, _ = QFileDialog.getOpenFileName(self, "Texts to predict", str(Path.home()), TEXT_FILE_FILTER)
        if source:
            self.choose_target(source)

    def choose_target(self, source: str) -> None:
        target, _ = QFileDialog.getSaveFileName(self, "Save the predictions as", default_output_path(source), "CSV (*.csv)")
        if target:
            self.predict_file(source, target)

    def predict_file(self, source: str, target: str) -> None:
        if self.predictor is not None:
            self.file_row.start(source, predict_file_job, self.predictor, source, target)

    def _file_done(self, report) -> None:
        cut = f"; {report.truncated:,} cut at {self.predictor.max_length} tokens" if report.truncated and self.predictor else ""
        notes = f" ({'; '.join(report.notes)})" if report.notes else ""
        self.file_row.end(f"{report.texts:,} texts predicted and saved to {report.target}{cut}{notes}")
        self.file_finished.emit(report.texts, report.target)
