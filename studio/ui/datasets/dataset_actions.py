"""What a user can do to a dataset on the Datasets page: create, rename, delete (a job: it
removes files) and split, from the menus, the buttons and the list's context menu.

A mixin of ``DatasetsPage``: it uses the page's ``lib``, ``current_id``, ``current_summary``,
``_summaries``, ``thumbnails``, ``labelling``, ``status`` and its refresh methods.
"""

from __future__ import annotations

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QInputDialog, QMenu, QMessageBox

from studio.core.errors import StudioError
from studio.store import datasets as store_datasets
from studio.store.library import Library
from studio.ui.common.style import icon, show_error
from studio.ui.common.workers import Job
from studio.ui.datasets.filter_tree import SPLIT_TITLES
from studio.ui.datasets.split_dialog import SplitDialog

DatasetId = int


class DatasetActions:
    def _make_actions(self) -> None:
        def action(text: str, icon_name: str, slot, tip: str, shortcut: QKeySequence | str | None = None) -> QAction:
            a = QAction(icon(icon_name), text, self)
            a.setToolTip(tip)
            a.setStatusTip(tip)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
            a.triggered.connect(lambda _checked=False: slot())  # never pass `checked` on
            return a

        self.new_action = action("&New dataset…", "new", self.new_dataset, "Create an empty dataset", "Ctrl+N")
        self.rename_action = action("&Rename dataset…", "rename", self.rename_dataset, "Rename the selected dataset", "F2")
        self.delete_action = action("&Delete dataset…", "delete", self.delete_dataset, "Delete the selected dataset and its samples")
        self.import_folder_action = action(
            "Import &folder…", "folder", self.import_folder,
            "Import a folder of images (sub-folders name the classes)", "Ctrl+I",
        )
        self.import_zip_action = action("Import &zip…", "zip", self.import_zip, "Import a zip of images (folders name the classes)")
        self.import_files_action = action(
            "Import fi&les…", "file", self.import_files, "Import image files (unlabelled)", "Ctrl+Shift+I"
        )
        self.import_table_action = action(
            "Import &table (CSV, TSV, Parquet)…", "file", self.import_table_file_dialog,
            "Import a table of rows and columns as a new dataset")
        self.import_texts_action = action(
            "Import te&xts…", "file", self.import_texts_dialog,
            "Import texts: CSV/TSV/JSONL (a text column, maybe a label column), .txt files or a zip")
        self.import_text_folder_action = action(
            "Import text f&older…", "folder", self.import_text_folder_dialog,
            "Import a folder of class folders of .txt files (train/val/test folders set the split)")
        self.paste_texts_action = action("&Paste texts…", "new", self.paste_texts,
                                         "Paste texts, one per line, with an optional class")
        self.split_action = action(
            "&Split…", "split", self.split_dataset, "Assign samples at random to train / validation / test"
        )
        # tool buttons show the short icon text, menus the full text
        for a, short in ((self.new_action, "New"), (self.rename_action, "Rename"),
                         (self.delete_action, "Delete"), (self.split_action, "Split…")):
            a.setIconText(short)
        self.import_menu = QMenu("&Import", self)
        self.import_menu.setIcon(icon("import"))
        self.import_menu.addActions([self.import_folder_action, self.import_zip_action, self.import_files_action])
        self.import_menu.addSeparator()
        self.import_menu.addAction(self.import_table_action)
        self.import_menu.addSeparator()
        self.import_menu.addActions([self.import_texts_action, self.import_text_folder_action,
                                     self.paste_texts_action])
        self.demo_table_menu = self.import_menu.addMenu("&Demo table")
        self.demo_table_actions = {key: self.demo_table_menu.addAction(
            text, lambda _checked=False, key=key: self.add_demo_table(key))
            for key, text in (("xor", "&XOR (4 rows)"), ("penguins", "&Palmer penguins (344 rows, CC0)"))}

    def _ask_name(self, title: str, label: str, text: str) -> str | None:
        name, ok = QInputDialog.getText(self, title, label, text=text)
        return name.strip() if ok else None

    def _unique_name(self, base: str) -> str:
        taken = {ds.name for ds in self._summaries.values()}
        name, n = base, 2
        while name in taken:
            name, n = f"{base} {n}", n + 1
        return name

    def create_dataset(self, name: str, kind: str = "image") -> DatasetId:
        """Create a dataset and select it (raises StudioError for a bad or taken name)."""
        with self.lib.transaction() as s:
            ds_id = store_datasets.create_dataset(s, name, kind).id
        self.refresh_datasets(select_id=ds_id)
        self.status.emit(f"Created dataset “{name}”")
        return ds_id

    def new_dataset(self) -> None:
        name = self._ask_name("New dataset", "Name of the new dataset:", self._unique_name("Dataset"))
        if name is None:
            return  # cancelled; an empty name gets the store's message
        try:
            self.create_dataset(name)
        except StudioError as exc:
            show_error(self, "Cannot create the dataset", str(exc))

    def rename_dataset(self) -> None:
        ds = self.current_summary
        if ds is None:
            return
        name = self._ask_name("Rename dataset", f"New name for “{ds.name}”:", ds.name)
        if name is None or name == ds.name:
            return
        try:
            with self.lib.transaction() as s:
                store_datasets.rename_dataset(s, ds.id, name)
        except StudioError as exc:
            show_error(self, "Cannot rename the dataset", str(exc))
            return
        self.refresh_datasets()
        self.status.emit(f"Renamed “{ds.name}” to “{name}”")

    def confirm_delete_text(self) -> str:
        ds = self.current_summary
        assert ds is not None
        if self.is_text_dataset:
            return (f"Delete the text dataset “{ds.name}” and its {ds.samples:,} text{'s' if ds.samples != 1 else ''}?"
                    "\n\nThis cannot be undone.")
        if self.is_table_dataset:
            return (f"Delete the table dataset “{ds.name}” and its {ds.samples:,} row{'s' if ds.samples != 1 else ''}?\n\n"
                    "Its imported file and edits are removed from the library too. This cannot be undone.")
        return (
            f"Delete the dataset “{ds.name}” and its {ds.samples:,} sample{'s' if ds.samples != 1 else ''}?\n\n"
            "Their image files are removed from the library too. This cannot be undone."
        )

    def delete_dataset(self, confirmed: bool = False) -> Job | None:
        ds = self.current_summary
        if ds is None or self.job("delete") is not None or self.import_job is not None:
            return None
        if not confirmed:
            answer = QMessageBox.question(
                self, "Delete dataset", self.confirm_delete_text(),
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Yes:
                return None
        self.status.emit(f"Deleting “{ds.name}”…")
        job = self.run_job("delete", _delete_dataset_job, self.lib, ds.id)
        self._update_actions()
        job.finished.connect(lambda _removed, name=ds.name: self.status.emit(f"Deleted dataset “{name}”"))
        job.failed.connect(lambda msg: show_error(self, "Cannot delete the dataset", msg))
        job.done.connect(self._on_delete_done)
        return job

    def _on_delete_done(self) -> None:
        self.thumbnails.clear()
        self.current_id = None  # force a reload of whatever gets selected next
        self.refresh_datasets()

    # --- split ---------------------------------------------------------------------------
    def split_dataset(self) -> None:
        ds = self.current_summary
        if ds is None:
            return
        dialog = SplitDialog(ds.name, ds.samples, self)
        self.split_dialog = dialog
        if dialog.exec() != SplitDialog.DialogCode.Accepted:
            return
        if self.is_table_dataset:  # rows, stratified by the target: the table browser splits them
            self.table_browser.resplit(dialog.fractions(), dialog.seed.value())
        else:
            self.apply_split(dialog.fractions(), dialog.seed.value())

    def apply_split(self, fractions: tuple[float, float, float], seed: int) -> dict:
        from studio.store.splits import auto_split

        try:
            with self.lib.transaction() as s:
                counts = auto_split(s, self.current_id, fractions=fractions, seed=seed)
        except StudioError as exc:
            show_error(self, "Cannot split the dataset", str(exc))
            return {}
        self.refresh_counts()
        self.labelling.reload()
        parts = ", ".join(f"{SPLIT_TITLES.get(k or 'none', k)}: {v:,}" for k, v in dict(counts).items())
        self.status.emit(f"Split “{self.current_summary.name}”: {parts}")
        return counts


def _delete_dataset_job(lib: Library, dataset_id: int, state) -> int:
    return store_datasets.delete_dataset(lib, dataset_id)
