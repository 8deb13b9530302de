"""The handlers that keep what a run did, each alone: metric rows, the heartbeat (whose failures
are logged, not swallowed), the best model, the checkpoint and the run row."""

from __future__ import annotations

import logging
from contextlib import contextmanager

import pytest
import torch
from sqlalchemy import select

from studio.core.jobs import JobState
from studio.store.library import Library
from studio.store.models import Checkpoint, Run
from studio.train.checkpoints import load_checkpoint
from studio.train.engine import Engine, Events
from studio.train.events import CheckpointSaved, Paused
from studio.train.handlers import EarlyStopping
from studio.train.recording import (
    BestModelSaver,
    Checkpointer,
    Heartbeat,
    MetricsRecorder,
    RunRecorder,
)
from studio.train.run_context import Distributed, RunContext


def metric_engine(val: list[tuple[float, float]]) -> Engine:
    """Steps of loss 0.5; at each epoch end the (val_accuracy, val_loss) of ``val`` in turn."""
    scores = iter(val)
    engine = Engine(lambda e, batch: {"loss": 0.5, "correct": 1, "n": 2})

    def metrics(e: Engine) -> None:
        acc, loss = next(scores)
        e.state.metrics.update(train_loss=0.5, train_accuracy=0.5, val_loss=loss, val_accuracy=acc)

    engine.on(Events.EPOCH_COMPLETED, metrics)
    return engine


class FakeSink:
    def __init__(self):
        self.rows, self.flushes = [], 0

    def add(self, step, epoch, split, **values):
        self.rows.append((step, epoch, split, values))

    def flush(self):
        self.flushes += 1


def test_metrics_recorder_writes_step_rows_every_n_and_epoch_rows_at_once():
    sink, engine = FakeSink(), metric_engine([(0.6, 0.9)])
    MetricsRecorder(sink, every=2, lr=lambda: 0.1).attach(engine)
    engine.run([1, 2, 3, 4], epoch_length=4)
    assert sink.rows[:2] == [(2, 0.5, "train", {"loss": 0.5, "lr": 0.1}), (4, 1.0, "train", {"loss": 0.5, "lr": 0.1})]
    assert sink.rows[2:] == [(4, 1.0, "val", {"loss": 0.9, "accuracy": 0.6}),
                             (4, 1.0, "train", {"epoch_loss": 0.5, "accuracy": 0.5})]
    assert sink.flushes == 2  # at the epoch's end, and when the run ends


def test_best_model_saver_saves_only_better_epochs_and_breaks_ties_by_val_loss():
    saved = []
    engine = metric_engine([(0.5, 1.0), (0.7, 0.9), (0.7, 0.8), (0.7, 0.85), (0.6, 0.1)])
    best = BestModelSaver(saved.append)
    improved = []
    best.attach(engine)
    engine.on(Events.EPOCH_COMPLETED, lambda e: improved.append(best.improved))
    engine.run([1], max_epochs=5)
    assert improved == [True, True, True, False, False]
    assert [m["epoch"] for m in saved] == [1, 2, 3]
    assert best.metrics == {"train_loss": 0.5, "train_accuracy": 0.5, "val_loss": 0.8, "val_accuracy": 0.7, "epoch": 3}
    again = BestModelSaver(saved.append)
    again.load_state_dict(best.state_dict())
    assert again.score == best.score and again.metrics == best.metrics


def test_keep_later_keeps_a_later_epoch_within_the_noise_of_the_best_but_never_drifts_down():
    from studio.train.text.run import within_validation_noise

    saved = []
    # 200 validation texts: one standard error at 0.78 is 0.029
    engine = metric_engine([(0.535, 0.68), (0.78, 0.51), (0.775, 0.52), (0.765, 0.55), (0.74, 0.6), (0.76, 0.6)])
    best = BestModelSaver(saved.append, keep_later=lambda m, peak: within_validation_noise(m, peak, 200))
    best.attach(engine)
    engine.run([1], max_epochs=6)
    # 0.775 and 0.765 are within 0.029 of the peak 0.78; 0.74 is not, and 0.76 is measured against
    # the peak (0.78), not against the last kept epoch, so a slow slide cannot carry the choice down
    assert [m["epoch"] for m in saved] == [1, 2, 3, 4, 6]
    assert best.metrics["epoch"] == 6 and best.peak["epoch"] == 2
    again = BestModelSaver(saved.append, keep_later=best.keep_later)
    again.load_state_dict(best.state_dict())
    assert (again.score, again.metrics, again.peak) == (best.score, best.metrics, best.peak)
    assert not within_validation_noise({"val_accuracy": 0.70}, {"val_accuracy": 0.78}, 200)


class Counter:
    """A stateful object, like an optimizer or a scheduler."""

    def __init__(self, value=0):
        self.value = value

    def state_dict(self):
        return {"value": self.value}

    def load_state_dict(self, state):
        self.value = state["value"]


