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
    from studio.ui.evaluate_page import EvaluatePage

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
    qtbot.mouseClick(page.evaluate_button, Qt.MouseButton.LeftButton)
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
    assert page.evaluate_button.isEnabled()
