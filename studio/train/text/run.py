"""A training run on a text dataset: the same worker, Engine, handlers, events, run row and
checkpoints as an image run; only the data (token ids from the library's token cache, batched by
length) and the model (a pretrained encoder with a new classification head) are the text's own.

    run_id = create_run(lib, "reviews", TrainSpec(encoder="default"))   # studio.train.runner
    run_training(lib, run_id, emit=print)                                # -> TextTrainingRun

The best epoch's model is saved into the run folder as a Hugging Face folder (config.json,
model.safetensors, the tokenizer prepared for the run's max length) beside its model card (kind
"text"), so ``AutoModelForSequenceClassification.from_pretrained(run_folder)`` loads it.
"""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from studio import __version__
from studio.core.errors import InvalidInputError
from studio.core.run_status import RunStatus
from studio.data.samples import (
    DatasetView,
    apply_holdout,
    check_trainable,
    hold_out_validation,
    load_view,
)
from studio.store.models import Run
from studio.train import budget
from studio.train.artifacts import CARD_NAME
from studio.train.card import ModelCard
from studio.train.engine import Engine
from studio.train.events import CacheProgress, DataReady, Started
from studio.train.model_setup import download_progress
from studio.train.recording import (
    Heartbeat,
)
from studio.train.run_context import device_text, resolve_device
from studio.train.spec import (
    TEXT,
    TEXT_BASE_EPOCHS,
    TEXT_BATCH_SIZE,
    Freeze,
    TrainSpec,
    check_kind,
)
from studio.train.text.encoders import DEFAULT_ENCODER, load_tokenizer, resolve_encoder
from studio.train.text.fit import (
    TextLoop,
    TextSplit,
    TextTrainSettings,
    predict_logits,
    view_split,
)
from studio.train.text.model import TextUnfreezer, build_text_classifier, freeze_encoder
from studio.train.text.tokens import prepared_tokenizer, tokenize_dataset
from studio.train.training_run import TrainingRun, Wiring

if TYPE_CHECKING:
    from studio.store.library import Library

DEFAULT_ENCODER_NAME = "all-MiniLM-L6-v2"
HF_TEMP = ".hf-saving"  # the model is written here first, then moved into the run folder file by file


# --- creating a run ------------------------------------------------------------------------------

def create_text_run(lib: Library, dataset: str | int, spec: TrainSpec, name: str = "") -> int:
    """Check the settings against the texts, store a queued run, return its id."""
    with lib.session() as s:
        view = load_view(s, dataset)
    check_kind(spec, TEXT, view.name)
    check_trainable(view)
    full = resolve_text_spec(lib, view, spec)
    with lib.transaction() as s:
        run = Run(dataset_id=view.id, name=name or f"{view.name} {full['model']}", model=full["model"], spec=full,
                  classes=list(view.classes), status=RunStatus.QUEUED)
        s.add(run)
        s.flush()
        return run.id


def resolve_text_spec(lib: Library, view: DatasetView, spec: TrainSpec) -> dict[str, Any]:
    """The settings that apply to texts, with every automatic one decided (and marked so)."""
    out: dict[str, Any] = {"kind": TEXT, **{key: value for key, value in spec.to_dict().items() if key in TEXT_SETTINGS}}
    out["encoder"] = encoder_source(lib, spec.encoder)
    out["model"] = encoder_name(out["encoder"])
    defaults = TextTrainSettings()
    out["lr"] = out["lr"] or defaults.lr
    out["backbone_lr_mult"] = defaults.body_lr_mult if out["backbone_lr_mult"] is None else out["backbone_lr_mult"]
    out["early_stopping"] = out["early_stopping"] or 0
    if not view.split("val"):
        out["holdout_val_ids"] = hold_out_validation(view, spec.seed)
        out["validation"] = f"no validation split: held out a stratified 10% of train ({len(out['holdout_val_ids'])} texts)"
    train_count = len([s for s in _with_holdout(view, out).split("train") if s.label >= 0])
    if train_count == 0:
        raise InvalidInputError(f"dataset {view.name!r} is too small to hold out validation texts: add more or set a val split")
    batch_size = out["batch_size"] or TEXT_BATCH_SIZE
    # few-shot data gets enough steps: 100 texts at batch 32 are 4 steps an epoch (as budget does for images)
    epochs = out["epochs"] or budget.auto_epochs(train_count, batch_size, TEXT_BASE_EPOCHS)
    out.update(auto_batch_size=out["batch_size"] is None, auto_epochs=out["epochs"] is None, batch_size=batch_size,
               epochs=epochs, train_count=train_count)
    resolve_device(out["device"])  # fail now, not in the worker
    return out


TEXT_SETTINGS = ("encoder", "max_length", "epochs", "batch_size", "gpus", "lr", "backbone_lr_mult", "weight_decay", "freeze",
                 "unfreeze_after", "amp", "early_stopping", "seed", "device", "log_every")


