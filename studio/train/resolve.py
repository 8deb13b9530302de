"""A run's settings resolved against its dataset: what "automatic" means for the model, image
size, epochs and learning rate, so that the stored spec says exactly what the run does.

The creation of a run (studio.train.runner.create_run) resolves what it can; the worker resolves the
rest once it knows where training starts (studio.train.model_setup.resolve_auto_start)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.errors import InvalidInputError, NotFoundError
from studio.data.samples import HOLDOUT_FRACTION, DatasetView
from studio.train import budget, zoo
from studio.train.artifacts import CARD_NAME, WEIGHTS_NAME, run_dir
from studio.train.card import ModelCard
from studio.train.run_context import resolve_device
from studio.train.spec import (
    BASE_EPOCHS,
    IMAGE,
    IMAGE_BATCH_SIZE,
    PHOTO_MODEL,
    Auto,
    FromFile,
    FromRun,
    Scratch,
    StartFrom,
    TrainSpec,
    applies_to,
    check_kind,
    describe_start,
    parse_start,
)
from studio.train.spec import default_lr as default_lr_for
from studio.train.transforms import check_kernel_transforms

if TYPE_CHECKING:
    from studio.store.library import Library

SMALL_IMAGE = 64


def auto_image_size(model: str, view: DatasetView) -> int:
    if model == zoo.SIMPLE_CNN:
        return min(max(view.median_size, 16), 128)
    return zoo.get_entry(model).default_image_size


# --- spec -------------------------------------------------------------------------------------

def resolve_spec(lib: Library, view: DatasetView, spec: TrainSpec | dict[str, Any]) -> dict[str, Any]:
    """Fill in and check every setting, so the stored spec says exactly what the run does."""
    settings = spec if isinstance(spec, TrainSpec) else TrainSpec.from_dict(spec, strict=True)
    check_kind(settings, IMAGE, view.name)
    start = settings.pretrained
    if isinstance(start, FromFile) and not Path(start.path).is_file():
        raise NotFoundError(f"weights file not found: {start.path} (--pretrained takes imagenet, a run id, none or a file)")
    out = {key: value for key, value in settings.to_dict().items() if applies_to(key, IMAGE)}
    out["batch_size"] = out["batch_size"] or IMAGE_BATCH_SIZE
    out["early_stopping"] = out["early_stopping"] or 0
    out["kernel_transforms"] = check_kernel_transforms(settings.kernel_transforms, lib.home)
    parent = _parent_card(lib, start)
    if parent is not None:
        if out["model"] and out["model"] != parent.architecture:
            raise InvalidInputError(f"run {out['pretrained']} trained {parent.architecture}, not {out['model']}: drop --model to fine-tune it")
        out["model"] = parent.architecture
        out["image_size"] = out["image_size"] or parent.image_size
        out["in_channels"] = parent.in_channels
        out["mean"], out["std"] = parent.mean, parent.std
    if not out["model"]:
        out["model"] = zoo.SIMPLE_CNN if 0 < view.median_size <= SMALL_IMAGE else PHOTO_MODEL
        out["auto_model"] = True  # chosen here: the worker may pick simple-cnn if ImageNet is unavailable
    entry = zoo.get_entry(out["model"])
    if not out["image_size"]:
        out["image_size"] = auto_image_size(out["model"], view)
        out["auto_image_size"] = True
    out.setdefault("in_channels", view.channels)
    if "mean" not in out:
        out["mean"], out["std"] = zoo.default_normalisation(out["model"], out["in_channels"])
    if isinstance(start, Auto) and not entry.pretrained_available:
        start = Scratch()  # simple-cnn: nothing to start from
        out["pretrained"] = start.text
    out["start"] = describe_start(start, out["model"])
    if out["lr"] is None and not isinstance(start, Auto):  # auto: set once the worker knows the start
        out["lr"] = default_lr(out)
    if out["epochs"] is None:
        out["auto_epochs"] = True
        out["train_count"] = train_count(view)
        if not isinstance(start, Auto):  # else the worker decides, once it knows where training starts
            out["epochs"] = automatic_epochs(out, from_scratch=isinstance(start, Scratch))
    if out["backbone_lr_mult"] is None:
        out["backbone_lr_mult"] = 1.0
    resolve_device(out["device"])  # fail now, not in the worker
    return out


def automatic_epochs(spec: dict[str, Any], from_scratch: bool) -> int:
    """BASE_EPOCHS, or more from scratch on a small dataset: at least budget.MIN_STEPS steps.
    Fine-tuning pretrained weights needs no more (measured: photos reach 1.000 in 10 epochs,
    docs/benchmarks.md "train-defaults"), and 224 px epochs are what makes a CPU run long."""
    if not from_scratch:
        return BASE_EPOCHS
    return budget.auto_epochs(spec["train_count"], spec["batch_size"], BASE_EPOCHS)


def train_count(view: DatasetView) -> int:
    """Training images once the worker has held out validation (a dataset without a val split)."""
    train = len(view.split("train"))
    if view.split("val"):
        return train
    return max(1, train - round(train * HOLDOUT_FRACTION))


def default_lr(spec: dict[str, Any]) -> float:
    """The peak learning rate of a stored spec that gives none (studio/train/spec.py: default_lr)."""
    return default_lr_for(spec["optimizer"], parse_start(spec["pretrained"]))


def _parent_card(lib: Library, start: StartFrom) -> ModelCard | None:
    if not isinstance(start, FromRun):
        return None
    folder = run_dir(lib, start.run_id)
    if not (folder / WEIGHTS_NAME).is_file():
        raise NotFoundError(f"run {start.run_id} has no trained model to fine-tune from")
    card = ModelCard.load(folder / CARD_NAME)
    if card.kind != IMAGE:
        raise InvalidInputError(f"run {start.run_id} trained a {card.kind} model: an image model can only start "
                                "from an image run")
    return card
