"""Runs view: listing, interrupted detection, overlaying curves, resume (live, in a worker),
fine-tune routing, delete with files."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QPushButton  # noqa: E402

from studio.store.library import Library  # noqa: E402
from studio.store.models import Run, utcnow  # noqa: E402
from train_gui_helpers import copy_home, make_runs_home  # noqa: E402

pytestmark = pytest.mark.gui
WAIT_MS = 120_000


@pytest.fixture(scope="module")
def runs_template(tmp_path_factory):
    return make_runs_home(tmp_path_factory.mktemp("runs") / "library")


@pytest.fixture
def runs_lib(runs_template, tmp_path):
    template, runs = runs_template
    lib = Library.open(copy_home(template, tmp_path / "library"))
    yield lib, dict(runs)
    lib.close()


def _add_dead_running_run(lib: Library, like: int) -> int:
    """A run whose worker died: status running, a pid that no longer exists."""
    with lib.transaction() as s:
        src = s.get(Run, like)
        run = Run(dataset_id=src.dataset_id, name="crashed", model=src.model, spec=dict(src.spec),
                  classes=list(src.classes), status="running", pid=2**22 + 12345, heartbeat_at=utcnow(),
                  started_at=utcnow())
        s.add(run)
        s.flush()
        return run.id


@pytest.fixture
def runs_page(qtbot, runs_lib):
    from studio.ui.training.runs_page import RunsPage

    lib, runs = runs_lib
    runs["dead"] = _add_dead_running_run(lib, runs["completed"])
    page = RunsPage(lib)
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()
    qtbot.waitExposed(page)
    qtbot.waitUntil(lambda: page.model.rowCount() == 3, timeout=30_000)
    yield page, lib, runs
    page.shutdown()


def _status(lib: Library, run_id: int) -> str:
    with lib.session() as s:
        return s.get(Run, run_id).status


def test_lists_runs_and_marks_dead_worker_interrupted_with_resume_button(runs_page):
    page, lib, runs = runs_page
    by_id = {r.run_id: r for r in page.model.rows}
    assert by_id[runs["completed"]].status == "completed"
    assert by_id[runs["completed"]].val_accuracy is not None and by_id[runs["completed"]].duration_s is not None
    assert by_id[runs["stopped"]].status == "stopped"
    assert by_id[runs["dead"]].status == "interrupted"
    assert _status(lib, runs["dead"]) == "interrupted"
    row = page.model.row_for(runs["dead"])
    button = page.table.indexWidget(page.model.index(row, page.model.ACTION_COLUMN))
    assert isinstance(button, QPushButton) and button.text() == "Resume"
    assert not button.isEnabled()  # it died before its first checkpoint: nothing to resume from
    stopped = page.table.indexWidget(page.model.index(page.model.row_for(runs["stopped"]), page.model.ACTION_COLUMN))
    assert stopped.text() == "Resume" and stopped.isEnabled()
    completed_row = page.model.row_for(runs["completed"])
    assert page.table.indexWidget(page.model.index(completed_row, page.model.ACTION_COLUMN)) is None
    texts = [page.model.data(page.model.index(page.model.row_for(runs["completed"]), c)) for c in range(8)]
    assert texts[1] == "digits" and texts[2] == "simple-cnn" and "3 ep" in texts[3] and texts[6] == "3/3"


def test_select_two_runs_overlays_their_curves(qtbot, runs_page, artifacts):
    page, lib, runs = runs_page
    page.select_runs([runs["completed"], runs["stopped"]])
    page.metric_combo.setCurrentIndex(page.metric_combo.findData("train/loss"))
    qtbot.waitUntil(lambda: len(page.overlay_runs()) == 2, timeout=30_000)
    assert set(page.overlay_runs()) == {f"run {runs['completed']}", f"run {runs['stopped']}"}
    xs, ys = page.overlay.data(f"run {runs['completed']}")
    assert len(xs) >= 3 and (ys > 0).all()
    page.metric_combo.setCurrentIndex(page.metric_combo.findData("val/accuracy"))
    assert page.overlay_runs() == [f"run {runs['completed']}"]  # the stopped run never finished an epoch
    assert page.overlay.point_count(f"run {runs['completed']}") == 3
    page.metric_combo.setCurrentIndex(page.metric_combo.findData("train/loss"))
    qtbot.wait(200)
    page.grab().save(str(artifacts / "runs_page_overlay.png"))


def test_resume_stopped_run_continues_live_to_completion(qtbot, runs_page):
    from studio.ui.training.train_page import TrainPage

    page, lib, runs = runs_page
    train = TrainPage(lib)
    qtbot.addWidget(train)
    page.resume_requested.connect(lambda run_id: train.start_worker(run_id, resume=True))
    page.select_runs([runs["stopped"]])
    assert page.resume_button.isEnabled()
    qtbot.mouseClick(page.resume_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: train.live.model.run_id == runs["stopped"], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: not train.is_training(), timeout=WAIT_MS)
    assert train.live.model.status == "completed", train.live.model.message
    steps = list(train.live.loss_plot.data("step_loss")[0])
    # the steps recorded before Stop (5, 10), then the resumed worker's, never starting over at 5
    assert steps[:2] == [5, 10] and steps[2] > 10
    assert all(b > a for a, b in zip(steps, steps[1:]))
    with lib.session() as s:
        run = s.get(Run, runs["stopped"])
        assert run.status == "completed" and run.epoch == 3
    page.refresh()
    qtbot.waitUntil(lambda: page.model.rows[page.model.row_for(runs["stopped"])].status == "completed", timeout=30_000)
    train.shutdown()


def test_fine_tune_button_presets_the_train_page(qtbot, runs_page):
    from studio.ui.training.train_page import TrainPage

    page, lib, runs = runs_page
    train = TrainPage(lib)
    qtbot.addWidget(train)
    page.fine_tune_requested.connect(train.fine_tune_from)
    page.select_runs([runs["interrupted"] if "interrupted" in runs else runs["dead"]])
    assert not page.fine_tune_button.isEnabled()  # no trained model in an interrupted run
    page.select_runs([runs["completed"]])
    assert page.fine_tune_button.isEnabled()
    qtbot.mouseClick(page.fine_tune_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: train.settings.pretrained() == str(runs["completed"]), timeout=60_000)
    assert train.settings.parent_run.isVisible() or train.settings.weights.currentData() == "run"
    assert train.settings.spec()["pretrained"] == str(runs["completed"])
    train.shutdown()


def test_delete_run_removes_rows_and_files(qtbot, runs_page):
    from studio.store.models import Checkpoint, Metric
    from studio.train.artifacts import run_dir

    page, lib, runs = runs_page
    folder = run_dir(lib, runs["completed"])
    assert folder.is_dir()
    page.delete_runs([runs["completed"]])
    qtbot.waitUntil(lambda: page.model.row_for(runs["completed"]) < 0, timeout=30_000)
    assert not folder.exists()
    with lib.session() as s:
        assert s.get(Run, runs["completed"]) is None
        assert s.query(Metric).filter_by(run_id=runs["completed"]).count() == 0
        assert s.query(Checkpoint).filter_by(run_id=runs["completed"]).count() == 0
    assert page.model.rowCount() == 2


def test_pages_in_the_main_window_route_to_each_other(qtbot, runs_lib, tmp_path, artifacts):
    from PySide6.QtCore import QSettings

    from studio.ui.shell.main_window import MainWindow

    lib, runs = runs_lib
    window = MainWindow(lib, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    pages = window.training
    assert {"train", "runs", "evaluate"} <= set(window.page_keys())
    assert pages.evaluate.review == window.labelling.review
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    window.show_page("runs")
    qtbot.waitUntil(lambda: pages.runs.model.rowCount() == 2, timeout=30_000)
    pages.runs.select_runs([runs["completed"]])
    qtbot.mouseClick(pages.runs.evaluate_button, Qt.MouseButton.LeftButton)
    assert window.current_page_key() == "evaluate"
    qtbot.waitUntil(lambda: pages.evaluate.run_combo.currentData() == runs["completed"], timeout=30_000)
    qtbot.mouseClick(pages.evaluate.fine_tune_button, Qt.MouseButton.LeftButton)
    assert window.current_page_key() == "train"
    qtbot.waitUntil(lambda: pages.train.settings.pretrained() == str(runs["completed"]), timeout=60_000)
    window.show_page("runs")
    pages.runs.metric_combo.setCurrentIndex(pages.runs.metric_combo.findData("train/loss"))
    pages.runs.select_runs([runs["completed"], runs["stopped"]])
    qtbot.waitUntil(lambda: len(pages.runs.overlay_runs()) == 2, timeout=30_000)
    qtbot.wait(300)
    window.grab().save(str(artifacts / "main_window_runs.png"))
    window.close()
