"""Fine-tuning a text classifier on the studio's Engine, in-process.

    tokenizer = prepared_tokenizer(load_tokenizer(folder), settings.max_length)
    texts, _ = tokenize_dataset(lib, view, tokenizer, settings.max_length)
    train, val, test = (view_split(view, texts, name) for name in ("train", "val", "test"))
    result = fit_text(folder, view.classes, train, val, settings)
    probabilities = predict_probabilities(result.model, test.texts, result.pad_id)

The engine's handlers are the image runs' own (epoch statistics, validation, the NaN guard, the
unfreezer's rule), and a step returns what they expect ({"loss", "correct", "n"}), so the training
worker can drive the same TextLoop with its recording handlers.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from studio.core.errors import Cancelled, InvalidInputError
from studio.core.jobs import JobState
from studio.data.samples import DatasetView
from studio.train.engine import Engine, Events
from studio.train.handlers import EpochStats, NaNGuard, Validation
from studio.train.run_context import threads_for
from studio.train.text.batching import LengthBuckets, pad_batch, sorted_batches
from studio.train.text.model import (
    FREEZE_CHOICES,
    TextUnfreezer,
    build_text_classifier,
    freeze_encoder,
    text_optimizer,
    warmup_linear_schedule,
)
from studio.train.text.tokens import TokenizedTexts

PREDICT_BATCH = 64


@dataclass
class TextTrainSettings:
    epochs: int = 4
    batch_size: int = 32
    max_length: int = 128  # tokens per text, special tokens included; longer texts are cut
    lr: float = 1e-3  # the head's peak rate; measured on Rotten Tomatoes (/tmp notes X, ft_small)
    body_lr_mult: float = 0.05  # the encoder learns at lr * this (5e-5, BERT's usual rate)
    weight_decay: float = 0.01
    warmup: float = 0.1  # share of the steps with a linearly rising rate
    freeze: str = "none"  # "encoder": train the head only (until unfreeze_after)
    unfreeze_after: int = 0  # with freeze="encoder": the encoder joins after this many epochs (0: never)
    seed: int = 0
    device: str = "cpu"
    amp: bool | None = None  # None: on CUDA only

    def check(self) -> None:
        if self.freeze not in FREEZE_CHOICES:
            raise InvalidInputError(f"freeze must be one of {', '.join(FREEZE_CHOICES)}, not {self.freeze!r}")
        if self.epochs < 1 or self.batch_size < 1 or self.max_length < 2:
            raise InvalidInputError("epochs and batch size must be at least 1, max length at least 2")

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class TextSplit:
    texts: TokenizedTexts
    labels: np.ndarray  # class index per row

    def __len__(self) -> int:
        return len(self.texts)


def view_split(view: DatasetView, texts: TokenizedTexts, split: str) -> TextSplit:
    """The labelled texts of ``split`` ("train", "val", "test"); ``texts`` holds the view's rows in order."""
    rows = [i for i, ref in enumerate(view.samples) if ref.split == split and ref.label >= 0]
    return TextSplit(texts.subset(rows), np.array([view.samples[i].label for i in rows], dtype=np.int64))


@dataclass
class TextFitResult:
    model: nn.Module
    head: set[str]
    pad_id: int
    history: list[dict] = field(default_factory=list)  # one row per epoch: train and validation metrics
    stop_reason: str = ""


class TextLoop:
    """Length-bucketed batches padded on the fly, and the optimiser step on one.

    An epoch's batches are a function of (seed, epoch), so a resumed run sees the very batches it would have.
    Under DDP ``train_model`` is ``model`` wrapped; each ``rank`` of ``world`` steps through its share of the batches."""

    def __init__(self, model: nn.Module, head: set[str], split: TextSplit, settings: TextTrainSettings, pad_id: int,
                 rank: int = 0, world: int = 1, train_model: nn.Module | None = None):
        self.model, self.head, self.split, self.pad_id = model, head, split, pad_id
        self.train_model = train_model or model  # the model, or wrapped in DDP: what the step runs
        self.device = torch.device(settings.device)
        self.order = LengthBuckets(split.texts.lengths, settings.batch_size, settings.seed, rank, world)
        self.steps_per_epoch = self.order.steps_per_epoch
        self.optimizer = text_optimizer(model, head, settings.lr, settings.body_lr_mult, settings.weight_decay)
        self.scheduler = warmup_linear_schedule(self.optimizer, settings.epochs * self.steps_per_epoch, settings.warmup)
        self.amp_dtype = amp_dtype(self.device, settings.amp)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.labels = torch.as_tensor(np.asarray(split.labels, dtype=np.int64))

    def batches(self, epoch: int, skip: int):
        for rows in self.order.epoch(epoch, skip):
            input_ids, mask = pad_batch(self.split.texts, rows, self.pad_id, pad_multiple(self.device))
            yield (input_ids.to(self.device, non_blocking=True), mask.to(self.device, non_blocking=True),
                   self.labels[rows].to(self.device, non_blocking=True))

    def step(self, _engine: Engine, batch) -> dict:
        input_ids, mask, labels = batch
        self.train_model.train()
        with autocast(self.device, self.amp_dtype):
            logits = self.train_model(input_ids=input_ids, attention_mask=mask).logits
        loss = F.cross_entropy(logits.float(), labels)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        correct = (logits.argmax(1) == labels).sum()
        return {"loss": float(loss.item()), "correct": int(correct.item()), "n": int(labels.numel())}


