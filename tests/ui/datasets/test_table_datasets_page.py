"""A user's path through a table dataset on the real window (1280x800): drop penguins.csv, choose
the target in the import dialog, browse the rows, read a column's summary, filter by split and by
species, edit a species cell and undo it with Ctrl+Z, change a column's role, split again, and
jump to a row as the Evaluate page does. Screenshots in tests/_artifacts."""

from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.gui

PySide6 = pytest.importorskip("PySide6")

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QApplication, QComboBox
from train_gui_helpers import main_window_at_1280x800

from studio.data.tables.dataset import load_table_dataset
from studio.data.tables.demos import DEMO_TABLES
from studio.data.tables.schema import ColumnType, Role
from studio.store.library import Library

WAIT_MS = 20_000
PENGUINS = DEMO_TABLES["penguins"].path


@pytest.fixture
def window(qtbot, tmp_path):
    with main_window_at_1280x800(qtbot, Library.open(tmp_path / "library"), tmp_path / "settings.ini") as window:
        yield window


@pytest.fixture
def errors(monkeypatch):
    """Message boxes recorded instead of blocking the test."""
    shown: list[tuple[str, str]] = []
    import studio.ui.datasets.table_browser as browser_module
    import studio.ui.datasets.table_datasets as tables_module

    for module in (browser_module, tables_module):
        monkeypatch.setattr(module, "show_error", lambda _parent, title, text: shown.append((title, text)))
    return shown


