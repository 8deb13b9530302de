"""Play with a text run on the real main window as a user goes: open Play, pick the text run, type a
sentence and see the class probabilities follow, best first; type another and see them turn;
paste a long text and see it was cut; predict a file of texts to a CSV. Screenshot of Play at
1280x800 in tests/_artifacts/play_texts.png."""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.gui

PySide6 = pytest.importorskip("PySide6")

from PySide6.QtCore import Qt

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "train" / "text"))
from text_runs import shared_text_library
from train_gui_helpers import main_window_at_1280x800

WAIT_MS = 120_000
ARTIFACTS = Path(__file__).resolve().parents[2] / "_artifacts"
POSITIVE = "a delightful, charming and heartfelt comedy"
NEGATIVE = "a dull, lifeless mess with a plot that makes no sense"


@pytest.fixture
def window(qtbot, tmp_path_factory, tmp_path):
    from studio.store.library import Library

    template, run_id = shared_text_library(tmp_path_factory)
    home = tmp_path / "library"
    shutil.copytree(template, home)
    with main_window_at_1280x800(qtbot, Library.open(home), tmp_path / "settings.ini") as window:
        yield window, run_id


def choose_text_run(qtbot, play, run_id: int) -> None:
    qtbot.waitUntil(lambda: play.model_combo.count() > 0, timeout=WAIT_MS)
    index = next(i for i in range(play.model_combo.count()) if play.model_combo.itemData(i).run_id == run_id)
    assert play.model_combo.itemText(index).endswith(" - text model")
    with qtbot.waitSignal(play.model_ready, timeout=WAIT_MS):
        play.model_combo.setCurrentIndex(index)
        play.model_combo.activated.emit(index)  # what a click on the item sends


def type_text(qtbot, panel, text: str) -> None:
    """Replace the box's text by typing ``text``; wait for the prediction of the whole of it."""
    panel.editor.selectAll()
    qtbot.keyClick(panel.editor, Qt.Key.Key_Delete)
    qtbot.keyClicks(panel.editor, text)
    assert panel.editor.toPlainText() == text
    qtbot.waitUntil(lambda: panel.shown is not None and panel.page.job("text sentence") is None
                    and not panel._timer.isActive(), timeout=WAIT_MS)


def shown_probabilities(panel) -> dict[str, float]:
    return dict(panel.shown.probabilities)


def test_typing_a_sentence_shows_its_class_probabilities_best_first(qtbot, window, tmp_path):
    from studio.train.text.inference import load_text_run

    window, run_id = window
    window.show_page("play")
    play = window.page("play")
    choose_text_run(qtbot, play, run_id)
    panel = play.text_view
    assert play.views.currentWidget() is panel and "text model" in play.model_status.text()
    assert panel.output.headline.text() == "-" and "Type a text" in panel.output.note.text()
    classifier = load_text_run(window.lib, run_id)

    type_text(qtbot, panel, POSITIVE)
    expected = dict(zip(classifier.classes, classifier.probabilities([POSITIVE])[0].tolist()))
    assert shown_probabilities(panel) == pytest.approx(expected, abs=1e-6)
    assert panel.shown.best[0] == "pos" and panel.output.headline.text().startswith("pos  ")
    assert panel.output.shown_rows() == [  # best first
        ("pos", round(expected["pos"] * 1000), f"{expected['pos']:.1%}"),
        ("neg", round(expected["neg"] * 1000), f"{expected['neg']:.1%}")]
    assert panel.output.note.text() == ""
    ARTIFACTS.mkdir(exist_ok=True)
    window.grab().save(str(ARTIFACTS / "play_texts.png"))

    type_text(qtbot, panel, NEGATIVE)
    assert panel.shown.best[0] == "neg" and panel.output.headline.text().startswith("neg  ")
    assert [name for name, _value, _percent in panel.output.shown_rows()] == ["neg", "pos"]
    expected = classifier.probabilities([NEGATIVE])[0]
    np.testing.assert_allclose([shown_probabilities(panel)[c] for c in classifier.classes], expected, atol=1e-6)

    long_text = " ".join([POSITIVE] * 10)
    with qtbot.waitSignal(panel.prediction_shown, timeout=WAIT_MS):
        panel.editor.setPlainText(long_text)  # as a paste brings it
    assert panel.shown.truncated and "Cut at 48 tokens" in panel.output.note.text()

    shown = []
    panel.prediction_shown.connect(shown.append)
    panel.editor.setPlainText(POSITIVE)
    panel.predict_button.click()  # predicts now, without waiting for a pause
    panel.editor.setPlainText(NEGATIVE)  # before that answer is back: it is dropped, only this one is shown
    panel.predict_button.click()
    qtbot.waitUntil(lambda: panel.page.job("text sentence") is None, timeout=WAIT_MS)
    qtbot.wait(2 * 150)
    assert shown == [panel.shown] and panel.shown.best[0] == "neg"
    panel.editor.clear()
    qtbot.waitUntil(lambda: panel.output.headline.text() == "-", timeout=WAIT_MS)
    qtbot.wait(2 * 150)
    assert panel.output.headline.text() == "-" and panel.shown is None  # nothing late comes back


