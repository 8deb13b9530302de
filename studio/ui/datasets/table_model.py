"""A virtual Qt model over a table dataset's rows (a pa.Table): a million rows without a widget
or a Python object per cell.

Nothing is converted up front. ``data()`` reads the block of 256 rows around the asked cell
(``take`` of those rows, ``to_pylist``), keeps the last few thousand blocks, and formats only that
cell. Filters (a split, a target value) are numpy masks turned into an index array of the rows
shown, so view row -> table row is one array lookup and no proxy model sorts or filters in Python.

Target cells are editable: ``setData`` parses the text for the column's type and emits
``edit_requested([(row, column, value)])``; whoever owns the undo history writes the edit to the
library and calls ``apply_cells`` (also for undo and redo), which updates the rows shown.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from datetime import date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont

from studio.data.tables.schema import BOOLEAN_WORDS, ColumnInfo, Role, TableSchema
from studio.data.tables.splits import SPLITS

BLOCK_ROWS = 256
MAX_BLOCKS = 4096  # cached blocks (per model): ~1M cells, far more than any screen shows
MISSING = object()  # a target filter: the rows whose target is missing
MISSING_TEXT = "–"
MISSING_COLOUR = QColor("#9aa3ab")
TARGET_BACKGROUND = QColor("#f3f7fc")  # target cells are the editable ones
IGNORED_COLOUR = QColor("#8a949c")

MAX_CHUNKS = 256
CellEdit = tuple[int, str, object]  # (table row, column name, value; None = missing)


class TableModel(QAbstractTableModel):
    edit_requested = Signal(list)  # [CellEdit]: the user changed target cells (not yet written)
    edit_rejected = Signal(str)  # one line: why the text typed cannot go in that cell
    cells_changed = Signal(list)  # [column names] after ``apply_cells`` changed them

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._table = pa.table({})
        self._schema: TableSchema | None = None
        self._splits = np.zeros(0, dtype=np.int8)
        self._rows: np.ndarray | None = None  # table rows shown, ascending; None = all of them
        self._blocks: OrderedDict[tuple[int, int], list] = OrderedDict()
        self._split_filter: str | None = None
        self._target_filter: object = None
        self._target_counts: dict[object, int] | None = None  # counted once, then kept up to date by edits

    # --- contents ---------------------------------------------------------------------------
    def set_table(self, table: pa.Table, schema: TableSchema, splits: np.ndarray) -> None:
        """Show ``table`` (all rows, no filter)."""
        self.beginResetModel()
        self._table, self._schema = table, schema
        self._splits = np.asarray(splits, dtype=np.int8)
        self._split_filter, self._target_filter = None, None
        self._rows = None
        self._blocks.clear()
        self._target_counts = None
        self.endResetModel()

    @property
    def table(self) -> pa.Table:
        return self._table

    @property
    def schema(self) -> TableSchema | None:
        return self._schema

    @property
    def splits(self) -> np.ndarray:
        return self._splits

    def set_schema(self, schema: TableSchema) -> None:
        """New column types or roles: headers, editable cells and colours change, not the rows."""
        self._schema = schema
        self._target_counts = None
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, max(self.columnCount() - 1, 0))
        self._all_cells_changed()

    def set_splits(self, splits: np.ndarray) -> None:
        """A new split of the rows (after "Split…"); the filters apply to it."""
        self._splits = np.asarray(splits, dtype=np.int8)
        self.set_filter(self._split_filter, self._target_filter)

    def column_info(self, column: int) -> ColumnInfo | None:
        if self._schema is None or not 0 <= column < self._table.num_columns:
            return None
        return self._schema.column(self._table.column_names[column])

    def column_index(self, name: str) -> int:
        return self._table.column_names.index(name)

    def target_name(self) -> str | None:
        targets = self._schema.targets if self._schema else []
        return targets[0].name if targets else None

    # --- filters ----------------------------------------------------------------------------
    def set_filter(self, split: str | None = None, target: object = None) -> None:
        """Show the rows of ``split`` ("train" | "val" | "test"; None = every split) whose first
        target equals ``target`` (None = any value, ``MISSING`` = no value)."""
        self.beginResetModel()
        self._split_filter, self._target_filter = split, target
        mask = np.ones(self._table.num_rows, dtype=bool)
        if split is not None:
            mask &= self._splits == SPLITS.index(split)
        if target is not None and self.target_name() is not None:
            mask &= self._target_mask(target)
        self._rows = None if mask.all() else np.flatnonzero(mask)
        self._blocks.clear()
        self.endResetModel()

    @property
    def split_filter(self) -> str | None:
        return self._split_filter

    @property
    def target_filter(self) -> object:
        return self._target_filter

    def _target_mask(self, target: object) -> np.ndarray:
        column = self._table.column(self.target_name())
        if target is MISSING:
            missing = pc.is_null(column, nan_is_null=True)
            return np.asarray(missing.to_numpy(zero_copy_only=False), dtype=bool)
        equal = pc.fill_null(pc.equal(column, pa.scalar(target, column.type)), False)
        return np.asarray(equal.to_numpy(zero_copy_only=False), dtype=bool)

    def target_values(self) -> list[tuple[object, int]]:
        """(value, rows) of the first target when it is a category or yes/no, by value; else []."""
        name = self.target_name()
        if name is None or self._schema.task != "classification":
            return []
        if self._target_counts is None:
            counts = pc.value_counts(self._table.column(name).drop_null())
            self._target_counts = dict(zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(),
                                           strict=True))
        return sorted(((v, n) for v, n in self._target_counts.items() if n > 0), key=lambda pair: str(pair[0]))

    def _count_target_edit(self, row: int, value: object) -> None:
        if self._target_counts is None:
            return
        old = self._table.column(self.target_name())[row].as_py()
        for cell, step in ((old, -1), (value, 1)):
            if cell is not None:
                self._target_counts[cell] = self._target_counts.get(cell, 0) + step

    def split_counts(self) -> dict[str, int]:
        counts = np.bincount(self._splits, minlength=len(SPLITS)) if self._splits.size else [0] * len(SPLITS)
        return {name: int(counts[i]) for i, name in enumerate(SPLITS)}

    # --- rows -------------------------------------------------------------------------------
    def source_row(self, view_row: int) -> int:
        return int(self._rows[view_row]) if self._rows is not None else view_row

    def source_rows(self, view_rows: np.ndarray) -> np.ndarray:
        """``source_row`` of many view rows at once."""
        view_rows = np.asarray(view_rows, dtype=np.int64)
        return self._rows[view_rows] if self._rows is not None else view_rows

    def view_row(self, source_row: int) -> int | None:
        """Where table row ``source_row`` is shown; None when a filter hides it."""
        if not 0 <= source_row < self._table.num_rows:
            return None
        if self._rows is None:
            return source_row
        at = int(np.searchsorted(self._rows, source_row))
        return at if at < len(self._rows) and self._rows[at] == source_row else None

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid():
            return 0
        return len(self._rows) if self._rows is not None else self._table.num_rows

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else self._table.num_columns

    # --- cells ------------------------------------------------------------------------------
    def value(self, view_row: int, column: int) -> object:
        """The cell's Python value (None = missing), from the cached block of rows around it."""
        block = view_row // BLOCK_ROWS
        key = (column, block)
        cells = self._blocks.get(key)
        if cells is None:
            cells = self._read_block(column, block)
            self._blocks[key] = cells
            if len(self._blocks) > MAX_BLOCKS:
                self._blocks.popitem(last=False)
        else:
            self._blocks.move_to_end(key)
        return cells[view_row - block * BLOCK_ROWS]

    def _read_block(self, column: int, block: int) -> list:
        start = block * BLOCK_ROWS
        data = self._table.column(column)
        if self._rows is None:
            return data.slice(start, BLOCK_ROWS).to_pylist()
        return data.take(pa.array(self._rows[start:start + BLOCK_ROWS])).to_pylist()

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole, Qt.ItemDataRole.ToolTipRole):
            value = self.value(index.row(), index.column())
            if value is None or (isinstance(value, float) and math.isnan(value)):
                return MISSING_TEXT if role == Qt.ItemDataRole.DisplayRole else ""
            return format_cell(value)
        if role == Qt.ItemDataRole.ForegroundRole:
            value = self.value(index.row(), index.column())
            if value is None or (isinstance(value, float) and math.isnan(value)):
                return QBrush(MISSING_COLOUR)
            info = self.column_info(index.column())
            return QBrush(IGNORED_COLOUR) if info is not None and info.role is Role.IGNORE else None
        if role == Qt.ItemDataRole.BackgroundRole and self._is_target(index.column()):
            return QBrush(TARGET_BACKGROUND)
        if role == Qt.ItemDataRole.TextAlignmentRole:
            kind = self._table.schema.field(index.column()).type
            numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
            horizontal = Qt.AlignmentFlag.AlignRight if numeric else Qt.AlignmentFlag.AlignLeft
            return int(horizontal | Qt.AlignmentFlag.AlignVCenter)
        return None

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Vertical:
            # 1-based table row numbers, as error messages and spreadsheets count them
            return f"{self.source_row(section) + 1:,}" if role == Qt.ItemDataRole.DisplayRole else None
        info = self.column_info(section)
        if info is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return f"{info.name}\n{info.type.value} · {info.role.value}"
        if role == Qt.ItemDataRole.ToolTipRole:
            return "\n".join(filter(None, [f"{info.name}: {info.type.value}, {info.role.value}", info.note,
                                           "Double-click a cell to edit it" if info.role is Role.TARGET else ""]))
        if role == Qt.ItemDataRole.FontRole and info.role is Role.TARGET:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ForegroundRole and info.role is Role.IGNORE:
            return QBrush(IGNORED_COLOUR)
        return None

    def _is_target(self, column: int) -> bool:
        info = self.column_info(column)
        return info is not None and info.role is Role.TARGET

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        if index.isValid() and self._is_target(index.column()):
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    def setData(self, index: QModelIndex | QPersistentModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        """An edit typed into a target cell: parsed, then asked for (``edit_requested``); the cell
        changes when the owner calls ``apply_cells``."""
        if role != Qt.ItemDataRole.EditRole or not self._is_target(index.column()):
            return False
        kind = self._table.schema.field(index.column()).type
        try:
            parsed = parse_cell(str(value if value is not None else ""), kind)
        except ValueError as exc:
            self.edit_rejected.emit(str(exc))
            return False
        if parsed == self.value(index.row(), index.column()):
            return False
        name = self._table.column_names[index.column()]
        self.edit_requested.emit([(self.source_row(index.row()), name, parsed)])
        return True

    def apply_cells(self, edits: list[CellEdit]) -> None:
        """Put written edits into the rows shown (the library already has them)."""
        by_column: dict[str, dict[int, object]] = {}
        for row, name, value in edits:
            by_column.setdefault(name, {})[int(row)] = value
        for name, cells in by_column.items():
            index = self.column_index(name)
            if name == self.target_name():
                for row, value in cells.items():
                    self._count_target_edit(row, value)
            self._table = self._table.set_column(index, name, _replaced(self._table.column(name), cells))
            for key in [k for k in self._blocks if k[0] == index]:
                del self._blocks[key]
            for row in cells:
                shown = self.view_row(row)
                if shown is not None:
                    self.dataChanged.emit(self.index(shown, index), self.index(shown, index))
        self.cells_changed.emit(list(by_column))

    def _all_cells_changed(self) -> None:
        if self.rowCount() and self.columnCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1, self.columnCount() - 1))


