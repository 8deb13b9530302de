"""The virtual table model: a million rows, cells formatted on demand, split and target filters
through index arrays, target edits parsed and written through the undo history (set_cells), undo."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

pytestmark = pytest.mark.gui

PySide6 = pytest.importorskip("PySide6")

from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack

from studio.data.tables.dataset import import_table, load_table_dataset
from studio.data.tables.demos import DEMO_TABLES
from studio.data.tables.schema import infer_schema
from studio.data.tables.splits import split_rows
from studio.ui.datasets.labelling.controller import LabellingController
from studio.ui.datasets.table_commands import SetTableCellsCommand
from studio.ui.datasets.table_model import MISSING, TableModel, parse_cell

MILLION = 1_000_000


@pytest.fixture(scope="module")
def million():
    """A million rows: two numeric features with missing values, a text column, a class target."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=MILLION)
    x[::97] = np.nan
    label = np.array(["cat", "dog", "eel"])[rng.integers(0, 3, MILLION)]
    label_cells = pa.array(label).to_pylist()
    for row in range(5, MILLION, 50_000):
        label_cells[row] = None
    table = pa.table({"x": pa.array(x, from_pandas=True), "n": np.arange(MILLION) % 7,
                      "word": pa.array([f"w{i % 13}" for i in range(MILLION)]), "label": pa.array(label_cells)})
    schema = infer_schema(table, targets=["label"])
    return table, schema, split_rows(table, schema)


def _text(model: TableModel, row: int, column: int) -> str:
    return model.data(model.index(row, column), Qt.ItemDataRole.DisplayRole)


def test_a_million_rows_are_counted_not_loaded_and_cells_read_where_asked(qtbot, million):
    table, schema, splits = million
    model = TableModel()
    model.set_table(table, schema, splits)
    assert (model.rowCount(), model.columnCount()) == (MILLION, 4)
    last = MILLION - 1
    assert _text(model, last, 1) == str(last % 7)
    assert _text(model, last, 2) == f"w{last % 13}"
    assert _text(model, 97 * 3, 0) == "–"  # missing shows as a dash, in grey
    assert model.data(model.index(97 * 3, 0), Qt.ItemDataRole.EditRole) == ""
    assert _text(model, 1, 0) == f"{table.column('x')[1].as_py():.6g}"
    assert model.headerData(3, Qt.Orientation.Horizontal) == "label\ncategory · target"
    assert model.headerData(1, Qt.Orientation.Horizontal) == "n\nnumber · feature"
    assert model.headerData(last, Qt.Orientation.Vertical) == f"{MILLION:,}"  # 1-based row numbers
    # only what was asked was converted: a few blocks of 256 rows, not the columns
    assert len(model._blocks) <= 8


def test_split_and_target_filters_map_rows_through_index_arrays(qtbot, million):
    table, schema, splits = million
    model = TableModel()
    model.set_table(table, schema, splits)
    model.set_filter("val")
    val_rows = np.flatnonzero(splits == 1)
    assert model.rowCount() == len(val_rows) == model.split_counts()["val"]
    assert model.source_row(10) == val_rows[10]
    assert model.headerData(10, Qt.Orientation.Vertical) == f"{val_rows[10] + 1:,}"
    assert model.view_row(int(val_rows[10])) == 10
    assert model.view_row(int(np.flatnonzero(splits == 0)[0])) is None  # a train row is hidden

    model.set_filter("test", "dog")
    labels = np.asarray(table.column("label").to_pylist(), dtype=object)
    expected = np.flatnonzero((splits == 2) & (labels == "dog"))
    assert model.rowCount() == len(expected)
    assert {_text(model, r, 3) for r in range(0, model.rowCount(), 997)} == {"dog"}

    model.set_filter(None, MISSING)
    assert model.rowCount() == 20
    assert [model.source_row(r) for r in range(3)] == [5, 50_005, 100_005]
    model.set_filter()
    assert model.rowCount() == MILLION
    assert dict(model.target_values())["cat"] == int(np.sum(labels == "cat"))


def test_only_target_cells_are_editable_and_text_is_parsed_for_the_column(qtbot, million):
    table, schema, splits = million
    model = TableModel()
    model.set_table(table, schema, splits)
    asked, refused = [], []
    model.edit_requested.connect(asked.append)
    model.edit_rejected.connect(refused.append)
    assert not model.flags(model.index(0, 0)) & Qt.ItemFlag.ItemIsEditable
    assert model.flags(model.index(0, 3)) & Qt.ItemFlag.ItemIsEditable
    assert not model.setData(model.index(0, 0), "3")
    model.set_filter("test")
    assert model.setData(model.index(4, 3), "fox")
    assert asked == [[(model.source_row(4), "label", "fox")]]
    assert model.setData(model.index(4, 3), "")  # empty = missing
    assert asked[-1][0][2] is None
    assert parse_cell(" 2.5 ", pa.float64()) == 2.5
    assert parse_cell("3", pa.int64()) == 3
    assert parse_cell("yes", pa.bool_()) is True
    with pytest.raises(ValueError, match="whole number"):
        parse_cell("2.5", pa.int64())
    with pytest.raises(ValueError, match="not a number"):
        parse_cell("lots", pa.float64())
    with pytest.raises(ValueError, match="finite"):
        parse_cell("inf", pa.float64())
    assert refused == []


def test_applied_edits_show_in_place_on_a_million_rows(qtbot, million):
    table, schema, splits = million
    model = TableModel()
    model.set_table(table, schema, splits)
    model.set_filter("train")
    row = model.source_row(1000)
    assert _text(model, 1000, 3) != "zebra"
    changed = []
    model.dataChanged.connect(lambda top, bottom, roles=(): changed.append((top.row(), top.column())))
    model.apply_cells([(row, "label", "zebra"), (MILLION - 1, "label", None)])
    assert _text(model, 1000, 3) == "zebra"
    assert model.table.column("label")[row].as_py() == "zebra"
    assert model.table.column("label")[MILLION - 1].as_py() is None
    assert (1000, 3) in changed
    assert table.column("label")[row].as_py() != "zebra"  # the caller's table is not changed


def test_edits_are_written_to_the_library_and_undone_redone_on_the_stack(qtbot, library):
    imported = import_table(library, "penguins", DEMO_TABLES["penguins"].path, targets=["species"])
    data = load_table_dataset(library, imported.dataset_id)
    model = TableModel()
    model.set_table(data.table, data.schema, data.splits)
    ctl = LabellingController(library, QUndoStack())
    species = model.column_index("species")
    first = _text(model, 0, species)

    def write(dataset_id, edits):
        from studio.data.tables.dataset import set_cells

        return set_cells(library, dataset_id, edits)

    def show(dataset_id, edits):
        model.apply_cells(edits)

    def edit(edits):
        command = SetTableCellsCommand(ctl, imported.dataset_id, edits, write, show)
        command.apply()
        ctl.undo_stack.push(command)

    model.edit_requested.connect(edit)
    assert model.setData(model.index(0, species), "Gentoo")
    assert _text(model, 0, species) == "Gentoo"
    assert load_table_dataset(library, imported.dataset_id).table.column("species")[0].as_py() == "Gentoo"
    assert ctl.undo_stack.undoText() == "set species of row 1 to “Gentoo”"
    ctl.undo_stack.undo()
    assert _text(model, 0, species) == first
    assert load_table_dataset(library, imported.dataset_id).table.column("species")[0].as_py() == first
    ctl.undo_stack.redo()
    assert _text(model, 0, species) == "Gentoo"
    assert load_table_dataset(library, imported.dataset_id).table.column("species")[0].as_py() == "Gentoo"
