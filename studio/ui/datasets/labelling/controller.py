"""The one labelling controller of an app session: the QUndoStack and every labelling action.

Views call its methods (label, set_split, add_class, ...); each pushes one undoable command and
the store is changed in one short transaction right away. Views listen to its signals to refresh
only what changed. ``review(dataset_id, sample_ids)`` asks the app to open exactly those samples
in labelling mode (the Evaluate view uses it for the samples a model got wrong).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QApplication

from studio.core.errors import StudioError
from studio.store import classes as store_classes
from studio.store.library import Library, LibraryUpdateError
from studio.ui.datasets.labelling import commands as cmds

log = logging.getLogger(__name__)

BUSY_CURSOR_SAMPLES = 2000


class LabellingController(QObject):
    labels_changed = Signal(int, list)  # dataset_id, sample ids whose class changed
    splits_changed = Signal(int, list)  # dataset_id, sample ids whose split changed
    classes_changed = Signal(int)  # dataset_id: classes added, renamed, recoloured, moved, removed
    samples_added = Signal(int, list)  # dataset_id, new sample ids (webcam capture)
    review_requested = Signal(int, list)  # dataset_id, sample ids to open in labelling mode
    error = Signal(str)  # one line for the user
    undone = Signal(object)  # the StoreCommand just undone (Ctrl+Z), not when first done
    redone = Signal(object)  # the StoreCommand just redone

    def __init__(self, lib: Library, undo_stack: QUndoStack | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.lib = lib
        self.undo_stack = undo_stack or QUndoStack(self)
        self.undo_stack.setUndoLimit(500)

    # --- plumbing ---------------------------------------------------------------------------
    def _push(self, command: cmds.StoreCommand) -> bool:
        """Apply then push; bad input becomes one ``error`` line and nothing is pushed.

        One transaction on the GUI thread: a few ms for a handful of samples; a bulk step of
        10,000 takes ~0.2 s (bench/bench_label.py), so big ones show a busy cursor meanwhile."""
        busy = len(getattr(command, "sample_ids", ())) >= BUSY_CURSOR_SAMPLES
        if busy:
            QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            if not self.run_safely(command.apply):
                return False
            self.undo_stack.push(command)
            return True
        finally:
            if busy:
                QApplication.restoreOverrideCursor()

    def run_safely(self, fn: Callable[[], None]) -> bool:
        try:
            fn()
            return True
        except LibraryUpdateError as exc:  # e.g. the library is locked by another process
            log.exception("labelling action failed")
            self.error.emit(str(exc))
        except StudioError as exc:
            self.error.emit(str(exc))
        return False

    # --- labels and splits -------------------------------------------------------------------
    def label(self, dataset_id: int, sample_ids: Sequence[int], class_id: int | None) -> bool:
        """Give the samples ``class_id`` (None removes their label): one undoable step."""
        if not sample_ids:
            return False
        name = None
        if class_id is not None:
            with self.lib.session() as s:
                name = dict(store_classes.class_order(s, dataset_id)).get(class_id)
        return self._push(cmds.SetLabelsCommand(self, dataset_id, list(sample_ids), class_id, name))

    def label_by_position(self, dataset_id: int, sample_ids: Sequence[int], position: int) -> bool:
        """Number keys: 1 is the first class, ..., 9 the ninth, 0 the tenth."""
        with self.lib.session() as s:
            classes = store_classes.class_order(s, dataset_id)
        if not 0 <= position < len(classes):
            self.error.emit(f"there is no class number {position + 1 if position < 9 else 0}")
            return False
        return self.label(dataset_id, sample_ids, classes[position][0])

    def set_split(self, dataset_id: int, sample_ids: Sequence[int], split: str | None) -> bool:
        if not sample_ids:
            return False
        return self._push(cmds.SetSplitsCommand(self, dataset_id, list(sample_ids), split))

    def accept_suggestions(self, dataset_id: int, run_id: int, sample_ids: Sequence[int],
                           overwrite: bool = False) -> bool:
        """Take the run's suggested class for these samples (human labels kept unless overwrite)."""
        if not sample_ids:
            return False
        return self._push(cmds.SetLabelsCommand(self, dataset_id, list(sample_ids), None,
                                                run_id=run_id, overwrite=overwrite))

    # --- classes ------------------------------------------------------------------------------
    def add_class(self, dataset_id: int, name: str, colour: str | None = None) -> int | None:
        command = cmds.AddClassCommand(self, dataset_id, name, colour)
        return command.snapshot.id if self._push(command) else None

    def rename_class(self, dataset_id: int, class_id: int, new_name: str) -> bool:
        return self._push(cmds.RenameClassCommand(self, dataset_id, class_id, new_name))

    def recolour_class(self, dataset_id: int, class_id: int, colour: str) -> bool:
        return self._push(cmds.RecolourClassCommand(self, dataset_id, class_id, colour))

    def reorder_classes(self, dataset_id: int, class_ids: Sequence[int]) -> bool:
        return self._push(cmds.ReorderClassesCommand(self, dataset_id, list(class_ids)))

    def move_class(self, dataset_id: int, class_id: int, delta: int) -> bool:
        """Move a class up (-1) or down (+1) in the order (and so in the number keys)."""
        with self.lib.session() as s:
            order = [cid for cid, _name in store_classes.class_order(s, dataset_id)]
        i = order.index(class_id)
        j = max(0, min(len(order) - 1, i + delta))
        if i == j:
            return False
        order.insert(j, order.pop(i))
        return self.reorder_classes(dataset_id, order)

    def merge_classes(self, dataset_id: int, source_id: int, target_id: int) -> bool:
        return self._push(cmds.RemoveClassCommand(self, dataset_id, source_id, target_id, "Merge classes"))

    def delete_class(self, dataset_id: int, class_id: int) -> bool:
        return self._push(cmds.RemoveClassCommand(self, dataset_id, class_id, None, "Delete class"))

    # --- navigation -------------------------------------------------------------------------------
    def review(self, dataset_id: int, sample_ids: Sequence[int]) -> None:
        """Open exactly these samples, in this order, in labelling mode (whoever shows it listens)."""
        self.review_requested.emit(int(dataset_id), [int(i) for i in sample_ids])
