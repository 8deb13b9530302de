"""Each training handler alone, on a small engine with a made-up process function (no model run):
epoch statistics, validation, unfreezing, progress, stop requests, the step and epoch events."""

from __future__ import annotations

import pytest

from studio.core.jobs import JobState
from studio.train import zoo
from studio.train.engine import Engine, Events
from studio.train.events import EpochCompleted, Step, Unfrozen
from studio.train.handlers import (
    EpochReporter,
    EpochStats,
    JobProgress,
    StepLogger,
    StopOnRequest,
    Unfreezer,
    Validation,
)

# batch -> (loss, correct, n): epoch 1 has a batch of 2 at loss 1.0 and a batch of 6 at loss 0.2
BATCHES = [(1.0, 1, 2), (0.2, 6, 6)]


def stats_engine() -> Engine:
    return Engine(lambda engine, batch: {"loss": batch[0], "correct": batch[1], "n": batch[2]})


def test_epoch_stats_weigh_each_batch_by_its_size_and_start_over_each_epoch():
    engine, stats = stats_engine(), EpochStats()
    stats.attach(engine)
    seen = []
    engine.on(Events.EPOCH_COMPLETED, lambda e: seen.append(stats.metrics()))
    engine.run(BATCHES, max_epochs=2)
    expected = {"train_loss": pytest.approx((1.0 * 2 + 0.2 * 6) / 8), "train_accuracy": pytest.approx(7 / 8)}
    assert seen == [expected, expected]  # epoch 2 is not the sum of both epochs
    assert 0 <= stats.train_seconds <= stats.seconds()


def test_validation_puts_train_and_val_metrics_on_the_engine():
    engine, stats = stats_engine(), EpochStats()
    stats.attach(engine)
    shared = []
    Validation(lambda: (0.5, 0.75), stats, share=lambda values: shared.append(values) or [0.4, 0.8]).attach(engine)
    state = engine.run(BATCHES)
    assert shared == [[0.5, 0.75]]  # under DDP rank 0's numbers replace each rank's own
    assert state.metrics == {"train_loss": pytest.approx(0.4), "train_accuracy": pytest.approx(7 / 8),
                             "val_loss": 0.4, "val_accuracy": 0.8}


def _frozen_layers(model) -> int:
    return sum(not p.requires_grad for p in model.parameters())


def test_unfreezer_unfreezes_once_when_the_epoch_after_n_starts_and_survives_a_checkpoint():
    model = zoo.build_model(zoo.SIMPLE_CNN, 2, 1, 8)
    zoo.freeze_backbone(model, zoo.SIMPLE_CNN, True)
    assert _frozen_layers(model) > 0
    said, frozen_at_epoch = [], {}
    engine = stats_engine()
    unfreezer = Unfreezer(model, zoo.SIMPLE_CNN, after=2, frozen=True, emit=said.append)
    unfreezer.attach(engine)
    engine.on(Events.EPOCH_STARTED, lambda e: frozen_at_epoch.update({e.state.epoch: _frozen_layers(model) > 0}))
    engine.run(BATCHES, max_epochs=4)
    assert frozen_at_epoch == {1: True, 2: True, 3: False, 4: False}
    assert said == [Unfrozen(epoch=3)]
    assert unfreezer.state_dict() == {"frozen": False}

    again = Unfreezer(model, zoo.SIMPLE_CNN, after=2, frozen=False, emit=said.append)
    again.load_state_dict({"frozen": True})  # resuming a run saved while frozen
    assert again.frozen and _frozen_layers(model) > 0


def test_unfreeze_after_zero_never_unfreezes():
    model = zoo.build_model(zoo.SIMPLE_CNN, 2, 1, 8)
    zoo.freeze_backbone(model, zoo.SIMPLE_CNN, True)
    engine, said = stats_engine(), []
    Unfreezer(model, zoo.SIMPLE_CNN, after=0, frozen=True, emit=said.append).attach(engine)
    engine.run(BATCHES, max_epochs=3)
    assert said == [] and _frozen_layers(model) > 0


def test_job_progress_runs_from_the_cache_share_to_one():
    reports = []
    engine = stats_engine()
    JobProgress(JobState(on_progress=lambda fraction, message: reports.append((fraction, message))), start=0.05).attach(engine)
    engine.run(BATCHES, max_epochs=2, epoch_length=2)
    assert [round(f, 4) for f, _ in reports] == [0.2875, 0.525, 0.7625, 1.0]
    assert [m for _, m in reports] == ["epoch 1/2", "epoch 1/2", "epoch 2/2", "epoch 2/2"]


def test_stop_on_request_ends_after_the_step_it_was_asked_in():
    job = JobState()
    engine = stats_engine()
    engine.on(Events.ITERATION_COMPLETED, lambda e: job.cancel() if e.state.iteration == 3 else None)
    StopOnRequest(job.is_cancelled).attach(engine)
    state = engine.run(BATCHES, max_epochs=5)
    assert state.iteration == 3 and state.stop_reason == "stopped" and not state.completed


def test_step_logger_emits_a_step_every_n_iterations():
    said = []
    engine = stats_engine()
    StepLogger(said.append, every=3, lr=lambda: 0.01).attach(engine)
    engine.run(BATCHES, max_epochs=3)
    assert [(e.step, e.epoch, e.loss, e.lr) for e in said] == [(3, 2, 1.0, 0.01), (6, 3, 0.2, 0.01)]
    assert all(isinstance(e, Step) and e.samples_per_s > 0 for e in said)


def test_epoch_reporter_sends_the_metrics_rounded_and_the_time_left():
    said = []
    engine = stats_engine()
    stats = EpochStats()
    stats.attach(engine)
    Validation(lambda: (0.123456789, 0.5), stats).attach(engine)
    EpochReporter(said.append, stats).attach(engine)
    engine.run(BATCHES, max_epochs=3)
    assert [type(e) for e in said] == [EpochCompleted] * 3
    assert [(e.epoch, e.step) for e in said] == [(1, 2), (2, 4), (3, 6)]
    assert said[0].val_loss == 0.123457 and said[0].train_accuracy == 0.875
    assert said[-1].eta_s == 0 and all(e.eta_s >= 0 and e.seconds >= e.train_seconds >= 0 for e in said)


def test_the_cache_build_reports_its_own_progress_and_hears_the_runs_stop():
    from studio.core.errors import Cancelled
    from studio.train.data_setup import CacheJob

    run_job, reports = JobState(), []
    cache_job = CacheJob(run_job, lambda fraction, message: reports.append((fraction, message)))
    cache_job.set_progress(0.5, "decoding images 5/10")
    cache_job.check_cancelled()  # nothing asked yet
    run_job.cancel()  # the user stops the run while its images are decoded
    assert reports == [(0.5, "decoding images 5/10")] and run_job.progress == 0.0
    assert cache_job.is_cancelled()
    with pytest.raises(Cancelled):
        cache_job.check_cancelled()
