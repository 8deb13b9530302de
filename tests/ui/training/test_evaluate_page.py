"""Evaluate view: a trained run on the test split; per-class table, confusion matrix whose cells
open their images, most confident mistakes, "Review in labelling", "Fine-tune from this run"."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402

from studio.store.library import Library  # noqa: E402
from studio.store.models import Prediction, Sample  # noqa: E402
from train_gui_helpers import copy_home, make_runs_home  # noqa: E402

pytestmark = pytest.mark.gui
WAIT_MS = 120_000


@pytest.fixture(scope="module")
def runs_template(tmp_path_factory):
    return make_runs_home(tmp_path_factory.mktemp("eval") / "library")


@pytest.fixture
def evaluate_page(qtbot, runs_template, tmp_path):
    from studio.ui.training.evaluate_page import EvaluatePage

    template, runs = runs_template
    lib = Library.open(copy_home(template, tmp_path / "library"))
    reviewed: list[tuple[int, list[int]]] = []
    page = EvaluatePage(lib, review=lambda dataset_id, ids: reviewed.append((dataset_id, list(ids))))
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()
    qtbot.waitExposed(page)
    qtbot.waitUntil(lambda: page.run_combo.count() == 2, timeout=30_000)  # completed + stopped
    yield page, lib, runs, reviewed
    page.shutdown()
    lib.close()


def _evaluate(qtbot, page, run_id: int, split: str = "test"):
    page.run_combo.setCurrentIndex(page.run_combo.findData(run_id))
    page.split_combo.setCurrentIndex(page.split_combo.findData(split))
    click_when_enabled(qtbot, page.evaluate_button)
    qtbot.waitUntil(lambda: page.result is not None and page.result.split == split, timeout=WAIT_MS)
    return page.result


def _click_cell(qtbot, table, row: int, col: int) -> None:
    rect = table.visualItemRect(table.item(row, col))
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())


def test_evaluate_shows_table_matrix_and_cell_thumbnails(qtbot, evaluate_page, artifacts):
    page, lib, runs, _ = evaluate_page
    result = _evaluate(qtbot, page, runs["completed"])
    with lib.session() as s:
        n_test = s.query(Sample).filter_by(split="test").count()
        stored = s.query(Prediction).filter_by(run_id=runs["completed"]).count()
    assert result.samples == n_test and stored == n_test
    assert page.per_class.rowCount() == 10 and page.matrix.rowCount() == 10 == page.matrix.columnCount()
    total = sum(int(page.matrix.item(r, c).text() or 0) for r in range(10) for c in range(10))
    assert total == n_test
    assert f"accuracy {result.accuracy:.1%}" in page.summary.text()
    # the cells know exactly their samples: counts agree with the matrix
    for (r, c), ids in result.cells.items():
        assert len(ids) == int(result.confusion[r, c])

    # click a mistake cell if there is one, else the fullest diagonal cell
    off = result.confusion.copy()
    np.fill_diagonal(off, 0)
    r, c = np.unravel_index(int(off.argmax()), off.shape) if off.max() > 0 else (int(result.confusion.diagonal().argmax()),) * 2
    _click_cell(qtbot, page.matrix, int(r), int(c))
    expected = result.cells[(int(r), int(c))]
    qtbot.waitUntil(lambda: page.cell_gallery.thumbnails_shown() == min(len(expected), 200), timeout=60_000)
    assert page.cell_gallery.sample_ids == expected[:200]
    assert f"True {result.classes[r]}, predicted {result.classes[c]}: {len(expected)} images" in page.cell_title.text()

    # mistakes gallery: most confident first, each really wrong
    if result.mistakes:
        qtbot.waitUntil(lambda: page.mistakes.thumbnails_shown() > 0, timeout=60_000)
        confidences = [m[3] for m in result.mistakes]
        assert confidences == sorted(confidences, reverse=True)
        assert all(truth != pred for _sid, truth, pred, _c in result.mistakes)
    qtbot.wait(200)
    page.grab().save(str(artifacts / "evaluate_page.png"))


def test_review_in_labelling_gets_dataset_and_mistake_ids(qtbot, evaluate_page):
    page, lib, runs, reviewed = evaluate_page
    result = _evaluate(qtbot, page, runs["stopped"], split="val")  # a barely trained model: many mistakes
    assert result.mistakes
    assert page.review_button.isEnabled()
    qtbot.mouseClick(page.review_button, Qt.MouseButton.LeftButton)
    assert reviewed == [(result.dataset_id, [m[0] for m in result.mistakes])]
    # with a selection, only the selected mistakes go
    page.mistakes.item(0).setSelected(True)
    qtbot.mouseClick(page.review_button, Qt.MouseButton.LeftButton)
    assert reviewed[-1] == (result.dataset_id, [page.mistakes.sample_ids[0]])


def test_fine_tune_from_evaluated_run(qtbot, evaluate_page):
    page, lib, runs, _ = evaluate_page
    result = _evaluate(qtbot, page, runs["completed"])
    with qtbot.waitSignal(page.fine_tune_requested, timeout=5000) as signal:
        qtbot.mouseClick(page.fine_tune_button, Qt.MouseButton.LeftButton)
    assert signal.args == [runs["completed"], result.dataset_id]


def test_split_without_images_gives_a_clear_message(qtbot, evaluate_page):
    page, lib, runs, _ = evaluate_page
    with lib.transaction() as s:
        s.query(Sample).filter_by(split="test").update({"split": "train"})
    page.run_combo.setCurrentIndex(page.run_combo.findData(runs["completed"]))
    page.split_combo.setCurrentIndex(page.split_combo.findData("test"))
    qtbot.mouseClick(page.evaluate_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.summary.text().startswith("Could not evaluate"), timeout=WAIT_MS)
    assert "no test samples" in page.summary.text()
    qtbot.waitUntil(page.evaluate_button.isEnabled, timeout=5000)  # with the job's done signal, next


# --- on the real main window ------------------------------------------------------------------
@pytest.fixture
def app_window(qtbot, runs_template, tmp_path):
    """The app's window on a copy of the runs library; the run "stopped" is still queued (not
    finished) until the test finishes it, as a worker would."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from studio.store.models import Run
    from studio.ui.shell.main_window import MainWindow

    template, runs = runs_template
    lib = Library.open(copy_home(template, tmp_path / "library"))
    with lib.transaction() as s:
        s.get(Run, runs["stopped"]).status = "queued"
    window = MainWindow(lib, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)
    yield window, lib, runs
    window.page("evaluate").shutdown()
    window.datasets.thumbnails.wait(5000)
    window.close()
    QApplication.processEvents()
    lib.close()