def test_a_file_of_texts_is_predicted_and_saved(qtbot, window, tmp_path):
    window, run_id = window
    window.show_page("play")
    play = window.page("play")
    choose_text_run(qtbot, play, run_id)
    panel = play.text_view
    source = tmp_path / "reviews.txt"
    source.write_text(f"{POSITIVE}\n\n{NEGATIVE}\n", encoding="utf-8")
    target = tmp_path / "reviews predictions.csv"
    with qtbot.waitSignal(panel.file_finished, timeout=WAIT_MS) as finished:
        panel.predict_file(str(source), str(target))
    assert finished.args == [2, str(target)]
    assert panel.file_row.label.text().startswith("2 texts predicted and saved to")
    with open(target, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["text"], r["class"]) for r in rows] == [(POSITIVE, "pos"), (NEGATIVE, "neg")]

    bad = tmp_path / "notes.pdf"
    bad.write_bytes(b"%PDF-1.4")
    panel.predict_file(str(bad), str(tmp_path / "x.csv"))
    qtbot.waitUntil(lambda: "Cannot predict notes.pdf" in panel.file_row.label.text(), timeout=WAIT_MS)
    assert panel.file_button.isEnabled() and not (tmp_path / "x.csv").exists()


def test_a_hugging_face_folder_opened_by_its_config_plays_as_a_text_model(qtbot, window):
    from studio.train.run_files import run_dir

    window, run_id = window
    window.show_page("play")
    play = window.page("play")
    qtbot.waitUntil(lambda: play.model_combo.count() > 0, timeout=WAIT_MS)
    folder = run_dir(window.lib, run_id)
    with qtbot.waitSignal(play.model_ready, timeout=WAIT_MS):
        play.use_model_file(str(folder / "config.json"))  # what picking it in "Open model file..." does
    assert play.model_combo.currentText() == f"Text model folder: {folder.name}"
    assert play.views.currentWidget() is play.text_view and "text model" in play.model_status.text()
    type_text(qtbot, play.text_view, POSITIVE)
    assert play.text_view.shown.best[0] == "pos"


def test_many_classes_show_the_ten_most_probable_and_sum_up_the_rest(qtbot):
    from studio.export.predict_texts import TextPrediction
    from studio.ui.models.text_play import ClassBars, class_colours

    classes = [f"topic {i}" for i in range(12)]
    bars = ClassBars()
    qtbot.addWidget(bars)
    bars.configure(classes, class_colours(classes, {"topic 3": "#123456"}))
    assert bars.colours["topic 3"] == "#123456" and len(set(bars.colours.values())) == 12
    weights = np.arange(1, 13, dtype=float)  # topic 11 the most probable, topic 0 the least
    prediction = TextPrediction(list(zip(classes, (weights / weights.sum()).tolist())), tokens=48, truncated=True)
    bars.show_prediction(prediction, 48)
    assert [name for name, _value, _percent in bars.shown_rows()] == [f"topic {i}" for i in range(11, 1, -1)]
    assert bars.rest.text() == f"... and 2 more classes, {3 / 78:.1%} together"
    assert bars.headline.text() == f"topic 11  {12 / 78:.1%}" and "Cut at 48 tokens" in bars.note.text()
