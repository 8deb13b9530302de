"""Play with a table model: a form of the feature columns that predicts as you type, and
"Predict a CSV..." that predicts every row of a file and saves them with their predictions.

Every prediction runs as a page job (``Page.run_job``) off the GUI thread: a row after the typing
pauses (debounced), a CSV with progress and Cancel. The numbers are those of `studio predict`
(``studio.export.table_model.TablePredictor``), shown in the target's units, or as the
probability of each class.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.ui.models.file_job_row import FileJobRow
from studio.ui.models.live_panel import LivePredictPanel
from studio.ui.models.table_form import FeatureForm

TABLE_FILTER = "Tables (*.csv *.tsv *.txt *.parquet);;All files (*)"
HEADLINE_STYLE = "font-size: 22px; font-weight: 700;"
BAR_STYLE = ("QProgressBar {{ background: #eef1f4; border: none; border-radius: 4px; }}"
             "QProgressBar::chunk {{ background: {colour}; border-radius: 4px; }}")


def predict_row_job(predictor, values: dict, state):
    return predictor.predict_values(values)


def predict_csv_job(predictor, source: str, target: str, state):
    table = predictor.predict_csv(source, target, state)
    return table.num_rows, target


def default_output_path(source: str) -> str:
    path = Path(source)
    return str(path.with_name(f"{path.stem} predictions.csv"))


class OutputView(QFrame):
    """The prediction of one row: a bar per class, or each target's value in its units."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("tableOutput")
        self.setStyleSheet("QFrame#tableOutput { background: white; border: 1px solid #d9dee3; border-radius: 8px; }")
        box = QVBoxLayout(self)
        self.headline = QLabel("-")
        self.headline.setStyleSheet(HEADLINE_STYLE)
        self.headline.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.grid = QGridLayout()
        self.grid.setColumnStretch(1, 1)
        self.info = QLabel("")
        self.info.setStyleSheet("color: #5b6670;")
        self.info.setWordWrap(True)
        box.addWidget(self.headline)
        box.addLayout(self.grid)
        box.addWidget(self.info)
        box.addStretch(1)
        self.bars: dict[str, tuple[QProgressBar, QLabel]] = {}
        self.value_labels: dict[str, QLabel] = {}

    def configure(self, predictor) -> None:
        while self.grid.count():
            self.grid.takeAt(0).widget().deleteLater()
        self.bars, self.value_labels = {}, {}
        if predictor.task == "classification":
            for row, name in enumerate(predictor.classes):
                bar = QProgressBar()
                bar.setRange(0, 1000)
                bar.setTextVisible(False)
                bar.setFixedHeight(14)
                percent = QLabel("")
                percent.setMinimumWidth(60)
                percent.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.grid.addWidget(QLabel(name), row, 0)
                self.grid.addWidget(bar, row, 1)
                self.grid.addWidget(percent, row, 2)
                self.bars[name] = (bar, percent)
        elif len(predictor.target_names) > 1:  # one target is said by the headline alone
            for row, name in enumerate(predictor.target_names):
                value = QLabel("-")
                value.setStyleSheet("font-size: 16px; font-weight: 600;")
                value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
                self.grid.addWidget(QLabel(name), row, 0)
                self.grid.addWidget(value, row, 1)
                self.value_labels[name] = value
        self.headline.setText("-")
        self.info.setText("")

    def show_prediction(self, prediction) -> None:
        if prediction.task == "classification":
            best_name, best_p = prediction.best
            self.headline.setText(f"{best_name}  {best_p:.1%}")
            for name, probability in prediction.probabilities:
                bar, percent = self.bars[name]
                bar.setValue(round(probability * 1000))
                bar.setStyleSheet(BAR_STYLE.format(colour="#2a7de1" if name == best_name else "#9fb9d6"))
                percent.setText(f"{probability:.1%}")
        else:
            for name, value in prediction.values:
                if name in self.value_labels:
                    self.value_labels[name].setText(f"{value:.6g}")
            first, value = prediction.values[0]
            self.headline.setText(f"{first}: {value:.6g}" if len(prediction.values) == 1 else "Predicted")
        self.headline.setStyleSheet(HEADLINE_STYLE)

    def show_problem(self, message: str) -> None:
        """What is wrong with the input; the prediction shown is greyed: it is of an earlier row."""
        self.info.setText(message)
        self.info.setStyleSheet("color: #b3261e;")
        self.headline.setStyleSheet(HEADLINE_STYLE + " color: #9aa4ad;")

    def show_info(self, message: str) -> None:
        self.info.setText(message)
        self.info.setStyleSheet("color: #5b6670;")