def open_page(qtbot, window, key: str):
    """Click the page's entry in the sidebar."""
    nav = window.nav
    row = next(r for r in range(nav.count()) if nav.item(r).data(Qt.ItemDataRole.UserRole) == key)
    qtbot.mouseClick(nav.viewport(), Qt.MouseButton.LeftButton, pos=nav.visualItemRect(nav.item(row)).center())
    assert window.current_page_key() == key
    return window.page(key)


def click_when_enabled(qtbot, button) -> None:
    """A user clicks a button once it is enabled (Evaluate is re-enabled when the last job's
    ``done`` arrives, just after its result)."""
    qtbot.waitUntil(button.isEnabled, timeout=WAIT_MS)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def finish_run(lib, run_id: int) -> None:
    from studio.store.models import Run

    with lib.transaction() as s:
        s.get(Run, run_id).status = "stopped"


def test_evaluate_shows_the_newest_run(qtbot, app_window):
    """Issue 16: the list is newest first, but a run that finished after the page was filled was
    not selected: the page kept showing the older run."""
    window, lib, runs = app_window
    page = open_page(qtbot, window, "evaluate")
    qtbot.waitUntil(lambda: page.run_combo.count() == 1, timeout=30_000)
    assert page.run_combo.currentData() == runs["completed"]
    finish_run(lib, runs["stopped"])  # a newer run finishes while the user looks elsewhere
    open_page(qtbot, window, "datasets")
    open_page(qtbot, window, "evaluate")
    qtbot.waitUntil(lambda: page.run_combo.count() == 2, timeout=30_000)
    assert page.run_combo.itemData(0) == runs["stopped"]  # newest first
    assert page.run_combo.currentData() == runs["stopped"]
    # a run the user picks stays picked while no newer run appears
    page.run_combo.setCurrentIndex(page.run_combo.findData(runs["completed"]))
    open_page(qtbot, window, "datasets")
    open_page(qtbot, window, "evaluate")
    qtbot.waitUntil(lambda: "runs" not in page._jobs, timeout=30_000)
    assert page.run_combo.currentData() == runs["completed"]


