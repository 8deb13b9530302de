"""The live view of one training run: curves, progress, speed, ETA, and Stop / Pause / Resume.

It consumes the worker's events (lists of parsed JSON objects from ``RunProcess.events``, read as
the typed events of studio.train.events). Per event it
only appends numbers to buffers and remembers the latest values; plots redraw on their own 40 ms
timer and the text labels on a 200 ms timer, so a worker printing hundreds of lines a second
never makes the GUI thread do per-line drawing work.
"""

from __future__ import annotations

import math
import time

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.core.run_status import RunStatus
from studio.train.events import (
    CacheProgress,
    DataReady,
    DownloadProgress,
    EpochCompleted,
    Finished,
    Paused,
    Resumed,
    Started,
    Step,
    Unfrozen,
    WorkerEvent,
    from_dict,
)
from studio.ui.common.plots import PALETTE, LivePlot, ema
from studio.ui.common.run_process import RunProcess
from studio.ui.training.live_model import STOPPING, LiveRunModel, format_duration, num

LABEL_INTERVAL_MS = 200
# Curves with a point per step are drawn 1 px wide (a cosmetic pen rasterises ~4x faster than a
# wider one) and opaque; the raw loss in a light tint of PALETTE[0] under the smoothed one.
LIGHT_BLUE = "#a6c8e3"
LOSS_SMOOTHING_STEPS = 25.0  # time constant (in steps) of the smoothed loss, whatever log_every is


class _Stat(QFrame):
    """A small caption + value tile."""

    def __init__(self, caption: str, tooltip: str) -> None:
        super().__init__()
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setToolTip(tooltip)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.setSpacing(0)
        cap = self.caption = QLabel(caption)
        cap.setStyleSheet("color: #666; font-size: 9pt;")
        self.value = QLabel("–")
        self.value.setStyleSheet("font-size: 12pt; font-weight: 600;")
        self.value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(cap)
        layout.addWidget(self.value)

    def set(self, text: str) -> None:
        if self.value.text() != text:
            self.value.setText(text)