def fit_text(folder: Path, classes: list[str], train: TextSplit, val: TextSplit | None = None,
             settings: TextTrainSettings | None = None, state: JobState | None = None,
             on_epoch: Callable[[dict], None] | None = None) -> TextFitResult:
    """Fine-tune the encoder in ``folder`` with a new head for ``classes`` on ``train``."""
    settings = settings or TextTrainSettings()
    settings.check()
    state = state or JobState()
    if not len(train):
        raise InvalidInputError("no texts to train on")
    if len(classes) < 2:  # one logit would make transformers' model a regression
        raise InvalidInputError(f"training needs at least two classes, not {len(classes)}")
    torch.manual_seed(settings.seed)
    model, head = build_text_classifier(folder, classes)
    model.to(settings.device)
    pad_id = int(model.config.pad_token_id or 0)
    frozen = settings.freeze == "encoder"
    freeze_encoder(model, head, frozen)
    loop = TextLoop(model, head, train, settings, pad_id)
    engine = Engine(loop.step)
    stats = EpochStats()
    stats.attach(engine)
    NaNGuard().attach(engine)
    TextUnfreezer(model, head, settings.unfreeze_after, frozen, emit=lambda _event: None).attach(engine)
    validate = (lambda: validation_scores(model, val, pad_id, loop.amp_dtype)) if val is not None and len(val) else dict
    Validation(validate, stats).attach(engine)
    history: list[dict] = []
    engine.on(Events.EPOCH_COMPLETED, _record_epoch, history, state, on_epoch)
    engine.on(Events.ITERATION_COMPLETED, _stop_when_cancelled, state)
    step_work = settings.batch_size * settings.max_length * int(model.config.hidden_size)
    with threads_for(loop.device, step_work):  # a tiny model on CPU: one thread, no hand-offs
        engine.run(loop.batches, max_epochs=settings.epochs, epoch_length=loop.steps_per_epoch)
    if state.is_cancelled():
        raise Cancelled()
    model.eval()
    return TextFitResult(model, head, pad_id, history, engine.state.stop_reason)


def _record_epoch(engine: Engine, history: list[dict], state: JobState, on_epoch) -> None:
    row = {"epoch": engine.state.epoch, **engine.state.metrics}
    history.append(row)
    state.set_progress(engine.state.epoch / engine.state.max_epochs, f"epoch {engine.state.epoch}")
    if on_epoch:
        on_epoch(row)


def _stop_when_cancelled(engine: Engine, state: JobState) -> None:
    if state.is_cancelled():
        engine.stop("cancelled")


@torch.no_grad()
def predict_logits(model: nn.Module, texts: TokenizedTexts, pad_id: int, batch_size: int = PREDICT_BATCH,
                   amp: torch.dtype | None = None) -> np.ndarray:
    """The model's logits for every row of ``texts``, in row order (batched longest first: least padding)."""
    device = next(model.parameters()).device
    model.eval()
    logits = np.zeros((len(texts), model.config.num_labels), dtype=np.float32)
    for rows in sorted_batches(texts.lengths, batch_size):
        input_ids, mask = pad_batch(texts, rows, pad_id, pad_multiple(device))
        with autocast(device, amp):
            out = model(input_ids=input_ids.to(device), attention_mask=mask.to(device)).logits
        logits[rows] = out.float().cpu().numpy()
    return logits


def predict_probabilities(model: nn.Module, texts: TokenizedTexts, pad_id: int) -> np.ndarray:
    return torch.softmax(torch.from_numpy(predict_logits(model, texts, pad_id)), dim=1).numpy()


def validation_scores(model: nn.Module, split: TextSplit, pad_id: int, amp: torch.dtype | None = None) -> dict[str, float]:
    logits = torch.from_numpy(predict_logits(model, split.texts, pad_id, amp=amp))
    labels = torch.as_tensor(np.asarray(split.labels, dtype=np.int64))
    return {"val_loss": float(F.cross_entropy(logits, labels)),
            "val_accuracy": float((logits.argmax(1) == labels).float().mean())}


def amp_dtype(device: torch.device, amp: bool | None) -> torch.dtype | None:
    """bfloat16 where the GPU has it (no loss scaling needed), else float16; None: full precision."""
    if device.type != "cuda" or amp is False:
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def autocast(device: torch.device, dtype: torch.dtype | None):
    return nullcontext() if dtype is None else torch.autocast(device.type, dtype=dtype)


def pad_multiple(device: torch.device) -> int:
    """Widths in multiples of 8 on a GPU (tensor cores); exact on a CPU."""
    return 8 if device.type == "cuda" else 1
