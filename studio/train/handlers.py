"""Small handler objects attached to the Engine: metrics to the DB, heartbeat, NaN guard,
early stopping, JSON-lines logging. Each is a plain object with ``attach(engine)``."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import update

from studio.store.models import Metric, Run, utcnow
from studio.train.engine import Engine, Events

if TYPE_CHECKING:
    from studio.store.library import Library

Emit = Callable[[dict[str, Any]], None]


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
    """Stop when ``score_name`` (higher is better) has not improved for ``patience`` epochs."""

    def __init__(self, patience: int, score_name: str = "val_accuracy", min_delta: float = 0.0):
        self.patience, self.score_name, self.min_delta = patience, score_name, min_delta
        self.best: float | None = None
        self.counter = 0

    def attach(self, engine: Engine) -> None:
        engine.on(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        score = engine.state.metrics.get(self.score_name)
        if score is None:
            return
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


class MetricsSink:
    """Buffers metric rows and writes them in one short transaction every ``flush_s`` seconds."""

    def __init__(self, lib: Library, run_id: int, flush_s: float = 5.0):
        self.lib, self.run_id, self.flush_s = lib, run_id, flush_s
        self._rows: list[dict[str, Any]] = []
        self._last_flush = time.monotonic()

    def add(self, step: int, epoch: float, split: str, **values: float) -> None:
        now = time.time()
        for name, value in values.items():
            if value is not None and math.isfinite(float(value)):
                self._rows.append(dict(run_id=self.run_id, step=step, epoch=epoch, split=split,
                                       name=name, value=float(value), time=now))
        if time.monotonic() - self._last_flush >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        with self.lib.transaction() as s:
            s.execute(Metric.__table__.insert(), rows)


class Heartbeat:
    """A thread that stamps run.heartbeat_at (and step/epoch) every few seconds, paused or not,
    so a dead worker can be told from a slow one."""

    def __init__(self, lib: Library, run_id: int, every_s: float = 5.0):
        self.lib, self.run_id, self.every_s = lib, run_id, every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._engine: Engine | None = None

    def attach(self, engine: Engine) -> None:
        """Report this engine's step; the beat itself runs from start() to stop(), around the
        whole run (cache building included), so a long cache build does not look dead."""
        self._engine = engine

    def beat(self) -> None:
        values: dict[str, Any] = {"heartbeat_at": utcnow()}
        if self._engine is not None:
            values.update(step=self._engine.state.iteration)
        with self.lib.transaction() as s:
            s.execute(update(Run).where(Run.id == self.run_id).values(**values))

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.beat()
            except Exception:  # a locked DB must not kill the worker; the next beat retries
                pass

    def start(self) -> None:
        self.beat()
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class StepLogger:
    """Emits {"event": "step", ...} every ``every`` iterations with loss, lr and throughput."""

    def __init__(self, emit: Emit, every: int, lr: Callable[[], float]):
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
        out = engine.state.output
        event = {"event": "step", "step": engine.state.iteration, "epoch": engine.state.epoch,
                 "loss": round(out["loss"], 6), "lr": self.lr(), "samples_per_s": round(self._samples / elapsed, 1)}
        gpu_mb = gpu_memory_mb()
        if gpu_mb is not None:
            event["gpu_mem_mb"] = gpu_mb
        self.emit(event)


def gpu_memory_mb() -> float | None:
    """Peak CUDA memory this process allocated, in MB; None when not training on CUDA."""
    import torch

    if not (torch.cuda.is_available() and torch.cuda.is_initialized()):
        return None
    return round(torch.cuda.max_memory_allocated() / 2**20, 1)
