"""One training run in this process, start to end: load its row, prepare the data and the model,
train with the engine and its handlers, and record how it ended (completed, stopped or failed).

The run row and the events say the same at every point: "running" with a Started event, each
epoch's EpochCompleted and CheckpointSaved, and one Finished event with the final status."""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import torch

from studio import __version__
from studio.core.errors import Cancelled, InvalidInputError, NotFoundError, StudioError
from studio.core.run_status import RunStatus
from studio.store.models import Run, utcnow
from studio.train.artifacts import CARD_NAME, WEIGHTS_NAME
from studio.train.card import ModelCard
from studio.train.checkpoints import CHECKPOINT_NAME, CheckpointWriteError
from studio.train.data_setup import CACHE_SHARE, TrainData, prepare_data
from studio.train.engine import Engine
from studio.train.events import DataReady, Finished, Started
from studio.train.handlers import (
    EarlyStopping,
    EpochReporter,
    EpochStats,
    JobProgress,
    NaNGuard,
    StepLogger,
    StopOnRequest,
    TrainingFailed,
    Unfreezer,
    Validation,
)
from studio.train.model_setup import ModelParts, prepare_model, resolve_auto_start
from studio.train.recording import (
    BestModelSaver,
    Checkpointer,
    Heartbeat,
    MetricsRecorder,
    MetricsSink,
    RunRecorder,
    save_model,
)
from studio.train.run_context import (
    RunContext,
    device_text,
    resolve_device,
    threads_for,
)
from studio.train.step import TrainStep, validate

FROM_THE_START = {"start_epoch": 0, "start_iteration": 0, "start_epoch_iteration": 0}


@dataclass
class Wiring:
    """What a kind of data gives the shared training loop (TrainingRun._run_engine): everything
    else (validation order, checkpoints, best model, recording, stop, progress, DDP roles) is shared."""

    step: Callable[[Engine, Any], dict[str, Any]]          # one optimiser step on a batch
    batches: Callable[[int, int], Iterable[Any]]           # (epoch, batches to skip) -> that epoch's batches
    steps_per_epoch: int
    state: dict[str, Any]            # what a checkpoint keeps: model, optimizer, scheduler, ...
    validate: Callable[[], dict[str, float]]               # val_loss, val_accuracy, ... of the model now
    save: Callable[[dict[str, Any]], None]                 # the best model so far, with its metrics
    lr: Callable[[], float]
    unfreezer: Unfreezer | None = None
    early_stopping: Callable[[int], EarlyStopping] = EarlyStopping  # patience -> handler
    best_score: Callable[[dict[str, Any]], tuple[float, ...]] | None = None  # None: accuracy, then loss
    keep_later: Callable[[dict[str, Any], dict[str, Any]], bool] | None = None  # see BestModelSaver
    progress_from: float = 0.0       # the job's progress already spent before training (data caching)
    step_work: int | None = None     # batch x width of a step: small ones run on one CPU thread
    after_training: Callable[[], None] | None = None       # once the best model is saved (test scores)


class TrainingError(StudioError):
    """A run failed; the message (also stored in run.error) says why."""


