"""Problems at a glance: counts class x split, classes too small to train on, and duplicate
images (near: perceptual hash; exact: same pixels). Finding duplicates is a job off the GUI
thread (missing hashes are computed first), with progress and Cancel."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.core.jobs import JobState
from studio.store import duplicates as store_duplicates
from studio.store import problems as store_problems
from studio.store.library import Library
from studio.ui.datasets.labelling.controller import LabellingController
from studio.ui.common.style import colour_swatch
from studio.ui.common.workers import Job, start_job

SPLIT_COLUMNS = (("train", "Train"), ("val", "Val"), ("test", "Test"), (None, "No split"))


def find_duplicates_job(lib: Library, dataset_id: int, max_distance: int, state: JobState):
    """Hash what is missing, then group near and exact duplicates (exact ones listed once)."""
    store_duplicates.compute_missing_phashes(lib, dataset_id, state)
    with lib.session() as s:
        exact = store_duplicates.find_exact_duplicates(s, dataset_id, lib.blobs, state)
        near = store_duplicates.find_near_duplicates(s, dataset_id, max_distance, state)
    exact_sets = {frozenset(g.sample_ids) for g in exact}
    near = [g for g in near if frozenset(g.sample_ids) not in exact_sets]
    return exact + near


NO_SPLIT_TEXT = ("No train / validation / test split yet: each training run holds out a random part of "
                 "the training images for validation, and Evaluate has no test images to give an honest score.")


class ProblemsView(QWidget):
    """``split_requested()``: the user pressed Split… on the no-split notice."""

    review_requested = Signal(int, list)
    split_requested = Signal()

    def __init__(self, controller: LabellingController, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctl = controller
        self.lib = controller.lib
        self.dataset_id: int | None = None
        self.job: Job | None = None
        self.groups: list[store_duplicates.DuplicateGroup] = []
        self._class_names: dict[int, str] = {}

        self.table = QTableWidget()
        self.table.setObjectName("split_table")
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.min_count = QSpinBox()
        self.min_count.setRange(1, 10_000)
        self.min_count.setValue(10)
        self.min_count.valueChanged.connect(self.refresh)
        self.small_list = QTreeWidget()
        self.small_list.setObjectName("small_classes")
        self.small_list.setHeaderLabels(["Class", "Why it needs attention"])
        self.small_list.setRootIsDecorated(False)
        self.small_list.header().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)

        self.find_button = QPushButton("Find duplicates")
        self.find_button.clicked.connect(self.find_duplicates)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        self.distance = QSpinBox()
        self.distance.setRange(0, 16)
        self.distance.setValue(4)
        self.distance.setToolTip("How many of the 64 perceptual-hash bits may differ (0: nearly identical)")
        self.progress = QProgressBar()
        self.progress.hide()
        self.dup_status = QLabel("Not searched yet.")
        self.dup_status.setWordWrap(True)  # long messages (texts have no picture search) must not widen the window
        self.dup_tree = QTreeWidget()
        self.dup_tree.setObjectName("duplicates")
        self.dup_tree.setHeaderLabels(["Group / sample", "Class", "Split"])
        self.dup_tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.dup_tree.setSelectionMode(QTreeWidget.SelectionMode.ExtendedSelection)
        self.review_button = QPushButton("Review selected in labelling mode")
        self.review_button.clicked.connect(self.review_selected)

        self.split_notice = QFrame()  # a dataset with no split at all says so, with a way to split
        self.split_notice.setObjectName("no_split_notice")
        self.split_notice.setStyleSheet("QFrame#no_split_notice { background: #fff4d6; border-radius: 4px; }")
        self.split_notice_label = QLabel(NO_SPLIT_TEXT)
        self.split_notice_label.setWordWrap(True)
        self.split_button = QPushButton("Split…")
        self.split_button.setToolTip("Assign the samples at random to train / validation / test")
        self.split_button.clicked.connect(self.split_requested)
        notice_row = QHBoxLayout(self.split_notice)
        notice_row.setContentsMargins(8, 6, 8, 6)
        notice_row.addWidget(self.split_notice_label, 1)
        notice_row.addWidget(self.split_button)
        self.split_notice.hide()

        left = QWidget()
        lcol = QVBoxLayout(left)
        lcol.setContentsMargins(0, 0, 0, 0)
        lcol.addWidget(self._heading("Samples per class and split"))
        lcol.addWidget(self.table, 3)
        row = QHBoxLayout()
        row.addWidget(self._heading("Classes that need attention"))
        row.addStretch(1)
        row.addWidget(QLabel("at least"))
        row.addWidget(self.min_count)
        row.addWidget(QLabel("samples"))
        lcol.addLayout(row)
        lcol.addWidget(self.small_list, 2)
        right = QWidget()
        rcol = QVBoxLayout(right)
        rcol.setContentsMargins(0, 0, 0, 0)
        rcol.addWidget(self._heading("Duplicate images"))
        bar = QHBoxLayout()
        bar.addWidget(self.find_button)
        bar.addWidget(QLabel("max. hash distance"))
        bar.addWidget(self.distance)
        bar.addWidget(self.cancel_button)
        bar.addStretch(1)
        rcol.addLayout(bar)
        rcol.addWidget(self.progress)
        rcol.addWidget(self.dup_status)
        rcol.addWidget(self.dup_tree, 1)
        rcol.addWidget(self.review_button)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setSizes([520, 520])
        layout = QVBoxLayout(self)
        layout.addWidget(self.split_notice)
        layout.addWidget(splitter, 1)
        for sig in (controller.labels_changed, controller.splits_changed, controller.samples_added):
            sig.connect(lambda ds, _ids: self._changed(ds))
        controller.classes_changed.connect(self._changed)

    @staticmethod
    def _heading(text: str) -> QLabel:
        label = QLabel(text.upper())
        label.setStyleSheet("color: #5b6670; font-weight: 600; letter-spacing: 1px;")
        return label

    def set_dataset(self, dataset_id: int | None) -> None:
        if dataset_id != self.dataset_id:
            self.cancel()
            self.groups = []
            self.dup_tree.clear()
            self.dup_status.setText("Not searched yet.")
        self.dataset_id = dataset_id
        self._offer_duplicate_search(dataset_id)
        self.refresh()

    def _offer_duplicate_search(self, dataset_id: int | None) -> None:
        """The search compares pictures; identical texts are already one sample (found on import)."""
        texts = False
        if dataset_id is not None:
            from studio.store.datasets import get_dataset

            with self.lib.session() as s:
                texts = get_dataset(s, dataset_id).kind == "text"
        self.find_button.setEnabled(not texts and self.job is None)
        self.distance.setEnabled(not texts)
        if texts:
            self.dup_status.setText("Identical texts are one sample: an import counts them as duplicates and "
                                    "adds them once. The near-duplicate search compares images.")

    def _changed(self, dataset_id: int) -> None:
        if dataset_id == self.dataset_id and self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:  # noqa: N802 - counts may have changed while hidden
        super().showEvent(event)
        self.refresh()

    def refresh(self) -> None:
        self.table.clear()
        self.small_list.clear()
        self.split_notice.hide()
        if self.dataset_id is None:
            return
        with self.lib.session() as s:
            table = store_problems.split_table(s, self.dataset_id)
            problems = store_problems.small_classes(s, self.dataset_id, self.min_count.value())
        self._class_names = {r[0]: r[1] for r in table.rows if r[0] is not None}
        unsplit = table.total() > 0 and table.total(None) == table.total()
        self.split_notice.setVisible(unsplit)
        self.table.setColumnCount(len(SPLIT_COLUMNS) + 2)
        self.table.setHorizontalHeaderLabels(["Class"] + [t for _, t in SPLIT_COLUMNS] + ["Total"])
        self.table.setRowCount(len(table.rows) + 1)
        for r, (cid, name, colour, per) in enumerate(table.rows):
            self._put(r, 0, name, colour=colour, italic=cid is None)
            for c, (split, _title) in enumerate(SPLIT_COLUMNS, start=1):
                n = per.get(split, 0)
                self._put(r, c, str(n), warn=cid is not None and split is not None and n == 0 and any(
                    k is not None for k in per))
            self._put(r, len(SPLIT_COLUMNS) + 1, str(sum(per.values())), bold=True)
        last = len(table.rows)
        self._put(last, 0, "Total", bold=True)
        for c, (split, _t) in enumerate(SPLIT_COLUMNS, start=1):
            self._put(last, c, str(table.total(split)), bold=True)
        self._put(last, len(SPLIT_COLUMNS) + 1, str(table.total()), bold=True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for c in range(1, len(SPLIT_COLUMNS) + 2):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.ResizeToContents)
        for p in problems:
            item = QTreeWidgetItem([p.name, "; ".join(p.reasons)])
            item.setData(0, Qt.ItemDataRole.UserRole, p.class_id)
            self.small_list.addTopLevelItem(item)
        if not problems:
            self.small_list.addTopLevelItem(QTreeWidgetItem(["—", "every class has enough samples"]))

    def _put(self, row: int, col: int, text: str, colour: str | None = None, bold: bool = False,
             italic: bool = False, warn: bool = False) -> None:
        item = QTableWidgetItem(text)
        if colour:
            item.setIcon(colour_swatch(colour))
        if col:
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        font = item.font()
        font.setBold(bold)
        font.setItalic(italic)
        item.setFont(font)
        if warn:
            item.setBackground(QBrush(QColor("#fde2e1")))
            item.setToolTip("no sample of this class in this split")
        self.table.setItem(row, col, item)

    # --- duplicates ---------------------------------------------------------------------------
    def find_duplicates(self) -> Job | None:
        if self.dataset_id is None or self.job is not None:
            return None
        self.find_button.setEnabled(False)
        self.cancel_button.show()
        self.progress.show()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.dup_status.setText("Searching…")
        dataset_id = self.dataset_id
        self.job = start_job(find_duplicates_job, self.lib, dataset_id, self.distance.value())
        self.job.progress.connect(lambda f, m: (self.progress.setValue(int(f * 1000)), self.dup_status.setText(m)))
        self.job.finished.connect(lambda groups: dataset_id == self.dataset_id and self.show_groups(groups))
        self.job.failed.connect(lambda msg: self.dup_status.setText(f"Could not search: {msg}"))
        self.job.cancelled.connect(lambda: self.dup_status.setText("Search cancelled."))
        self.job.done.connect(self._job_done)
        return self.job

    def cancel(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _job_done(self) -> None:
        self.job = None
        self.find_button.setEnabled(True)
        self.cancel_button.hide()
        self.progress.hide()

    def show_groups(self, groups: list[store_duplicates.DuplicateGroup]) -> None:
        self.groups = groups
        self.dup_tree.clear()
        conflicts = sum(g.conflicting_classes for g in groups)
        leaks = sum(g.crosses_splits for g in groups)
        self.dup_status.setText(
            f"{len(groups)} group(s) of duplicates; {conflicts} with different classes, "
            f"{leaks} spread over several splits." if groups else "No duplicates found.")
        for g in groups:
            flags = [t for t, on in (("different classes", g.conflicting_classes),
                                     ("several splits", g.crosses_splits)) if on]
            title = f"{'Exact' if g.kind == 'exact' else 'Near'}: {len(g.sample_ids)} images"
            top = QTreeWidgetItem([title + (f" — {', '.join(flags)}" if flags else ""), "", ""])
            if g.conflicting_classes:
                top.setForeground(0, QColor("#c0392b"))
            top.setData(0, Qt.ItemDataRole.UserRole, list(g.sample_ids))
            for sid, cid, split in zip(g.sample_ids, g.class_ids, g.splits):
                child = QTreeWidgetItem([f"#{sid}", self._class_names.get(cid, "unlabelled"), split or "none"])
                child.setData(0, Qt.ItemDataRole.UserRole, [sid])
                top.addChild(child)
            self.dup_tree.addTopLevelItem(top)
            top.setFirstColumnSpanned(True)
            top.setExpanded(True)

    def review_selected(self) -> None:
        """Open the selected groups' (or samples') images in labelling mode."""
        ids: list[int] = []
        items = self.dup_tree.selectedItems() or [self.dup_tree.topLevelItem(i)
                                                  for i in range(self.dup_tree.topLevelItemCount())]
        for item in items:
            for sid in item.data(0, Qt.ItemDataRole.UserRole) or []:
                if sid not in ids:
                    ids.append(sid)
        if ids and self.dataset_id is not None:
            self.ctl.review(self.dataset_id, ids)
