"""The live training view as a user sees it: axes that span the run, epoch points at their own
last step, the smoothed-loss tile named as such, and Resume showing the whole run."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402

from studio.store.library import Library  # noqa: E402
from train_gui_helpers import main_window_at_1280x800, make_digits_home, train_in_process  # noqa: E402

pytestmark = pytest.mark.gui
WAIT_MS = 180_000


def _events(epochs: int, steps_per_epoch: int, log_every: int) -> list[dict]:
    out = [{"event": "start", "run_id": 1, "model": "simple-cnn", "epochs": epochs, "batch_size": 8, "device": "cpu",
            "image_size": 8},
           {"event": "data", "dataset": "d", "classes": ["a", "b"], "train_samples": 8 * steps_per_epoch, "val_samples": 4,
            "steps_per_epoch": steps_per_epoch}]
    for step in range(1, epochs * steps_per_epoch + 1):
        epoch = (step - 1) // steps_per_epoch + 1
        if step % log_every == 0:
            out.append({"event": "step", "step": step, "epoch": epoch, "loss": 1.0 / step, "lr": 0.01})
        if step % steps_per_epoch == 0:
            out.append({"event": "epoch", "epoch": epoch, "step": step, "train_loss": 0.5, "val_loss": 0.6,
                        "train_accuracy": 0.8, "val_accuracy": 0.7})
    return out


def test_epoch_points_sit_on_their_last_step_and_axes_span_the_run(qtbot, artifacts):
    from studio.ui.training.live_view import LiveTrainingView

    view = LiveTrainingView()
    qtbot.addWidget(view)
    view.resize(900, 600)
    view.show()
    view.feed(_events(epochs=3, steps_per_epoch=23, log_every=10))  # 23: not a multiple of 10
    for plot in (view.loss_plot, view.acc_plot, view.lr_plot):
        plot.flush()
    xs, _ = view.loss_plot.data("train_loss")
    assert list(xs) == [23, 46, 69]  # not 20, 40, 60 (the last logged step)
    (x0, x1), _ = view.loss_plot.getPlotItem().getViewBox().viewRange()
    assert 69 <= x1 < 72  # the run's 69 steps, not 100
    (a0, a1), _ = view.acc_plot.getPlotItem().getViewBox().viewRange()
    assert 3 <= a1 < 3.2
    assert view.stats["loss"].findChildren(type(view.title))[0].text() == "Step loss (smoothed)"
    view.grab().save(str(artifacts / "train_live_axes.png"))


def test_the_view_reads_the_typed_events_and_skips_incomplete_ones(qtbot):
    from studio.ui.training.live_view import LiveTrainingView

    view = LiveTrainingView()
    qtbot.addWidget(view)
    finished = []
    view.run_finished.connect(lambda run_id, status: finished.append((run_id, status)))
    view.feed(_events(epochs=2, steps_per_epoch=4, log_every=2)[:3] + [
        {"event": "step", "step": 3, "epoch": 1, "loss": 0.5, "lr": 0.01, "samples_per_s": 80.0, "gpu_mem_mb": 512.0},
        {"event": "step"},  # missing what a step has: skipped, the view goes on
        {"event": "no-such-event", "message": "not for the view"},
        {"event": "done", "run_id": 1, "status": "failed", "error": "CUDA ran out of memory", "metrics": {}},
    ])
    view._on_process_finished(1, "")
    m = view.model
    assert (m.step, m.gpu_mem_mb, m.status) == (3, 512.0, "failed")
    assert view.stats["gpu"].value.text() == "512 MB" and view.stats["speed"].value.text() == "80"
    assert view.message_label.text() == "CUDA ran out of memory"
    assert finished == [(1, "failed")]


@pytest.fixture
def stopped_after_one_epoch(tmp_path):
    home = make_digits_home(tmp_path / "library")
    lib = Library.open(home)
    try:  # digits: 23 steps an epoch at batch 64; stopped in epoch 2
        run_id = train_in_process(lib, {"epochs": 3, "log_every": 5}, stop_after_step=30)
    finally:
        lib.close()
    return home, run_id


def test_resume_from_the_runs_page_shows_the_whole_run(qtbot, stopped_after_one_epoch, tmp_path, artifacts):
    home, run_id = stopped_after_one_epoch
    with main_window_at_1280x800(qtbot, Library.open(home), tmp_path / "s.ini") as window:
        window.show_page("runs")
        runs = window.training.runs
        qtbot.waitUntil(lambda: runs.model.row_for(run_id) >= 0, timeout=WAIT_MS)
        runs.select_runs([run_id])
        qtbot.waitUntil(runs.resume_button.isEnabled, timeout=WAIT_MS)
        qtbot.mouseClick(runs.resume_button, Qt.MouseButton.LeftButton)
        assert window.current_page_key() == "train"
        live = window.training.train.live
        # the history is drawn before the worker's first event: epoch 1's accuracy and the early steps
        qtbot.waitUntil(lambda: live.acc_plot.point_count("val_accuracy") >= 1, timeout=WAIT_MS)
        assert live.loss_plot.data("step_loss")[0][0] == 5
        assert not live.epoch_label.text().startswith("Epoch 1 /")
        with qtbot.waitSignal(live.run_finished, timeout=WAIT_MS):
            pass
        for plot in (live.loss_plot, live.acc_plot):
            plot.flush()
        epochs, _ = live.acc_plot.data("val_accuracy")
        assert list(epochs) == [1, 2, 3]
        steps, _ = live.loss_plot.data("step_loss")
        assert steps[0] == 5 and all(b > a for a, b in zip(steps, steps[1:]))  # whole run, never folding back
        assert live.model.status == "completed"
        window.grab().save(str(artifacts / "train_live_resumed.png"))
