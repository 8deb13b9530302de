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
from studio.train.run_context import threads_for
from studio.train.tables.metrics import classification_metrics, regression_metrics
from studio.train.tables.model import TableNet, TableNetConfig

TARGET_STEPS = 3_000  # epochs are sized so a run takes about this many optimiser steps
MIN_EPOCHS, MAX_EPOCHS = 10, 300
PREDICT_BATCH = 8_192


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
    optimizer: str = "adamw"  # or "sgd" (momentum 0.9)
    schedule: str = "onecycle"  # or "cosine", "none"

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
    model = build_table_net(encoder, settings).to(device)
    batch_size, epochs = settings.resolved(len(train))
    loop = TableLoop(model, encoder.task, split_tensors(train, device), batch_size, settings.seed)
    loop.set_optimizer(settings, epochs)
    step = _SummedLoss(loop)
    tracker = _BestEpoch(step, model, encoder, val, device, state, on_epoch)
    engine = Engine(step)
    engine.on(Events.EPOCH_COMPLETED, tracker)
    if settings.early_stopping and val is not None and len(val):
        EarlyStopping(settings.early_stopping, score_name="val_loss", lower_is_better=True).attach(engine)
    engine.on(Events.ITERATION_COMPLETED(every=20), _stop_when_cancelled, state)
    with threads_for(device, batch_size * max(settings.hidden, default=1)):
        engine.run(loop.batches, max_epochs=epochs, epoch_length=loop.steps_per_epoch)
    if state.is_cancelled():
        raise Cancelled()
    tracker.restore_best()
    model.eval()
    return TableFitResult(model, model.config, tracker.history, tracker.best_epoch, engine.state.stop_reason)


def build_table_net(encoder: TableEncoder, settings: TableTrainSettings) -> TableNet:
    """The network for the encoder's inputs and outputs, with the settings' layers."""
    return TableNet(TableNetConfig(len(encoder.numeric_names), tuple(v for _, v in encoder.embedded),
                                   encoder.output_size, tuple(settings.hidden), settings.activation,
                                   settings.dropout, settings.batch_norm))


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


# --- the loop: shared by fit_table and the training worker (studio.train.tables.run) -------------