def encoder_source(lib: Library, source: str) -> str:
    """The encoder as the worker will find it: a folder as an absolute path (checked now), the
    default (checked now), or a Hub name (downloaded by the worker, with progress)."""
    path = Path(source).expanduser()
    if source in ("", DEFAULT_ENCODER) or path.is_dir():
        resolve_encoder(source, lib.cache_dir)
        return DEFAULT_ENCODER if source in ("", DEFAULT_ENCODER) else str(path.resolve())
    if path.is_absolute() or source.startswith("."):
        resolve_encoder(source, lib.cache_dir)  # not found: one clear message
    return source


def encoder_name(source: str) -> str:
    return DEFAULT_ENCODER_NAME if source == DEFAULT_ENCODER else Path(source).name or source


def _with_holdout(view: DatasetView, spec: dict[str, Any]) -> DatasetView:
    return apply_holdout(view, spec["holdout_val_ids"]) if "holdout_val_ids" in spec else view


def text_settings(spec: dict[str, Any], device: torch.device) -> TextTrainSettings:
    """The stored spec as the text core's settings."""
    return TextTrainSettings(
        epochs=spec["epochs"], batch_size=spec["batch_size"], max_length=spec["max_length"], lr=spec["lr"],
        body_lr_mult=spec["backbone_lr_mult"], weight_decay=spec["weight_decay"],
        freeze="encoder" if spec["freeze"] == Freeze.BACKBONE else "none", unfreeze_after=spec["unfreeze_after"],
        seed=spec["seed"], device=str(device), amp=spec["amp"])


# --- the run ------------------------------------------------------------------------------------

@dataclass
class TextData:
    view: DatasetView
    folder: Path  # the encoder's Hugging Face folder
    tokenizer: Any  # prepared for the run's max length (no padding, truncation on)
    train: TextSplit
    val: TextSplit
    notes: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {**self.view.summary(), "kind": TEXT, "notes": self.notes}


def prepare_text_data(ctx, spec: dict[str, Any], dataset_id: int) -> TextData:
    """The encoder's folder (downloaded once for a Hub name), the texts' token ids (from the cache
    where they are there) and the train / validation splits."""
    with ctx.lib.session() as s:
        view = load_view(s, dataset_id)
    check_trainable(view)
    if list(view.classes) != ctx.run_classes():
        raise InvalidInputError("the dataset's classes changed since this run was created: start a new run")
    if not view.split("val") and "holdout_val_ids" not in spec:  # the texts got a val split, then lost it
        spec["holdout_val_ids"] = hold_out_validation(view, spec["seed"])
        ctx.update_run(spec=dict(spec))
    view = _with_holdout(view, spec) if not view.split("val") else view
    folder = resolve_encoder(spec["encoder"], ctx.lib.cache_dir, download_progress(ctx))
    tokenizer = prepared_tokenizer(load_tokenizer(folder), spec["max_length"])
    texts, tokenized_now = tokenize_dataset(ctx.lib, view, tokenizer, spec["max_length"], _TokenProgress(ctx))
    train, val = view_split(view, texts, "train"), view_split(view, texts, "val")
    if not len(val):
        raise InvalidInputError(f"dataset {view.name!r} has no validation texts: add more texts or set a val split")
    notes = [spec["validation"]] if "holdout_val_ids" in spec and spec.get("validation") else []
    notes.append(f"tokenized {tokenized_now} of {len(texts)} texts (the rest came from the token cache)")
    if texts.truncated_count:
        notes.append(f"{texts.truncated_count} texts are longer than {spec['max_length']} tokens and were cut")
    return TextData(view, folder, tokenizer, train, val, notes)


class _TokenProgress:
    """The JobState tokenize_dataset reports to: progress goes to the job and out as CacheProgress events."""

    def __init__(self, ctx):
        self.ctx = ctx

    def set_progress(self, fraction: float, message: str = "") -> None:
        self.ctx.job.set_progress(fraction * 0.05, message)
        self.ctx.emit(CacheProgress(fraction=round(fraction, 4), message=message))

    def check_cancelled(self) -> None:
        self.ctx.job.check_cancelled()


def text_validation(model: nn.Module, split: TextSplit, pad_id: int, amp: torch.dtype | None) -> dict[str, float]:
    """Val loss, accuracy and macro F1 (each class counts the same, however few texts it has)."""
    logits = torch.from_numpy(predict_logits(model, split.texts, pad_id, amp=amp))
    labels = torch.as_tensor(np.asarray(split.labels, dtype=np.int64))
    predicted = logits.argmax(1)
    return {"val_loss": float(F.cross_entropy(logits, labels)),
            "val_accuracy": float((predicted == labels).float().mean()),
            "val_f1": macro_f1(predicted.numpy(), labels.numpy(), logits.shape[1])}


