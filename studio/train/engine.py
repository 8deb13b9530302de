"""A small Ignite-style engine: a process function per batch, events, filtered handlers, stop/pause.

    engine = Engine(train_step)
    engine.on(Events.ITERATION_COMPLETED(every=50), log_loss)
    engine.on(Events.EPOCH_COMPLETED, evaluate)
    engine.run(loader.epoch, max_epochs=10, epoch_length=len(loader))

``data`` is a function ``(epoch, skip) -> iterable of batches`` (or one re-iterable), so the data order
can be a function of the epoch. stop() and pause() are flags checked between iterations; they are
safe to call from another thread or a signal handler. No Qt, no I/O: handlers do that.
"""

from __future__ import annotations

import itertools
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

Handler = Callable[..., Any]


class Events(Enum):
    STARTED = "started"
    EPOCH_STARTED = "epoch_started"
    ITERATION_STARTED = "iteration_started"
    ITERATION_COMPLETED = "iteration_completed"
    EPOCH_COMPLETED = "epoch_completed"
    COMPLETED = "completed"
    EXCEPTION_RAISED = "exception_raised"

    def __call__(self, every: int | None = None, once: int | None = None) -> EventFilter:
        """``Events.ITERATION_COMPLETED(every=50)``: fire on every 50th iteration (or only ``once=N``)."""
        if (every is None) == (once is None):
            raise ValueError("give exactly one of every= or once=")
        if (every or once or 0) < 1:
            raise ValueError("every/once must be >= 1")
        return EventFilter(self, every=every, once=once)


@dataclass(frozen=True)
class EventFilter:
    event: Events
    every: int | None = None
    once: int | None = None

    def matches(self, state: State) -> bool:
        count = state.epoch if self.event in (Events.EPOCH_STARTED, Events.EPOCH_COMPLETED) else state.iteration
        if self.every is not None:
            return count % self.every == 0
        return count == self.once


@dataclass
class State:
    epoch: int = 0  # the epoch running now (1-based); completed epochs after EPOCH_COMPLETED
    iteration: int = 0  # global step count
    epoch_iteration: int = 0  # batches done in the current epoch
    max_epochs: int = 1
    epoch_length: int | None = None
    output: Any = None  # what the process function returned for the last batch
    batch: Any = None
    metrics: dict[str, Any] = field(default_factory=dict)
    stop_reason: str = ""  # why the run ended early ("" = ran all epochs)
    completed: bool = False  # True when all epochs ran
    exception: BaseException | None = None


class Engine:
    def __init__(self, process_function: Callable[[Engine, Any], Any]):
        self.process_function = process_function
        self.state = State()
        self._handlers: dict[Events, list[tuple[EventFilter | None, Handler, tuple]]] = defaultdict(list)
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()  # set = not paused
        self._epoch_done = False

    # --- handlers -------------------------------------------------------------------------
    def on(self, event: Events | EventFilter, handler: Handler | None = None, *args: Any):
        """Register ``handler(engine, *args)``; usable as a decorator when ``handler`` is omitted."""
        if handler is None:
            return lambda fn: self.on(event, fn, *args) or fn
        if isinstance(event, EventFilter):
            self._handlers[event.event].append((event, handler, args))
        else:
            self._handlers[event].append((None, handler, args))
        return handler

    def fire(self, event: Events, *extra: Any) -> None:
        for flt, handler, args in list(self._handlers[event]):
            if flt is None or flt.matches(self.state):
                handler(self, *extra, *args)

    # --- control (thread- and signal-safe) ---------------------------------------------------
    def stop(self, reason: str = "stopped") -> None:
        """End after the current iteration (the run then fires COMPLETED with state.stop_reason set)."""
        if not self._stop.is_set():
            self.state.stop_reason = reason
        self._stop.set()
        self._running.set()  # a paused engine must wake up to stop

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def is_paused(self) -> bool:
        return not self._running.is_set()

    @property
    def should_stop(self) -> bool:
        return self._stop.is_set()

    # --- the loop ---------------------------------------------------------------------------
    def run(
        self,
        data: Callable[[int], Iterable[Any]] | Iterable[Any],
        max_epochs: int = 1,
        *,
        start_epoch: int = 0,
        start_iteration: int = 0,
        start_epoch_iteration: int = 0,
        epoch_length: int | None = None,
    ) -> State:
        """Run epochs ``start_epoch + 1 .. max_epochs``; resume inside an epoch with start_epoch_iteration.

        A callable ``data`` is called as ``data(epoch, skip)``: the batches of that epoch after the
        first ``skip`` ones. Give ``epoch_length`` so a stop on an epoch's last batch counts as done."""
        self.state = State(epoch=start_epoch, iteration=start_iteration, max_epochs=max_epochs, epoch_length=epoch_length)
        skip = start_epoch_iteration
        try:
            self.fire(Events.STARTED)
            while self.state.epoch < max_epochs and not self.should_stop:
                self.state.epoch += 1
                self.state.epoch_iteration = skip
                self.fire(Events.EPOCH_STARTED)
                self._run_epoch(data, skip)
                skip = 0
                if self._epoch_done:
                    self.fire(Events.EPOCH_COMPLETED)
                else:
                    self.state.epoch -= 1  # an interrupted epoch does not count as done
            self.state.completed = not self.should_stop and self.state.epoch >= max_epochs
            self.fire(Events.COMPLETED)
        except BaseException as exc:
            self.state.exception = exc
            if not self._handlers[Events.EXCEPTION_RAISED]:
                raise
            self.fire(Events.EXCEPTION_RAISED, exc)
        return self.state

    def _batches(self, data: Callable[[int, int], Iterable[Any]] | Iterable[Any], skip: int) -> Iterable[Any]:
        if callable(data):
            return data(self.state.epoch, skip)
        return itertools.islice(data, skip, None)

    def _run_epoch(self, data: Callable[..., Iterable[Any]] | Iterable[Any], skip: int) -> None:
        self._epoch_done = False
        for batch in self._batches(data, skip):
            self._running.wait()
            if self.should_stop:
                return
            self.state.batch = batch
            self.state.iteration += 1
            self.state.epoch_iteration += 1
            self.fire(Events.ITERATION_STARTED)
            self.state.output = self.process_function(self, batch)
            self.fire(Events.ITERATION_COMPLETED)
            if self.state.epoch_length and self.state.epoch_iteration >= self.state.epoch_length:
                break
            if self.should_stop:
                return
        self._epoch_done = True
