"""The Ignite-style engine: events in order, every/once filters, stop, pause, resume, early stop."""

from __future__ import annotations

import threading
import time

import pytest

from studio.train.engine import Engine, Events
from studio.train.handlers import EarlyStopping, NaNGuard, TrainingFailed


def counting_engine():
    return Engine(lambda engine, batch: {"loss": float(batch), "n": 1})


def test_events_fire_in_order():
    engine = counting_engine()
    log = []
    for event in Events:
        if event is not Events.EXCEPTION_RAISED:
            engine.on(event, lambda e, ev=event: log.append((ev.name, e.state.epoch, e.state.iteration)))
    state = engine.run(lambda epoch, skip: list(range(3))[skip:], max_epochs=2)
    names = [n for n, *_ in log]
    assert names[0] == "STARTED" and names[-1] == "COMPLETED"
    assert names.count("ITERATION_COMPLETED") == 6 and names.count("EPOCH_COMPLETED") == 2
    assert ("EPOCH_COMPLETED", 2, 6) in log
    assert state.completed and state.epoch == 2 and state.iteration == 6


def test_every_and_once_filters():
    engine = counting_engine()
    every, once, epochs = [], [], []
    engine.on(Events.ITERATION_COMPLETED(every=4), lambda e: every.append(e.state.iteration))
    engine.on(Events.ITERATION_COMPLETED(once=5), lambda e: once.append(e.state.iteration))
    engine.on(Events.EPOCH_COMPLETED(every=2), lambda e: epochs.append(e.state.epoch))
    engine.run([1, 2, 3], max_epochs=5)
    assert every == [4, 8, 12] and once == [5] and epochs == [2, 4]
    with pytest.raises(ValueError):
        Events.ITERATION_COMPLETED(every=0)


def test_decorator_and_handler_args():
    engine = counting_engine()
    seen = []

    @engine.on(Events.EPOCH_COMPLETED)
    def record(e):
        seen.append(e.state.output["loss"])

    engine.on(Events.COMPLETED, lambda e, tag: seen.append(tag), "done")
    engine.run([1.0, 2.0], max_epochs=2)
    assert seen == [2.0, 2.0, "done"]


def test_stop_finishes_the_step_and_reports_it():
    engine = counting_engine()
    completed = []
    engine.on(Events.ITERATION_COMPLETED(once=5), lambda e: e.stop())
    engine.on(Events.EPOCH_COMPLETED, lambda e: completed.append(e.state.epoch))
    state = engine.run(lambda epoch, skip: range(skip, 3), max_epochs=10, epoch_length=3)
    assert state.iteration == 5 and not state.completed and state.stop_reason == "stopped"
    assert completed == [1] and state.epoch == 1  # epoch 2 was interrupted: it does not count
    assert state.epoch_iteration == 2


def test_stop_on_the_last_batch_of_an_epoch_completes_that_epoch():
    engine = counting_engine()
    engine.on(Events.ITERATION_COMPLETED(once=6), lambda e: e.stop())
    state = engine.run(lambda epoch, skip: range(skip, 3), max_epochs=10, epoch_length=3)
    assert state.epoch == 2 and state.iteration == 6


def test_resume_inside_an_epoch_skips_done_batches():
    engine = counting_engine()
    batches = []
    engine.on(Events.ITERATION_COMPLETED, lambda e: batches.append((e.state.epoch, e.state.output["loss"])))
    engine.run(lambda epoch, skip: range(skip, 4), max_epochs=3, start_epoch=1, start_iteration=6, start_epoch_iteration=2)
    assert batches == [(2, 2.0), (2, 3.0), (3, 0.0), (3, 1.0), (3, 2.0), (3, 3.0)]
    assert engine.state.iteration == 12


def test_pause_blocks_between_iterations_until_resume():
    started = threading.Event()

    def step(engine, batch):
        started.set()
        return {"loss": 0.0}

    engine = Engine(step)
    engine.pause()
    runner = threading.Thread(target=engine.run, args=([1, 2, 3],), kwargs={"max_epochs": 1})
    runner.start()
    time.sleep(0.3)
    assert not started.is_set() and engine.is_paused
    engine.resume()
    runner.join(timeout=10)
    assert started.is_set() and engine.state.completed


def test_stop_wakes_a_paused_engine():
    engine = counting_engine()
    engine.on(Events.ITERATION_COMPLETED(once=1), lambda e: e.pause())
    runner = threading.Thread(target=engine.run, args=([1, 2, 3],), kwargs={"max_epochs": 1})
    runner.start()
    time.sleep(0.2)
    assert runner.is_alive()
    engine.stop()
    runner.join(timeout=10)
    assert not runner.is_alive() and engine.state.iteration == 1


def test_exception_handlers_get_the_error_else_it_propagates():
    def boom(engine, batch):
        raise RuntimeError("bad batch")

    engine = Engine(boom)
    with pytest.raises(RuntimeError, match="bad batch"):
        engine.run([1])
    caught = []
    engine.on(Events.EXCEPTION_RAISED, lambda e, exc: caught.append(str(exc)))
    engine.run([1])
    assert caught == ["bad batch"]


def test_early_stopping_stops_after_patience_epochs_without_improvement():
    scores = iter([0.5, 0.6, 0.6, 0.55, 0.59, 0.9])
    engine = counting_engine()
    engine.on(Events.EPOCH_COMPLETED, lambda e: e.state.metrics.update(val_accuracy=next(scores)))
    EarlyStopping(patience=3).attach(engine)
    state = engine.run([1], max_epochs=6)
    assert state.epoch == 5 and "early stopping" in state.stop_reason and not state.completed


def test_nan_guard_names_the_step():
    engine = Engine(lambda e, b: {"loss": float("nan") if b == 3 else 1.0})
    NaNGuard().attach(engine)
    with pytest.raises(TrainingFailed, match="loss became NaN at step 3 - try a lower learning rate"):
        engine.run([1, 2, 3, 4])


def test_step_events_carry_no_gpu_memory_when_training_on_cpu():
    from studio.train.handlers import gpu_memory_mb

    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA machine: covered by tests/train/test_gpu.py")
    assert gpu_memory_mb() is None