def test_checkpointer_saves_each_epoch_and_restores_where_the_run_was(tmp_path):
    path = tmp_path / "checkpoint.pt"
    model, early, best = torch.nn.Linear(2, 2), EarlyStopping(patience=3), BestModelSaver(lambda m: None)
    counter = Counter(7)
    saved = []
    engine = metric_engine([(0.5, 1.0), (0.4, 1.1)])
    best.attach(engine)
    early.attach(engine)
    checkpointer = Checkpointer(path, {"model": model, "counter": counter, "early_stopping": early, "scaler": None},
                                merged=(best,), is_best=lambda: best.improved,
                                on_saved=lambda e, p, is_best: saved.append((e.state.epoch, p, is_best)))
    checkpointer.attach(engine)
    engine.run([1, 2, 3], max_epochs=2, epoch_length=3)
    assert saved == [(1, path, True), (2, path, False)]
    ckpt = load_checkpoint(path)
    assert (ckpt["epoch"], ckpt["iteration"], ckpt["epoch_iteration"]) == (2, 6, 0)  # a whole epoch: start the next
    assert ckpt["best_score"] == [0.5, -1.0] and ckpt["early_stopping"] == {"best": 0.5, "counter": 1}
    assert ckpt["scaler"] is None  # the format since the first release: flat keys, None for what is absent

    fresh_model, fresh_early, fresh_best = torch.nn.Linear(2, 2), EarlyStopping(patience=3), BestModelSaver(lambda m: None)
    fresh_counter = Counter(0)
    start = Checkpointer(path, {"model": fresh_model, "counter": fresh_counter, "early_stopping": fresh_early,
                                "scaler": None}, merged=(fresh_best,)).restore()
    assert start == {"start_epoch": 2, "start_iteration": 6, "start_epoch_iteration": 0}
    assert torch.equal(fresh_model.weight, model.weight) and fresh_counter.value == 7
    assert fresh_early.state_dict() == early.state_dict() and fresh_best.metrics == best.metrics


def test_checkpoint_on_demand_mid_epoch_keeps_the_place_in_the_epoch(tmp_path):
    path = tmp_path / "checkpoint.pt"
    engine = Engine(lambda e, batch: {"loss": 0.5})
    engine.on(Events.ITERATION_COMPLETED(once=5), lambda e: e.stop())
    state = engine.run([1, 2, 3], max_epochs=3, epoch_length=3)
    Checkpointer(path, {"counter": Counter(1)}).save(engine)
    ckpt = load_checkpoint(path)
    assert (state.epoch, ckpt["epoch"], ckpt["iteration"], ckpt["epoch_iteration"]) == (1, 1, 5, 2)


@pytest.fixture
def lib_with_run(tmp_path):
    lib = Library.open(tmp_path / "home")
    with lib.transaction() as s:
        run = Run(name="r", spec={}, classes=["a", "b"])
        s.add(run)
        s.flush()
        run_id = run.id
    yield lib, run_id
    lib.close()


def test_run_recorder_updates_the_run_row_and_records_each_checkpoint(lib_with_run):
    lib, run_id = lib_with_run
    said = []
    ctx = RunContext(lib, run_id, JobState(), said.append, Distributed())
    engine = metric_engine([(0.5, 1.0), (0.4, 1.1)])
    best = BestModelSaver(lambda m: None)
    best.attach(engine)
    recorder = RunRecorder(ctx, best)
    recorder.attach(engine)
    path = ctx.folder / "checkpoint.pt"
    engine.on(Events.EPOCH_COMPLETED, lambda e: recorder.checkpoint_saved(e, path, best.improved))
    engine.run([1, 2], max_epochs=2)
    with lib.session() as s:
        run = s.get(Run, run_id)
        assert (run.epoch, run.step) == (2, 4)
        assert run.summary["best"]["epoch"] == 1 and run.summary["last"]["epoch"] == 2
        rows = s.scalars(select(Checkpoint).where(Checkpoint.run_id == run_id).order_by(Checkpoint.epoch)).all()
        assert [(c.epoch, c.is_best, c.metrics["val_accuracy"]) for c in rows] == [(1, True, 0.5), (2, False, 0.4)]
        assert rows[0].path == str(path.relative_to(lib.home))  # the library can move
    assert said[-1] == CheckpointSaved(run_id=run_id, epoch=2, step=4, path=str(path), is_best=False).to_dict()


def test_non_main_ranks_say_and_write_nothing(lib_with_run):
    lib, run_id = lib_with_run
    said = []
    ctx = RunContext(lib, run_id, JobState(), said.append, Distributed(rank=1, world=2))
    ctx.update_run(status="failed")
    ctx.emit(Paused(run_id=run_id))
    with lib.session() as s:
        assert s.get(Run, run_id).status == "queued"
    assert said == []


class LockedLibrary:
    @contextmanager
    def transaction(self):
        raise RuntimeError("database is locked")
        yield


def test_a_failed_heartbeat_is_logged_with_its_reason_and_the_next_one_retries(caplog):
    heartbeat = Heartbeat(LockedLibrary(), run_id=4, every_s=5)
    with caplog.at_level(logging.WARNING, logger="studio.train.recording"):
        assert heartbeat.beat_or_log() is False
    (record,) = caplog.records
    assert "heartbeat of run 4 failed" in record.getMessage() and "database is locked" in record.getMessage()
