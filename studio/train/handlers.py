"""Small handler objects attached to the Engine, each doing one thing: the epoch's train metrics,
validation, unfreezing the backbone, early stopping, the NaN guard, progress, stop requests and
the step and epoch events. Each is a plain object with ``attach(engine)``; the ones that write to
the library or the disk are in studio.train.recording."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from torch import nn

from studio.core.jobs import JobState
from studio.train import zoo
from studio.train.engine import Engine, Events
from studio.train.events import EpochCompleted, Step, Unfrozen, WorkerEvent

EmitEvent = Callable[[WorkerEvent], None]
EPOCH_METRICS = ("train_loss", "train_accuracy", "val_loss", "val_accuracy")


class TrainingFailed(Exception):
    """The run cannot go on; the message is for the user and goes into run.error."""


class NaNGuard:
    """Stop the run when the loss is not finite (a too-high learning rate, usually)."""

    def attach(self, engine: Engine) -> None:
        engine.on(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        loss = engine.state.output["loss"]
        if not math.isfinite(loss):
            raise TrainingFailed(f"loss became NaN at step {engine.state.iteration} - try a lower learning rate")


class EarlyStopping:
    """Stop when ``score_name`` (higher is better, or lower with ``lower_is_better``) has not
    improved for ``patience`` epochs."""

    def __init__(self, patience: int, score_name: str = "val_accuracy", min_delta: float = 0.0,
                 lower_is_better: bool = False):
        self.patience, self.score_name, self.min_delta = patience, score_name, min_delta
        self.sign = -1.0 if lower_is_better else 1.0
        self.best: float | None = None
        self.counter = 0

    def attach(self, engine: Engine) -> None:
        engine.on(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        score = engine.state.metrics.get(self.score_name)
        if score is None:
            return
        score *= self.sign
        if self.best is None or score > self.best + self.min_delta:
            self.best, self.counter = score, 0
            return
        self.counter += 1
        if self.counter >= self.patience:
            engine.stop(f"early stopping: no {self.score_name} improvement in {self.patience} epochs")

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "counter": self.counter}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best, self.counter = state.get("best"), int(state.get("counter", 0))


class EpochStats:
    """The epoch's mean train loss and accuracy, summed from each step's {"loss", "correct", "n"}
    (no "correct": a regression, whose train accuracy is None), and its clock: ``train_seconds``
    (the steps) and ``seconds()`` (so far, validation included)."""

    def __init__(self) -> None:
        self._t0 = time.perf_counter()
        self.loss_sum, self.correct, self.n = 0.0, 0, 0
        self.counts_correct = False
        self.train_seconds = 0.0

    def attach(self, engine: Engine) -> None:
        engine.on(Events.EPOCH_STARTED, self._start)
        engine.on(Events.ITERATION_COMPLETED, self._add)
        engine.on(Events.EPOCH_COMPLETED, self._end_of_steps)

    def _start(self, _engine: Engine) -> None:
        self._t0 = time.perf_counter()
        self.loss_sum, self.correct, self.n = 0.0, 0, 0

    def _add(self, engine: Engine) -> None:
        out = engine.state.output
        self.loss_sum += out["loss"] * out["n"]
        if "correct" in out:
            self.correct += out["correct"]
            self.counts_correct = True
        self.n += out["n"]

    def _end_of_steps(self, _engine: Engine) -> None:
        self.train_seconds = self.seconds()

    def seconds(self) -> float:
        return time.perf_counter() - self._t0

    def metrics(self) -> dict[str, float | None]:
        accuracy = self.correct / max(self.n, 1) if self.counts_correct else None
        return {"train_loss": self.loss_sum / max(self.n, 1), "train_accuracy": accuracy}


class Validation:
    """At each epoch end: ``validate()`` -> (loss, accuracy), or a dict of named val metrics
    ({"val_loss", "val_f1", ...}); then the epoch's train and val metrics go into
    ``engine.state.metrics`` for the handlers after it. ``share`` makes every DDP rank use rank 0's
    numbers, so all ranks decide the same (early stopping)."""

    def __init__(self, validate: Callable[[], tuple[float, float] | dict[str, float]], stats: EpochStats,
                 share: Callable[[list[float]], list[float]] = lambda values: values):
        self.validate, self.stats, self.share = validate, stats, share

    def attach(self, engine: Engine) -> None:
        engine.on(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        scores = self.validate()
        if not isinstance(scores, dict):
            scores = dict(zip(("val_loss", "val_accuracy"), scores))
        shared = dict(zip(scores, self.share(list(scores.values()))))
        engine.state.metrics.update({**self.stats.metrics(), **shared})


class Unfreezer:
    """With the backbone frozen, unfreezes it when epoch ``after + 1`` starts (0: never), and says so.
    ``frozen`` goes into the checkpoint, so a resumed run continues as it was."""

    def __init__(self, model: nn.Module, architecture: str, after: int, frozen: bool, emit: EmitEvent):
        self.model, self.architecture, self.after, self.emit = model, architecture, after, emit
        self.frozen = frozen

    def attach(self, engine: Engine) -> None:
        engine.on(Events.EPOCH_STARTED, self)

    def __call__(self, engine: Engine) -> None:
        if self.frozen and self.after and engine.state.epoch > self.after:
            self._set(False)
            self.emit(Unfrozen(epoch=engine.state.epoch))

    def _set(self, frozen: bool) -> None:
        self.frozen = frozen
        zoo.freeze_backbone(self.model, self.architecture, frozen)

    def state_dict(self) -> dict[str, Any]:
        return {"frozen": self.frozen}

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        self._set(bool(checkpoint.get("frozen", self.frozen)))


class JobProgress:
    """The run's progress on its JobState: ``start`` (the image cache's share) up to 1 at the last step."""

    def __init__(self, job: JobState, start: float):
        self.job, self.start = job, start

    def attach(self, engine: Engine) -> None:
        engine.on(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        st = engine.state
        total = st.max_epochs * (st.epoch_length or 1)
        self.job.set_progress(self.start + (1 - self.start) * st.iteration / total, f"epoch {st.epoch}/{st.max_epochs}")


class StopOnRequest:
    """Stops the engine after the step in which ``requested()`` turned true (a user's stop).
    Under DDP ``requested`` asks every rank, so all ranks stop after the same step."""

    REASON = "stopped"  # engine.state.stop_reason: the run ends "stopped", not "completed"

    def __init__(self, requested: Callable[[], bool]):
        self.requested = requested

    def attach(self, engine: Engine) -> None:
        engine.on(Events.ITERATION_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        if self.requested():
            engine.stop(self.REASON)


class StepLogger:
    """Emits a Step event every ``every`` iterations with loss, lr and throughput."""

    def __init__(self, emit: EmitEvent, every: int, lr: Callable[[], float]):
        self.emit, self.every, self.lr = emit, every, lr
        self._t0 = time.perf_counter()
        self._samples = 0

    def attach(self, engine: Engine) -> None:
        engine.on(Events.EPOCH_STARTED, self._reset)
        engine.on(Events.ITERATION_COMPLETED, self._count)
        engine.on(Events.ITERATION_COMPLETED(every=self.every), self)

    def _reset(self, _engine: Engine) -> None:
        self._t0, self._samples = time.perf_counter(), 0

    def _count(self, engine: Engine) -> None:
        self._samples += engine.state.output["n"]

    def __call__(self, engine: Engine) -> None:
        elapsed = max(time.perf_counter() - self._t0, 1e-9)
        self.emit(Step(step=engine.state.iteration, epoch=engine.state.epoch, loss=round(engine.state.output["loss"], 6),
                       lr=self.lr(), samples_per_s=round(self._samples / elapsed, 1), gpu_mem_mb=gpu_memory_mb()))


class EpochReporter:
    """Emits an EpochCompleted event with the metrics, the epoch's time and the time left (the mean
    epoch time in this process times the epochs to go)."""

    def __init__(self, emit: EmitEvent, stats: EpochStats):
        self.emit, self.stats = emit, stats
        self._t_start = time.perf_counter()
        self._epochs_timed = 0

    def attach(self, engine: Engine) -> None:
        engine.on(Events.STARTED, self._start)
        engine.on(Events.EPOCH_COMPLETED, self)

    def _start(self, _engine: Engine) -> None:
        self._t_start, self._epochs_timed = time.perf_counter(), 0

    def __call__(self, engine: Engine) -> None:
        st = engine.state
        self._epochs_timed += 1
        per_epoch = (time.perf_counter() - self._t_start) / self._epochs_timed
        metrics = {name: _rounded(st.metrics.get(name)) for name in EPOCH_METRICS}
        scores = {name: _rounded(value) for name, value in st.metrics.items()
                  if name.startswith("val_") and name not in EPOCH_METRICS}
        self.emit(EpochCompleted(epoch=st.epoch, step=st.iteration, **metrics, scores=scores or None,
                                 eta_s=round(per_epoch * (st.max_epochs - st.epoch), 1),
                                 seconds=round(self.stats.seconds(), 3), train_seconds=round(self.stats.train_seconds, 3)))


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


def gpu_memory_mb() -> float | None:
    """Peak CUDA memory this process allocated, in MB; None when not training on CUDA."""
    import torch

    if not (torch.cuda.is_available() and torch.cuda.is_initialized()):
        return None
    return round(torch.cuda.max_memory_allocated() / 2**20, 1)
