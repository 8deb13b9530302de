"""Table datasets on the Datasets page: the table browser in place of the labelling grid while a
table is open, importing a CSV/TSV/Parquet file through the import dialog (from the menu, the
Import button or a drop on the window), and jumping to a row (``show_table_row``).

A mixin of ``DatasetsPage``: it uses the page's ``lib``, ``current_id``, ``current_summary``,
``content_layout``, ``labelling``, ``filter_tree``, ``import_panel``, ``status``, ``run_job``,
``refresh_datasets``, ``select_dataset``, ``_unique_name``, ``_update_title`` and ``_update_actions``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from studio.core.jobs import JobState
from studio.data.tables.schema import ColumnType
from studio.store.library import Library
from studio.ui.common.style import show_error
from studio.ui.datasets.table_import_dialog import TABLE_FILE_FILTER, TableImportDialog

TABLE_KIND = "table"


class TableDatasets:
    _table_browser = None
    table_import_dialog: TableImportDialog | None = None

    @property
    def is_table_dataset(self) -> bool:
        return self.current_summary is not None and self.current_summary.kind == TABLE_KIND

    @property
    def table_browser(self):
        """The ``TableBrowser``, built the first time a table is shown (it imports pyqtgraph)."""
        if self._table_browser is None:
            from studio.ui.datasets.table_browser import TableBrowser

            self._table_browser = TableBrowser(self, self.labelling.ctl)
            self._table_browser.setObjectName("table_browser")
            self._table_browser.hide()
            # Ctrl+Z / Ctrl+Shift+Z while the labelling grid (which holds them too) is hidden
            self._table_browser.addActions([self.labelling.undo_action, self.labelling.redo_action])
            self.content_layout.addWidget(self._table_browser, 1)
            self._table_browser.status.connect(self.status)
            self._table_browser.changed.connect(self._update_title)
        return self._table_browser

    def _show_dataset_kind(self) -> None:
        """The table browser for a table dataset, the labelling grid and its counts otherwise."""
        table = self.is_table_dataset
        self.labelling.setVisible(not table)
        self.filter_tree.setVisible(not table)
        self.show_heading.setVisible(not table)
        if table:
            self.table_browser.show()
            self.table_browser.open_dataset(self.current_id)
        elif self._table_browser is not None:
            self._table_browser.hide()
            # Ctrl+Z / Ctrl+Shift+Z while the labelling grid (which holds them too) is hidden
            self._table_browser.addActions([self.labelling.undo_action, self.labelling.redo_action])
            self._table_browser.close_dataset()

    def show_table_row(self, dataset_id: int, row: int) -> bool:
        """Open the table dataset and select its row ``row`` (0-based), clearing a filter that
        hides it; False when there is no such table dataset."""
        summary = self._summaries.get(dataset_id)
        if summary is None or summary.kind != TABLE_KIND or not self.select_dataset(dataset_id):
            return False
        self.table_browser.reveal_row(int(row))
        return True

    # --- import -----------------------------------------------------------------------------
    def import_table_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a table", "", TABLE_FILE_FILTER)
        if path:
            self.import_table_file(path)

    def import_table_file(self, path: str | Path) -> TableImportDialog | None:
        """The import dialog for ``path``: preview, column choices, then the import as a job."""
        if self.import_job is not None:
            show_error(self, "Import", "An import is already running; wait for it or cancel it.")
            return None
        path = Path(path)
        dialog = TableImportDialog(path, self._unique_name(path.stem or "Table"), self)
        dialog.accepted.connect(lambda: self._start_table_import(path, *dialog.choices()))
        dialog.finished.connect(lambda _result: self._forget_import_dialog(dialog))
        self.table_import_dialog = dialog
        dialog.open()
        return dialog

    def add_demo_table(self, key: str) -> None:
        """Import one of the tables that ship with the studio, with its target, as a new dataset."""
        from studio.data.tables.demos import DEMO_TABLES

        if self.import_job is not None:
            show_error(self, "Import", "An import is already running; wait for it or cancel it.")
            return
        demo = DEMO_TABLES[key]
        self._start_table_import(demo.path, self._unique_name(f"Demo {demo.name}"), list(demo.targets), [], {})

    def _forget_import_dialog(self, dialog: TableImportDialog) -> None:
        if self.table_import_dialog is dialog:
            self.table_import_dialog = None
        dialog.deleteLater()

    def _start_table_import(self, path: Path, name: str, targets: list[str], ignore: list[str],
                            types: dict[str, ColumnType]) -> None:
        job = self.run_job("import", _import_table_job, self.lib, name, str(path), targets, ignore, types)
        self.import_panel.start(path.name)
        job.progress.connect(self.import_panel.set_progress)
        job.finished.connect(self._on_table_imported)
        job.failed.connect(lambda message: self._on_table_import_failed(message))
        job.cancelled.connect(lambda: self._on_table_import_failed(None, f"Import of {path.name} cancelled: "
                                                                         "nothing was added"))
        job.done.connect(self._end_table_import)
        self._update_actions()

    def _end_table_import(self) -> None:
        self.import_panel.hide()
        self._update_actions()

    def _on_table_import_failed(self, message: str | None, status: str = "Import failed") -> None:
        self.status.emit(status)
        if message is not None:
            show_error(self, "Cannot import the table", message)
        self.table_imported.emit(None)

    def _on_table_imported(self, imported) -> None:
        self.refresh_datasets(select_id=imported.dataset_id)
        notes = f"; {len(imported.notes)} note{'s' if len(imported.notes) != 1 else ''}: " + \
            "; ".join(imported.notes) if imported.notes else ""
        self.status.emit(f"Imported “{imported.name}”: {imported.rows:,} rows, {imported.schema.task} of "
                         f"{', '.join(c.name for c in imported.schema.targets)}{notes}")
        self.table_imported.emit(imported)


def _import_table_job(lib: Library, name: str, path: str, targets: list[str], ignore: list[str],
                      types: dict[str, ColumnType], state: JobState):
    from studio.data.tables.dataset import import_table

    return import_table(lib, name, path, targets=targets, ignore=ignore, types=types, state=state)