def _replaced(column: pa.ChunkedArray, cells: dict[int, object]) -> pa.ChunkedArray:
    """``column`` with the cells at the given rows replaced: the rest are zero-copy slices around
    each new one-cell chunk, so an edit costs the same on a million rows as on ten. The pieces are
    joined into one chunk once they are many (one copy per ~``MAX_CHUNKS`` edits)."""
    pieces, start = [], 0
    for row in sorted(cells):
        pieces.append(column.slice(start, row - start))
        pieces.append(pa.chunked_array([pa.array([cells[row]], type=column.type)]))
        start = row + 1
    pieces.append(column.slice(start))
    chunks = [chunk for piece in pieces for chunk in piece.chunks if len(chunk)]
    joined = pa.chunked_array(chunks, type=column.type)
    return pa.chunked_array([joined.combine_chunks()]) if joined.num_chunks > MAX_CHUNKS else joined


def format_cell(value: object) -> str:
    """A cell as text: short numbers, ISO dates, true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds") if value.time() != datetime.min.time() else \
            value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def parse_cell(text: str, kind: pa.DataType) -> object:
    """The value typed into a cell of Arrow type ``kind``; "" = missing. ValueError says why not."""
    text = text.strip()
    if not text:
        return None
    if pa.types.is_boolean(kind):
        if text.lower() not in BOOLEAN_WORDS:
            raise ValueError(f"“{text}” is not yes/no (use true or false)")
        return BOOLEAN_WORDS[text.lower()]
    if pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"“{text}” is not a number") from None
        if not math.isfinite(number):
            raise ValueError(f"“{text}” is not a finite number")
        if pa.types.is_integer(kind):
            if not number.is_integer():
                raise ValueError(f"“{text}” is not a whole number (this column holds whole numbers)")
            return int(number)
        return number
    return text
