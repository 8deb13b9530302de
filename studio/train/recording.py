"""Handlers that keep what a run did: metric rows and the run row in the library, the heartbeat,
the best model's weights and card, and the resumable checkpoint. Under DDP only rank 0 attaches
the writing ones."""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import update

from studio.store.models import Checkpoint, Metric, Run, utcnow
from studio.train.artifacts import CARD_NAME, WEIGHTS_NAME
from studio.train.checkpoints import (
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from studio.train.engine import Engine, Events
from studio.train.events import CheckpointSaved

if TYPE_CHECKING:
    import torch

    from studio.store.library import Library
    from studio.train.card import ModelCard
    from studio.train.run_context import RunContext

log = logging.getLogger(__name__)


class Stateful(Protocol):
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state: dict[str, Any]) -> Any: ...


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
                self._rows.append({"run_id": self.run_id, "step": step, "epoch": epoch, "split": split,
                                   "name": name, "value": float(value), "time": now})
        if time.monotonic() - self._last_flush >= self.flush_s:
            self.flush()

    def flush(self) -> None:
        self._last_flush = time.monotonic()
        if not self._rows:
            return
        rows, self._rows = self._rows, []
        with self.lib.transaction() as s:
            s.execute(Metric.__table__.insert(), rows)


class MetricsRecorder:
    """Metric rows: the step loss and learning rate every ``every`` steps, the epoch's train and val
    metrics at its end (then written at once, so the Runs view is up to date each epoch)."""

    def __init__(self, sink: MetricsSink, every: int, lr: Callable[[], float]):
        self.sink, self.every, self.lr = sink, every, lr

    def attach(self, engine: Engine) -> None:
        engine.on(Events.ITERATION_COMPLETED(every=self.every), self._step)
        engine.on(Events.EPOCH_COMPLETED, self._epoch)
        engine.on(Events.COMPLETED, lambda _engine: self.sink.flush())

    def _step(self, engine: Engine) -> None:
        st = engine.state
        epoch = st.epoch - 1 + st.epoch_iteration / (st.epoch_length or 1)
        self.sink.add(st.iteration, epoch, "train", loss=st.output["loss"], lr=self.lr())

    def _epoch(self, engine: Engine) -> None:
        st, m = engine.state, engine.state.metrics
        val = {name.removeprefix("val_"): value for name, value in m.items() if name.startswith("val_")}
        self.sink.add(st.iteration, float(st.epoch), "val", **val)  # loss, accuracy (and f1, mae, r2... of tables)
        self.sink.add(st.iteration, float(st.epoch), "train", epoch_loss=m["train_loss"], accuracy=m.get("train_accuracy"))
        self.sink.flush()