def split_tensors(split: TableSplit, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A split's (numeric, categorical, targets) on the device, once."""
    return (torch.as_tensor(split.numeric, device=device), torch.as_tensor(split.categorical, device=device),
            torch.as_tensor(split.targets, device=device))


class TableLoop:
    """Batches of row indices into tensors already on the device, and the optimiser step on one.

    The order of an epoch's batches is a function of the seed and the epoch, so a resumed run
    continues with the very batches it would have seen."""

    def __init__(self, model: TableNet, task: str, tensors, batch_size: int, seed: int):
        self.model, self.task, self.tensors, self.batch_size, self.seed = model, task, tensors, batch_size, seed
        self.rows = len(tensors[0])
        # a last batch of one row breaks batch norm and is noise anyway: it is left out of that epoch
        self.steps_per_epoch = max(1, self.rows // batch_size if self.rows % batch_size == 1 else math.ceil(self.rows / batch_size))
        self.loss_fn = F.cross_entropy if task == "classification" else F.mse_loss
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: torch.optim.lr_scheduler.LRScheduler | None = None

    def set_optimizer(self, settings: TableTrainSettings, epochs: int) -> None:
        """AdamW (or SGD with momentum) and the rate schedule over ``epochs`` of this loop."""
        params, lr = self.model.parameters(), settings.lr
        if settings.optimizer == "sgd":
            self.optimizer = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=settings.weight_decay, nesterov=True)
        else:
            self.optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=settings.weight_decay)
        total = epochs * self.steps_per_epoch
        if settings.schedule == "onecycle" and total >= 2:
            self.scheduler = torch.optim.lr_scheduler.OneCycleLR(self.optimizer, max_lr=lr, total_steps=total)
        elif settings.schedule == "cosine":
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=total)
        else:
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda _step: 1.0)

    def batches(self, epoch: int, skip: int):
        """The shuffled index batches of ``epoch`` (the order is a function of seed and epoch)."""
        generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        order = torch.randperm(self.rows, generator=generator).to(self.tensors[0].device)
        for step in range(skip, self.steps_per_epoch):
            yield order[step * self.batch_size: (step + 1) * self.batch_size]

    def step(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One optimiser step on the rows ``index``: (loss, outputs, targets), detached, on the device."""
        self.model.train()  # validation leaves it in eval mode
        numeric, categorical, targets = (t[index] for t in self.tensors)
        outputs = self.model(numeric, categorical)
        loss = self.loss_fn(outputs, targets)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        return loss.detach(), outputs.detach(), targets


class _SummedLoss:
    """fit_table's process function: the loss summed on the device (no sync per step)."""

    def __init__(self, loop: TableLoop):
        self.loop = loop
        self.loss_sum = torch.zeros((), device=loop.tensors[0].device)
        self.loss_count = 0

    def __call__(self, engine: Engine, index: torch.Tensor) -> dict:
        loss, _, _ = self.loop.step(index)
        self.loss_sum += loss
        self.loss_count += 1
        return {"loss": loss}

    def take_epoch_loss(self) -> float:
        mean = float(self.loss_sum) / max(self.loss_count, 1)
        self.loss_sum.zero_()
        self.loss_count = 0
        return mean


def validation_scores(model: TableNet, encoder: TableEncoder, tensors) -> dict[str, float]:
    """``val_loss`` and the scores of the rows ``tensors`` (from split_tensors): ``val_accuracy``
    and ``val_f1``, or ``val_mae``, ``val_rmse``, ``val_r2`` in the targets' own units."""
    numeric, categorical, targets = tensors
    model.eval()
    with torch.no_grad():
        outputs = torch.cat([model(numeric[i: i + PREDICT_BATCH], categorical[i: i + PREDICT_BATCH])
                             for i in range(0, len(numeric), PREDICT_BATCH)])
        loss = float(F.cross_entropy(outputs, targets) if encoder.task == "classification" else F.mse_loss(outputs, targets))
    outputs_np, targets_np = outputs.float().cpu().numpy(), targets.cpu().numpy()
    if encoder.task == "classification":
        scores = classification_metrics(encoder.decode(outputs_np), targets_np, encoder.output_size)
    else:
        names = [t["name"] for t in encoder.targets]
        scores = regression_metrics(encoder.decode(outputs_np), encoder.decode(targets_np), names)
    return {"val_loss": loss, **{f"val_{name}": value for name, value in scores.items()}}


class _BestEpoch:
    """After each epoch: the train loss, the validation loss and scores; keeps the best weights."""

    def __init__(self, step: _SummedLoss, model: TableNet, encoder: TableEncoder, val: TableSplit | None, device,
                 state, on_epoch):
        self.step, self.model, self.encoder, self.state, self.on_epoch = step, model, encoder, state, on_epoch
        self.val_tensors = split_tensors(val, device) if val is not None and len(val) else None
        self.history: list[dict] = []
        self.best_loss, self.best_epoch, self.best_weights = math.inf, 0, None

    def __call__(self, engine: Engine) -> None:
        row = {"epoch": engine.state.epoch, "train_loss": self.step.take_epoch_loss()}
        if not math.isfinite(row["train_loss"]):
            raise TrainingFailed(f"loss became NaN in epoch {engine.state.epoch} - try a lower learning rate")
        if self.val_tensors is not None:
            row.update(validation_scores(self.model, self.encoder, self.val_tensors))
            engine.state.metrics["val_loss"] = row["val_loss"]
            if row["val_loss"] < self.best_loss:
                self.best_loss, self.best_epoch = row["val_loss"], engine.state.epoch
                self.best_weights = copy.deepcopy(self.model.state_dict())
        self.history.append(row)
        self.state.set_progress(engine.state.epoch / engine.state.max_epochs, f"epoch {engine.state.epoch}")
        if self.on_epoch:
            self.on_epoch(row)

    def restore_best(self) -> None:
        if self.best_weights is not None:
            self.model.load_state_dict(self.best_weights)


def _stop_when_cancelled(engine: Engine, state: JobState) -> None:
    if state.is_cancelled():
        engine.stop("cancelled")
