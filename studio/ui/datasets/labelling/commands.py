"""Undoable labelling actions: thin QUndoCommands over the store functions in studio.store.classes and .labelling.

Each command remembers its dataset (the one undo stack serves the whole session, across dataset
switches) and exactly what its store call returned, so undo puts the library back as it was.
Bulk actions are one command. Each do/undo is one short transaction, and the controller then
tells the views which samples or classes changed (``LabellingController`` signals).

The controller runs ``apply()`` once before pushing (so bad input raises and nothing is pushed);
QUndoStack.push() then calls redo(), which skips that first call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from PySide6.QtCore import SignalInstance
from PySide6.QtGui import QUndoCommand

from studio.store import classes as store_classes
from studio.store import labelling as store_labelling
from studio.store import suggestions as store_suggestions
from studio.store.library import Library


class CommandHost(Protocol):
    """What a command needs of the controller that pushes it (``LabellingController``): the
    library, a way to run a store change that reports errors instead of raising, and the
    signals that tell views what changed."""

    lib: Library
    labels_changed: SignalInstance
    splits_changed: SignalInstance
    classes_changed: SignalInstance
    undone: SignalInstance
    redone: SignalInstance

    def run_safely(self, fn: Callable[[], None]) -> bool: ...


def _plural(n: int, word: str = "sample") -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class StoreCommand(QUndoCommand):
    def __init__(self, ctl: CommandHost, dataset_id: int, text: str = ""):
        super().__init__(text)
        self.ctl = ctl
        self.dataset_id = dataset_id
        self._applied_once = False

    # subclasses implement these (each in one transaction) and announce what changed
    def do(self) -> None:
        raise NotImplementedError

    def revert(self) -> None:
        raise NotImplementedError

    def apply(self) -> None:
        """The first execution; raises StudioError on bad input (nothing is pushed then)."""
        self.do()
        self._applied_once = True

    def redo(self) -> None:
        if self._applied_once:
            self._applied_once = False  # push() calls redo right after apply(): already done
            return
        if self.ctl.run_safely(self.do):
            self.ctl.redone.emit(self)

    def undo(self) -> None:
        if self.ctl.run_safely(self.revert):
            self.ctl.undone.emit(self)


class SetLabelsCommand(StoreCommand):
    """Label (or, with class_id=None, unlabel) samples; ``run_id`` set = accept that run's
    suggestions instead (labelled_by="model"; human labels kept unless ``overwrite``)."""

    def __init__(self, ctl, dataset_id: int, sample_ids: list[int], class_id: int | None,
                 class_name: str | None = None, run_id: int | None = None, overwrite: bool = False):
        super().__init__(ctl, dataset_id)
        self.sample_ids = list(sample_ids)
        self.class_id = class_id
        self.run_id = run_id
        self.overwrite = overwrite
        self.previous: store_labelling.LabelSnapshot = store_labelling.LabelSnapshot()
        n = _plural(len(self.sample_ids))
        if run_id is not None:
            self.setText(f"Accept suggestions for {n}")
        elif class_id is None:
            self.setText(f"Remove label from {n}")
        else:
            self.setText(f"Label {n} as {class_name or class_id}")

    def do(self) -> None:
        with self.ctl.lib.user_transaction() as s:
            if self.run_id is not None:
                self.previous = store_suggestions.accept_suggestions(s, self.run_id, self.sample_ids, self.overwrite)
            else:
                self.previous = store_labelling.set_labels(s, self.dataset_id, self.sample_ids, self.class_id)
        self.ctl.labels_changed.emit(self.dataset_id, list(self.previous))

    def revert(self) -> None:
        with self.ctl.lib.user_transaction() as s:
            store_labelling.restore_labels(s, self.previous)
        self.ctl.labels_changed.emit(self.dataset_id, list(self.previous))


class SetSplitsCommand(StoreCommand):
    def __init__(self, ctl, dataset_id: int, sample_ids: list[int], split: str | None):
        super().__init__(ctl, dataset_id, f"Move {_plural(len(sample_ids))} to {split or 'no split'}")
        self.sample_ids = list(sample_ids)
        self.split = split
        self.previous: dict[int, str | None] = {}

    def do(self) -> None:
        with self.ctl.lib.user_transaction() as s:
            self.previous = store_labelling.set_splits(s, self.dataset_id, self.sample_ids, self.split)
        self.ctl.splits_changed.emit(self.dataset_id, list(self.previous))

    def revert(self) -> None:
        with self.ctl.lib.user_transaction() as s:
            store_labelling.restore_splits(s, self.previous)
        self.ctl.splits_changed.emit(self.dataset_id, list(self.previous))


class AddClassCommand(StoreCommand):
    def __init__(self, ctl, dataset_id: int, name: str, colour: str | None = None):
        super().__init__(ctl, dataset_id, f"Add class {name.strip()}")
        self.name, self.colour = name, colour
        self.snapshot: store_classes.ClassSnapshot | None = None

    def do(self) -> None:
        with self.ctl.lib.user_transaction() as s:
            if self.snapshot is None:
                self.snapshot = store_classes.add_class(s, self.dataset_id, self.name, self.colour)
            else:  # redo brings back the same class (same id), so later commands still apply
                store_classes.restore_class(s, self.snapshot)
        self.ctl.classes_changed.emit(self.dataset_id)

    def revert(self) -> None:
        with self.ctl.lib.user_transaction() as s:
            store_classes.delete_class(s, self.snapshot.id)
        self.ctl.classes_changed.emit(self.dataset_id)


class RenameClassCommand(StoreCommand):
    def __init__(self, ctl, dataset_id: int, class_id: int, new_name: str):
        super().__init__(ctl, dataset_id, f"Rename class to {new_name.strip()}")
        self.class_id, self.new_name, self.old_name = class_id, new_name, ""

    def do(self) -> None:
        with self.ctl.lib.user_transaction() as s:
            self.old_name = store_classes.rename_class(s, self.class_id, self.new_name)
        self.ctl.classes_changed.emit(self.dataset_id)

    def revert(self) -> None:
        with self.ctl.lib.user_transaction() as s:
            store_classes.rename_class(s, self.class_id, self.old_name)
        self.ctl.classes_changed.emit(self.dataset_id)


class RecolourClassCommand(StoreCommand):
    def __init__(self, ctl, dataset_id: int, class_id: int, colour: str):
        super().__init__(ctl, dataset_id, "Change class colour")
        self.class_id, self.colour, self.old_colour = class_id, colour, ""

    def do(self) -> None:
        with self.ctl.lib.user_transaction() as s:
            self.old_colour = store_classes.recolour_class(s, self.class_id, self.colour)
        self.ctl.classes_changed.emit(self.dataset_id)

    def revert(self) -> None:
        with self.ctl.lib.user_transaction() as s:
            store_classes.recolour_class(s, self.class_id, self.old_colour)
        self.ctl.classes_changed.emit(self.dataset_id)


class ReorderClassesCommand(StoreCommand):
    def __init__(self, ctl, dataset_id: int, class_ids: list[int]):
        super().__init__(ctl, dataset_id, "Reorder classes")
        self.order, self.old_order = list(class_ids), []

    def do(self) -> None:
        with self.ctl.lib.user_transaction() as s:
            self.old_order = store_classes.reorder_classes(s, self.dataset_id, self.order)
        self.ctl.classes_changed.emit(self.dataset_id)

    def revert(self) -> None:
        with self.ctl.lib.user_transaction() as s:
            store_classes.reorder_classes(s, self.dataset_id, self.old_order)
        self.ctl.classes_changed.emit(self.dataset_id)


class RemoveClassCommand(StoreCommand):
    """Delete a class (its samples become unlabelled) or, with ``target_id``, merge it into
    another class. Undo re-creates the class with its id and gives every sample its label back."""

    def __init__(self, ctl, dataset_id: int, class_id: int, target_id: int | None = None, text: str = ""):
        super().__init__(ctl, dataset_id, text or ("Merge classes" if target_id else "Delete class"))
        self.class_id, self.target_id = class_id, target_id
        self.removal: store_classes.ClassRemoval | None = None

    def do(self) -> None:
        with self.ctl.lib.user_transaction() as s:
            if self.target_id is None:
                self.removal = store_classes.delete_class(s, self.class_id)
            else:
                self.removal = store_classes.merge_classes(s, self.class_id, self.target_id)
        self._announce()

    def revert(self) -> None:
        with self.ctl.lib.user_transaction() as s:
            store_classes.undo_removal(s, self.removal)
        self._announce()

    def _announce(self) -> None:
        self.ctl.classes_changed.emit(self.dataset_id)
        self.ctl.labels_changed.emit(self.dataset_id, list(self.removal.previous))
