"""Train page: JSON-lines parsing, the live view, training a real worker process, Stop, errors."""

from __future__ import annotations

import os
import signal
import time

import pytest

pytest.importorskip("PySide6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from studio.store.library import Library  # noqa: E402
from studio.store.models import Run  # noqa: E402
from studio.train.spec import Auto, ImageNet, Scratch, TrainSpec  # noqa: E402
from studio.ui.common.run_process import JsonLinesParser, worker_train_argv  # noqa: E402
from train_gui_helpers import copy_home, make_digits_home  # noqa: E402

WAIT_MS = 120_000  # a worker imports torch and trains on 2 shared cores: be patient, never assert time


# --- no window needed ---------------------------------------------------------------------------

def test_parser_joins_lines_split_across_reads_and_skips_garbage():
    parser = JsonLinesParser()
    assert parser.feed(b'{"event": "step", "st') == []
    events = parser.feed(b'ep": 1}\nWarning: not json\n[1, 2]\n\n{"event": "epoch", "epoch": 1}\n{"event"')
    assert events == [{"event": "step", "step": 1}, {"event": "epoch", "epoch": 1}]
    assert parser.skipped == 2
    assert parser.feed(b': "done"}') == []
    assert parser.flush() == [{"event": "done"}]


def test_worker_argv_uses_the_studio_entry_and_resume_flag(tmp_path):
    argv = worker_train_argv(tmp_path, 7, resume=True)
    assert argv[-6:] == ["--home", str(tmp_path), "worker", "train", "--run", "7"] or argv[-1] == "--resume"
    assert argv[-1] == "--resume" and "--run" in argv and argv[argv.index("--run") + 1] == "7"
    assert "--resume" not in worker_train_argv(tmp_path, 7)


# --- GUI ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def digits_template(tmp_path_factory):
    return make_digits_home(tmp_path_factory.mktemp("digits") / "library")


@pytest.fixture
def digits_lib(digits_template, tmp_path):
    lib = Library.open(copy_home(digits_template, tmp_path / "library"))
    yield lib
    lib.close()


@pytest.fixture
def train_page(qtbot, digits_lib):
    from studio.ui.training.train_page import TrainPage

    page = TrainPage(digits_lib)
    qtbot.addWidget(page)
    page.resize(1280, 800)
    page.show()
    qtbot.waitExposed(page)
    qtbot.waitUntil(lambda: page.settings.model.count() > 1 and page.settings.dataset.count() == 1, timeout=60_000)
    yield page
    page.stop_and_wait(30_000)
    page.shutdown()


@pytest.mark.gui
def test_live_view_plots_and_progress_from_events(qtbot):
    from studio.ui.training.live_view import LiveTrainingView

    view = LiveTrainingView()
    qtbot.addWidget(view)
    view.feed([{"event": "start", "run_id": 3, "model": "simple-cnn", "epochs": 4, "batch_size": 10, "device": "cpu",
                "image_size": 16},
               {"event": "data", "dataset": "digits", "classes": ["0", "1"], "train_samples": 100, "val_samples": 20,
                "notes": []}])
    view.feed([{"event": "step", "step": s, "epoch": 1, "loss": 2.0 / s, "lr": 0.001, "samples_per_s": 500.0}
               for s in range(1, 6)])
    view.loss_plot.flush()
    assert view.loss_plot.point_count("step_loss") == 5
    assert view.model.steps_per_epoch == 10
    assert view.model.epoch_fraction() == pytest.approx(0.5)
    view.feed([{"event": "epoch", "epoch": 1, "step": 10, "train_loss": 0.9, "train_accuracy": 0.6, "val_loss": 0.8,
                "val_accuracy": 0.7, "eta_s": 65, "seconds": 2.0}])
    view._refresh_labels()
    assert view.acc_plot.point_count("val_accuracy") == 1
    assert view.stats["best"].value.text() == "70.0%"
    assert view.stats["eta"].value.text() == "1m 05s"
    assert view.total_bar.value() == 250  # 1 of 4 epochs
    assert "Run 3 simple-cnn on digits" in view.title.text()
    view.feed([{"event": "done", "run_id": 3, "status": "completed", "metrics": {"val_accuracy": 0.7}}])
    view._refresh_labels()
    assert view.model.status == "completed" and view.total_bar.value() == 1000


@pytest.mark.gui
def test_train_with_defaults_plots_live_then_stop(qtbot, train_page, digits_lib, artifacts):
    page = train_page
    assert page.settings.model.currentText().startswith("Automatic")
    page.settings.epochs.setValue(200)  # long enough that Stop lands mid-run
    page.settings.image_size.setValue(16)
    qtbot.mouseClick(page.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.is_training(), timeout=WAIT_MS)
    live = page.live
    qtbot.waitUntil(lambda: live.loss_plot.point_count("step_loss") >= 3, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: live.epoch_bar.value() > 0 or live.model.epochs_done >= 1, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: live.acc_plot.point_count("val_accuracy") >= 1, timeout=WAIT_MS)
    qtbot.wait(300)  # one label refresh and one redraw
    page.grab().save(str(artifacts / "train_page_live.png"))
    run_id = live.model.run_id
    assert run_id is not None
    with digits_lib.session() as s:
        assert s.get(Run, run_id).status == "running"

    qtbot.mouseClick(live.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.is_training(), timeout=WAIT_MS)
    assert live.model.status == "stopped"
    assert page.train_button.isEnabled()
    with digits_lib.session() as s:
        run = s.get(Run, run_id)
        assert run.status == "stopped" and 0 < run.epoch < 200
    assert f"Run {run_id} stopped" in page.status.text()
    done = page.process.last_done  # the worker's last event, read as a typed studio.train.events.Finished
    assert (done.run_id, done.status, done.failed) == (run_id, "stopped", False)


@pytest.mark.gui
def test_pause_and_resume_reach_the_worker(qtbot, train_page, digits_lib):
    page = train_page
    page.settings.epochs.setValue(200)
    page.settings.image_size.setValue(16)
    qtbot.mouseClick(page.train_button, Qt.MouseButton.LeftButton)
    live = page.live
    qtbot.waitUntil(lambda: live.loss_plot.point_count("step_loss") >= 1, timeout=WAIT_MS)
    qtbot.mouseClick(live.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: live.model.status == "paused" and live.pause_button.text() == "Resume", timeout=WAIT_MS)
    with digits_lib.session() as s:
        qtbot.waitUntil(lambda: s.get(Run, live.model.run_id, populate_existing=True).status == "paused", timeout=WAIT_MS)
    steps = live.model.step
    qtbot.wait(1500)
    assert live.model.step == steps  # paused: no new steps
    qtbot.mouseClick(live.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: live.model.step > steps, timeout=WAIT_MS)
    assert live.pause_button.text() == "Pause"


@pytest.mark.gui
def test_keep_running_in_background_survives_the_page(qtbot, train_page, digits_lib):
    page = train_page
    page.settings.epochs.setValue(3)
    page.settings.image_size.setValue(16)
    qtbot.mouseClick(page.train_button, Qt.MouseButton.LeftButton)
    live = page.live
    qtbot.waitUntil(lambda: live.loss_plot.point_count("step_loss") >= 1, timeout=WAIT_MS)
    run_id = live.model.run_id
    pid = page.process.pid()
    page.keep_in_background()
    assert page.process is None
    page.close()
    page.deleteLater()
    QApplication.processEvents()

    def finished() -> bool:
        with digits_lib.session() as s:
            return s.get(Run, run_id).status in ("completed", "failed", "stopped")

    deadline = time.monotonic() + WAIT_MS / 1000
    try:
        while not finished() and time.monotonic() < deadline:
            time.sleep(0.5)
        with digits_lib.session() as s:
            run = s.get(Run, run_id)
            assert run.status == "completed", run.error
            assert run.epoch == 3
    finally:
        try:
            os.kill(pid, signal.SIGTERM)  # only if a failure left it running
        except ProcessLookupError:
            pass


@pytest.mark.gui
def test_bad_dataset_gives_one_clear_message(qtbot, tmp_path):
    from studio.data.digits import add_digits_dataset
    from studio.ui.training.train_page import TrainPage

    lib = Library.open(tmp_path / "one_class")
    add_digits_dataset(lib, "ones", digits=(1,))
    page = TrainPage(lib)
    qtbot.addWidget(page)
    page.show()
    qtbot.waitUntil(lambda: page.settings.dataset.count() == 1, timeout=60_000)
    qtbot.mouseClick(page.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "class" in page.status.text(), timeout=60_000)
    assert "\n" not in page.status.text() and "Traceback" not in page.status.text()
    assert page.train_button.isEnabled() and not page.is_training()
    with lib.session() as s:
        assert s.query(Run).count() == 0  # nothing half-made
    page.shutdown()
    lib.close()


@pytest.mark.gui
def test_missing_imagenet_weights_offline_offers_training_from_scratch(qtbot, train_page, monkeypatch, tmp_path):
    monkeypatch.setenv("STUDIO_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    page = train_page
    page.settings.model.setCurrentIndex(page.settings.model.findData("mobilenet_v3_small"))
    page.settings.start_from(ImageNet())
    started = []
    monkeypatch.setattr(page, "_create_run", lambda dataset_id, spec: started.append(spec))
    qtbot.mouseClick(page.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: getattr(page, "weights_box", None) is not None and page.weights_box.isVisible(),
                    timeout=60_000)
    box: QMessageBox = page.weights_box
    text = box.text()
    assert "mobilenet_v3_small" in text and str(tmp_path / "torch_home") in text  # says where the file goes
    scratch = next(b for b in box.buttons() if b.text() == "Train from scratch")
    qtbot.mouseClick(scratch, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(started), timeout=10_000)
    assert started[0].pretrained == Scratch() and started[0].model == "mobilenet_v3_small"
    assert page.settings.start() == Scratch()


@pytest.mark.gui
def test_train_page_screenshot_with_settings_and_preview(qtbot, train_page, artifacts):
    page = train_page
    page.settings.augment["rotate"].setChecked(True)
    qtbot.waitUntil(lambda: all(label.pixmap() is not None and not label.pixmap().isNull()
                                for label in page.settings.preview_labels), timeout=60_000)
    tips = [w.toolTip() for w in (page.settings.dataset, page.settings.model, page.settings.weights,
                                  page.settings.freeze, page.settings.epochs, page.settings.batch_size,
                                  page.settings.lr, page.settings.optimizer, page.settings.schedule,
                                  page.settings.amp, page.settings.device, *page.settings.augment.values())]
    assert all(len(t) > 20 for t in tips)
    devices = [page.settings.device.itemData(i) for i in range(page.settings.device.count())]
    assert devices[:2] == ["auto", "cpu"]
    page.grab().save(str(artifacts / "train_page_settings.png"))


# --- plots ----------------------------------------------------------------------------------------

def test_series_buffer_grows_and_tracks_range():
    from studio.ui.common.plots import SeriesBuffer, ema, nice_ceiling

    buf = SeriesBuffer(capacity=4)
    for start in range(0, 100, 10):
        buf.append(range(start, start + 10), [float(v % 7) for v in range(start, start + 10)])
    assert len(buf) == 100 and list(buf.x[:3]) == [0, 1, 2] and buf.x[-1] == 99
    assert (buf.y_min, buf.y_max) == (0.0, 6.0)
    buf.append([100], [float("nan")])  # a NaN loss is kept but does not break the range
    assert (buf.y_min, buf.y_max) == (0.0, 6.0) and len(buf) == 101
    with pytest.raises(ValueError):
        buf.append([1, 2], [1])
    assert [nice_ceiling(v) for v in (0.3, 1, 1.1, 3, 7, 140, 100000)] == [0.5, 1, 2, 5, 10, 200, 100000]
    smooth, last = ema([1.0, 3.0, 3.0], 0.5)
    assert list(smooth) == [1.0, 2.0, 2.5] and last == 2.5


@pytest.mark.gui
def test_live_plot_draws_on_timer_follows_data_and_respects_manual_zoom(qtbot):
    import numpy as np

    from studio.ui.common.plots import LivePlot

    plot = LivePlot("Loss", "step", "loss")
    qtbot.addWidget(plot)
    plot.add_series("loss", "loss", "#0072B2")
    plot.append("loss", np.arange(1, 101), np.linspace(2, 1, 100))
    item = plot._series["loss"].item
    assert item.xData is None  # nothing drawn per append ...
    qtbot.waitUntil(lambda: item.xData is not None and len(item.xData) == 100, timeout=2000)  # ... the timer does
    assert item.opts["autoDownsample"] and item.opts["clipToView"] and item.opts["downsampleMethod"] == "peak"
    (x0, x1), (y0, y1) = plot.getPlotItem().getViewBox().viewRange()
    assert x1 >= 100 and y0 <= 1 and y1 >= 2
    plot.append("loss", np.arange(101, 1001), np.linspace(1, 0.5, 900))
    plot.flush()
    assert plot.getPlotItem().getViewBox().viewRange()[0][1] >= 1000  # follows new data
    plot.getPlotItem().getViewBox().sigRangeChangedManually.emit([True, True])  # the user zoomed
    plot.getPlotItem().getViewBox().setXRange(10, 20, padding=0)
    plot.append("loss", np.arange(1001, 3001), np.full(2000, 0.4))
    plot.flush()
    assert plot.getPlotItem().getViewBox().viewRange()[0][1] == pytest.approx(20)  # left alone
    plot.getPlotItem().getViewBox().enableAutoRange()  # the "A" button
    plot.append("loss", [3001], [0.4])
    plot.flush()
    assert plot.getPlotItem().getViewBox().viewRange()[0][1] >= 3001


@pytest.mark.gui
def test_imagenet_download_shows_progress_and_cancel_stops_it(qtbot, train_page, monkeypatch, tmp_path, artifacts):
    from PySide6.QtWidgets import QPushButton

    from studio.train import zoo

    monkeypatch.delenv("STUDIO_OFFLINE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    calls = []

    def slow_download(url, target, on_download):  # stands in for the network only
        for i in range(1, 2000):
            time.sleep(0.02)
            on_download(i * 100_000, 40_000_000)  # raises Cancelled once the user cancels
            calls.append(i)
        raise AssertionError("the download was never cancelled")

    monkeypatch.setattr(zoo, "_download", slow_download)
    page = train_page
    page.settings.model.setCurrentIndex(page.settings.model.findData("mobilenet_v3_small"))
    page.settings.start_from(ImageNet())
    qtbot.mouseClick(page.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.download_dialog.isVisible() and page.download_dialog.value() > 0, timeout=60_000)
    dialog = page.download_dialog
    assert "MB" in dialog.labelText() and "mobilenet_v3_small" in dialog.labelText()
    dialog.grab().save(str(artifacts / "train_page_download_dialog.png"))
    cancel = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Cancel")
    qtbot.mouseClick(cancel, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "cancelled" in page.status.text(), timeout=30_000)
    stopped_at = len(calls)
    qtbot.wait(300)
    assert len(calls) == stopped_at  # the download loop really ended
    assert not page.is_training() and page.train_button.isEnabled()
    with page.lib.session() as s:
        assert s.query(Run).count() == 0


@pytest.mark.gui
def test_closing_the_window_while_training_asks_and_stop_stops(qtbot, digits_lib, tmp_path, artifacts):
    from PySide6.QtCore import QSettings, QTimer

    from studio.ui.shell.main_window import MainWindow

    window = MainWindow(digits_lib, QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    window.show_page("train")
    page = window.training.train
    qtbot.waitUntil(lambda: page.settings.dataset.count() == 1 and page.settings.model.count() > 1, timeout=60_000)
    page.settings.epochs.setValue(200)
    qtbot.mouseClick(page.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.live.loss_plot.point_count("step_loss") >= 2, timeout=WAIT_MS)
    qtbot.wait(300)
    window.grab().save(str(artifacts / "main_window_training.png"))
    run_id = page.live.model.run_id

    def answer(button_text: str) -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(50, lambda: answer(button_text))
            return
        asked.append(box.text())
        box.grab().save(str(artifacts / "close_while_training.png"))
        qtbot.mouseClick(next(b for b in box.buttons() if b.text() == button_text), Qt.MouseButton.LeftButton)

    asked: list[str] = []
    QTimer.singleShot(50, lambda: answer("Cancel"))
    window.close()
    assert asked and "still going" in asked[0]
    assert window.isVisible() and page.is_training()  # Cancel: nothing closed, nothing stopped

    QTimer.singleShot(50, lambda: answer("Stop training"))
    window.close()
    assert not window.isVisible() and not page.is_training()
    with digits_lib.session() as s:
        assert s.get(Run, run_id).status == "stopped"


def test_device_choices_name_each_gpu_with_free_memory(monkeypatch):
    import torch

    from studio.ui.training.jobs import list_devices

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: ["NVIDIA H100", "NVIDIA RTX 4090"][i])
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i: [(70 * 2**30, 80 * 2**30), (3 * 2**30, 24 * 2**30)][i])
    devices = {d.key: d.label for d in list_devices()}
    assert list(devices)[:4] == ["auto", "cpu", "cuda:0", "cuda:1"]
    assert devices["cuda:0"] == "GPU 0: NVIDIA H100 (70.0 GB free of 80 GB)"
    assert devices["cuda:1"] == "GPU 1: NVIDIA RTX 4090 (3.0 GB free of 24 GB)"


def test_eta_counts_down_and_stops_while_paused(monkeypatch):
    from studio.ui.training import live_view as train_live

    now = [1000.0]
    monkeypatch.setattr(train_live.time, "monotonic", lambda: now[0])
    m = train_live.LiveRunModel()
    m.eta_s, m.eta_stamp, m.status = 100.0, now[0], "running"
    now[0] += 30
    assert m.eta_now() == pytest.approx(70)
    m.set_paused(True)
    now[0] += 500
    assert m.eta_now() == pytest.approx(70)  # paused: frozen
    m.set_paused(True)  # the worker's "paused" event after the button: still frozen at 70
    assert m.eta_now() == pytest.approx(70)
    m.set_paused(False)
    now[0] += 10
    assert m.eta_now() == pytest.approx(60)
    # before any epoch ended: remaining steps x batch / speed
    m2 = train_live.LiveRunModel()
    m2.epochs, m2.steps_per_epoch, m2.batch_size, m2.samples_per_s, m2.step = 2, 10, 32, 64.0, 4
    assert m2.eta_now() == pytest.approx(16 * 32 / 64)


@pytest.mark.gui
def test_form_defaults_are_the_engines_no_flip_and_automatic_start(qtbot, train_page):
    from studio.train import defaults

    settings = train_page.settings
    assert settings.train_spec() == TrainSpec()  # every control starts at the setting's default
    assert not any(settings.augment[k].isChecked() for k in defaults.MEANING_CHANGING)
    assert settings.augmentations() == defaults.DEFAULT_AUGMENT
    assert settings.start() == Auto() and settings.epochs.value() == 0 and settings.epochs.text() == "automatic"
    assert defaults.DEFAULT_BATCH_SIZE is None and settings.batch_size.text() == "automatic"  # 64 images, or by rows
    for key in defaults.MEANING_CHANGING:  # the tooltip says when it is safe
        assert "Only if a" in settings.augment[key].toolTip() and "same class" in settings.augment[key].toolTip()


@pytest.mark.gui
def test_automatic_start_offline_trains_from_scratch_and_says_so_once(qtbot, train_page, monkeypatch, tmp_path):
    """Offline, no cached weights: the run starts at once (no dialog), trains from scratch, and the
    live view shows the reason once."""
    monkeypatch.setenv("STUDIO_OFFLINE", "1")  # inherited by the worker process
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    page = train_page
    page.settings.model.setCurrentIndex(page.settings.model.findData("mobilenet_v3_small"))
    page.settings.image_size.setValue(16)
    page.settings.epochs.setValue(1)
    assert page.settings.start() == Auto()
    qtbot.mouseClick(page.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.process is not None, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "from scratch" in (page.live.model.message or ""), timeout=WAIT_MS)
    assert getattr(page, "weights_box", None) is None  # no question asked: automatic means automatic
    qtbot.waitUntil(lambda: not page.is_training(), timeout=WAIT_MS)
    with page.lib.session() as s:
        run = s.query(Run).order_by(Run.id.desc()).first()
        assert run.status == "completed" and run.spec["pretrained"] == "none"
        assert run.spec["start"].startswith("from scratch") and run.notes.count("ImageNet weights for") == 1