def within_validation_noise(metrics: dict[str, Any], peak: dict[str, Any], val_count: int) -> bool:
    """Whether a later epoch's val accuracy is within one standard error of the best epoch's
    (sqrt(p(1-p)/n) on n validation texts): fine-tuning with a decaying rate, as Hugging Face's
    Trainer does by default, keeps the later weights unless the validation set says they are
    worse. On 200 texts at 80% that is 2.8 points."""
    best = float(peak["val_accuracy"])
    noise = math.sqrt(max(best * (1 - best), 0.0) / max(val_count, 1))
    return float(metrics["val_accuracy"]) >= best - noise


def macro_f1(predicted: np.ndarray, labels: np.ndarray, classes: int) -> float:
    scores = []
    for c in range(classes):
        true_positive = int(np.sum((predicted == c) & (labels == c)))
        both = int(np.sum(predicted == c)) + int(np.sum(labels == c))
        scores.append(2 * true_positive / both if both else 0.0)
    return float(np.mean(scores))


class TextTrainingRun(TrainingRun):
    """TrainingRun with texts and a pretrained encoder; the start, end and failures are TrainingRun's."""

    def _prepare_and_train(self, spec: dict[str, Any], dataset_id: int, device: torch.device,
                           heartbeat: Heartbeat | None, resume: bool,
                           control: Callable[[Engine], None] | None) -> dict[str, Any]:
        ctx = self.ctx
        ctx.emit(Started(run_id=ctx.run_id, model=spec["model"], device=device_text(device, ctx.dist),
                         epochs=spec["epochs"], batch_size=spec["batch_size"], image_size=0, resume=resume,
                         unit="texts"))
        data = prepare_text_data(ctx, spec, dataset_id)
        self.notes += data.notes
        settings = text_settings(spec, device)
        torch.manual_seed(spec["seed"])
        model, head = build_text_classifier(data.folder, ctx.run_classes())
        model.to(device)
        frozen = settings.freeze == "encoder"
        freeze_encoder(model, head, frozen)
        pad_id = int(model.config.pad_token_id or 0)
        train_model = model
        if ctx.dist.world > 1:  # each rank steps through its share of every epoch's batches
            from torch.nn.parallel import DistributedDataParallel as DDP

            train_model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
        loop = TextLoop(model, head, data.train, settings, pad_id, ctx.dist.rank, ctx.dist.world, train_model)
        wiring = Wiring(
            step=loop.step, batches=loop.batches, steps_per_epoch=loop.steps_per_epoch,
            state={"model": model, "optimizer": loop.optimizer, "scheduler": loop.scheduler, "scaler": loop.scaler},
            validate=lambda: text_validation(model, data.val, pad_id, loop.amp_dtype),
            save=lambda metrics: self._save(spec, data, model, metrics), lr=lambda: loop.scheduler.get_last_lr()[0],
            unfreezer=TextUnfreezer(model, head, spec["unfreeze_after"], frozen, ctx.emit),
            keep_later=lambda metrics, peak: within_validation_noise(metrics, peak, len(data.val)),
            progress_from=0.05, step_work=spec["batch_size"] * spec["max_length"] * int(model.config.hidden_size))
        ready = DataReady(run_id=ctx.run_id, dataset=data.view.name, classes=ctx.run_classes(),
                          train_samples=len(data.train), val_samples=len(data.val), steps_per_epoch=loop.steps_per_epoch)
        return self._run_engine(spec, wiring, ready, device, heartbeat, resume, control)

    def _save(self, spec: dict[str, Any], data: TextData, model: nn.Module, metrics: dict[str, Any]) -> None:
        """The model as a Hugging Face folder (weights, config, tokenizer) in the run folder, then its card."""
        folder = self.ctx.folder
        temp = folder / HF_TEMP
        shutil.rmtree(temp, ignore_errors=True)
        model.save_pretrained(str(temp), safe_serialization=True)
        save_tokenizer(data.folder, data.tokenizer, spec["max_length"], temp)
        for path in sorted(temp.iterdir()):
            os.replace(path, folder / path.name)
        temp.rmdir()
        training = {k: v for k, v in spec.items() if k != "holdout_val_ids"}
        card = ModelCard(architecture=spec["model"], classes=self.ctx.run_classes(), image_size=0, run_id=self.ctx.run_id,
                         dataset=data.summary(), metrics=dict(metrics), training=training, studio_version=__version__,
                         kind=TEXT)
        card.save(folder / CARD_NAME)


def save_tokenizer(encoder_folder: Path, prepared, max_length: int, folder: Path) -> None:
    """The encoder's tokenizer files, with tokenizer.json as the run prepared it (no fixed padding,
    cut at ``max_length``), so plain transformers and plain tokenizers both read what the run read."""
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(str(encoder_folder), model_max_length=max_length).save_pretrained(str(folder))
    prepared.save(str(folder / "tokenizer.json"))
