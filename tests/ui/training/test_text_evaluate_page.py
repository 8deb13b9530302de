"""Evaluate page, a text run, as a user goes on the real main window at 1280x800: open Evaluate,
pick the text run, Evaluate; see the per-class scores and the confusion matrix; click a mistaken
cell and see its texts (their starts, classes and confidence), beside the most confident mistakes;
click a text to read it whole, then "Show in Datasets" opens it in labelling mode."""

from __future__ import annotations

import contextlib
import shutil
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "train" / "text"))
from text_runs import shared_text_library
from train_gui_helpers import main_window_at_1280x800

from studio.data.text.samples import one_line, read_text
from studio.store.library import Library

pytestmark = pytest.mark.gui
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def text_template(tmp_path_factory):
    return shared_text_library(tmp_path_factory)


@contextlib.contextmanager
def evaluate_page_on_a_copy(qtbot, text_template, tmp_path):
    """The main window on a copy of the template library, its Evaluate page open on the text run."""
    home, run_id = text_template
    shutil.copytree(home, tmp_path / "library")
    with main_window_at_1280x800(qtbot, Library.open(tmp_path / "library"), tmp_path / "s.ini") as window:
        window.show_page("evaluate")
        page = window.training.evaluate
        qtbot.waitUntil(lambda: page.run_combo.findData(run_id) >= 0, timeout=30_000)
        page.run_combo.setCurrentIndex(page.run_combo.findData(run_id))
        yield window, page


def click_line(qtbot, table, line: int, column: int = 0) -> None:
    item = table.item(line, column)
    qtbot.waitUntil(lambda: table.viewport().rect().contains(table.visualItemRect(item).center()), timeout=5_000)
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=table.visualItemRect(item).center())


def click_cell(qtbot, matrix, row: int, column: int) -> None:
    rect = matrix.visualRect(matrix.model().index(row, column))
    qtbot.mouseClick(matrix.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_user_evaluates_a_text_run_and_reads_the_texts_of_a_cell(qtbot, text_template, tmp_path, artifacts):
    run_id = text_template[1]
    with evaluate_page_on_a_copy(qtbot, text_template, tmp_path) as (window, page):
        assert page.split_combo.currentData() == "test"
        qtbot.waitUntil(page.evaluate_button.isEnabled, timeout=WAIT_MS)
        qtbot.mouseClick(page.evaluate_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.result is not None, timeout=WAIT_MS)
        result, view = page.result, page.text_view
        assert result.kind == "text" and result.run_id == run_id
        assert view.isVisible() and page.class_view.isVisible()
        assert not page.gallery_view.isVisible() and not page.table_view.isVisible()
        assert f"Run {run_id} on {result.samples} test texts" in page.summary.text()
        assert f"accuracy {result.accuracy:.1%}, {len(result.mistakes)} mistakes" in page.summary.text()
        assert page.per_class.horizontalHeaderItem(4).text() == "Texts"
        assert "see its texts" in page.matrix.toolTip() and "images" not in page.split_combo.toolTip()
        for line, row in enumerate(result.per_class):
            assert [page.per_class.item(line, c).text() for c in (0, 1, 4)] == [
                row["class"], f"{row['precision']:.1%}", str(row["support"])]
        for (r, c), ids in result.cells.items():
            assert page.matrix.item(r, c).text() == str(len(ids))

        # the most confident mistakes: listed surest first, their texts arriving from a job
        mistakes = view.mistake_texts
        assert mistakes.sample_ids == [m.sample_id for m in result.mistakes] and result.mistakes
        qtbot.waitUntil(lambda: mistakes.item(0, 0).text() != "…", timeout=WAIT_MS)
        first = result.mistakes[0]
        assert [mistakes.item(0, c).text() for c in (1, 2, 3)] == [first.true_class, first.predicted_class,
                                                                   f"{first.confidence:.1%}"]

        # click the cell of positive texts predicted negative: its texts are listed
        pos, neg = result.classes.index("pos"), result.classes.index("neg")
        cell = result.cells[(pos, neg)]
        click_cell(qtbot, page.matrix, pos, neg)
        texts = view.cell_texts
        assert view.cell_title.text().startswith(f"True pos, predicted neg: {len(cell)} texts")
        assert texts.sample_ids == cell
        qtbot.waitUntil(lambda: texts.item(0, 0).text() != "…", timeout=WAIT_MS)
        for line, sample_id in enumerate(cell):
            whole = read_text(window.lib, sample_id)
            assert one_line(whole, 60).rstrip("…") in texts.item(line, 0).text()
            assert [texts.item(line, c).text() for c in (1, 2)] == ["pos", "neg"]  # in the title, the columns hidden
            assert texts.item(line, 3).text() == f"{result.confidences[sample_id]:.1%}"
        window.grab().save(str(artifacts / "evaluate_texts.png"))  # the window, 1280x800

        # a text read whole, then opened on the Datasets page
        click_line(qtbot, texts, 0)
        panel = view.panel
        assert panel.title() == f"Text {cell[0]}" and "labelled pos, predicted neg" in panel.note.text()
        qtbot.waitUntil(lambda: panel.text.toPlainText() == read_text(window.lib, cell[0]), timeout=WAIT_MS)
        window.grab().save(str(artifacts / "evaluate_texts_one.png"))
        qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: window.current_page_key() == "datasets", timeout=5_000)
        labelling = window.datasets.labelling.labelling_view
        qtbot.waitUntil(lambda: labelling.isVisible() and labelling.ids == [cell[0]], timeout=WAIT_MS)