def drop(window, path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    window.dropEvent(QDropEvent(QPointF(400, 300), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                                Qt.KeyboardModifier.NoModifier))


def import_penguins(qtbot, window, artifacts=None):
    page = window.datasets
    drop(window, PENGUINS)
    dialog = page.table_import_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.waitUntil(lambda: dialog.preview is not None, timeout=WAIT_MS)
    assert "comma-separated" in dialog.format_label.text() and "UTF-8" in dialog.format_label.text()
    # the last column (year) is proposed as the target; the user makes species the target instead
    assert dialog.choices()[1] == ["year"]
    dialog.set_choice("year", role=Role.FEATURE)
    dialog.set_choice("species", role=Role.TARGET)
    assert dialog.message.text() == "Classification of species, from 7 feature columns."
    assert dialog.rows_model.headerData(0, Qt.Orientation.Horizontal) == "species\ncategory · target"
    if artifacts is not None:
        dialog.grab().save(str(artifacts / "table_import_dialog.png"))
    with qtbot.waitSignal(page.table_imported, timeout=WAIT_MS) as imported:
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert imported.args[0] is not None
    browser = page.table_browser
    qtbot.waitUntil(lambda: browser.dataset is not None and browser.dataset.id == imported.args[0].dataset_id,
                    timeout=WAIT_MS)
    return imported.args[0], browser


def test_import_browse_summarise_filter_edit_and_undo(qtbot, window, errors, artifacts):
    page = window.datasets
    imported, browser = import_penguins(qtbot, window, artifacts)
    model, view = browser.model, browser.view
    assert page.current_id == imported.dataset_id and page.is_table_dataset
    assert browser.isVisible() and not page.labelling.isVisible()
    assert model.rowCount() == 344 and model.columnCount() == 8
    assert page.subtitle.text().startswith("344 rows · 8 columns · classification of species")
    assert page.dataset_list.currentItem().text() == "penguins\n344 rows · table"

    # a column: click its header; the panel shows its type, missing values, range and histogram
    mass = model.column_index("body_mass_g")
    header = view.horizontalHeader()
    x = header.sectionViewportPosition(mass) + header.sectionSize(mass) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 10))
    panel = browser.summary_panel
    qtbot.waitUntil(lambda: panel.summary is not None and panel.column.name == "body_mass_g", timeout=WAIT_MS)
    masses = [v for v in imported_column(page, "body_mass_g") if v is not None]
    assert panel.summary.missing == 344 - len(masses)
    assert panel.type_box.currentText() == "number" and panel.role_box.currentText() == "feature"
    assert f"{min(masses):,}" in panel.stats.text() and f"{max(masses):,}" in panel.stats.text()
    _edges, y_data = panel.bars.getData()
    assert y_data.sum() == len(masses)
    window.grab().save(str(artifacts / "datasets_table_penguins.png"))

    # the species column: its most frequent values with counts
    view.setCurrentIndex(model.index(0, model.column_index("species")))
    qtbot.waitUntil(lambda: panel.summary is not None and panel.column.name == "species", timeout=WAIT_MS)
    assert "Adelie" in panel.stats.text() and "152" in panel.stats.text()
    window.grab().save(str(artifacts / "datasets_table_species_summary.png"))

    # filters: the test split, then the Gentoo rows of it
    splits = browser.dataset.splits
    test_rows = int(np.sum(splits == 2))
    browser.split_filter.setCurrentIndex(browser.split_filter.findData("test"))
    browser.split_filter.activated.emit(browser.split_filter.currentIndex())
    assert model.rowCount() == test_rows
    assert browser.split_filter.currentText() == f"Test ({test_rows})"
    browser.set_filters("test", "Gentoo")
    gentoo_test = [r for r in np.flatnonzero(splits == 2) if imported_column(page, "species")[r] == "Gentoo"]
    assert model.rowCount() == len(gentoo_test) > 0
    assert browser.shown_label.text() == f"{len(gentoo_test)} of 344 rows"
    window.grab().save(str(artifacts / "datasets_table_filtered.png"))

    # edit a species cell in place: double-click, pick Chinstrap, Enter
    species = model.column_index("species")
    index = model.index(0, species)
    row = model.source_row(0)
    view.scrollTo(index)
    rect = view.visualRect(index)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    editor = view.findChild(QComboBox)
    assert editor is not None and editor.findText("Chinstrap") >= 0
    editor.setCurrentText("Chinstrap")
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: model.value(0, species) == "Chinstrap", timeout=WAIT_MS)
    assert stored_species(page, row) == "Chinstrap"
    assert errors == []

    # Ctrl+Z puts it back (the session's one undo history), Ctrl+Shift+Z again
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)  # window shortcuts need it
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: model.value(0, species) == "Gentoo", timeout=WAIT_MS)
    assert stored_species(page, row) == "Gentoo"
    qtbot.keyClick(view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: model.value(0, species) == "Chinstrap", timeout=WAIT_MS)
    assert stored_species(page, row) == "Chinstrap"
    page.labelling.undo_action.trigger()
    qtbot.waitUntil(lambda: model.value(0, species) == "Gentoo", timeout=WAIT_MS)

    # a value that does not fit is refused with one message; nothing changes
    browser.set_filters()
    mass_index = model.index(3, mass)
    assert not model.setData(mass_index, "heavy")  # not a target: not editable at all
    assert load_table_dataset(page.lib, imported.dataset_id).table.column("species")[row].as_py() == "Gentoo"


