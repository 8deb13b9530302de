"""The Evaluate view: choose a run and a split; see accuracy, per-class precision/recall, a
confusion matrix whose cells open their samples as thumbnails, and the most confident mistakes.
A table run shows rows instead of thumbnails, and a regression run its errors and plots
(studio.ui.training.table_evaluation); a text run lists texts (studio.ui.training.text_evaluation).

Evaluation (the engine's ``evaluate_run``, which also stores per-sample predictions and returns
the ``Evaluation`` the CLI prints: cells, per-class table, mistakes) runs in a job. Thumbnails are
files made by the store's thumbnail cache, also in a job, shown in galleries (gallery.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.ui.common.page import Page
from studio.ui.training.gallery import Gallery
from studio.ui.training.jobs import evaluate_job, finished_runs, thumbnails_job
from studio.ui.training.split_jobs import (
    dataset_sample_count,
    split_dataset_job,
    split_done_text,
)
from studio.ui.training.table_evaluation import (
    ShowRow,
    TableEvaluationView,
    summary_text,
)
from studio.ui.training.text_evaluation import TextEvaluationView, text_summary

if TYPE_CHECKING:
    from studio.store.library import Library
    from studio.train.evaluate import Evaluation
    from studio.train.tables.evaluation import TableEvaluation

CELL_SAMPLES_SHOWN = 200
MISTAKES_SHOWN = 60
SPLITS = (("test", "Test"), ("val", "Validation"), ("train", "Training"), ("all", "All labelled"))

SPLIT_WORDS = {"test": "test", "val": "validation", "train": "training", "all": "labelled"}
NO_RESULT_TEXT = "Evaluate a run to see the images it gets most confidently wrong."

Review = Callable[[int, Sequence[int]], None]


def _heat(value: int, peak: int, diagonal: bool) -> QColor:
    """White -> blue for correct (diagonal) cells, white -> orange for mistakes."""
    t = 0.0 if peak <= 0 else min(value / peak, 1.0) ** 0.5
    base = (0, 114, 178) if diagonal else (213, 94, 0)
    return QColor(*(int(255 + (c - 255) * t) for c in base))


class EvaluatePage(Page):
    """Pick run + split, Evaluate. ``review`` (optional) opens sample ids in labelling mode;
    ``show_row`` (optional) opens a table's row on the Datasets page."""

    fine_tune_requested = Signal(int, object)  # run id, dataset id
    evaluated = Signal(object)  # Evaluation | TableEvaluation

    def __init__(self, library: Library, review: Review | None = None, parent: QWidget | None = None,
                 show_row: ShowRow | None = None) -> None:
        super().__init__(parent)
        self.lib = library
        self.review = review
        self.show_row = show_row
        self.result: Evaluation | TableEvaluation | None = None
        self._cell: tuple[int, int] | None = None
        self._wanted_run: int | None = None  # asked for by select_run, applied when the list arrives
        self._wanted_tries = 0
        self._listed_runs: set[int] = set()  # a run not listed before is new: it gets selected
        self.split_dialog = None  # the Split… dialog while it is open
        self._build()
        self.use_unit_words("images")

    def on_first_show(self) -> None:
        self.reload_runs()

    # ---- layout ----------------------------------------------------------------------------
    def _build(self) -> None:
        root = QVBoxLayout(self)
        head = QHBoxLayout()
        title = QLabel("Evaluate")
        title.setStyleSheet("font-size: 13pt; font-weight: 600;")
        head.addWidget(title)
        head.addSpacing(12)
        head.addWidget(QLabel("Run"))
        self.run_combo = QComboBox()
        self.run_combo.setMinimumWidth(320)
        self.run_combo.setToolTip("A finished or stopped run whose trained model is evaluated.")
        head.addWidget(self.run_combo, 1)
        head.addWidget(QLabel("Split"))
        self.split_combo = QComboBox()
        for key, label in SPLITS:
            self.split_combo.addItem(label, key)
        head.addWidget(self.split_combo)
        self.evaluate_button = QPushButton("Evaluate")
        self.evaluate_button.clicked.connect(self.evaluate)
        head.addWidget(self.evaluate_button)
        self.fine_tune_button = QPushButton("Fine-tune from this run")
        self.fine_tune_button.setToolTip("Open the Train page with this run's model as the starting weights.")
        self.fine_tune_button.clicked.connect(self._fine_tune)
        head.addWidget(self.fine_tune_button)
        root.addLayout(head)

        status = QHBoxLayout()
        self.summary = QLabel("Choose a run and press Evaluate.")
        self.summary.setStyleSheet("font-size: 11pt;")
        status.addWidget(self.summary, 1)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setMaximumWidth(220)
        self.progress.hide()
        status.addWidget(self.progress)
        root.addLayout(status)
        root.addWidget(self._build_split_hint())

        self.per_class = QTableWidget(0, 5)
        self.per_class.setHorizontalHeaderLabels(["Class", "Precision", "Recall", "F1", "Images"])
        self.per_class.verticalHeader().setVisible(False)
        self.per_class.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.per_class.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.per_class.horizontalHeader().setStretchLastSection(True)
        class_box = QGroupBox("Per class")
        QVBoxLayout(class_box).addWidget(self.per_class)

        self.matrix = QTableWidget(0, 0)
        self.matrix.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.matrix.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.matrix.cellClicked.connect(self.show_cell)
        matrix_box = QGroupBox("Confusion matrix (rows: true class, columns: predicted)")
        QVBoxLayout(matrix_box).addWidget(self.matrix)

        self.cell_gallery = Gallery()
        self.cell_title = QLabel("Click a confusion-matrix cell to see its images.")
        cell_box = QGroupBox("Images in the cell")
        cell_layout = QVBoxLayout(cell_box)
        cell_layout.addWidget(self.cell_title)
        cell_layout.addWidget(self.cell_gallery, 1)

        self.mistakes = Gallery()
        self.mistakes_note = QLabel(NO_RESULT_TEXT)  # shown instead of an empty gallery
        self.mistakes_note.setObjectName("mistakes_note")
        self.mistakes_note.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.mistakes_note.setWordWrap(True)
        self.mistakes_note.setStyleSheet("color: #5b6670; font-size: 11pt;")
        self.mistakes_stack = QStackedWidget()
        self.mistakes_stack.addWidget(self.mistakes_note)
        self.mistakes_stack.addWidget(self.mistakes)
        self.review_button = QPushButton("Review in labelling")
        self.review_button.setToolTip("Open these mistakes (or the selected ones) in labelling mode "
                                      "to fix wrong labels.")
        self.review_button.clicked.connect(self._review)
        self.review_button.setEnabled(False)
        mistakes_box = QGroupBox("Most confident mistakes")
        m_layout = QVBoxLayout(mistakes_box)
        m_layout.addWidget(self.mistakes_stack, 1)
        m_layout.addWidget(self.review_button)

        top = QSplitter(Qt.Orientation.Horizontal)
        top.addWidget(class_box)
        top.addWidget(matrix_box)
        top.setSizes([380, 700])
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(cell_box)
        bottom.addWidget(mistakes_box)
        bottom.setSizes([540, 540])
        self.table_view = TableEvaluationView(self.show_row)  # a table run's rows, errors and plots
        self.table_view.hide()
        self.text_view = TextEvaluationView(self, self.lib, self.review)  # a text run's texts
        self.text_view.hide()
        self.class_view, self.gallery_view = top, bottom
        body = QSplitter(Qt.Orientation.Vertical)
        body.addWidget(top)
        body.addWidget(bottom)
        body.addWidget(self.table_view)
        body.addWidget(self.text_view)
        body.setSizes([380, 300, 300, 300])
        root.addWidget(body, 1)
        self.run_combo.currentIndexChanged.connect(self._run_changed)
        self._run_changed()

    def _build_split_hint(self) -> QFrame:
        """Shown when the chosen split has no images: evaluate on validation, or split."""
        self.split_hint = QFrame()
        self.split_hint.setObjectName("split_hint")
        self.split_hint.setStyleSheet("QFrame#split_hint { background: #fff4d6; border-radius: 4px; }")
        self.split_hint_label = QLabel()
        self.split_hint_label.setWordWrap(True)
        self.use_val_button = QPushButton("Evaluate on validation")
        self.use_val_button.setToolTip("The validation images: kept out of training (they chose the best epoch).")
        self.use_val_button.clicked.connect(self._evaluate_on_validation)
        self.split_button = QPushButton("Split the dataset…")
        self.split_button.setToolTip("Assign the dataset's images at random to train / validation / test.")
        self.split_button.clicked.connect(self.split_dataset)
        row = QHBoxLayout(self.split_hint)
        row.setContentsMargins(8, 6, 8, 6)
        row.addWidget(self.split_hint_label, 1)
        row.addWidget(self.use_val_button)
        row.addWidget(self.split_button)
        self.split_hint.hide()
        self._hint_dataset: tuple[int, str] | None = None  # (id, name) of the dataset to split
        return self.split_hint

    # ---- runs ------------------------------------------------------------------------------
    def on_shown(self) -> None:
        self.reload_runs()

    def reload_runs(self) -> None:
        if self.job("runs") is not None:
            return  # the list on its way is fresh enough; it applies any wanted run
        self.run_job("runs", finished_runs, self.lib).finished.connect(self._fill_runs)

    def _fill_runs(self, runs) -> None:
        ids = [run.run_id for run in runs]  # newest first
        # keep the run shown, unless a run finished since the list was filled: show the newest
        keep = self.run_combo.currentData() if not ids or ids[0] in self._listed_runs else None
        self._listed_runs = set(ids)
        if self._wanted_run is not None and self._wanted_run in ids:
            keep, self._wanted_run = self._wanted_run, None
        elif self._wanted_run is not None:
            self._wanted_tries += 1
            if self._wanted_tries <= 2:
                QTimer.singleShot(300, self.reload_runs)  # asked for a run this list predates
            else:
                self._wanted_run = None
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for run in runs:
            self.run_combo.addItem(run.label, run.run_id)
        index = self.run_combo.findData(keep) if keep is not None else -1
        self.run_combo.setCurrentIndex(max(index, 0))
        self.run_combo.blockSignals(False)
        if not runs:
            self.summary.setText("No trained run yet: train one on the Train page.")
        self._run_changed()

    def select_run(self, run_id: int, split: str | None = None) -> None:
        """Preselect a run (e.g. from the Runs view); the run list is reloaded first."""
        if split is not None:
            self.split_combo.setCurrentIndex(max(self.split_combo.findData(split), 0))
        self._wanted_run, self._wanted_tries = int(run_id), 0
        self.reload_runs()

    def _run_changed(self) -> None:
        has_run = self.run_combo.currentData() is not None
        self.evaluate_button.setEnabled(has_run and self.job("evaluate") is None)
        self.fine_tune_button.setEnabled(has_run)

    # ---- evaluation ------------------------------------------------------------------------
    def evaluate(self) -> None:
        run_id = self.run_combo.currentData()
        if run_id is None or self.job("evaluate") is not None:
            return
        split = self.split_combo.currentData()
        self.split_hint.hide()
        self.evaluate_button.setEnabled(False)
        self.progress.setValue(0)
        self.progress.show()
        self.summary.setText(f"Evaluating run {run_id} on the {split} split…")
        job = self.run_job("evaluate", evaluate_job, self.lib, int(run_id), split)
        job.progress.connect(lambda f, _m: self.progress.setValue(int(f * 1000)))
        job.finished.connect(self._show_result)
        job.failed.connect(lambda msg: self._on_failed(msg, int(run_id), split))

        def done() -> None:
            self.progress.hide()
            self._run_changed()

        job.done.connect(done)

    def _on_failed(self, message: str, run_id: int, split: str) -> None:
        shown = self.result
        still = (f" (still showing run {shown.run_id} on its {SPLIT_WORDS.get(shown.split, shown.split)} images)"
                 if shown is not None else "")
        self.summary.setText(f"Could not evaluate: {message}{still}")
        if split in ("test", "val") and f"has no {split} samples" in message:
            self._offer_split(run_id, split)

    def use_unit_words(self, unit: str) -> None:
        """Tooltips in the words of what the run's model takes: images, rows or texts."""
        self.split_combo.setToolTip(f"Which {unit} to evaluate on. Test: {unit} the model never saw "
                                    "while training or choosing its best epoch (the honest score).")
        self.evaluate_button.setToolTip(f"Run the model over the chosen {unit} and compare with their labels.")
        self.per_class.setToolTip(f"Precision: of the {unit} predicted as this class, the share that "
                                  f"really are. Recall: of the {unit} of this class, the share found.")
        self.matrix.setToolTip(f"Rows: the true class. Columns: what the model predicted. Click a cell to see its {unit}.")

    def _offer_split(self, run_id: int, split: str) -> None:
        from studio.train.evaluate import run_kind
        from studio.train.runs import run_dataset

        with self.lib.session() as s:
            dataset = run_dataset(s, run_id)
        name = dataset[1] if dataset is not None else "The dataset"
        self._hint_dataset = dataset
        what = "test" if split == "test" else "validation"
        unit = "texts" if run_kind(self.lib, run_id) == "text" else "images"
        text = f"“{name}” has no {what} {unit}: its samples were never split into train / validation / test."
        if split == "test":
            text += (f" Evaluate on the validation {unit} instead, or split the dataset so the next run "
                     f"keeps test {unit} apart.")
        else:
            text += f" Split the dataset so that runs keep {unit} apart to be evaluated on."
        self.split_hint_label.setText(text)
        self.use_val_button.setVisible(split == "test")
        self.split_button.setEnabled(self._hint_dataset is not None)
        self.split_hint.show()

    def _evaluate_on_validation(self) -> None:
        self.split_combo.setCurrentIndex(self.split_combo.findData("val"))
        self.evaluate()

    def split_dataset(self) -> None:
        """The Datasets page's Split… dialog for the evaluated run's dataset; counting its samples
        and splitting run as jobs."""
        if self._hint_dataset is None or self.job("split") is not None:
            return
        dataset_id, name = self._hint_dataset
        self.split_button.setEnabled(False)
        job = self.run_job("split", dataset_sample_count, self.lib, dataset_id)
        job.finished.connect(lambda samples: self._ask_split(dataset_id, name, samples))
        job.failed.connect(lambda message: self._split_failed(name, message))

    def _ask_split(self, dataset_id: int, name: str, samples: int) -> None:
        from studio.ui.datasets.split_dialog import SplitDialog

        dialog = self.split_dialog = SplitDialog(name, samples, self)
        dialog.finished.connect(lambda code: self._split_answered(dialog, dataset_id, name, code))
        dialog.open()

    def _split_answered(self, dialog, dataset_id: int, name: str, code: int) -> None:
        self.split_dialog = None
        dialog.deleteLater()
        if code != dialog.DialogCode.Accepted:
            self.split_button.setEnabled(True)
            return
        job = self.run_job("split", split_dataset_job, self.lib, dataset_id, dialog.fractions(), dialog.seed.value())
        job.finished.connect(lambda counts: self.split_hint_label.setText(split_done_text(name, counts)))
        job.failed.connect(lambda message: self._split_failed(name, message))

    def _split_failed(self, name: str, message: str) -> None:
        self.split_hint_label.setText(f"Could not split “{name}”: {message}")
        self.split_button.setEnabled(True)

    def _show_result(self, result: Evaluation | TableEvaluation) -> None:
        self.result = result
        kind = getattr(result, "kind", "image")
        table = kind == "table"
        self.table_view.setVisible(table)
        self.text_view.setVisible(kind == "text")
        self.gallery_view.setVisible(kind == "image")
        self.class_view.setVisible(not table or result.classification is not None)
        self.per_class.horizontalHeaderItem(4).setText({"table": "Rows", "text": "Texts"}.get(kind, "Images"))
        self.use_unit_words({"table": "rows", "text": "texts"}.get(kind, "images"))
        if table:
            self._show_table_result(result)
            return
        acc = f"accuracy {result.accuracy:.1%}" if result.accuracy is not None else "no labelled images"
        self.summary.setText(text_summary(result) if kind == "text" else f"Run {result.run_id} on {result.samples} "
                             f"{result.split} images: {acc}, {len(result.mistakes)} mistakes.")
        self._fill_per_class(result)
        self._fill_matrix(result)
        if kind == "text":
            self.text_view.show_result(result)
        else:
            self.cell_gallery.clear()
            self.cell_title.setText("Click a confusion-matrix cell to see its images.")
            self._fill_mistakes(result)
        self.evaluated.emit(result)

    def _show_table_result(self, result: TableEvaluation) -> None:
        self.summary.setText(summary_text(result))
        if result.classification is not None:
            self._fill_per_class(result.classification)
            self._fill_matrix(result.classification)
        self.table_view.show_result(result)
        self.evaluated.emit(result)

    def _fill_per_class(self, result: Evaluation) -> None:
        table = self.per_class
        table.setRowCount(len(result.per_class))
        for row, entry in enumerate(result.per_class):
            values = [entry["class"], f"{entry['precision']:.1%}", f"{entry['recall']:.1%}",
                      f"{entry['f1']:.3f}", str(entry["support"])]
            for col, text in enumerate(values):
                item = QTableWidgetItem(text)
                if col:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                table.setItem(row, col, item)

    def _fill_matrix(self, result: Evaluation) -> None:
        table = self.matrix
        n = len(result.classes)
        table.clear()
        table.setRowCount(n)
        table.setColumnCount(n)
        table.setHorizontalHeaderLabels(result.classes)
        table.setVerticalHeaderLabels(result.classes)
        if result.confusion is None:
            return
        unit = {"table": "rows", "text": "texts"}.get(getattr(self.result, "kind", "image"), "images")
        conf = result.confusion
        diag_peak = int(max(conf.diagonal().max(), 1)) if n else 1
        off = conf.copy()
        for i in range(n):
            off[i, i] = 0
        off_peak = int(max(off.max(), 1)) if n else 1
        for r in range(n):
            for c in range(n):
                value = int(conf[r, c])
                item = QTableWidgetItem(str(value) if value else "")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                colour = _heat(value, diag_peak if r == c else off_peak, r == c)
                item.setBackground(QBrush(colour))
                if colour.lightness() < 140:
                    item.setForeground(QBrush(QColor("white")))
                item.setToolTip(f"true {result.classes[r]}, predicted {result.classes[c]}: {value} {unit}")
                table.setItem(r, c, item)
        # cells share the space: the whole matrix is visible without scrolling
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)

    def _fill_mistakes(self, result: Evaluation) -> None:
        shown = result.mistakes[:MISTAKES_SHOWN]
        ids = [m.sample_id for m in shown]
        captions = {sid: f"{truth}→{pred}\n{conf:.0%}" for sid, truth, pred, conf in shown}
        tips = {sid: f"sample {sid}: labelled {truth}, predicted {pred} with {conf:.1%} confidence"
                for sid, truth, pred, conf in shown}
        self.mistakes.show_samples(ids, captions, tips)
        if ids:
            self.mistakes_stack.setCurrentWidget(self.mistakes)
        else:
            self.mistakes_note.setText(
                f"No mistakes: the model got all {result.samples:,} {SPLIT_WORDS.get(result.split, result.split)} "
                "images right." if result.accuracy is not None
                else "No labelled images in this split: nothing to compare the predictions with.")
            self.mistakes_stack.setCurrentWidget(self.mistakes_note)
        self.review_button.setEnabled(bool(ids) and self.review is not None)
        if self.review is None:
            self.review_button.setToolTip("Labelling is not available in this window.")
        self._load_thumbnails("mistakes", self.mistakes, ids)

    def show_cell(self, row: int, col: int) -> None:
        """Show the images of confusion cell (true=row, predicted=col)."""
        if self.result is None:
            return
        self._cell = (row, col)
        view = {"table": self.table_view, "text": self.text_view}.get(getattr(self.result, "kind", "image"))
        if view is not None:
            view.show_cell(row, col)
            return
        ids = self.result.cells.get((row, col), [])
        classes = self.result.classes
        shown = ids[:CELL_SAMPLES_SHOWN]
        more = f" (showing {len(shown)})" if len(ids) > len(shown) else ""
        self.cell_title.setText(f"True {classes[row]}, predicted {classes[col]}: {len(ids)} images{more}")
        self.cell_gallery.show_samples(shown, {sid: f"#{sid}" for sid in shown})
        self._load_thumbnails("cell", self.cell_gallery, shown)

    def _load_thumbnails(self, key: str, gallery: Gallery, ids: list[int]) -> None:
        self.cancel_job(key)
        if not ids:
            return
        job = self.run_job(key, thumbnails_job, self.lib, ids, 128)
        job.finished.connect(lambda paths, j=job: self.job(key) is j and gallery.set_thumbnails(paths))

    # ---- actions ---------------------------------------------------------------------------
    def _review(self) -> None:
        if self.review is None or self.result is None:
            return
        selected = [item.data(Qt.ItemDataRole.UserRole) for item in self.mistakes.selectedItems()]
        ids = selected or [m.sample_id for m in self.result.mistakes]
        self.review(self.result.dataset_id, ids)

    def _fine_tune(self) -> None:
        run_id = self.run_combo.currentData()
        if run_id is None:
            return
        dataset_id = self.result.dataset_id if self.result is not None and self.result.run_id == run_id else None
        self.fine_tune_requested.emit(int(run_id), dataset_id)