def test_a_text_dataset_without_test_texts_offers_its_validation_texts(qtbot, text_template, tmp_path):
    from studio.store.models import Sample

    home, run_id = text_template
    shutil.copytree(home, tmp_path / "library")
    lib = Library.open(tmp_path / "library")
    with lib.transaction() as s:  # the test texts were moved to train after the run
        s.query(Sample).filter(Sample.split == "test").update({"split": "train"})
    with main_window_at_1280x800(qtbot, lib, tmp_path / "s.ini") as window:
        window.show_page("evaluate")
        page = window.training.evaluate
        qtbot.waitUntil(lambda: page.run_combo.currentData() == run_id, timeout=30_000)
        qtbot.waitUntil(page.evaluate_button.isEnabled, timeout=WAIT_MS)
        qtbot.mouseClick(page.evaluate_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(page.split_hint.isVisible, timeout=WAIT_MS)
        assert "“reviews” has no test texts" in page.split_hint_label.text()
        assert "Evaluate on the validation texts instead" in page.split_hint_label.text()
        qtbot.waitUntil(page.evaluate_button.isEnabled, timeout=WAIT_MS)  # the failed job is done
        qtbot.mouseClick(page.use_val_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: page.result is not None, timeout=WAIT_MS)
        assert page.result.split == "val" and page.text_view.isVisible() and not page.split_hint.isVisible()
        assert f"on {page.result.samples} validation texts" in page.summary.text()


def test_a_very_long_text_shows_its_start_and_says_how_long_it_is(qtbot, text_template, tmp_path):
    from studio.data.samples import find_dataset
    from studio.data.text.importing import import_text_lines
    from studio.data.text.samples import read_texts
    from studio.store.models import Sample
    from studio.ui.training.text_evaluation import (
        WHOLE_TEXT_CHARS,
        TextPanel,
        whole_text_job,
    )

    home, _run_id = text_template
    shutil.copytree(home, tmp_path / "library")
    lib = Library.open(tmp_path / "library")
    with lib.session() as s:
        dataset_id = find_dataset(s, "reviews").id
        first_ids = [i for (i,) in s.query(Sample.id).filter(Sample.dataset_id == dataset_id).order_by(Sample.id).limit(50)]
    words = " ".join(read_texts(lib, first_ids))
    long_text = (words + " ") * (3 * WHOLE_TEXT_CHARS // len(words) + 1)
    import_text_lines(lib, dataset_id, [long_text.strip()], class_name="pos")
    with lib.session() as s:
        long_id = s.query(Sample.id).filter(Sample.dataset_id == dataset_id).order_by(Sample.id.desc()).first()[0]
    sample_id, start, length = whole_text_job(lib, dataset_id, long_id)
    assert (sample_id, length) == (long_id, len(long_text.strip())) and start == long_text[:WHOLE_TEXT_CHARS]

    opened = []
    panel = TextPanel(lambda dataset, ids: opened.append((dataset, ids)))
    qtbot.addWidget(panel)
    panel.show_choice(dataset_id, long_id, "labelled pos, predicted neg with 97.0% confidence")
    panel.show_text(sample_id, start, length)
    shown = panel.text.toPlainText()
    assert shown.startswith(start) and shown.endswith(f"[… the first {WHOLE_TEXT_CHARS:,} of {length:,} characters]")
    panel.show_text(sample_id + 1, "another text", 12)  # a late answer for a text no longer chosen
    assert panel.text.toPlainText() == shown
    panel.open_button.click()
    assert opened == [(dataset_id, [long_id])]
    lib.close()


def test_fine_tune_from_a_text_run_makes_its_folder_the_encoder(qtbot, text_template, tmp_path):
    run_id = text_template[1]
    with evaluate_page_on_a_copy(qtbot, text_template, tmp_path) as (window, page):
        qtbot.waitUntil(page.fine_tune_button.isEnabled, timeout=WAIT_MS)
        qtbot.mouseClick(page.fine_tune_button, Qt.MouseButton.LeftButton)
        train = window.training.train
        qtbot.waitUntil(lambda: train.settings.encoder.text() != "", timeout=WAIT_MS)
        assert train.settings.encoder.text() == str(tmp_path / "library" / "runs" / str(run_id))
        assert train.settings.encoder_row.isVisible()  # the text dataset is chosen, its rows shown
        assert f"Starting from run {run_id}" in train.status.text()
