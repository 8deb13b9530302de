"""Importing into the Datasets page's current dataset: folder, zip or files (from menus, the
Import button or a drop on the window), one import at a time as a job of the page, its progress
in the status bar's panel, a summary dialog at the end, the counts refreshed while it runs.

A mixin of ``DatasetsPage``: it uses the page's ``lib``, ``current_id``, ``current_summary``,
``import_panel``, ``_live_timer``, ``create_dataset``, ``refresh_datasets``, ``labelling``,
``status``, ``_update_actions``, and (texts) ``is_text_dataset`` and ``import_texts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QFileDialog

from studio.core.errors import StudioError
from studio.store.images import IMAGE_FILE_FILTER
from studio.ui.common.style import show_error
from studio.ui.common.workers import Job
from studio.ui.datasets.import_dialog import (
    ImportSummary,
    ImportSummaryDialog,
    run_import,
)
from studio.ui.datasets.table_import_dialog import is_table_file
from studio.ui.datasets.text_import import is_text_only_file


class DatasetImports:
    @property
    def import_job(self) -> Job | None:
        """The running import, if any."""
        return self.job("import")

    def import_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Import a folder of images")
        if folder:
            self.import_paths([folder])

    def import_zip(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a zip of images", "", "Zip archives (*.zip)")
        if path:
            self.import_paths([path])

    def import_files(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(self, "Import image files", "", IMAGE_FILE_FILTER)
        if paths:
            self.import_paths(paths)

    def _can_start_import(self) -> bool:
        if self.import_job is not None:
            show_error(self, "Import", "An import is already running; wait for it or cancel it.")
            return False
        return True

    def import_paths(self, paths: Sequence[str | Path]) -> Job | None:
        """Import into the current dataset (a new one named after the first path when there is
        none) on a worker thread; progress shows in ``import_panel``, a summary at the end.
        Into an open text dataset everything is imported as texts, and .txt/.jsonl files make a
        text dataset of their own."""
        paths = [Path(p) for p in paths]
        if not paths:
            return None
        if self.is_text_dataset or all(is_text_only_file(p) for p in paths):
            return self.import_texts(paths)
        if any(is_table_file(p) for p in paths):
            if len(paths) > 1:
                show_error(self, "Import", "Import one table at a time (a table becomes a dataset of its own).")
            else:
                self.import_table_file(paths[0])
            return None
        if not self._can_start_import():
            return None
        if self.current_id is None:
            try:
                self.create_dataset(self._unique_name(paths[0].stem or "Dataset"))
            except StudioError as exc:
                show_error(self, "Cannot create a dataset for the import", str(exc))
                return None
        what = paths[0].name if len(paths) == 1 else f"{len(paths)} items"
        return self._start_import(self.current_id, what, run_import, [str(p) for p in paths])

    def _start_import(self, dataset_id: int, what: str, fn, *args) -> Job:
        """Run ``fn(lib, dataset_id, *args, state) -> ImportSummary`` as the page's import job."""
        job = self.run_job("import", fn, self.lib, dataset_id, *args)
        self._import_dataset = (dataset_id, self.current_summary.name if self.current_summary else "")
        self.import_panel.start(what)
        job.progress.connect(self.import_panel.set_progress)
        # the outcome is shown once the job is over (``done``): the page is idle again by then
        job.finished.connect(lambda summary: setattr(self, "_import_outcome", summary))
        job.cancelled.connect(lambda: setattr(self, "_import_outcome", ImportSummary(cancelled=True)))
        job.failed.connect(lambda message: setattr(self, "_import_outcome", message))
        job.done.connect(self._on_import_done)
        self._update_actions()
        self._live_timer.start()
        return job

    def cancel_import(self) -> None:
        if self.import_job is not None:
            self.import_job.cancel()
            self.status.emit("Cancelling the import…")

    def _end_import(self) -> None:
        self._live_timer.stop()
        self.import_panel.hide()
        dataset_id, _ = self._import_dataset
        self.refresh_datasets(select_id=dataset_id)
        self.labelling.reload()  # the same dataset stays selected: nothing else tells the class panel
        self._update_actions()

    def _on_import_done(self) -> None:
        self._end_import()
        outcome = self._import_outcome
        if isinstance(outcome, ImportSummary):
            self._on_import_finished(outcome)
        else:
            self._on_import_failed(outcome)

    def _on_import_finished(self, summary: ImportSummary) -> None:
        self.status.emit(summary.text())
        self.summary_dialog = ImportSummaryDialog(summary, self._import_dataset[1], self)
        self.summary_dialog.setModal(False)
        self.summary_dialog.show()
        self.import_finished.emit(summary)

    def _on_import_failed(self, message: str) -> None:
        self.status.emit("Import failed")
        show_error(self, "Import failed", message)
        self.import_finished.emit(None)
