"""Training a feed-forward network on an encoded table, on the studio's Engine.

    encoder, (train, val, test) = encode_splits(table, schema, train_rows, val_rows, test_rows)
    result = fit_table(encoder, train, val, TableTrainSettings(), state, on_epoch=plot)
    scores = evaluate_table(result.model, encoder, test)

The split's tensors are moved to the device once and batches are index slices of them (no
DataLoader, no per-row Python), so the loop costs about what a hand-written one does. The
validation loss picks the best epoch (its weights are kept) and stops the run when it has not
improved for ``early_stopping`` epochs.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from studio.core.errors import Cancelled
from studio.core.jobs import JobState
from studio.data.tables.encoding import TableEncoder, TableSplit
from studio.train.engine import Engine, Events
from studio.train.handlers import EarlyStopping, TrainingFailed
from studio.train.tables.metrics import classification_metrics, regression_metrics
from studio.train.tables.model import TableNet, TableNetConfig

TARGET_STEPS = 3_000  # epochs are sized so a run takes about this many optimiser steps
MIN_EPOCHS, MAX_EPOCHS = 10, 300
PREDICT_BATCH = 8_192
SMALL_STEP_WORK = 64 * 1024  # batch rows x widest layer below which a step runs on one thread


@dataclass
class TableTrainSettings:
    """The defaults come from bench/bench_tables.py (docs/benchmarks.md "Tables")."""

    hidden: tuple[int, ...] = (128, 64)
    activation: str = "relu"
    dropout: float = 0.3
    batch_norm: bool = False
    epochs: int | None = None  # None: about TARGET_STEPS optimiser steps, within MIN/MAX_EPOCHS
    batch_size: int | None = None  # None: rows / 50 rounded to a power of two, within 32..512
    lr: float = 3e-3  # AdamW peak rate of the one-cycle schedule
    weight_decay: float = 1e-4
    early_stopping: int = 30  # epochs without a better validation loss; 0 = off
    seed: int = 0
    device: str = "cpu"

    def resolved(self, rows: int) -> tuple[int, int]:
        """(batch size, epochs) for a train split of ``rows`` rows."""
        batch = self.batch_size or int(min(512, max(32, 2 ** round(math.log2(max(rows, 1) / 50)))))
        steps_per_epoch = max(1, math.ceil(rows / batch))
        epochs = self.epochs or int(min(MAX_EPOCHS, max(MIN_EPOCHS, round(TARGET_STEPS / steps_per_epoch))))
        return batch, epochs

    def to_json(self) -> dict:
        return {**asdict(self), "hidden": list(self.hidden)}


@dataclass
class TableFitResult:
    model: TableNet
    config: TableNetConfig
    history: list[dict] = field(default_factory=list)  # one row per epoch: losses and validation scores
    best_epoch: int = 0
    stop_reason: str = ""


def fit_table(encoder: TableEncoder, train: TableSplit, val: TableSplit | None = None,
              settings: TableTrainSettings | None = None, state: JobState | None = None,
              on_epoch: Callable[[dict], None] | None = None) -> TableFitResult:
    settings = settings or TableTrainSettings()
    state = state or JobState()
    torch.manual_seed(settings.seed)
    device = torch.device(settings.device)
    config = TableNetConfig(len(encoder.numeric_names), tuple(v for _, v in encoder.embedded), encoder.output_size,
                            tuple(settings.hidden), settings.activation, settings.dropout, settings.batch_norm)
    model = TableNet(config).to(device)
    batch_size, epochs = settings.resolved(len(train))
    loop = _TrainLoop(model, encoder.task, _tensors(train, device), settings, batch_size, epochs)
    tracker = _BestEpoch(loop, encoder, val, device, state, on_epoch)
    engine = Engine(loop.step)
    engine.on(Events.EPOCH_STARTED, lambda _: model.train())  # validation leaves it in eval mode
    engine.on(Events.EPOCH_COMPLETED, tracker)
    if settings.early_stopping and val is not None and len(val):
        EarlyStopping(settings.early_stopping, score_name="val_score").attach(engine)
    engine.on(Events.ITERATION_COMPLETED(every=20), _stop_when_cancelled, state)
    with _threads_for(device, batch_size * max(settings.hidden, default=1)):
        engine.run(loop.batches, max_epochs=epochs, epoch_length=loop.steps_per_epoch)
    if state.is_cancelled():
        raise Cancelled()
    tracker.restore_best()
    model.eval()
    return TableFitResult(model, config, tracker.history, tracker.best_epoch, engine.state.stop_reason)


def predict_outputs(model: TableNet, numeric: np.ndarray, categorical: np.ndarray) -> np.ndarray:
    """Raw network outputs (logits, or standardised numbers) for encoded rows, in batches."""
    device = next(model.parameters()).device
    model.eval()
    outputs = []
    with torch.no_grad():
        for start in range(0, len(numeric), PREDICT_BATCH):
            stop = start + PREDICT_BATCH
            outputs.append(model(torch.as_tensor(numeric[start:stop], device=device),
                                 torch.as_tensor(categorical[start:stop], device=device)).float().cpu().numpy())
    return np.concatenate(outputs) if outputs else np.zeros((0, model.config.output_size), np.float32)


def evaluate_table(model: TableNet, encoder: TableEncoder, split: TableSplit) -> dict[str, float]:
    """Accuracy/F1, or MAE/RMSE/R² in the targets' own units."""
    outputs = predict_outputs(model, split.numeric, split.categorical)
    if encoder.task == "classification":
        return classification_metrics(encoder.decode(outputs), split.targets, encoder.output_size)
    names = [t["name"] for t in encoder.targets]
    return regression_metrics(encoder.decode(outputs), encoder.decode(split.targets), names)