class Heartbeat:
    """A thread that stamps run.heartbeat_at (and the step) every few seconds, paused or not, so a
    dead worker can be told from a slow one. It runs from start() to stop(), around the whole run
    (the image cache included), so a long cache build does not look dead."""

    def __init__(self, lib: Library, run_id: int, every_s: float = 5.0):
        self.lib, self.run_id, self.every_s = lib, run_id, every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._engine: Engine | None = None

    def attach(self, engine: Engine) -> None:
        """Report this engine's step with each beat."""
        self._engine = engine

    def beat(self) -> None:
        values: dict[str, Any] = {"heartbeat_at": utcnow()}
        if self._engine is not None:
            values.update(step=self._engine.state.iteration)
        with self.lib.transaction() as s:
            s.execute(update(Run).where(Run.id == self.run_id).values(**values))

    def beat_or_log(self) -> bool:
        """A beat; a failure (the library locked a moment) is logged and the next beat retries,
        so it never ends the run."""
        try:
            self.beat()
            return True
        except Exception as exc:  # noqa: BLE001 - whatever it was, the run goes on
            log.warning("heartbeat of run %s failed (the next one retries in %.0f s): %s: %s",
                        self.run_id, self.every_s, type(exc).__name__, exc)
            return False

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.beat_or_log()

    def start(self) -> None:
        self.beat()
        self._thread = threading.Thread(target=self._loop, name="heartbeat", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def save_model(folder: Path, model: torch.nn.Module, card: ModelCard) -> None:
    """The weights (model.safetensors, written whole or not at all) and their card (model.json)."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
    tmp = folder / f".{WEIGHTS_NAME}.tmp"
    save_file(weights, str(tmp))
    os.replace(tmp, folder / WEIGHTS_NAME)
    card.save(folder / CARD_NAME)


def accuracy_then_loss(metrics: dict[str, Any]) -> tuple[float, ...]:
    """The image runs' best epoch: higher val accuracy, then lower val loss."""
    return (metrics["val_accuracy"], -metrics["val_loss"])


class BestModelSaver:
    """Keeps the best epoch so far (the highest ``score(metrics)``; by default higher val accuracy,
    then lower val loss) and calls ``save(metrics)`` when an epoch beats it. ``improved`` says
    whether the last epoch did.

    ``keep_later(metrics, peak_metrics)``, when given, also keeps a later epoch that scores below
    the best one seen (the peak) but within what the validation set can tell apart: a later epoch
    has trained longer at a lower rate, and a difference under the noise of a small validation set
    is no reason to throw that away."""

    def __init__(self, save: Callable[[dict[str, Any]], None],
                 score: Callable[[dict[str, Any]], tuple[float, ...]] = accuracy_then_loss,
                 keep_later: Callable[[dict[str, Any], dict[str, Any]], bool] | None = None):
        self.save, self.score_of, self.keep_later = save, score, keep_later
        self.score: tuple[float, ...] | None = None  # the peak's
        self.peak: dict[str, Any] = {}               # the best-scoring epoch's metrics
        self.metrics: dict[str, Any] = {}            # the kept epoch's
        self.improved = False

    def attach(self, engine: Engine) -> None:
        engine.on(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        m = {**engine.state.metrics, "epoch": engine.state.epoch}
        score = self.score_of(m)
        peak = self.score is None or score > self.score
        if peak:
            self.score, self.peak = score, m
        self.improved = peak or (self.keep_later is not None and self.keep_later(m, self.peak))
        if self.improved:
            self.metrics = m
            self.save(self.metrics)

    def state_dict(self) -> dict[str, Any]:
        return {"best_score": list(self.score) if self.score else None, "best_metrics": self.metrics,
                "peak_metrics": self.peak}

    def load_state_dict(self, checkpoint: dict[str, Any]) -> None:
        if checkpoint.get("best_score"):
            self.score = tuple(checkpoint["best_score"])
            self.metrics = dict(checkpoint.get("best_metrics") or {})
            self.peak = dict(checkpoint.get("peak_metrics") or self.metrics)  # older checkpoints: kept = peak


class Checkpointer:
    """The resumable checkpoint: at each epoch end, and on demand (a stop mid-epoch).

    ``to_save``: objects saved under their name (None: nothing to save); ``merged``: objects whose
    state dict keys go at the top level of the checkpoint (the format since the first release).
    After each save ``on_saved(engine, path, is_best)`` records it."""

    def __init__(self, path: Path, to_save: dict[str, Stateful | None], merged: tuple[Stateful, ...] = (),
                 is_best: Callable[[], bool] = lambda: False,
                 on_saved: Callable[[Engine, Path, bool], None] = lambda *_: None):
        self.path, self.to_save, self.merged = Path(path), to_save, merged
        self.is_best, self.on_saved = is_best, on_saved

    def attach(self, engine: Engine) -> None:
        engine.on(Events.EPOCH_COMPLETED, lambda engine: self.save(engine, is_best=self.is_best()))

    def save(self, engine: Engine, is_best: bool = False) -> None:
        st = engine.state
        payload: dict[str, Any] = {name: obj.state_dict() if obj is not None else None for name, obj in self.to_save.items()}
        payload.update(rng=rng_state(), epoch=st.epoch, iteration=st.iteration,  # epoch: completed epochs
                       epoch_iteration=0 if st.epoch_length and st.epoch_iteration >= st.epoch_length else st.epoch_iteration)
        for obj in self.merged:
            payload.update(obj.state_dict())
        save_checkpoint(self.path, payload)
        self.on_saved(engine, self.path, is_best)

    def restore(self) -> dict[str, int]:
        """Load the checkpoint into the objects; returns where the engine starts (Engine.run's arguments)."""
        ckpt = load_checkpoint(self.path)
        for name, obj in self.to_save.items():
            if obj is not None and ckpt.get(name):
                obj.load_state_dict(ckpt[name])
        set_rng_state(ckpt["rng"])
        for obj in self.merged:
            obj.load_state_dict(ckpt)
        return {"start_epoch": int(ckpt["epoch"]), "start_iteration": int(ckpt["iteration"]),
                "start_epoch_iteration": int(ckpt["epoch_iteration"])}


class RunRecorder:
    """The run row after each epoch (epoch, step, best and last metrics) and a row per checkpoint."""

    def __init__(self, ctx: RunContext, best: BestModelSaver):
        self.ctx, self.best = ctx, best

    def attach(self, engine: Engine) -> None:
        engine.on(Events.EPOCH_COMPLETED, self)

    def __call__(self, engine: Engine) -> None:
        st = engine.state
        last = {**st.metrics, "epoch": st.epoch}
        self.ctx.update_run(epoch=st.epoch, step=st.iteration, summary={"best": self.best.metrics, "last": last})

    def checkpoint_saved(self, engine: Engine, path: Path, is_best: bool) -> None:
        st, ctx = engine.state, self.ctx
        with ctx.lib.transaction() as s:
            s.add(Checkpoint(run_id=ctx.run_id, epoch=st.epoch, step=st.iteration, path=str(path.relative_to(ctx.lib.home)),
                             metrics=dict(st.metrics), is_best=is_best))
        ctx.emit(CheckpointSaved(run_id=ctx.run_id, epoch=st.epoch, step=st.iteration, path=str(path), is_best=is_best))