def test_selected_rows_get_a_target_value_in_one_undoable_step(qtbot, window, errors):
    from PySide6.QtCore import QItemSelection, QItemSelectionModel

    page = window.datasets
    imported, browser = import_penguins(qtbot, window)
    model, view = browser.model, browser.view
    browser.set_filters("train")
    rows = [model.source_row(r) for r in range(2, 6)]
    selection = QItemSelection(model.index(2, 3), model.index(5, 4))  # cells of other columns: their rows
    view.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
    assert list(browser.selected_rows()) == rows

    # Ctrl+C copies the selected cells as a spreadsheet pastes them
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    from studio.ui.datasets.table_model import format_cell

    def cell(column: int, row: int) -> str:
        value = model.table.column(column)[row].as_py()
        return "" if value is None else format_cell(value)

    assert QApplication.clipboard().text() == "\n".join(f"{cell(3, r)}\t{cell(4, r)}" for r in rows)

    # the context menu offers the target's values for the selected rows
    view.customContextMenuRequested.emit(view.visualRect(model.index(3, 3)).center())
    menu = browser.edit_menu
    qtbot.waitUntil(menu.isVisible, timeout=WAIT_MS)
    setting = menu.actions()[0]
    assert setting.text() == "Set species of 4 rows to"
    assert [a.text() for a in setting.menu().actions()] == ["Adelie", "Chinstrap", "Gentoo"]
    assert menu.actions()[1].text() == "Clear species of 4 rows"
    menu.close()
    next(a for a in setting.menu().actions() if a.text() == "Chinstrap").trigger()
    stored = load_table_dataset(page.lib, imported.dataset_id).table.column("species")
    assert [stored[r].as_py() for r in rows] == ["Chinstrap"] * 4
    assert [model.value(r, 0) for r in range(2, 6)] == ["Chinstrap"] * 4
    assert page.labelling.ctl.undo_stack.undoText() == "edit 4 cells"
    assert browser.target_filter.itemText(1) == "Adelie (148)"  # the counts follow the edits

    page.labelling.undo_action.trigger()  # one step puts all four back
    stored = load_table_dataset(page.lib, imported.dataset_id).table.column("species")
    assert [stored[r].as_py() for r in rows] == ["Adelie"] * 4
    assert [model.value(r, 0) for r in range(2, 6)] == ["Adelie"] * 4
    assert browser.target_filter.itemText(1) == "Adelie (152)"
    assert errors == []


def test_column_role_type_split_and_jump_to_a_row(qtbot, window, errors, artifacts, monkeypatch):
    from studio.ui.datasets.split_dialog import SplitDialog

    page = window.datasets
    imported, browser = import_penguins(qtbot, window)
    model, panel = browser.model, browser.summary_panel

    # year becomes ignored: the header says so and the library keeps it
    browser.view.setCurrentIndex(model.index(0, model.column_index("year")))
    qtbot.waitUntil(lambda: panel.column is not None and panel.column.name == "year", timeout=WAIT_MS)
    panel.role_box.setCurrentIndex(panel.role_box.findText("ignore"))
    panel.role_box.activated.emit(panel.role_box.currentIndex())
    qtbot.waitUntil(lambda: model.schema.column("year").role is Role.IGNORE, timeout=WAIT_MS)
    assert model.headerData(model.column_index("year"), Qt.Orientation.Horizontal) == "year\nnumber · ignore"
    assert load_table_dataset(page.lib, imported.dataset_id).schema.column("year").role is Role.IGNORE

    # a refused change (the only target cannot become a feature) is one message, the box goes back
    browser.view.setCurrentIndex(model.index(0, model.column_index("species")))
    qtbot.waitUntil(lambda: panel.column.name == "species", timeout=WAIT_MS)
    panel.role_box.setCurrentIndex(panel.role_box.findText("feature"))
    panel.role_box.activated.emit(panel.role_box.currentIndex())
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
    assert errors[0][0] == "Cannot change species" and "target" in errors[0][1]
    assert panel.role_box.currentText() == "target"

    # a type: year read as a category
    browser.view.setCurrentIndex(model.index(0, model.column_index("year")))
    qtbot.waitUntil(lambda: panel.column.name == "year", timeout=WAIT_MS)
    panel.type_box.setCurrentIndex(panel.type_box.findText("category"))
    panel.type_box.activated.emit(panel.type_box.currentIndex())
    qtbot.waitUntil(lambda: model.schema.column("year").type.value == "category", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: panel.summary is not None and bool(panel.summary.top), timeout=WAIT_MS)
    assert [value for value, _ in panel.summary.top] == ["2009", "2008", "2007"]

    # Split… (the page's button) with other fractions: counts and the split filter follow
    def fake_exec(dialog):
        dialog.train.setValue(50)
        dialog.val.setValue(25)
        dialog.test.setValue(25)
        dialog.seed.setValue(3)
        return SplitDialog.DialogCode.Accepted

    monkeypatch.setattr(SplitDialog, "exec", fake_exec)
    before = model.split_counts()
    assert page.split_action.isEnabled()
    page.split_action.trigger()
    qtbot.waitUntil(lambda: model.split_counts() != before, timeout=WAIT_MS)
    counts = model.split_counts()
    assert sum(counts.values()) == 344 and abs(counts["train"] - 172) <= 3
    assert browser.split_filter.itemText(1) == f"Train ({counts['train']})"
    assert np.array_equal(load_table_dataset(page.lib, imported.dataset_id).splits, model.splits)

    # the Evaluate page's jump: a row hidden by the filter is shown, selected and scrolled to
    browser.set_filters("val")
    hidden = int(np.flatnonzero(model.splits == 0)[-1])
    assert model.view_row(hidden) is None
    assert page.show_table_row(imported.dataset_id, hidden)
    assert browser.split_filter.currentData() is None
    current = browser.view.currentIndex()
    assert model.source_row(current.row()) == hidden
    assert browser.view.viewport().rect().intersects(browser.view.visualRect(current))
    window.grab().save(str(artifacts / "datasets_table_row_shown.png"))
    assert not page.show_table_row(imported.dataset_id + 100, 0)

    # asked while another page is in front (Evaluate): the row is revealed when the page shows
    other = window.stack.widget(window.stack.count() - 1)
    window.stack.setCurrentWidget(other)
    assert not browser.isVisible()
    assert page.show_table_row(imported.dataset_id, 5)
    window.stack.setCurrentWidget(page)
    qtbot.waitUntil(lambda: model.source_row(browser.view.currentIndex().row()) == 5, timeout=WAIT_MS)
    assert browser.view.viewport().rect().intersects(browser.view.visualRect(browser.view.currentIndex()))

    # deleting the table: the page goes back to the (empty) image grid
    assert page.confirm_delete_text().startswith("Delete the table dataset “penguins” and its 344 rows?")
    assert page.delete_dataset(confirmed=True) is not None
    qtbot.waitUntil(lambda: page.current_id is None and page.job("delete") is None, timeout=WAIT_MS)
    assert not browser.isVisible() and page.labelling.isVisible() and page.filter_tree.isVisible()
    assert page.title.text() == "No dataset"


