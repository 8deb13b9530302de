"""The Datasets page: the list of datasets, the counts that filter the grid, the grid.

A thin widget over store query functions: each refresh opens a short session on the GUI thread
for a few small grouped queries. Beside it: ``filter_tree`` (the counts), ``dataset_actions``
(create, rename, delete, split), ``importing`` (imports run as jobs of the page) and the
labelling workspace that wraps the grid (``labelling/``).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QSplitter,
    QStackedLayout,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.store import datasets as store_datasets
from studio.store.library import Library
from studio.ui.common.page import Page
from studio.ui.common.sample_grid import SampleGridModel, SampleGridView, ThumbnailCache
from studio.ui.common.sample_view import SampleViewer
from studio.ui.common.style import icon, show_error
from studio.ui.datasets.dataset_actions import DatasetActions
from studio.ui.datasets.filter_tree import (
    ALL,
    SPLIT_TITLES,
    FilterKey,
    FilterTree,
    filter_for,
)
from studio.ui.datasets.import_dialog import (
    ImportProgressPanel,
    ImportSummaryDialog,
)
from studio.ui.datasets.importing import DatasetImports
from studio.ui.datasets.table_datasets import TableDatasets
from studio.ui.datasets.text_datasets import TextDatasets

DatasetId = int


def _tool_button(text: str, icon_name: str, tip: str) -> QToolButton:
    b = QToolButton()
    b.setText(text)
    b.setIcon(icon(icon_name))
    b.setToolTip(tip)
    b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    b.setAutoRaise(True)
    return b


class DatasetsPage(DatasetActions, DatasetImports, TableDatasets, TextDatasets, Page):
    """Signals for the window: ``status(str)`` short messages, ``dataset_changed(id | None)``,
    ``counts_changed()`` after any refresh (the status bar reads ``current_summary``).
    A table dataset shows the table browser (``table_datasets``) in place of the grid; a text
    dataset text cards in it and a word search above it (``text_datasets``)."""

    status = Signal(str)
    dataset_changed = Signal(object)
    counts_changed = Signal()
    import_finished = Signal(object)  # ImportSummary
    table_imported = Signal(object)  # TableImport, or None when the import failed or was cancelled

    def __init__(self, lib: Library, parent: QWidget | None = None):
        super().__init__(parent)
        self.lib = lib
        self.current_id: DatasetId | None = None
        self.current_summary: store_datasets.DatasetSummary | None = None
        self.filter_key: FilterKey = ALL
        self.summary_dialog: ImportSummaryDialog | None = None
        self.viewer: SampleViewer | None = None

        self.thumbnails = ThumbnailCache(lib, parent=self)
        self.model = SampleGridModel(lib, self.thumbnails, self)
        self.import_panel = ImportProgressPanel()
        self.import_panel.hide()
        self.import_panel.cancel_requested.connect(self.cancel_import)
        self._live_timer = QTimer(self)
        self._live_timer.setInterval(1500)
        self._live_timer.timeout.connect(self.refresh_store_views)

        self._make_actions()
        self._build()
        self._add_labelling()
        self._add_text_parts()
        self.refresh_datasets()

    def _add_labelling(self) -> None:
        """The labelling workspace (studio/ui/datasets/labelling) wraps the grid: class panel, number
        keys, drag onto classes, labelling modes; its controller holds the session's undo stack."""
        from studio.ui.datasets.labelling.controller import LabellingController
        from studio.ui.datasets.labelling.workspace import LabellingWorkspace

        index = self.content_layout.indexOf(self.grid_area)
        self.labelling = LabellingWorkspace(
            LabellingController(self.lib, parent=self), self.grid, self.grid_area, lambda: self.current_id,
            self.thumbnails, on_counts_changed=self.refresh_counts_only,
            on_samples_added=lambda: self.model.reload(background=True), select_dataset=self.select_dataset,
            split_dataset=self.split_dataset)
        self.content_layout.removeWidget(self.grid_area)
        self.content_layout.insertWidget(index, self.labelling, 1)
        self.dataset_changed.connect(self.labelling.set_dataset)
        self.labelling.status.connect(self.status)

    # --- construction ---------------------------------------------------------------------
    def _build(self) -> None:
        # left column: datasets, then the counts that filter the grid
        self.dataset_list = QListWidget()
        self.dataset_list.setObjectName("dataset_list")
        self.dataset_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.dataset_list.setIconSize(QSize(20, 20))
        self.dataset_list.setSpacing(2)
        self.dataset_list.currentItemChanged.connect(self._on_dataset_item_changed)
        self.dataset_list.setContextMenuPolicy(Qt.ContextMenuPolicy.ActionsContextMenu)
        self.dataset_list.addActions([self.new_action, self.rename_action, self.delete_action])
        # Delete asks to delete the dataset only while the list has focus (not in the grid).
        self.dataset_list.installEventFilter(self)

        buttons = QHBoxLayout()
        buttons.setSpacing(2)
        for act in (self.new_action, self.rename_action, self.delete_action):
            b = _tool_button("", "", "")
            b.setDefaultAction(act)
            buttons.addWidget(b)
        buttons.addStretch(1)

        self.filter_tree = FilterTree()
        self.filter_tree.filter_chosen.connect(self.set_filter)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(6, 6, 0, 6)
        left_layout.addWidget(self._heading("Datasets"))
        left_layout.addWidget(self.dataset_list, 1)
        left_layout.addLayout(buttons)
        left_layout.addSpacing(6)
        self.show_heading = self._heading("Show")
        left_layout.addWidget(self.show_heading)
        left_layout.addWidget(self.filter_tree, 2)

        # right: title bar + grid (or an empty-state message)
        self.title = QLabel()
        title_font = QFont(self.title.font())
        title_font.setPointSizeF(title_font.pointSizeF() * 1.4)
        title_font.setBold(True)
        self.title.setFont(title_font)
        self.subtitle = QLabel()
        self.subtitle.setStyleSheet("color: #5b6670")
        self.import_button = _tool_button("Import", "import", "Import a folder, a zip or image files (Ctrl+I)")
        self.import_button.setMenu(self.import_menu)
        self.import_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.split_button = _tool_button("", "", "")
        self.split_button.setDefaultAction(self.split_action)
        header = QHBoxLayout()
        titles = QVBoxLayout()
        titles.setSpacing(0)
        titles.addWidget(self.title)
        titles.addWidget(self.subtitle)
        header.addLayout(titles, 1)
        header.addWidget(self.import_button)
        header.addWidget(self.split_button)

        self.grid = SampleGridView()
        self.grid.setObjectName("sample_grid")
        self.grid.setModel(self.model)
        self.grid.setAcceptDrops(False)  # drops go up to the window, which imports them
        self.grid.open_requested.connect(self.open_sample)
        self.empty_label = QLabel()
        self.empty_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_label.setWordWrap(True)
        self.empty_label.setStyleSheet("color: #5b6670; font-size: 15px;")
        # grid_area: the grid, or a message when there is nothing to show; other parts (the
        # labelling workspace) can wrap it: ``self.content_layout.replaceWidget(self.grid_area, w)``
        self.grid_area = QWidget()
        self.grid_stack = QStackedLayout(self.grid_area)
        self.grid_stack.addWidget(self.grid)
        self.grid_stack.addWidget(self.empty_label)
        self.model.loaded.connect(self._update_title)
        self.model.load_failed.connect(lambda msg: show_error(self, "Cannot read the samples", msg))

        right = QWidget()
        self.content_layout = QVBoxLayout(right)
        self.content_layout.setContentsMargins(6, 6, 6, 0)
        self.content_layout.addLayout(header)
        self.content_layout.addWidget(self.grid_area, 1)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([250, 1000])
        splitter.setChildrenCollapsible(False)
        left.setMinimumWidth(200)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.dataset_list
            and event.type() == QEvent.Type.KeyPress
            and event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)
        ):
            self.delete_dataset()
            return True
        return super().eventFilter(watched, event)

    @staticmethod
    def _heading(text: str) -> QLabel:
        label = QLabel(text.upper())
        label.setStyleSheet("color: #5b6670; font-weight: 600; letter-spacing: 1px;")
        return label

    # --- datasets -------------------------------------------------------------------------
    def refresh_datasets(self, select_id: DatasetId | None = None) -> None:
        """Re-read the dataset list; keep (or move to ``select_id``) the selection."""
        with self.lib.session() as s:
            summaries = store_datasets.list_datasets(s)
        target = select_id if select_id is not None else self.current_id
        self.dataset_list.blockSignals(True)
        self.dataset_list.clear()
        selected_row = 0 if summaries else -1
        for i, ds in enumerate(summaries):
            item = QListWidgetItem(icon("file" if ds.kind == "table" else "datasets"), self._dataset_text(ds))
            item.setData(Qt.ItemDataRole.UserRole, ds.id)
            item.setToolTip(f"{ds.name}\n{ds.samples:,} rows of a table" if ds.kind == "table" else
                            f"{ds.name}\n{ds.samples:,} samples, {ds.labelled:,} labelled, {ds.classes} classes")
            self.dataset_list.addItem(item)
            if ds.id == target:
                selected_row = i
        self.dataset_list.setCurrentRow(selected_row)
        self.dataset_list.blockSignals(False)
        self._summaries = {ds.id: ds for ds in summaries}
        new_id = summaries[selected_row].id if summaries else None
        if new_id != self.current_id:
            self._set_current(new_id)
        else:
            self.current_summary = self._summaries.get(new_id) if new_id is not None else None
            self._show_dataset_kind()  # e.g. the last dataset was deleted: no table to show
            self.refresh_counts()
        self._update_actions()

    @staticmethod
    def _dataset_text(ds: store_datasets.DatasetSummary) -> str:
        if ds.kind == "table":
            return f"{ds.name}\n{ds.samples:,} rows · table"
        classes = f"{ds.classes} class{'es' if ds.classes != 1 else ''}"
        noun = "texts" if ds.kind == "text" else "samples"
        return f"{ds.name}\n{ds.samples:,} {noun} · {classes}"

    def select_dataset(self, dataset_id: DatasetId | None) -> bool:
        """Select a dataset by id; False when there is no such dataset."""
        for row in range(self.dataset_list.count()):
            if self.dataset_list.item(row).data(Qt.ItemDataRole.UserRole) == dataset_id:
                self.dataset_list.setCurrentRow(row)
                return True
        return False

    def _on_dataset_item_changed(self, current: QListWidgetItem | None, _previous) -> None:
        self._set_current(current.data(Qt.ItemDataRole.UserRole) if current else None)

    def _set_current(self, dataset_id: DatasetId | None) -> None:
        self.current_id = dataset_id
        self.current_summary = self._summaries.get(dataset_id) if dataset_id is not None else None
        self.filter_key = ALL
        self._show_dataset_kind()
        self._show_text_kind()
        self.refresh_counts(reload_grid=True)
        self._update_actions()
        self.dataset_changed.emit(dataset_id)

    def _update_actions(self) -> None:
        has = self.current_id is not None
        idle = self.import_job is None and self.job("delete") is None
        for a in (self.rename_action, self.delete_action):
            a.setEnabled(has and idle)
        self.split_action.setEnabled(has and idle and bool(self.current_summary and self.current_summary.samples))
        for a in (self.import_folder_action, self.import_zip_action, self.import_files_action,
                  self.import_table_action, self.import_texts_action, self.import_text_folder_action,
                  self.paste_texts_action):
            a.setEnabled(idle)
        self.import_button.setEnabled(idle)

    # --- counts and filters -------------------------------------------------------------
    def refresh_counts(self, reload_grid: bool = True) -> None:
        """Re-read the counts of the current dataset and (by default) the grid."""
        if self.is_table_dataset:  # its rows and counts are the table browser's
            self.class_counts, self.unlabelled, self.split_counts = [], 0, {}
            self._update_title()
            self.counts_changed.emit()
            return
        if self.current_id is not None:
            with self.lib.session() as s:
                classes = store_datasets.class_counts(s, self.current_id)
                unlabelled = store_datasets.unlabelled_count(s, self.current_id)
                splits = store_datasets.split_counts(s, self.current_id)
            if self.current_summary is not None:
                total = sum(c.count for c in classes) + unlabelled
                self.current_summary = _with_samples(self.current_summary, total, total - unlabelled)
        else:
            classes, unlabelled, splits = [], 0, {}
        self.class_counts = classes
        self.unlabelled = unlabelled
        self.split_counts = splits
        self.filter_tree.fill(classes if self.current_id is not None else None, unlabelled, splits)
        if self.filter_key[0] == "class" and all(c.class_id != self.filter_key[1] for c in classes):
            self.filter_key = ALL
        if reload_grid:
            self.model.load(self.current_id, filter_for(self.filter_key), background=True)
        self.filter_tree.show_selected(self.filter_key)
        self._update_title()
        self.counts_changed.emit()

    def filter_item(self, key: FilterKey):
        return self.filter_tree.item_for(key)

    def set_filter(self, key: FilterKey) -> None:
        """Show only the samples of a class, the unlabelled ones or one split; ("all", None) resets."""
        self.filter_key = key
        self.model.load(self.current_id, filter_for(key), background=True)
        self.filter_tree.show_selected(key)
        self._update_title()

    def _update_title(self) -> None:
        ds = self.current_summary
        if ds is None:
            self.title.setText("No dataset")
            self.subtitle.setText("Create a dataset or import a folder of images to begin.")
            self._update_empty_state()
            return
        self.title.setText(ds.name)
        if self.is_table_dataset:
            self.subtitle.setText(self.table_browser.describe())
            return
        shown = "…" if self.model.loading else f"{self.model.rowCount():,}"
        kind, value = self.filter_key
        if kind == "all":
            what = "all samples"
        elif kind == "class":
            what = next((f"class “{c.name}”" for c in self.class_counts if c.class_id == value), "a class")
        elif kind == "unlabelled":
            what = "unlabelled samples"
        else:
            what = f"split: {SPLIT_TITLES.get(value, value)}"
        if self.search_query:
            what += f", matching “{self.search_query}”"
        noun = "texts" if self.is_text_dataset else "samples"
        self.subtitle.setText(
            f"{ds.samples:,} {noun} · {ds.labelled:,} labelled · {len(self.class_counts)} classes — "
            f"showing {shown} ({what})"
        )
        self._update_empty_state()

    def _update_empty_state(self) -> None:
        if self.model.rowCount() > 0:
            if not self.model.loading:  # while loading, the old rows stay until the new arrive
                self.grid_stack.setCurrentWidget(self.grid)
            return
        if self.current_id is None:
            text = "No dataset yet.\n\nUse File ▸ New dataset (Ctrl+N), or drop a folder of images here."
        elif self.search_query:
            text = f"No text matches “{self.search_query}”."
        elif self.is_text_dataset and self.filter_key[0] == "all":
            text = ("This text dataset is empty.\n\nUse Import ▸ Import texts… (CSV, TSV, JSONL, .txt, zip), "
                    "Import text folder… or Paste texts….")
        elif self.filter_key[0] == "all":
            text = (
                "This dataset is empty.\n\nDrop images, folders or a zip here, or use Import (Ctrl+I).\n"
                "Sub-folders name the classes: cats/1.jpg, dogs/2.jpg …"
            )
        else:
            text = "No samples match this filter."
        self.empty_label.setText(text)
        if not self.model.loading or self.grid_stack.currentWidget() is self.empty_label:
            self.grid_stack.setCurrentWidget(self.empty_label)

    # --- refreshing after changes elsewhere ---------------------------------------------------
    def refresh_counts_only(self) -> None:
        """Re-read the counts and the dataset list's numbers but not the grid, so where the
        user scrolled to and what is selected stay (a running import calls it now and then;
        labelling can call it after changing labels)."""
        with self.lib.session() as s:
            summaries = {ds.id: ds for ds in store_datasets.list_datasets(s)}
        for row in range(self.dataset_list.count()):
            item = self.dataset_list.item(row)
            ds = summaries.get(item.data(Qt.ItemDataRole.UserRole))
            if ds is not None:
                item.setText(self._dataset_text(ds))
        self._summaries.update(summaries)
        if self.current_id in summaries:
            self.current_summary = summaries[self.current_id]
            self.refresh_counts(reload_grid=False)

    def refresh_store_views(self) -> None:
        """After the store changed outside the labelling controller (an import adding classes
        and samples, a split): the counts, the dataset list and the labelling views (class
        panel, "Label as" buttons, problems), keeping the grid's scroll and selection."""
        self.refresh_counts_only()
        self.labelling.reload()

    # --- viewer --------------------------------------------------------------------------
    def open_sample(self, row: int) -> SampleViewer | None:
        if not 0 <= row < self.model.rowCount():
            return None
        if self.is_text_dataset:  # a text reads whole in the one-by-one view
            self.open_text(row)
            return None
        if self.viewer is not None:
            self.viewer.close()
        self.viewer = SampleViewer(self.lib, self.model, row, self)
        self.viewer.row_changed.connect(self._follow_viewer)
        self.viewer.show()
        return self.viewer

    def _follow_viewer(self, row: int) -> None:
        idx = self.model.index(row)
        self.grid.setCurrentIndex(idx)
        self.grid.scrollTo(idx)

    def on_shown(self) -> None:
        if self.was_shown:  # coming back: other pages change the store too (Evaluate's Split…)
            self.refresh_store_views()
        (self.table_browser.view if self.is_table_dataset else self.grid).setFocus()

    def shutdown(self) -> None:
        """Before the window closes: stop an import and let the thumbnail threads finish."""
        super().shutdown()
        self.thumbnails.clear()
        self.thumbnails.wait(3000)


def _with_samples(ds: store_datasets.DatasetSummary, samples: int, labelled: int) -> store_datasets.DatasetSummary:
    from dataclasses import replace

    return replace(ds, samples=samples, labelled=labelled)