def test_no_test_split_offers_validation_and_split(qtbot, app_window, artifacts):
    """Issue 16: on a dataset without a test split the page said "has no test samples" and no
    more; and "Most confident mistakes" was blank when there were none."""
    from studio.store.datasets import split_counts

    from train_gui_helpers import train_in_process

    window, lib, runs = app_window
    with lib.transaction() as s:  # a dataset that was never split: every sample without a split
        s.query(Sample).update({"split": None})
    unsplit_run = train_in_process(lib, {"epochs": 1})  # holds out a validation part of train
    page = open_page(qtbot, window, "evaluate")
    qtbot.waitUntil(lambda: page.run_combo.count() == 2, timeout=30_000)
    assert page.run_combo.currentData() == unsplit_run
    assert page.mistakes_note.isVisible() and "Evaluate a run" in page.mistakes_note.text()
    assert page.split_combo.currentData() == "test"
    click_when_enabled(qtbot, page.evaluate_button)
    qtbot.waitUntil(page.split_hint.isVisible, timeout=WAIT_MS)
    assert "no test samples" in page.summary.text()
    assert "has no test images" in page.split_hint_label.text()
    assert page.use_val_button.isVisible() and page.split_button.isVisible()
    qtbot.wait(50)
    window.grab().save(str(artifacts / "evaluate_no_test_split.png"))

    # "Evaluate on validation": the images the run held out while training
    qtbot.waitUntil(page.evaluate_button.isEnabled, timeout=WAIT_MS)  # the failed job is done
    click_when_enabled(qtbot, page.use_val_button)
    qtbot.waitUntil(lambda: page.result is not None, timeout=WAIT_MS)
    assert page.result.split == "val" and page.result.samples > 0 and not page.split_hint.isVisible()
    assert page.split_combo.currentData() == "val"

    # "Split the dataset…": the same dialog as on the Datasets page, answered with its button
    page.split_combo.setCurrentIndex(page.split_combo.findData("test"))  # test again: the hint is back
    click_when_enabled(qtbot, page.evaluate_button)
    qtbot.waitUntil(page.split_hint.isVisible, timeout=WAIT_MS)
    from PySide6.QtWidgets import QDialogButtonBox, QLabel

    qtbot.mouseClick(page.split_button, Qt.MouseButton.LeftButton)  # counts the samples in a job
    qtbot.waitUntil(lambda: page.split_dialog is not None and page.split_dialog.isVisible(), timeout=WAIT_MS)
    assert any("samples of “digits”" in label.text() for label in page.split_dialog.findChildren(QLabel))
    page.split_dialog.buttons.button(QDialogButtonBox.StandardButton.Ok).click()
    qtbot.waitUntil(lambda: page.split_hint_label.text().startswith("Split “"), timeout=WAIT_MS)
    assert page.split_dialog is None and not page.split_button.isEnabled()
    with lib.session() as s:
        counts = split_counts(s, page.result.dataset_id)
    assert counts["test"] > 0 and counts[None] == 0
    hint = page.split_hint_label.text()
    assert hint.startswith("Split “digits”") and "train a new run" in hint
    qtbot.wait(50)
    window.grab().save(str(artifacts / "evaluate_after_split.png"))
    # the Datasets page shows the new split when the user goes there
    datasets = open_page(qtbot, window, "datasets")
    test_item = datasets.filter_item(("split", "test"))
    assert int(test_item.text(1).replace(",", "")) == counts["test"]


def test_no_mistakes_says_so(qtbot, app_window, artifacts):
    window, lib, runs = app_window
    page = open_page(qtbot, window, "evaluate")
    qtbot.waitUntil(lambda: page.run_combo.count() == 1, timeout=30_000)
    click_when_enabled(qtbot, page.evaluate_button)
    qtbot.waitUntil(lambda: page.result is not None, timeout=WAIT_MS)
    first = page.result
    assert first.mistakes and page.mistakes.isVisible() and not page.mistakes_note.isVisible()
    # "Review in labelling" through the app: the Datasets page, those images, and it says so
    qtbot.mouseClick(page.review_button, Qt.MouseButton.LeftButton)
    labelling = window.datasets.labelling
    assert window.current_page_key() == "datasets" and labelling.mode == "label"
    assert labelling.labelling_view.ids == [m[0] for m in first.mistakes]
    n = len(first.mistakes)
    assert labelling.labelling_view.scope_label.text() == f"Reviewing {n} image{'' if n == 1 else 's'}"
    qtbot.keyClick(labelling.labelling_view, Qt.Key.Key_Escape)
    page = open_page(qtbot, window, "evaluate")
    assert page.result is first
    # move the images it got wrong out of the test split: on what is left it makes no mistake
    with lib.transaction() as s:
        s.query(Sample).filter(Sample.id.in_([m[0] for m in first.mistakes])).update({"split": "train"})
    click_when_enabled(qtbot, page.evaluate_button)
    qtbot.waitUntil(lambda: page.result is not first, timeout=WAIT_MS)
    assert page.result.mistakes == [] and page.result.samples == first.samples - len(first.mistakes)
    assert page.mistakes_note.isVisible() and not page.mistakes.isVisible()
    assert page.mistakes_note.text() == f"No mistakes: the model got all {page.result.samples:,} test images right."
    assert not page.review_button.isEnabled()
    qtbot.wait(50)
    window.grab().save(str(artifacts / "evaluate_no_mistakes.png"))
