"""Play and Export with table runs, on the real main window as a user goes: open Play, pick the
penguin run, see a form of its columns, type a value and see the prediction change; predict a
CSV and find the rows saved with their predictions; open Export, see safetensors greyed out,
export ONNX and see parity on the test rows. Screenshots of Play at 1280x800 in tests/_artifacts."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

PySide6 = pytest.importorskip("PySide6")
pytest.importorskip("onnxruntime")

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QComboBox, QLabel, QLineEdit

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "export"))
from table_models import held_out_csv, make_table_library
from train_gui_helpers import main_window_at_1280x800

WAIT_MS = 120_000
ARTIFACTS = Path(__file__).resolve().parents[2] / "_artifacts"


@pytest.fixture(scope="module")
def table_template(tmp_path_factory):
    return make_table_library(tmp_path_factory.mktemp("table-play"))


@pytest.fixture
def window(qtbot, table_template, tmp_path):
    from studio.store.library import Library

    home = tmp_path / "library"
    shutil.copytree(table_template[0], home)
    with main_window_at_1280x800(qtbot, Library.open(home), tmp_path / "settings.ini") as window:
        yield window, table_template[1]


def choose_model(qtbot, play, run_id: int) -> None:
    qtbot.waitUntil(lambda: play.model_combo.count() > 0, timeout=WAIT_MS)
    index = next(i for i in range(play.model_combo.count()) if play.model_combo.itemData(i).run_id == run_id)
    with qtbot.waitSignal(play.table_view.prediction_shown, timeout=WAIT_MS):
        play.model_combo.setCurrentIndex(index)
        play.model_combo.activated.emit(index)  # what a click on the item sends


def test_play_predicts_as_the_user_types_and_predicts_a_csv(qtbot, window, tmp_path):
    window, runs = window
    window.show_page("play")
    play = window.page("play")
    choose_model(qtbot, play, runs["species"])
    panel = play.table_view
    assert play.views.currentWidget() is panel and "table model" in play.model_status.text()
    form = panel.form
    assert isinstance(form.editors["island"], QComboBox) and isinstance(form.editors["body_mass_g"], QLineEdit)
    island = form.editors["island"]
    assert sorted(island.itemText(i) for i in range(island.count() - 1)) == ["Biscoe", "Dream", "Torgersen"]
    assert island.itemText(island.count() - 1) == "(missing)"
    hints = [label.text() for label in form.findChildren(QLabel)]
    assert any(h.startswith("training range 2700 to 6300") for h in hints), hints  # body mass in grams
    before = panel.shown

    # a big penguin with a short, thick bill from Biscoe: a Gentoo
    form.editors["island"].setCurrentText("Biscoe")
    for name, text in (("bill_length_mm", "48"), ("bill_depth_mm", "14.5"), ("flipper_length_mm", "225"),
                       ("body_mass_g", "5600")):
        with qtbot.waitSignal(panel.prediction_shown, timeout=WAIT_MS):
            editor = form.editors[name]
            editor.selectAll()
            qtbot.keyClicks(editor, text)
    gentoo = panel.shown
    assert gentoo.best[0] == "Gentoo" and gentoo.best[1] > 0.8
    assert "Gentoo" in panel.output.headline.text()

    # a small one from Torgersen with a long, deep bill: an Adelie, and the shown answer changes
    form.editors["island"].setCurrentText("Torgersen")
    for name, text in (("bill_length_mm", "38"), ("bill_depth_mm", "19"), ("flipper_length_mm", "185"),
                       ("body_mass_g", "3500")):
        with qtbot.waitSignal(panel.prediction_shown, timeout=WAIT_MS):
            editor = form.editors[name]
            editor.selectAll()
            qtbot.keyClicks(editor, text)
    assert panel.shown.best[0] == "Adelie" and panel.shown is not before

    # a word where a number goes: said, nothing predicted from it
    form.editors["body_mass_g"].setText("heavy")
    qtbot.waitUntil(lambda: "not a number" in panel.output.info.text(), timeout=WAIT_MS)
    with qtbot.waitSignal(panel.prediction_shown, timeout=WAIT_MS):
        form.editors["body_mass_g"].setText("3500")

    ARTIFACTS.mkdir(exist_ok=True)
    window.grab().save(str(ARTIFACTS / "table_play_1280x800.png"))

    from studio.export.table_model import open_table_predictor

    data = held_out_csv(window.lib, runs["species"], tmp_path / "penguins to predict.csv", drop=("species",))
    out = tmp_path / "penguins predicted.csv"
    with qtbot.waitSignal(panel.csv_finished, timeout=WAIT_MS) as finished:
        panel.predict_csv(str(data), str(out))
    assert finished.args[1] == str(out) and str(out) in panel.csv_row.label.text()
    import pyarrow.csv as pacsv

    written = pacsv.read_csv(out)
    expected = open_table_predictor(window.lib, runs["species"]).prediction_columns(pacsv.read_csv(data))
    assert written.column("predicted species").to_pylist() == expected["predicted species"].tolist()


def test_play_shows_a_regression_in_the_targets_units(qtbot, window):
    window, runs = window
    window.show_page("play")
    play = window.page("play")
    choose_model(qtbot, play, runs["progression"])
    panel = play.table_view
    value = panel.shown.values[0]
    assert value[0] == "progression" and 25 < value[1] < 350
    assert panel.output.headline.text() == f"progression: {value[1]:.6g}"
    window.grab().save(str(ARTIFACTS / "table_play_regression_1280x800.png"))
    with qtbot.waitSignal(panel.prediction_shown, timeout=WAIT_MS):
        panel.form.editors["bmi"].setText("40")
    assert panel.shown.values[0][1] != value[1]


def test_export_page_exports_a_table_run_as_onnx_with_parity(qtbot, window):
    window, runs = window
    window.show_page("export")
    page = window.page("export")
    qtbot.waitUntil(lambda: page.run_combo.findData(runs["species"]) >= 0, timeout=WAIT_MS)
    page.run_combo.setCurrentIndex(page.run_combo.findData(runs["species"]))
    safetensors = page.format_combo.model().item(page.format_combo.findData("safetensors"))
    assert not safetensors.isEnabled() and "ONNX or TorchScript" in safetensors.toolTip()
    page.set_format("onnx")
    with qtbot.waitSignal(page.export_finished, timeout=WAIT_MS) as finished:
        qtbot.mouseClick(page.export_button, Qt.MouseButton.LeftButton)
    report = finished.args[0]
    assert report.ok and report.kind == "table"
    assert page.verdict.text().startswith("OK")
    assert "rows from the test split" in page.fields["n"].text()
    assert page.fields["example"].text().endswith("data.csv")
    qtbot.waitUntil(lambda: page.history.rowCount() >= 1, timeout=WAIT_MS)
    assert page.history.item(0, 2).text() == "OK"
    ARTIFACTS.mkdir(exist_ok=True)
    window.grab().save(str(ARTIFACTS / "table_export_1280x800.png"))


def drop(widget, paths) -> None:
    from PySide6.QtCore import QMimeData, QPointF, QUrl
    from PySide6.QtGui import QDropEvent

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)  # the handler a real drop reaches (Qt delivers no synthetic drops)


def test_a_csv_dropped_on_play_is_predicted_where_the_user_saves_it(qtbot, window, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    window, runs = window
    window.show_page("play")
    play = window.page("play")
    choose_model(qtbot, play, runs["progression"])
    panel = play.table_view
    picture = tmp_path / "photo.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\n")
    drop(play, [picture])
    assert "drop a CSV" in panel.csv_row.label.text() and panel.csv_row.label.isVisible()
    data = held_out_csv(window.lib, runs["progression"], tmp_path / "patients.csv", drop=("progression",))
    out = tmp_path / "chosen.csv"
    asked = []
    monkeypatch.setattr(QFileDialog, "getSaveFileName",
                        lambda *args, **kwargs: (asked.append(args[2]), (str(out), "CSV (*.csv)"))[1])
    with qtbot.waitSignal(panel.csv_finished, timeout=WAIT_MS):
        drop(play, [data])
    assert asked == [str(tmp_path / "patients predictions.csv")]  # the suggested name, beside the file
    import pyarrow.csv as pacsv

    assert pacsv.read_csv(out).column_names[-1] == "predicted progression"


def test_a_category_of_many_values_is_found_by_typing_and_a_new_one_is_accepted(qtbot, tmp_path):
    from table_models import mixed_csv, train_table

    from studio.data.tables import read_table
    from studio.export.table_model import TablePredictor
    from studio.ui.models.table_form import TYPE_TO_FIND, FeatureForm

    predictor = TablePredictor(train_table(read_table(mixed_csv(tmp_path / "mixed.csv")), ["label"]).parts, "run")
    form = FeatureForm()
    qtbot.addWidget(form)
    form.set_fields(predictor.fields())
    form.show()
    code, colour = form.editors["code"], form.editors["colour"]
    assert code.count() - 1 == 40 > TYPE_TO_FIND and code.isEditable() and not colour.isEditable()
    assert form.values()["day"] == predictor.fields()[[f.name for f in predictor.fields()].index("day")].default
    with qtbot.waitSignal(form.changed, timeout=5_000):
        code.lineEdit().selectAll()
        qtbot.keyClicks(code.lineEdit(), "k999")
        code.lineEdit().editingFinished.emit()  # what leaving the field sends
    assert form.values()["code"] == "k999"
    unseen = predictor.predict_values(form.values())
    assert sum(p for _, p in unseen.probabilities) == pytest.approx(1.0, abs=1e-5)
    form.editors["member"].setCurrentText("(missing)")
    assert form.values()["member"] is None