def test_cancelling_a_table_import_adds_no_dataset(qtbot, window):
    page = window.datasets
    dialog = page.import_table_file(PENGUINS)
    qtbot.waitUntil(lambda: dialog.import_button.isEnabled(), timeout=WAIT_MS)
    with qtbot.waitSignal(page.table_imported, timeout=WAIT_MS) as imported:
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
        assert page.import_panel.isVisible() and page.import_job is not None
        qtbot.mouseClick(page.import_panel.cancel_button, Qt.MouseButton.LeftButton)
    assert imported.args[0] is None
    qtbot.waitUntil(lambda: page.import_job is None, timeout=WAIT_MS)
    assert not page.import_panel.isVisible()
    assert page.dataset_list.count() == 0 and page.current_id is None


def test_a_file_that_fails_after_its_preview_is_one_message_and_no_dataset(qtbot, window, errors, tmp_path):
    page = window.datasets
    late = tmp_path / "late.csv"  # the first rows preview well; row 1,501 is text in a number column
    late.write_text("x,y\n" + "".join(f"{i},{'a' if i % 2 else 'b'}\n" for i in range(1500)) + "oops,a\n"
                    + "".join(f"{i},b\n" for i in range(1500)))
    dialog = page.import_table_file(late)
    qtbot.waitUntil(lambda: dialog.import_button.isEnabled(), timeout=WAIT_MS)
    with qtbot.waitSignal(page.table_imported, timeout=WAIT_MS) as imported:
        qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    assert imported.args[0] is None
    message = ("column 'x' mixes numbers and text (row 1501 is 'oops') "
               "(fix that row, or set the column's type to category)")
    assert errors == [("Cannot import the table", message)]
    assert page.dataset_list.count() == 0


