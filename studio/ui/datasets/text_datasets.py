"""Text datasets on the Datasets page: text cards in the sample grid in place of thumbnails, a
word search above it (``search_texts``, SQLite FTS5, run off the GUI thread a moment after the
last key), and importing texts (files, folders, zips, CSV/TSV/JSONL, pasted lines) as jobs.

Labelling needs nothing of its own: a text is a ``Sample`` row, so the labelling workspace's
class panel, number keys, undo, splits, problems and suggestions work on the cards as on tiles.

A mixin of ``DatasetsPage``: it uses the page's ``lib``, ``model``, ``grid``, ``current_id``,
``current_summary``, ``class_counts``, ``content_layout``, ``labelling``, ``run_job``, ``status``,
``create_dataset``, ``_unique_name``, ``_start_import``, ``import_job`` and ``_update_title``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog, QHBoxLayout, QLabel, QLineEdit, QWidget

from studio.core.errors import StudioError
from studio.store.library import Library
from studio.ui.common.style import show_error
from studio.ui.common.workers import Job
from studio.ui.datasets.text_grid import TextCardDelegate, TextPreviewCache
from studio.ui.datasets.text_import import (
    TEXT_FILE_FILTER,
    PasteTextsDialog,
    run_paste_import,
    run_text_import,
)

TEXT_KIND = "text"
SEARCH_DELAY_MS = 250  # typing pauses this long before the search runs
SEARCH_LIMIT = 100_000  # every match: the grid pages its rows


def search_job(lib: Library, dataset_id: int, query: str, state: Any = None) -> tuple[str, list[int]]:
    """Worker thread: the ids of the dataset's texts matching ``query``, best first."""
    from studio.data.text.search import search_texts

    with lib.session() as s:
        return query, search_texts(s, dataset_id, query, limit=SEARCH_LIMIT)


class TextDatasets:
    paste_dialog: PasteTextsDialog | None = None
    search_query = ""  # the search the grid shows ("" = none)

    @property
    def is_text_dataset(self) -> bool:
        return self.current_summary is not None and self.current_summary.kind == TEXT_KIND

    def _add_text_parts(self) -> None:
        """The search row above the grid (shown for text datasets) and the card delegate."""
        self.text_previews = TextPreviewCache(self.lib, self.model, self)
        self.text_delegate = TextCardDelegate(self.text_previews, self.grid)
        self.text_previews.ready.connect(self.grid.viewport().update)
        self.search_box = QLineEdit()
        self.search_box.setObjectName("text_search")
        self.search_box.setPlaceholderText("Search the texts by words (\"a phrase\", prefix*)")
        self.search_box.setClearButtonEnabled(True)
        self.search_box.textChanged.connect(lambda _text: self._search_timer.start())
        self.search_box.returnPressed.connect(self._run_search)
        self.search_status = QLabel()
        self.search_status.setStyleSheet("color: #5b6670")
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(self._run_search)
        self.search_row = QWidget()
        row = QHBoxLayout(self.search_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.search_box, 1)
        row.addWidget(self.search_status)
        self.search_row.hide()
        self.content_layout.insertWidget(self.content_layout.indexOf(self.labelling), self.search_row)

    def _show_text_kind(self) -> None:
        """Cards and the search row for a text dataset, thumbnails otherwise; a search ends."""
        text = self.is_text_dataset
        self.search_row.setVisible(text)
        self.grid.use_delegate(self.text_delegate if text else self.grid.image_delegate)
        self._search_timer.stop()
        self.cancel_job("search")
        self.search_box.blockSignals(True)
        self.search_box.clear()
        self.search_box.blockSignals(False)
        self.search_query = ""
        self.search_status.clear()
        self.model.only_ids = None
        self.text_previews.clear()

    def open_text(self, row: int) -> None:
        """The grid's text at ``row`` whole, in the one-by-one view (number keys label it)."""
        sample_id = self.model.sample_id(row)
        self.labelling.set_mode("label")
        view = self.labelling.labelling_view
        if sample_id in view.ids:
            view.go_to(view.ids.index(sample_id))

    # --- search -------------------------------------------------------------------------------
    def search_texts(self, query: str) -> None:
        """Type ``query`` into the search box (the search runs after the usual pause)."""
        self.search_box.setText(query)

    def _run_search(self) -> None:
        self._search_timer.stop()
        query = self.search_box.text().strip()
        if not self.is_text_dataset or self.current_id is None:
            return
        if not query:
            self.cancel_job("search")
            self._show_matches("", None)
            return
        self.search_status.setText("Searching…")
        job = self.run_job("search", search_job, self.lib, self.current_id, query)
        job.finished.connect(lambda result: self._show_matches(*result))
        job.failed.connect(lambda message: self.search_status.setText(f"Cannot search: {message}"))

    def _show_matches(self, query: str, ids: list[int] | None) -> None:
        self.search_query = query
        self.model.only_ids = ids
        if ids is None:
            self.search_status.clear()
        else:
            self.search_status.setText(f"{len(ids):,} match{'es' if len(ids) != 1 else ''}")
        self.model.reload(background=True)

    # --- import -------------------------------------------------------------------------------
    def import_texts_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Import texts", "", TEXT_FILE_FILTER)
        if paths:
            self.import_texts(paths)

    def import_text_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a folder of texts (class folders of .txt)")
        if folder:
            self.import_texts([folder])

    def _text_dataset_for(self, name: str) -> int | None:
        """The open text dataset, or a new one named ``name`` (selected)."""
        if self.is_text_dataset:
            return self.current_id
        try:
            return self.create_dataset(self._unique_name(name), kind=TEXT_KIND)
        except StudioError as exc:
            show_error(self, "Cannot create a dataset for the texts", str(exc))
            return None

    def import_texts(self, paths: Sequence[str | Path]) -> Job | None:
        """Import texts into the open text dataset (a new text dataset otherwise) as a job."""
        paths = [Path(p) for p in paths]
        if not paths or not self._can_start_import():
            return None
        dataset_id = self._text_dataset_for(paths[0].stem or "Texts")
        if dataset_id is None:
            return None
        what = paths[0].name if len(paths) == 1 else f"{len(paths)} items"
        return self._start_import(dataset_id, what, run_text_import, [str(p) for p in paths])

    def paste_texts(self) -> PasteTextsDialog | None:
        """The dialog for pasting texts; Import adds them (to a new text dataset if none is open)."""
        if not self._can_start_import():
            return None
        classes = [c.name for c in self.class_counts] if self.is_text_dataset else []
        target = self.current_summary.name if self.is_text_dataset else "a new text dataset"
        dialog = PasteTextsDialog(classes, target, self)
        dialog.accepted.connect(lambda: self.import_pasted(dialog.texts(), dialog.class_name()))
        dialog.finished.connect(lambda _result: dialog.deleteLater())
        self.paste_dialog = dialog
        dialog.open()
        return dialog

    def import_pasted(self, text: str, class_name: str | None = None) -> Job | None:
        if not self._can_start_import():
            return None
        dataset_id = self._text_dataset_for("Pasted texts")
        if dataset_id is None:
            return None
        return self._start_import(dataset_id, "pasted texts", run_paste_import, text, class_name)