class TablePlayPanel(LivePredictPanel):
    prediction_shown = Signal(object)  # the RowPrediction now on screen
    csv_finished = Signal(int, str)    # rows predicted, the file written

    job_key = "table row"

    def _build(self) -> None:
        intro = QLabel("Fill in a row: the prediction follows as you type. Empty or (missing) is a missing value.")
        intro.setStyleSheet("color: #5b6670;")
        self.reset_button = QPushButton("Typical values")
        self.reset_button.setToolTip("Each number at its training mean, each category at its most frequent value")
        self.reset_button.clicked.connect(lambda: self.form.reset())
        self.csv_button = QPushButton("Predict a CSV...")
        self.csv_button.setToolTip("Predict every row of a CSV/TSV/Parquet file and save the rows with their predictions")
        self.csv_button.clicked.connect(self.choose_csv)
        top = QHBoxLayout()
        top.addWidget(intro, 1)
        top.addWidget(self.reset_button)
        top.addWidget(self.csv_button)

        self.form = FeatureForm()
        self.form.changed.connect(self._timer.start)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.form)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.output = OutputView()
        split = QSplitter()
        split.addWidget(scroll)
        split.addWidget(self.output)
        split.setSizes([620, 420])

        self.csv_row = FileJobRow(self.page, "table csv", self.csv_button)
        self.csv_row.succeeded.connect(self._csv_done)

        box = QVBoxLayout(self)
        box.setContentsMargins(0, 0, 0, 0)
        box.addLayout(top)
        box.addWidget(split, 1)
        box.addWidget(self.csv_row)

    # --- the model ----------------------------------------------------------------------------
    def set_predictor(self, predictor) -> None:
        self.predictor, self.shown = predictor, None
        self.output.configure(predictor)
        self.form.set_fields(predictor.fields())  # fills in typical values, which predicts them
        self.predict_now()

    # --- one row ------------------------------------------------------------------------------
    def predict_now(self) -> None:
        self._timer.stop()
        if self.predictor is None:
            return
        try:
            values = self.form.values()
        except ValueError as exc:
            self.output.show_problem(str(exc))
            return
        job = self.page.run_job(self.job_key, predict_row_job, self.predictor, values, pool=self.page.pool)
        job.finished.connect(lambda prediction, job=job: self.page.job(self.job_key) is job and self._show(prediction))
        job.failed.connect(self.output.show_problem)

    def _show(self, prediction) -> None:
        self.shown = prediction
        self.output.show_prediction(prediction)
        self.output.show_info(f"{self.predictor.label} on {self.predictor.device.upper()}")
        self.prediction_shown.emit(prediction)

    # --- a whole file ------------------------------------------------------------------------
    def choose_csv(self) -> None:
        source, _ = QFileDialog.getOpenFileName(self, "Rows to predict", str(Path.home()), TABLE_FILTER)
        if not source:
            return
        target, _ = QFileDialog.getSaveFileName(self, "Save the predictions as", default_output_path(source),
                                                "CSV (*.csv)")
        if target:
            self.predict_csv(source, target)

    def take_dropped(self, paths: list[str]) -> None:
        """A dropped table file: ask where to save its predictions, then predict every row."""
        from studio.export.table_model import TABLE_SUFFIXES

        tables = [p for p in paths if Path(p).suffix.lower() in TABLE_SUFFIXES and Path(p).is_file()]
        if not tables:
            self.csv_row.end("This model predicts rows of a table: drop a CSV, TSV or Parquet file.", error=True)
            return
        target, _ = QFileDialog.getSaveFileName(self, "Save the predictions as", default_output_path(tables[0]),
                                                "CSV (*.csv)")
        if target:
            self.predict_csv(tables[0], target)

    def predict_csv(self, source: str, target: str) -> None:
        if self.predictor is not None:
            self.csv_row.start(source, predict_csv_job, self.predictor, source, target)

    def _csv_done(self, result) -> None:
        rows, target = result
        self.csv_row.end(f"{rows:,} rows predicted and saved to {target}")
        self.csv_finished.emit(rows, target)
