"""Model-assisted labelling: a finished run's suggestions (the predictions table) beside the
current labels. Sort by confidence, by uncertainty, or by disagreement (likely label errors);
accept in bulk or review one at a time in labelling mode (Enter accepts there). Suggestions
stay in their own table and never replace a human label without the user saying so."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSize, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from studio.store import suggestions as store_suggestions
from studio.ui.datasets.labelling.controller import LabellingController

COLUMNS = ("Sample", "Current label", "Suggestion", "Confidence", "")
ORDERS = (("Most confident first", "confidence"), ("Least confident first", "uncertainty"),
          ("Disagreements first (likely label errors)", "disagreement"))
TEXT_START_CHARS = 90
TEXT_START_BYTES = TEXT_START_CHARS * 4 * 2  # UTF-8 is at most 4 bytes a character; room for spaces

SHOW = (("Unlabelled samples", "unlabelled"), ("Labelled samples", "labelled"), ("All samples", "all"))


class SuggestionModel(QAbstractTableModel):
    def __init__(self, thumbnails=None, parent=None):
        super().__init__(parent)
        self.rows: list[store_suggestions.Suggestion] = []
        self.blobs: dict[int, str] = {}
        self.text_lib = None  # the library, when the samples are texts: the Sample column shows their start
        self._text_starts: dict[int, str] = {}
        self.thumbs = thumbnails
        if thumbnails is not None:
            thumbnails.ready.connect(self._on_thumb)

    def set_rows(self, rows: list[store_suggestions.Suggestion], blobs: dict[int, str], text_lib=None) -> None:
        self.beginResetModel()
        self.rows, self.blobs, self.text_lib = rows, blobs, text_lib
        self._text_starts.clear()
        self.endResetModel()

    def _text_start(self, sample_id: int) -> str:
        """The start of a text sample on one line, read when its row is first shown (a few
        hundred bytes of one file, for the rows on screen)."""
        if sample_id not in self._text_starts:
            from studio.data.text.samples import one_line

            blob = self.blobs.get(sample_id)
            try:
                with open(self.text_lib.blobs.path(blob), "rb") as fh:
                    start = fh.read(TEXT_START_BYTES).decode("utf-8", "ignore")
            except (OSError, TypeError):
                start = ""
            self._text_starts[sample_id] = one_line(start, TEXT_START_CHARS)
        return self._text_starts[sample_id]

    def rowCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex = QModelIndex()) -> int:  # noqa: N802
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        g = self.rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole and col == 0 and self.text_lib is not None:
            return f"#{g.sample_id}  {self._text_start(g.sample_id)}"
        if role == Qt.ItemDataRole.DisplayRole:
            return (f"#{g.sample_id}", g.current_class_name or "—", g.class_name, f"{g.confidence:.1%}",
                    "differs" if g.disagrees else ("no such class" if g.class_id is None else ""))[col]
        if role == Qt.ItemDataRole.DecorationRole and col == 0 and self.thumbs is not None and self.text_lib is None:
            blob = self.blobs.get(g.sample_id)
            return self.thumbs.get(blob) if blob else None
        if role == Qt.ItemDataRole.ForegroundRole and col == 4:
            return QColor("#c0392b") if g.disagrees else QColor("#b35c00")
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 3:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def _on_thumb(self, blob: str) -> None:
        for r, g in enumerate(self.rows):
            if self.blobs.get(g.sample_id) == blob:
                idx = self.index(r, 0)
                self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])


class SuggestionsView(QWidget):
    review_requested = Signal(int, list, int)  # dataset_id, sample ids, run_id

    def __init__(self, controller: LabellingController, thumbnails=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctl = controller
        self.lib = controller.lib
        self.dataset_id: int | None = None
        self.confirm = self._confirm

        self.run_combo = QComboBox()
        self.order_combo = QComboBox()
        for text, key in ORDERS:
            self.order_combo.addItem(text, key)
        self.show_combo = QComboBox()
        for text, key in SHOW:
            self.show_combo.addItem(text, key)
        self.min_conf = QDoubleSpinBox()
        self.min_conf.setRange(0, 100)
        self.min_conf.setSuffix(" %")
        self.min_conf.setDecimals(0)
        self.min_conf.setToolTip("Only suggestions at least this confident")
        for w, chars in ((self.run_combo, 14), (self.order_combo, 14), (self.show_combo, 10)):
            w.currentIndexChanged.connect(self.reload)
            # long entries must not widen the page past a 1280-pixel window
            w.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            w.setMinimumContentsLength(chars)
        self.min_conf.valueChanged.connect(self.reload)

        self.model = SuggestionModel(thumbnails, self)
        self.table = QTableView()
        self.table.setObjectName("suggestions_table")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setIconSize(QSize(40, 40))
        self.table.verticalHeader().setDefaultSectionSize(44)
        self.table.verticalHeader().setVisible(False)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.doubleClicked.connect(lambda idx: self.review([self.model.rows[idx.row()].sample_id]))

        self.summary = QLabel()
        self.summary.setWordWrap(True)
        self.accept_selected_button = QPushButton("Accept selected")
        self.accept_selected_button.clicked.connect(self.accept_selected)
        self.accept_all_button = QPushButton("Accept all shown")
        self.accept_all_button.setToolTip("Label every shown unlabelled sample with its suggestion "
                                          "(samples that already have a label keep it)")
        self.accept_all_button.clicked.connect(self.accept_all_shown)
        self.review_button = QPushButton("Review…")
        self.review_button.setToolTip("Open the selected (or all shown) samples in labelling mode; "
                                      "Enter accepts a suggestion there")
        self.review_button.clicked.connect(lambda: self.review(self._selected_ids() or self.shown_ids()))

        bar = QHBoxLayout()
        bar.addWidget(QLabel("Run:"))
        bar.addWidget(self.run_combo)
        bar.addWidget(QLabel("Show:"))
        bar.addWidget(self.show_combo)
        bar.addWidget(QLabel("Order:"))
        bar.addWidget(self.order_combo)
        bar.addWidget(QLabel("At least:"))
        bar.addWidget(self.min_conf)
        bar.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.summary, 1)
        buttons.addWidget(self.review_button)
        buttons.addWidget(self.accept_selected_button)
        buttons.addWidget(self.accept_all_button)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        controller.labels_changed.connect(lambda ds, _ids: ds == self.dataset_id and self.isVisible() and self.reload())

    def set_dataset(self, dataset_id: int | None) -> None:
        self.dataset_id = dataset_id
        self.refresh_runs()

    def showEvent(self, event) -> None:  # noqa: N802 - a run may have been evaluated meanwhile
        super().showEvent(event)
        self.refresh_runs()

    def refresh_runs(self) -> None:
        keep = self.run_combo.currentData()
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        if self.dataset_id is not None:
            with self.lib.session() as s:
                for r in store_suggestions.prediction_runs(s, self.dataset_id):
                    self.run_combo.addItem(f"{r.name} (#{r.run_id}, {r.status})", r.run_id)
        i = self.run_combo.findData(keep)
        self.run_combo.setCurrentIndex(i if i >= 0 else 0)
        self.run_combo.blockSignals(False)
        self.reload()

    @property
    def run_id(self) -> int | None:
        return self.run_combo.currentData()

    def reload(self) -> None:
        rows, blobs, texts = [], {}, False
        if self.dataset_id is not None and self.run_id is not None:
            from studio.store.samples import sample_rows

            with self.lib.session() as s:
                rows = store_suggestions.suggestions_for(s, self.dataset_id, self.run_id,
                                                    order=self.order_combo.currentData(),
                                                    only=self.show_combo.currentData())
                floor = self.min_conf.value() / 100
                rows = [g for g in rows if g.confidence >= floor]
                shown = sample_rows(s, [g.sample_id for g in rows[:2000]])
                blobs = {r.id: r.blob for r in shown}
                texts = any(r.format == "txt" for r in shown)
        self.model.set_rows(rows, blobs, self.lib if texts else None)
        # a text's start needs room: its column takes what the others (sized to their contents) leave
        self.table.horizontalHeader().setStretchLastSection(False)
        for col in range(1, len(COLUMNS)):
            self.table.horizontalHeader().setSectionResizeMode(
                col, QHeaderView.ResizeMode.ResizeToContents if texts else QHeaderView.ResizeMode.Stretch)
        if self.run_id is None:
            self.summary.setText("No run has stored predictions for this dataset yet. Evaluate a trained "
                                 "run (Train page or `studio evaluate RUN`) to get suggestions.")
        else:
            self.summary.setText(f"{len(rows)} suggestion(s); {sum(g.disagrees for g in rows)} differ "
                                 "from the current label.")
        for b in (self.accept_selected_button, self.accept_all_button, self.review_button):
            b.setEnabled(bool(rows))

    def shown_ids(self) -> list[int]:
        return [g.sample_id for g in self.model.rows]

    def _selected_ids(self) -> list[int]:
        rows = sorted({i.row() for i in self.table.selectionModel().selectedRows()})
        return [self.model.rows[r].sample_id for r in rows]

    def accept_selected(self) -> bool:
        chosen = [self.model.rows[i.row()] for i in self.table.selectionModel().selectedRows()]
        if not chosen or self.run_id is None:
            return False
        labelled = [g for g in chosen if g.disagrees]
        overwrite = bool(labelled) and self.confirm(
            "Replace labels?",
            f"{len(labelled)} of the selected samples already have a different label.\n"
            "Replace those labels with the model's suggestion? (No: only unlabelled samples are labelled.)")
        return self.ctl.accept_suggestions(self.dataset_id, self.run_id, [g.sample_id for g in chosen], overwrite)

    def accept_all_shown(self) -> bool:
        """Bulk: every shown suggestion for an unlabelled sample (human labels are kept)."""
        if self.run_id is None:
            return False
        return self.ctl.accept_suggestions(self.dataset_id, self.run_id, self.shown_ids(), overwrite=False)

    def review(self, ids: list[int]) -> None:
        if ids and self.dataset_id is not None and self.run_id is not None:
            self.review_requested.emit(self.dataset_id, ids, self.run_id)

    def _confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text)
        return answer == QMessageBox.StandardButton.Yes