def test_a_file_that_is_not_a_table_is_one_message_in_the_dialog(qtbot, window, tmp_path):
    page = window.datasets
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    dialog = page.import_table_file(empty)
    qtbot.waitUntil(lambda: dialog.message.text() != "", timeout=WAIT_MS)
    assert dialog.message.text() == "empty.csv is empty"
    assert not dialog.import_button.isEnabled()
    dialog.reject()


def imported_column(page, name: str) -> list:
    return page.table_browser.model.table.column(name).to_pylist()


def stored_species(page, row: int):
    return load_table_dataset(page.lib, page.current_id).table.column("species")[row].as_py()


def open_dialog(qtbot, path):
    from studio.ui.datasets.table_import_dialog import TableImportDialog

    dialog = TableImportDialog(path, path.stem)
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.message.text() != "", timeout=WAIT_MS)
    return dialog


def test_the_dialog_says_how_parquet_and_latin1_tab_files_are_read(qtbot, tmp_path):
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    parquet = tmp_path / "penguins.parquet"
    pq.write_table(pacsv.read_csv(PENGUINS), parquet)
    dialog = open_dialog(qtbot, parquet)
    assert dialog.format_label.text() == "Parquet file · 8 columns"
    assert dialog.import_button.isEnabled()

    tsv = tmp_path / "cafés.tsv"
    tsv.write_bytes("ville\tprix\tcafé\n".encode("latin-1") + "".join(
        f"Zürich {i % 3}\t{i * 1.5}\t{'crème' if i % 2 else 'noir'}\n" for i in range(40)).encode("latin-1"))
    dialog = open_dialog(qtbot, tsv)
    assert dialog.format_label.text() == "CSV text, tab-separated, LATIN-1, a header row · 3 columns"
    assert dialog.message.text() == "Classification of café, from 2 feature columns."
    assert "crème" in dialog.columns.item(2, 4).text()


@pytest.mark.parametrize(("content", "message"), [
    (b"a,b,c\n", "header.csv has column names but no rows"),
    (b"\x00\x01\x02PK\x03\x04" * 50, "header.csv is not a table (it holds binary data, not text rows)"),
    (b"a,a\n1,2\n", "header.csv: the column name 'a' is used twice (columns 1 and 2)"),
])
def test_a_file_that_cannot_be_a_table_is_one_message_and_no_import(qtbot, tmp_path, content, message):
    bad = tmp_path / "header.csv"
    bad.write_bytes(content)
    dialog = open_dialog(qtbot, bad)
    assert dialog.message.text() == message
    assert not dialog.import_button.isEnabled()


def test_choices_that_cannot_train_are_refused_before_the_import(qtbot, tmp_path):
    dialog = open_dialog(qtbot, PENGUINS)
    dialog.set_choice("year", role=Role.FEATURE)
    assert dialog.message.text() == "choose a target: the column to predict"
    assert not dialog.import_button.isEnabled()
    dialog.set_choice("island", role=Role.TARGET)
    dialog.set_choice("species", role=Role.TARGET)
    assert "several targets must all be numbers" in dialog.message.text()
    assert not dialog.import_button.isEnabled()
    dialog.set_choice("island", role=Role.FEATURE)
    dialog.set_choice("bill_length_mm", column_type=ColumnType.CATEGORY)
    assert dialog.import_button.isEnabled()
    assert dialog.choices() == ("penguins", ["species"], [], {"bill_length_mm": ColumnType.CATEGORY})


def test_a_demo_table_is_one_menu_click_away(qtbot, window, errors):
    page = window.datasets
    action = page.demo_table_actions["xor"]
    assert action in page.demo_table_menu.actions() and page.demo_table_menu in [
        a.menu() for a in page.import_menu.actions() if a.menu() is not None]
    with qtbot.waitSignal(page.table_imported, timeout=WAIT_MS) as imported:
        action.trigger()
    result = imported.args[0]
    assert (result.name, result.rows, [c.name for c in result.schema.targets]) == ("Demo xor", 4, ["xor"])
    qtbot.waitUntil(lambda: page.table_browser.dataset is not None
                    and page.table_browser.dataset.id == result.dataset_id, timeout=WAIT_MS)
    assert not errors