class LiveTrainingView(QWidget):
    """Live curves + progress + controls for the run fed by a ``RunProcess``."""

    run_finished = Signal(int, str)  # run id, final status ("completed", "stopped", "failed", ...)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = LiveRunModel()
        self._proc: RunProcess | None = None
        self._loss_ema: float | None = None
        self._last_loss_step: float | None = None
        self._paused = False
        self._score = "accuracy"  # or "R²": what the score plot and tiles show (a regression's)
        self._build()
        self._label_timer = QTimer(self)
        self._label_timer.setInterval(LABEL_INTERVAL_MS)
        self._label_timer.timeout.connect(self._refresh_labels)
        self._label_timer.start()

    # ---- layout ----------------------------------------------------------------------------
    def _build(self) -> None:
        root = QVBoxLayout(self)
        root.setContentsMargins(0, 0, 0, 0)

        head = QHBoxLayout()
        self.title = QLabel("No run yet: choose settings and press Train.")
        self.title.setStyleSheet("font-size: 11pt; font-weight: 600;")
        self.title.setWordWrap(True)
        head.addWidget(self.title, 1)
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Pause after the current step; the run keeps its place and "
                                     "Resume continues it. The GPU/CPU is freed while paused.")
        self.pause_button.clicked.connect(self._toggle_pause)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current step: a checkpoint is saved, the run "
                                    "is marked stopped and can be resumed later from the Runs view.")
        self.stop_button.clicked.connect(self.request_stop)
        head.addWidget(self.pause_button)
        head.addWidget(self.stop_button)
        root.addLayout(head)

        progress = QHBoxLayout()
        self.epoch_label = QLabel("Epoch –")
        self.epoch_label.setMinimumWidth(110)
        self.epoch_bar = QProgressBar()
        self.epoch_bar.setRange(0, 1000)
        self.epoch_bar.setTextVisible(True)
        self.epoch_bar.setFormat("this epoch: %p%")
        self.epoch_bar.setToolTip("Progress through the current epoch (one pass over the training images).")
        self.total_bar = QProgressBar()
        self.total_bar.setRange(0, 1000)
        self.total_bar.setFormat("whole run: %p%")
        self.total_bar.setToolTip("Progress through all epochs of the run.")
        progress.addWidget(self.epoch_label)
        progress.addWidget(self.epoch_bar, 2)
        progress.addWidget(self.total_bar, 1)
        root.addLayout(progress)

        stats = QGridLayout()
        stats.setHorizontalSpacing(6)
        self.stats = {
            "step": _Stat("Step", "Training steps (batches) done so far."),
            "loss": _Stat("Step loss (smoothed)", f"Training loss of the latest steps, smoothed over ~{LOSS_SMOOTHING_STEPS:.0f} "
                          "steps (the dark blue curve); the dots are each epoch's mean train and val loss. Lower is better."),
            "val": _Stat("Val loss / acc", "Loss and accuracy on the validation images after the last epoch."),
            "best": _Stat("Best val acc", "The best validation accuracy so far; its weights are the ones kept."),
            "lr": _Stat("Learning rate", "The current learning rate set by the schedule."),
            "speed": _Stat("Images/s", "Training speed in images per second."),
            "eta": _Stat("ETA", "Estimated time until the run finishes."),
            "gpu": _Stat("GPU memory", "GPU memory used by training (– on CPU)."),
        }
        for i, tile in enumerate(self.stats.values()):
            stats.addWidget(tile, i // 4, i % 4)  # 2 rows of 4: the page fits 1280 px beside the form
        root.addLayout(stats)

        self.loss_plot = LivePlot("Loss", "step", "loss")
        self.loss_plot.add_series("step_loss", "step loss", LIGHT_BLUE, width=1)
        self.loss_plot.add_series("step_loss_smooth", "step loss (smoothed)", PALETTE[0], width=1)
        self.loss_plot.add_series("train_loss", "train loss (epoch)", PALETTE[2], width=2, symbol="o")
        self.loss_plot.add_series("val_loss", "val loss (epoch)", PALETTE[1], width=2, symbol="s")

        self.acc_plot = LivePlot("Accuracy", "epoch", "accuracy", fixed_y=(0.0, 1.0))
        self.acc_plot.add_series("train_accuracy", "train", PALETTE[2], width=2, symbol="o")
        self.acc_plot.add_series("val_accuracy", "val", PALETTE[1], width=2, symbol="s")

        self.lr_plot = LivePlot("Learning rate", "step", "lr")
        self.lr_plot.add_series("lr", "learning rate", PALETTE[3], width=1)
        self.lr_plot.getPlotItem().legend.hide()

        lower = QSplitter(Qt.Orientation.Horizontal)
        lower.addWidget(self.acc_plot)
        lower.addWidget(self.lr_plot)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.loss_plot)
        split.addWidget(lower)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        root.addWidget(split, 1)

        self.message_label = QLabel("")
        self.message_label.setWordWrap(True)
        self.message_label.setStyleSheet("color: #444;")
        root.addWidget(self.message_label)
        self._set_controls(running=False)

    # ---- wiring ----------------------------------------------------------------------------
    def attach(self, proc: RunProcess, title: str = "") -> None:
        """Follow ``proc``'s events (the previous run's curves are cleared)."""
        self.detach()
        self.clear()
        self._proc = proc
        proc.events.connect(self.feed)
        proc.finished.connect(self._on_process_finished)
        if title:
            self.title.setText(title)
        self._set_controls(running=True)

    def detach(self) -> None:
        if self._proc is not None:
            for signal, slot in ((self._proc.events, self.feed), (self._proc.finished, self._on_process_finished)):
                try:
                    signal.disconnect(slot)
                except (RuntimeError, TypeError):
                    pass
        self._proc = None

    @property
    def process(self) -> RunProcess | None:
        return self._proc

    def clear(self) -> None:
        self.model.reset()
        self._show_score("accuracy")
        self._loss_ema = None
        self._last_loss_step = None
        self._paused = False
        for plot in (self.loss_plot, self.acc_plot, self.lr_plot):
            plot.clear_data()
        self.epoch_bar.setValue(0)
        self.total_bar.setValue(0)
        self.message_label.setText("")
        self._refresh_labels()

    # ---- events ----------------------------------------------------------------------------
    def feed(self, events: list[dict]) -> None:
        """Take a batch of worker events (parsed JSON objects; studio.train.events). Steps are
        gathered into arrays and appended once; objects that are not complete events are skipped."""
        steps: list[Step] = []
        for event in filter(None, map(from_dict, events)):
            if isinstance(event, Step):
                self._on_step(event)
                steps.append(event)
            elif isinstance(event, EpochCompleted):
                self._on_epoch(event)
            elif isinstance(event, Started):
                self._on_start(event)
            elif isinstance(event, DataReady):
                self._on_data(event)
            elif isinstance(event, Finished):
                self._on_finished(event)
            elif isinstance(event, (Paused, Resumed)):
                self.model.set_paused(isinstance(event, Paused))
                self._paused = isinstance(event, Paused)
            else:
                self._note_message(event)
        if steps:
            xs = np.fromiter((e.step for e in steps), dtype=np.float64, count=len(steps))
            self._append_step_losses(xs, np.fromiter((num(e.loss) for e in steps), dtype=np.float64, count=len(steps)))
            with_lr = [e for e in steps if e.lr is not None]
            if with_lr:
                self.lr_plot.append("lr", [e.step for e in with_lr], [num(e.lr) for e in with_lr])

    def _on_step(self, event: Step) -> None:
        m = self.model
        m.step = event.step
        if event.epoch >= 1:
            m.epoch = event.epoch  # the epoch in progress, counted from 1
            m.epochs_done = event.epoch - 1
        m.loss = num(event.loss)
        m.samples_per_s = num(event.samples_per_s, m.samples_per_s)
        if event.lr is not None:
            m.lr = num(event.lr)
        if event.gpu_mem_mb is not None:
            m.gpu_mem_mb = num(event.gpu_mem_mb)

    def _note_message(self, event: WorkerEvent) -> None:
        m = self.model
        if isinstance(event, CacheProgress):  # the worker decodes the images once; say so until it is done
            m.message = f"Preparing images: {event.message}" if event.fraction < 1 else ""
        elif isinstance(event, DownloadProgress):
            m.message = f"Downloading pretrained weights: {event.bytes / 1e6:.1f} of {(event.total or 0) / 1e6:.1f} MB"
        elif isinstance(event, Unfrozen):
            m.message = f"Backbone unfrozen at epoch {event.epoch}: all layers learn now."

    def _append_step_losses(self, xs: np.ndarray, ys: np.ndarray) -> None:
        """Raw and smoothed step loss; the smoothing continues where the curve left off."""
        if self._last_loss_step is not None and xs[0] <= self._last_loss_step:
            self._replay_from(float(xs[0]))
        self.loss_plot.append("step_loss", xs, ys)
        gaps = np.diff(xs, prepend=self._last_loss_step if self._last_loss_step is not None else xs[0] - 1)
        alphas = 1.0 - np.exp(-np.clip(gaps, 1, None) / LOSS_SMOOTHING_STEPS)
        smooth, self._loss_ema = ema(ys, alphas, self._loss_ema)
        self._last_loss_step = float(xs[-1])
        self.loss_plot.append("step_loss_smooth", xs, smooth)

    def _replay_from(self, step: float) -> None:
        """A resumed run restarts at its last checkpoint and logs the steps after it again: drop
        the recorded points from there so the curves do not fold back."""
        for plot in (self.loss_plot, self.lr_plot):
            plot.truncate_from(step)
        xs, ys = self.loss_plot.data("step_loss_smooth")
        self._loss_ema = float(ys[-1]) if len(ys) else None
        self._last_loss_step = float(xs[-1]) if len(xs) else None

    def show_history(self, history) -> None:
        """Draw what a run recorded before (a ``studio.train.history.RunHistory``), so a resumed
        run shows its whole history; the worker's events continue the curves."""
        m = self.model
        m.run_id = history.run_id
        m.epochs = history.epochs or m.epochs
        m.epochs_done = history.epochs_done
        m.step = history.step
        step_loss = history.get("train/loss")
        if step_loss is not None and len(step_loss.steps):
            self._append_step_losses(step_loss.steps, step_loss.values)  # the view was just cleared
            m.step = max(m.step, int(step_loss.steps[-1]))
        lr = history.get("train/lr")
        if lr is not None and len(lr.steps):
            self.lr_plot.set_series("lr", lr.steps, lr.values)
            m.lr = float(lr.values[-1])
        for key, plot, name in (("train/epoch_loss", self.loss_plot, "train_loss"), ("val/loss", self.loss_plot, "val_loss")):
            series = history.get(key)
            if series is not None and len(series.steps):
                plot.set_series(name, series.steps, series.values)
        score = "val/r2" if history.get("val/accuracy") is None and history.get("val/r2") is not None else "val/accuracy"
        if score == "val/r2":  # a regression
            self._show_score("R²")
        for key, name in (("train/accuracy", "train_accuracy"), (score, "val_accuracy")):
            series = history.get(key)
            if series is not None and len(series.steps):
                self.acc_plot.set_series(name, series.epochs, series.values)
        val_loss, val_acc = history.get("val/loss"), history.get(score)
        if val_loss is not None and len(val_loss.values):
            m.val_loss = float(val_loss.values[-1])
        if val_acc is not None and len(val_acc.values):
            m.val_accuracy = float(val_acc.values[-1])
            m.best_val_accuracy = float(np.nanmax(val_acc.values))
            m.epochs_done = max(m.epochs_done, int(val_acc.epochs.max()))
        self._update_extents()
        self._update_title()
        self._refresh_labels()

    def _update_extents(self) -> None:
        """Once the run's length is known the axes span exactly the run (not 1-2-5 steps past it)."""
        m = self.model
        if m.epochs:
            self.acc_plot.set_x_extent(m.epochs)
            if m.steps_per_epoch:
                self.loss_plot.set_x_extent(m.epochs * m.steps_per_epoch)
                self.lr_plot.set_x_extent(m.epochs * m.steps_per_epoch)

    def _on_start(self, event: Started) -> None:
        m = self.model
        m.run_id = event.run_id
        m.epochs = event.epochs
        m.batch_size = event.batch_size
        m.device = event.device
        m.model = event.model
        m.status = RunStatus.RUNNING
        unit = "Images" if event.image_size else (event.unit or "rows").capitalize()  # image size 0: a table or texts
        self.stats["speed"].caption.setText(f"{unit}/s")
        self._update_extents()
        self._update_title()

    def _on_data(self, event: DataReady) -> None:
        m = self.model
        m.dataset = event.dataset or m.dataset
        if event.steps_per_epoch:
            m.steps_per_epoch = event.steps_per_epoch
        elif event.train_samples and m.batch_size:
            m.steps_per_epoch = math.ceil(event.train_samples / m.batch_size)
        if event.resumed_from_epoch:
            m.epochs_done = event.resumed_from_epoch
        if event.notes:
            m.message = " ".join(str(n) for n in event.notes)
        self._update_extents()
        self._update_title()

    def _update_title(self) -> None:
        m = self.model
        bits = [f"Run {m.run_id}" if m.run_id is not None else "Run"]
        if m.model:
            bits.append(m.model)
        if m.dataset:
            bits.append(f"on {m.dataset}")
        if m.device:
            bits.append(f"· {m.device}")
        self.title.setText(" ".join(bits))

    def _on_epoch(self, event: EpochCompleted) -> None:
        m = self.model
        m.epochs_done = event.epoch
        if event.eta_s is not None:
            m.eta_s, m.eta_stamp = num(event.eta_s), time.monotonic()
        # the epoch's own last step (steps are only logged every log_every, so m.step may lag it)
        x_step = [event.step]
        r2 = (event.scores or {}).get("val_r2")
        if event.val_accuracy is None and r2 is not None:  # a regression: its score is R² (1 = exact)
            self._show_score("R²")
        m.val_loss, m.val_accuracy = num(event.val_loss), num(event.val_accuracy if r2 is None else r2)
        self.loss_plot.append("train_loss", x_step, [num(event.train_loss)])
        self.loss_plot.append("val_loss", x_step, [m.val_loss])
        if event.train_accuracy is not None:  # a regression has none
            self.acc_plot.append("train_accuracy", [event.epoch], [num(event.train_accuracy)])
        self.acc_plot.append("val_accuracy", [event.epoch], [m.val_accuracy])
        if not (m.best_val_accuracy >= m.val_accuracy):
            m.best_val_accuracy = m.val_accuracy

    def _on_finished(self, event: Finished) -> None:
        m = self.model
        m.done = event
        m.status = event.status
        best = event.metrics.get("val_accuracy", event.metrics.get("val_r2"))  # the metrics of the best epoch
        if best is not None:
            m.best_val_accuracy = num(best)
        if event.error:
            m.message = event.error

    def _show_score(self, name: str) -> None:
        """The score plotted and shown beside the loss: "accuracy", or "R²" for a regression."""
        if self._score == name:
            return
        self._score = name
        short = "acc" if name == "accuracy" else name
        self.acc_plot.getPlotItem().setTitle(name.capitalize() if name == "accuracy" else f"Val {name}", color="#333",
                                             size="10pt")
        self.acc_plot.getPlotItem().setLabel("left", name)
        self.stats["val"].caption.setText(f"Val loss / {short}")
        self.stats["best"].caption.setText(f"Best val {short}")

    # ---- controls --------------------------------------------------------------------------
    def request_stop(self) -> None:
        if self._proc is not None and self._proc.request_stop():
            self.model.status = STOPPING
            self.stop_button.setEnabled(False)
            self.pause_button.setEnabled(False)
            self._refresh_labels()

    def _toggle_pause(self) -> None:
        if self._proc is None:
            return
        if self._paused:
            if self._proc.resume():
                self._paused = False
                self.model.set_paused(False)
        elif self._proc.pause():
            self._paused = True
            self.model.set_paused(True)
        self._refresh_labels()

    def _set_controls(self, running: bool) -> None:
        self.stop_button.setEnabled(running)
        self.pause_button.setEnabled(running)

    def _on_process_finished(self, exit_code: int, reason: str) -> None:
        m = self.model
        if m.done is None:
            m.status = RunStatus.FAILED if exit_code != 0 else (m.status or RunStatus.COMPLETED)
        if reason and (exit_code != 0 or m.status == RunStatus.FAILED):
            m.message = reason
        self._set_controls(running=False)
        self._paused = False
        self._refresh_labels()
        for plot in (self.loss_plot, self.acc_plot, self.lr_plot):
            plot.flush()
        self.run_finished.emit(int(m.run_id if m.run_id is not None else -1), str(m.status))

    # ---- labels ----------------------------------------------------------------------------
    def _refresh_labels(self) -> None:
        m = self.model
        self.pause_button.setText("Resume" if self._paused else "Pause")
        epochs = f" / {m.epochs}" if m.epochs else ""
        current = min(m.epochs_done + (0 if m.done else 1), m.epochs) if m.epochs else m.epochs_done + 1
        status = f" · {m.status}" if m.status else ""
        self.epoch_label.setText(f"Epoch {current}{epochs}{status}" if m.run_id is not None or m.step else "Epoch –")
        self.epoch_bar.setValue(int(1000 * m.epoch_fraction()))
        if m.epochs:
            done = 1.0 if m.done and m.status == RunStatus.COMPLETED else (m.epochs_done + m.epoch_fraction() * (m.done is None)) / m.epochs
            self.total_bar.setValue(int(1000 * min(done, 1.0)))
        s = self.stats
        s["step"].set(f"{m.step:,}" if m.step else "–")
        s["loss"].set(_fmt(self._loss_ema, "{:.4f}"))
        score = "{:.1%}" if self._score == "accuracy" else "{:.3f}"
        s["val"].set(f"{_fmt(m.val_loss, '{:.3f}')} / {_fmt(m.val_accuracy, score)}")
        s["best"].set(_fmt(m.best_val_accuracy, score))
        s["lr"].set(_fmt(m.lr, "{:.2e}"))
        s["speed"].set(_fmt(m.samples_per_s, "{:,.0f}"))
        s["eta"].set("done" if m.done else format_duration(m.eta_now()))
        s["gpu"].set(f"{m.gpu_mem_mb:,.0f} MB" if m.gpu_mem_mb is not None and math.isfinite(m.gpu_mem_mb) else "–")
        if m.message != self.message_label.text():
            self.message_label.setText(m.message)


def _fmt(value: float | None, pattern: str) -> str:
    if value is None or not math.isfinite(value):
        return "–"
    return pattern.format(value)