# --- the loop ------------------------------------------------------------------------------

def _tensors(split: TableSplit, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (torch.as_tensor(split.numeric, device=device), torch.as_tensor(split.categorical, device=device),
            torch.as_tensor(split.targets, device=device))


class _TrainLoop:
    def __init__(self, model: TableNet, task: str, tensors, settings: TableTrainSettings, batch_size: int, epochs: int):
        self.model, self.tensors, self.batch_size, self.seed = model, tensors, batch_size, settings.seed
        self.rows = len(tensors[0])
        # a last batch of one row breaks batch norm and is noise anyway: it is left out of that epoch
        self.steps_per_epoch = max(1, self.rows // batch_size if self.rows % batch_size == 1 else math.ceil(self.rows / batch_size))
        self.loss_fn = F.cross_entropy if task == "classification" else F.mse_loss
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.OneCycleLR(self.optimizer, max_lr=settings.lr,
                                                             total_steps=epochs * self.steps_per_epoch)
        self.loss_sum = torch.zeros((), device=tensors[0].device)
        self.loss_count = 0

    def batches(self, epoch: int, skip: int):
        """The shuffled index batches of ``epoch`` (the order is a function of seed and epoch)."""
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(self.rows, generator=generator).to(self.tensors[0].device)
        for step in range(skip, self.steps_per_epoch):
            yield order[step * self.batch_size: (step + 1) * self.batch_size]

    def step(self, engine: Engine, index: torch.Tensor) -> dict:
        numeric, categorical, targets = (t[index] for t in self.tensors)
        loss = self.loss_fn(self.model(numeric, categorical), targets)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        self.loss_sum += loss.detach()  # summed on the device: no sync per step
        self.loss_count += 1
        return {"loss": loss}

    def take_epoch_loss(self) -> float:
        mean = float(self.loss_sum) / max(self.loss_count, 1)
        self.loss_sum.zero_()
        self.loss_count = 0
        return mean


class _BestEpoch:
    """After each epoch: the train loss, the validation loss and scores; keeps the best weights."""

    def __init__(self, loop: _TrainLoop, encoder: TableEncoder, val: TableSplit | None, device, state, on_epoch):
        self.loop, self.model, self.encoder, self.state, self.on_epoch = loop, loop.model, encoder, state, on_epoch
        self.val_tensors = _tensors(val, device) if val is not None and len(val) else None
        self.history: list[dict] = []
        self.best_loss, self.best_epoch, self.best_weights = math.inf, 0, None

    def __call__(self, engine: Engine) -> None:
        row = {"epoch": engine.state.epoch, "train_loss": self.loop.take_epoch_loss()}
        if not math.isfinite(row["train_loss"]):
            raise TrainingFailed(f"loss became NaN in epoch {engine.state.epoch} - try a lower learning rate")
        if self.val_tensors is not None:
            row.update(self._validate())
            engine.state.metrics["val_score"] = -row["val_loss"]
            if row["val_loss"] < self.best_loss:
                self.best_loss, self.best_epoch = row["val_loss"], engine.state.epoch
                self.best_weights = copy.deepcopy(self.model.state_dict())
        self.history.append(row)
        self.state.set_progress(engine.state.epoch / engine.state.max_epochs, f"epoch {engine.state.epoch}")
        if self.on_epoch:
            self.on_epoch(row)

    def _validate(self) -> dict:
        numeric, categorical, targets = self.val_tensors
        self.model.eval()
        with torch.no_grad():
            outputs = torch.cat([self.model(numeric[i: i + PREDICT_BATCH], categorical[i: i + PREDICT_BATCH])
                                 for i in range(0, len(numeric), PREDICT_BATCH)])
            loss = float(F.cross_entropy(outputs, targets) if self.encoder.task == "classification"
                         else F.mse_loss(outputs, targets))
        outputs_np, targets_np = outputs.cpu().numpy(), targets.cpu().numpy()
        if self.encoder.task == "classification":
            scores = classification_metrics(self.encoder.decode(outputs_np), targets_np, self.encoder.output_size)
        else:
            names = [t["name"] for t in self.encoder.targets]
            scores = regression_metrics(self.encoder.decode(outputs_np), self.encoder.decode(targets_np), names)
        return {"val_loss": loss, **{f"val_{name}": value for name, value in scores.items()}}

    def restore_best(self) -> None:
        if self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)


@contextlib.contextmanager
def _threads_for(device: torch.device, work_per_layer: int):
    """One CPU thread for small steps: splitting a 64 x 128 product across cores costs more in
    hand-offs than it saves, and much more when other processes share the cores."""
    before = torch.get_num_threads()
    if device.type == "cpu" and work_per_layer < SMALL_STEP_WORK:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _stop_when_cancelled(engine: Engine, state: JobState) -> None:
    if state.is_cancelled():
        engine.stop("cancelled")
