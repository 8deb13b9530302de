"""Editing a table's target cells as steps of the session's one undo history (the labelling
controller's QUndoStack, so Ctrl+Z / Ctrl+Shift+Z and Edit ▸ Undo treat them like labels).

``write(dataset_id, edits)`` stores the edits and returns the previous values in the same shape
(``studio.data.tables.dataset.set_cells`` with its library bound); ``show(dataset_id, edits)``
puts them into the table on screen when that dataset is open."""

from __future__ import annotations

from collections.abc import Callable

from studio.ui.datasets.labelling.commands import StoreCommand
from studio.ui.datasets.table_model import CellEdit, format_cell

WriteCells = Callable[[int, list[CellEdit]], list[CellEdit]]
ShowCells = Callable[[int, list[CellEdit]], None]


class SetTableCellsCommand(StoreCommand):
    def __init__(self, ctl, dataset_id: int, edits: list[CellEdit], write: WriteCells, show: ShowCells):
        super().__init__(ctl, dataset_id, _describe(edits))
        self.edits = list(edits)
        self.previous: list[CellEdit] = []
        self._write, self._show = write, show

    def do(self) -> None:
        self.previous = self._write(self.dataset_id, self.edits)
        self._show(self.dataset_id, self.edits)

    def revert(self) -> None:
        self._write(self.dataset_id, self.previous)
        self._show(self.dataset_id, self.previous)


def _describe(edits: list[CellEdit]) -> str:
    if len(edits) != 1:
        return f"edit {len(edits)} cells"
    row, column, value = edits[0]
    shown = "missing" if value is None else f"“{format_cell(value)}”"
    return f"set {column} of row {row + 1:,} to {shown}"
