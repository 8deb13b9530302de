"""The numbers of one live training run, as the worker's events arrive (pure Python: no Qt; the
live view reads them on its label timer)."""

from __future__ import annotations

import math
import time

from studio.core.run_status import RunStatus
from studio.train.events import Finished

STOPPING = "stopping"  # shown from Stop until the worker says how the run ended (not a run status)


def format_duration(seconds: float | None) -> str:
    """'1h 05m', '3m 07s', '42s'; '–' when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{secs}s"


def num(value, default: float = float("nan")) -> float:
    """``value`` as a float, ``default`` when it is missing or not a number."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


class LiveRunModel:
    """The numbers of one run as events arrive (pure Python; the view reads it)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.run_id: int | None = None
        self.status = ""  # a RunStatus, or "stopping" while a stop is on its way
        self.epochs = 0
        self.steps_per_epoch = 0
        self.step = 0
        self.epoch = 0.0
        self.epochs_done = 0
        self.batch_size = 0
        self.loss = float("nan")
        self.lr = float("nan")
        self.samples_per_s = float("nan")
        self.eta_s: float | None = None
        self.eta_stamp = 0.0  # time.monotonic() when eta_s was reported
        self.gpu_mem_mb: float | None = None
        self.val_loss = float("nan")
        self.val_accuracy = float("nan")
        self.best_val_accuracy = float("nan")
        self.message = ""
        self.done: Finished | None = None
        self.device = ""
        self.model = ""
        self.dataset = ""

    def eta_now(self) -> float | None:
        """Seconds left: the worker's estimate (at each epoch end) counting down; before the first
        epoch ends, remaining steps x batch size / images per second."""
        if self.eta_s is not None and math.isfinite(self.eta_s):
            if self.status == RunStatus.PAUSED:
                return self.eta_s  # frozen while paused (see LiveTrainingView.feed)
            return max(self.eta_s - (time.monotonic() - self.eta_stamp), 0.0)
        if self.steps_per_epoch and self.epochs and self.batch_size and self.samples_per_s > 0:
            remaining = self.epochs * self.steps_per_epoch - self.step
            return max(remaining, 0) * self.batch_size / self.samples_per_s
        return None

    def set_paused(self, paused: bool) -> None:
        """Status paused/running; the ETA countdown stops while paused."""
        if paused and self.status != RunStatus.PAUSED:
            self.eta_s = self.eta_now()
        if paused or self.status == RunStatus.PAUSED:
            self.eta_stamp = time.monotonic()
        self.status = RunStatus.PAUSED if paused else RunStatus.RUNNING

    def epoch_fraction(self) -> float:
        """How far the current epoch is, 0..1."""
        if self.done is not None:
            return 1.0
        if self.steps_per_epoch > 0 and self.step:
            into_epoch = self.step - self.epochs_done * self.steps_per_epoch
            return min(max(into_epoch / self.steps_per_epoch, 0.0), 1.0)
        return 0.0