class TrainingRun:
    def __init__(self, ctx: RunContext):
        self.ctx = ctx
        self.notes: list[str] = []  # for the user: said with the data, and kept in run.notes
        self.best: BestModelSaver | None = None  # once training is wired

    @property
    def best_metrics(self) -> dict[str, Any]:
        return self.best.metrics if self.best is not None else {}

    def run(self, resume: bool, control: Callable[[Engine], None] | None) -> dict[str, Any]:
        ctx = self.ctx
        spec, dataset_id, status = self._load_row()
        if resume and status == RunStatus.COMPLETED:
            raise InvalidInputError(f"run {ctx.run_id} already completed; start a new run to train more")
        heartbeat = None
        try:
            if dataset_id is None:
                raise InvalidInputError(f"run {ctx.run_id}: its dataset was deleted")
            device = ctx.dist.place(resolve_device(spec["device"]))
            # under torchrun, the launcher's pid: SIGTERM to it reaches every rank
            ctx.update_run(status=RunStatus.RUNNING, pid=os.getppid() if ctx.dist.world > 1 else os.getpid(),
                           device=device_text(device, ctx.dist), started_at=utcnow(), heartbeat_at=utcnow(),
                           error="", finished_at=None)
            if ctx.dist.is_main:
                heartbeat = Heartbeat(ctx.lib, ctx.run_id)
                heartbeat.start()
            return self._prepare_and_train(spec, dataset_id, device, heartbeat, resume, control)
        except torch.cuda.OutOfMemoryError:
            half = max(1, spec["batch_size"] // 2)
            return self._fail(f"CUDA ran out of memory with batch size {spec['batch_size']}: try --batch-size {half}")
        except TrainingFailed as exc:
            return self._fail(str(exc))
        except CheckpointWriteError as exc:
            return self._fail(f"{exc.strerror}; the previous checkpoint is kept, resume once there is space")
        except StudioError as exc:
            return self._fail(str(exc))
        except Cancelled:
            ctx.update_run(status=RunStatus.STOPPED, finished_at=utcnow(), pid=None)
            return self._finished(Finished(run_id=ctx.run_id, status=RunStatus.STOPPED, metrics=self.best_metrics,
                                           notes=["stopped before training began"]))
        except BaseException as exc:
            self._fail(f"{type(exc).__name__}: {exc}", raise_error=False)
            raise
        finally:
            if heartbeat is not None:
                heartbeat.stop()

    def _load_row(self) -> tuple[dict[str, Any], int | None, str]:
        with self.ctx.lib.session() as s:
            run = s.get(Run, self.ctx.run_id)
            if run is None:
                raise NotFoundError(f"no run {self.ctx.run_id}")
            return dict(run.spec), run.dataset_id, run.status

    # --- the training loop ------------------------------------------------------------------
    def _prepare_and_train(self, spec: dict[str, Any], dataset_id: int, device: torch.device,
                           heartbeat: Heartbeat | None, resume: bool,
                           control: Callable[[Engine], None] | None) -> dict[str, Any]:
        """The data, the model and the training: what a kind of dataset provides (images here;
        studio.train.tables.run.TableTrainingRun for tables). Returns the final result (_finish)."""
        ctx = self.ctx
        self.notes += resolve_auto_start(ctx, spec, dataset_id)  # may download, or change the model and size
        ctx.emit(Started(run_id=ctx.run_id, model=spec["model"], device=device_text(device, ctx.dist),
                         epochs=spec["epochs"], batch_size=spec["batch_size"], image_size=spec["image_size"],
                         resume=resume))
        data = prepare_data(ctx, spec, dataset_id, device)
        self.notes += data.notes
        parts = prepare_model(ctx, spec, data, device)
        return self._train(spec, data, parts, device, heartbeat, resume, control)

    def _train(self, spec: dict[str, Any], data: TrainData, parts: ModelParts, device: torch.device,
               heartbeat: Heartbeat | None, resume: bool, control: Callable[[Engine], None] | None) -> dict[str, Any]:
        step = TrainStep(parts, data, spec, device)
        wiring = Wiring(
            step=step, batches=lambda epoch, skip: data.train_loader.epoch(epoch, skip),
            steps_per_epoch=len(data.train_loader),
            state={"model": parts.model, "optimizer": parts.optimizer, "scheduler": parts.scheduler,
                   "scaler": parts.scaler},
            validate=lambda: validate(parts.model, data.val_loader, step.to_input),
            save=lambda metrics: self._save_model(spec, data, parts, metrics),
            lr=lambda: parts.scheduler.get_last_lr()[0],
            unfreezer=Unfreezer(parts.model, spec["model"], spec["unfreeze_after"], parts.frozen, self.ctx.emit),
            progress_from=CACHE_SHARE)
        ready = DataReady(run_id=self.ctx.run_id, dataset=data.view.name, classes=data.view.classes,
                          train_samples=len(data.view.split("train")), val_samples=len(data.view.split("val")),
                          head_replaced=parts.head_replaced, steps_per_epoch=len(data.train_loader))
        return self._run_engine(spec, wiring, ready, device, heartbeat, resume, control)

    def _run_engine(self, spec: dict[str, Any], wiring: Wiring, ready: DataReady, device: torch.device,
                    heartbeat: Heartbeat | None, resume: bool, control: Callable[[Engine], None] | None) -> dict[str, Any]:
        """The engine with the handlers every kind of data shares, run from the start or the last
        checkpoint; ``ready`` is said once the handlers are in place (with the notes and resume epoch)."""
        ctx, main = self.ctx, self.ctx.dist.is_main
        engine = Engine(wiring.step)
        stats = EpochStats()
        early = wiring.early_stopping(spec["early_stopping"]) if spec["early_stopping"] else None
        save = wiring.save if main else (lambda _metrics: None)  # rank 0 alone writes the model
        best = self.best = BestModelSaver(save, **({"score": wiring.best_score} if wiring.best_score else {}),
                                          keep_later=wiring.keep_later)
        recorder = RunRecorder(ctx, best)
        checkpointer = Checkpointer(
            ctx.folder / CHECKPOINT_NAME, {**wiring.state, "early_stopping": early},
            merged=(best,) + ((wiring.unfreezer,) if wiring.unfreezer else ()),
            is_best=lambda: best.improved, on_saved=recorder.checkpoint_saved)
        start = checkpointer.restore() if resume else FROM_THE_START
        if not resume:
            self._clear_outputs()
        log_every = max(1, int(spec["log_every"]))

        # the order of attaching is the order handlers run in, per event
        NaNGuard().attach(engine)
        if main:
            heartbeat.attach(engine)
            StepLogger(ctx.emit, log_every, wiring.lr).attach(engine)
        stats.attach(engine)
        if wiring.unfreezer is not None:
            wiring.unfreezer.attach(engine)
        Validation(wiring.validate, stats, share=lambda values: ctx.dist.from_main(values, device)).attach(engine)
        if main:
            MetricsRecorder(MetricsSink(ctx.lib, ctx.run_id), log_every, wiring.lr).attach(engine)
        JobProgress(ctx.job, wiring.progress_from).attach(engine)
        StopOnRequest(lambda: ctx.dist.any_rank(ctx.job.is_cancelled(), device)).attach(engine)
        EpochReporter(ctx.emit, stats).attach(engine)
        best.attach(engine)
        if early is not None:
            early.attach(engine)  # before the checkpoint, which keeps its count
        if main:
            checkpointer.attach(engine)
            recorder.attach(engine)
        if control is not None:
            control(engine)
        ctx.emit(dataclasses.replace(ready, resumed_from_epoch=start["start_epoch"] if resume else None,
                                     notes=self.notes))
        with threads_for(device, wiring.step_work) if wiring.step_work else contextlib.nullcontext():
            engine.run(wiring.batches, spec["epochs"], epoch_length=wiring.steps_per_epoch, **start)
        if wiring.after_training is not None and main and (ctx.folder / WEIGHTS_NAME).is_file():
            wiring.after_training()
        return self._finish(engine, checkpointer, lambda: wiring.save(best.metrics))

    def _save_model(self, spec: dict[str, Any], data: TrainData, parts: ModelParts, metrics: dict[str, Any]) -> None:
        training = {k: v for k, v in spec.items() if k != "holdout_val_ids"}
        card = ModelCard(architecture=spec["model"], classes=list(data.view.classes), image_size=spec["image_size"],
                         in_channels=spec["in_channels"], mean=list(spec["mean"]), std=list(spec["std"]),
                         run_id=self.ctx.run_id, dataset=data.view.summary(), metrics=dict(metrics),
                         training=training, studio_version=__version__)
        save_model(self.ctx.folder, parts.model, card)

    def _clear_outputs(self) -> None:
        if self.ctx.dist.is_main:
            self.ctx.folder.mkdir(parents=True, exist_ok=True)
            for name in (CHECKPOINT_NAME, WEIGHTS_NAME, CARD_NAME):
                (self.ctx.folder / name).unlink(missing_ok=True)

    # --- the end ----------------------------------------------------------------------------
    def _finish(self, engine: Engine, checkpointer: Checkpointer, save_model_now: Callable[[], None]) -> dict[str, Any]:
        ctx, state = self.ctx, engine.state
        stopped_by_user = state.stop_reason == StopOnRequest.REASON
        if ctx.dist.is_main and stopped_by_user and state.epoch_iteration and state.epoch_iteration < state.epoch_length:
            checkpointer.save(engine)  # mid-epoch: keep the work done so far
        if ctx.dist.is_main and not (ctx.folder / WEIGHTS_NAME).is_file():
            self.best.metrics = dict(self.best.metrics or {"epoch": state.epoch})
            save_model_now()  # stopped before the first epoch ended: the weights as they are
        status = RunStatus.STOPPED if stopped_by_user else RunStatus.COMPLETED
        if state.stop_reason and not stopped_by_user:
            self.notes.append(state.stop_reason)
        ctx.update_run(status=status, finished_at=utcnow(), pid=None, epoch=state.epoch, step=state.iteration,
                       notes="\n".join(self.notes))
        return self._finished(Finished(run_id=ctx.run_id, status=status, metrics=self.best_metrics, epochs=state.epoch,
                                       steps=state.iteration, notes=self.notes, model_path=str(ctx.folder / WEIGHTS_NAME)))

    def _fail(self, message: str, raise_error: bool = True) -> dict[str, Any]:
        self.ctx.update_run(status=RunStatus.FAILED, error=message, finished_at=utcnow(), pid=None)
        self.ctx.emit(Finished(run_id=self.ctx.run_id, status=RunStatus.FAILED, error=message, metrics=self.best_metrics))
        if raise_error:
            raise TrainingError(message)
        return {}

    def _finished(self, event: Finished) -> dict[str, Any]:
        self.ctx.emit(event)
        result = event.to_dict()
        del result["event"]
        return result
