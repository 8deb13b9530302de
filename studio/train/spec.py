"""The training settings, typed: one table for the engine, the CLI and the Train page.

Each field of ``TrainSpec`` carries its default, its allowed values (an Enum or a range), its help
text and its CLI flag, so ``studio train --help``, the Train form and the engine cannot disagree.
No torch here: the CLI and the GUI read it without importing torch.

    spec = TrainSpec.from_dict({"epochs": 5, "pretrained": "12"})   # stored or user values, checked
    spec.pretrained                                               # FromRun(run_id=12)
    spec.to_dict()                                                # what the run row stores

Defaults were chosen from measurements on real data (bench/bench_train.py, docs/benchmarks.md
"Training"): digits, the demo shapes and photos. Augmentations that can change what an image
means - a mirrored or turned image may be another class (b/d, 6/9, arrows, text) - are opt-in,
and no augmentation is on by default: none of the measured ones made the defaults more accurate
on all three kinds of data in the default budget, and crop costs CPU time on every step.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

from studio.core.compat import StrEnum
from studio.core.errors import InvalidInputError
from studio.train import budget
from studio.train.starts import (  # noqa: F401 - where a run starts; kept importable from here
    Auto,
    FromFile,
    FromRun,
    ImageNet,
    Scratch,
    StartFrom,
    describe_start,
    is_fine_tuning,
    parse_run_id,
    parse_start,
)

LR_FROM_SCRATCH = 3e-3  # AdamW peak rate of the one-cycle schedule
# tables (the defaults of studio.train.tables.fit.TableTrainSettings, measured by bench/bench_tables.py;
# restated here because this module must not import torch - tests/train/test_table_run.py checks they agree)
TABLE_HIDDEN = (128, 64)
TABLE_DROPOUT = 0.3
TABLE_PATIENCE = 30
TABLE_STEPS = 3_000
TABLE_EPOCHS = (10, 300)
LR_FINE_TUNE = 1e-3
# epochs when the count is automatic, for a dataset large enough to get budget.MIN_STEPS steps in them
# (measured: docs/benchmarks.md, "train-budget")
BASE_EPOCHS = 10
PHOTO_MODEL = "mobilenet_v3_small"  # the automatic model for larger images when ImageNet weights are there
SGD_LR_FROM_SCRATCH = 0.05
SGD_LR_FINE_TUNE = 0.01
IMAGE_BATCH_SIZE = 64  # what an automatic batch size is for images
# the kinds of dataset a setting applies to (Setting.kinds); the Train form shows only those
IMAGE, TABLE, TEXT = "image", "table", "text"
ALL_KINDS = (IMAGE, TABLE, TEXT)
# texts: automatic values (the text core's defaults are studio.train.text.fit.TextTrainSettings)
TEXT_MAX_LENGTH = 128
TEXT_BATCH_SIZE = 32
TEXT_BASE_EPOCHS = 4


# --- allowed values -----------------------------------------------------------------------------

class Optimizer(StrEnum):
    ADAMW = "adamw"
    SGD = "sgd"


class Schedule(StrEnum):
    ONECYCLE = "onecycle"
    COSINE = "cosine"
    CONSTANT = "none"  # the CLI's word since the first release


class Freeze(StrEnum):
    NOTHING = "none"  # every layer learns
    BACKBONE = "backbone"


class Activation(StrEnum):
    RELU = "relu"
    GELU = "gelu"
    TANH = "tanh"
    SIGMOID = "sigmoid"


class Augmentation(StrEnum):
    FLIP = "flip"
    CROP = "crop"
    COLOR = "color"
    ROTATE = "rotate"


MEANING_CHANGING = (Augmentation.FLIP, Augmentation.ROTATE)  # never on by default
NO_AUGMENTATION = "none"  # how the CLI writes an empty augmentation list


# --- kernel transforms ----------------------------------------------------------------------------

@dataclass(frozen=True)
class KernelTransform:
    """An image kernel of the kernel lab applied to every training batch (after augmentation)."""
    kernel: str
    params: tuple[tuple[str, Any], ...] = ()  # (name, value) pairs: hashable, in the order given

    @classmethod
    def of(cls, kernel: str, params: dict[str, Any] | None = None) -> KernelTransform:
        return cls(kernel, tuple((params or {}).items()))

    def to_dict(self) -> dict[str, Any]:
        return {"kernel": self.kernel, "params": dict(self.params)}

    @classmethod
    def from_value(cls, value: KernelTransform | dict | str) -> KernelTransform:
        if isinstance(value, KernelTransform):
            return value
        if isinstance(value, str):
            return parse_kernel_arg(value)
        if not isinstance(value, dict) or not value.get("kernel"):
            raise InvalidInputError(f'a kernel transform is {{"kernel": NAME, "params": {{...}}}}, not {value!r}')
        return cls.of(str(value["kernel"]), dict(value.get("params") or {}))


def parse_kernel_arg(text: str) -> KernelTransform:
    """``NAME[:key=value,...]`` (the CLI's ``--kernel``) -> a KernelTransform with text values; the
    kernel's typed parameters check and convert them when the run is created."""
    name, _, rest = text.partition(":")
    if not name.strip():
        raise InvalidInputError(f"--kernel takes NAME[:key=value,...], not {text!r}")
    params: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"kernel parameter {item!r} must be written key=value (in --kernel {text})")
        params[key.strip()] = value.strip()
    return KernelTransform.of(name.strip(), params)


# --- the settings -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Setting:
    """How one setting is shown and checked: CLI flag and help, Train-form label and tooltip, range."""
    help: str = ""
    flag: str | None = None  # None: not a CLI option
    label: str = ""
    tip: str = ""  # the Train form's tooltip (the CLI help when empty)
    low: float | None = None
    high: float | None = None
    metavar: str | None = None
    choice_labels: dict[str, str] = field(default_factory=dict)  # enum value -> what the form shows
    kinds: tuple[str, ...] = ALL_KINDS  # the kinds of dataset it applies to

    @property
    def tooltip(self) -> str:
        return self.tip or self.help


def setting(default: Any = None, **meta: Any) -> Any:
    """A TrainSpec field with its Setting (read by the CLI and the Train form)."""
    return field(default=default, metadata={"setting": Setting(**meta)})


AUGMENT_TIPS = {
    Augmentation.FLIP: "Mirror images left-right at random. Only if a mirrored image is still the same class: not for "
                       "digits, letters or text (a mirrored 2 or b is another shape), nor for left/right arrows. "
                       "Off by default.",
    Augmentation.CROP: "Zoom into a random part of each image, so the model does not rely on exact framing. Only if "
                       "a part of an image still shows its class; costs time on every step.",
    Augmentation.COLOR: "Change brightness, contrast and saturation a little, for varied lighting. Only if colour "
                        "does not decide the class.",
    Augmentation.ROTATE: "Turn images by up to 15 degrees either way. Only if a turned image is still the same class "
                         "(a turned 6 can look like a 9 at larger angles). Off by default.",
}
AUGMENT_LABELS = {Augmentation.FLIP: "Flip", Augmentation.CROP: "Crop", Augmentation.COLOR: "Colour",
                  Augmentation.ROTATE: "Rotate"}


@dataclass(frozen=True)
class TrainSpec:
    """Every training setting a user chooses. None = the engine decides (said in each help)."""

    model: str | None = setting(
        flag="--model", label="Model", kinds=(IMAGE,),
        help="architecture (`studio models list`); default: simple-cnn for images <= 64 px, else mobilenet_v3_small "
             "from ImageNet weights (simple-cnn when those are not available)",
        tip="The network to train. 'Automatic' picks a small CNN for small images and MobileNetV3 (small) for "
            "photos, starting from ImageNet weights; offline without them, the small CNN (a MobileNet from random "
            "weights learns little from a few hundred photos).")
    pretrained: StartFrom = setting(  # noqa: RUF009 - a field() with metadata
        Auto(), flag="--pretrained", label="Starting weights", kinds=(IMAGE,),
        help="auto (default: ImageNet weights for torchvision models when cached or downloadable, else from "
             "scratch) | imagenet | RUN_ID (fine-tune a previous run) | none | PATH to a state dict",
        tip="Where training starts. Automatic: ImageNet weights for photo models (MobileNet, ResNet, ...) when they "
            "are cached or can be downloaded, else from scratch (the run says so once and records which start it "
            "used); the small CNN always starts from scratch. ImageNet: weights learned from 1.2 million photos "
            "(best for photos, needs a one-time download). A previous run: continue from a model you trained. "
            "None: start from random.")
    epochs: int | None = setting(
        flag="--epochs", label="Epochs", low=1, high=10000,
        help=f"default: {BASE_EPOCHS}, or more for a small dataset so that training makes at least "
             f"{budget.MIN_STEPS} steps (at most {budget.MAX_EPOCHS} epochs; texts: {TEXT_BASE_EPOCHS} or "
             f"more, by the same rule); tables: about {TABLE_STEPS} steps (within {TABLE_EPOCHS[0]}..{TABLE_EPOCHS[1]} "
             "epochs)",
        tip=f"How many times training goes through all training images. Automatic: {BASE_EPOCHS}, or more for a "
            f"small dataset so the model gets at least {budget.MIN_STEPS} training steps (at most "
            f"{budget.MAX_EPOCHS} epochs); the run records the number it used.")
    batch_size: int | None = setting(
        flag="--batch-size", label="Batch size", low=1, high=4096,
        help=f"default: {IMAGE_BATCH_SIZE} for images, {TEXT_BATCH_SIZE} for texts; for tables the train rows / 50 rounded to a power of two, "
             "within 32..512",
        tip=f"Images or rows per training step. Automatic: {IMAGE_BATCH_SIZE} images; for a table, about 1/50 of "
            "the training rows (32 to 512). Larger is faster on a GPU but needs more memory; lower it if you run "
            "out of memory.")
    lr: float | None = setting(
        flag="--lr", label="Learning rate", low=0.0, high=10.0,
        help=f"peak learning rate (default {LR_FROM_SCRATCH:g} from scratch, {LR_FINE_TUNE:g} fine-tuning and for a "
             "text model's head)",
        tip="How big each learning step is. 'auto' picks a good value for the optimizer (smaller when "
            "fine-tuning). Too high: the loss jumps or becomes NaN; too low: slow progress.")
    weight_decay: float = setting(1e-4, low=0.0, help="AdamW / SGD weight decay")
    backbone_lr_mult: float | None = setting(
        low=0.0, help="the pretrained body learns this much slower than the new head (default 1; texts 0.05)",
        kinds=(IMAGE, TEXT))
    image_size: int | None = setting(
        flag="--image-size", label="Image size", low=4, high=1024, help="side in pixels the model sees", kinds=(IMAGE,),
        tip="Images are resized to this many pixels square before the model sees them. 'model default' uses the "
            "size the model was made for.")
    device: str = setting(
        "auto", flag="--device", label="Device", help="auto | cpu | cuda | cuda:N | mps",
        tip="Where training runs. Automatic picks a GPU when there is one. Free memory is shown for each GPU.")
    gpus: int = setting(1, flag="--gpus", low=1, help="data-parallel processes (torchrun + DDP; gloo on CPU)",
                        kinds=(IMAGE, TEXT))
    optimizer: Optimizer = setting(  # noqa: RUF009 - a field() with metadata
        Optimizer.ADAMW, flag="--optimizer", label="Optimizer", kinds=(IMAGE, TABLE),
        tip="The update rule. AdamW works well almost always; SGD with momentum sometimes generalises slightly "
            "better.",
        choice_labels={Optimizer.ADAMW: "AdamW", Optimizer.SGD: "SGD (momentum)"})
    schedule: Schedule = setting(  # noqa: RUF009 - a field() with metadata
        Schedule.ONECYCLE, flag="--schedule", label="Schedule", kinds=(IMAGE, TABLE),
        tip="How the learning rate changes over the run. One-cycle: warms up, then decays (fast and robust). "
            "Cosine: decays smoothly. Constant: never changes.",
        choice_labels={Schedule.ONECYCLE: "One-cycle", Schedule.COSINE: "Cosine decay", Schedule.CONSTANT: "Constant"})
    freeze: Freeze = setting(  # noqa: RUF009 - a field() with metadata
        Freeze.NOTHING, flag="--freeze", label="Layers", help="train only the new head (texts: freeze the encoder)",
        kinds=(IMAGE, TEXT),
        tip="Fine-tune all: every layer learns (best with enough images). Freeze backbone: only the last layer "
            "learns (fast, good with few images per class).",
        choice_labels={Freeze.NOTHING: "Fine-tune all layers", Freeze.BACKBONE: "Freeze backbone (train the head only)"})
    unfreeze_after: int = setting(
        0, flag="--unfreeze-after", metavar="N", low=0, high=1000, kinds=(IMAGE, TEXT),
        help="with --freeze backbone: train everything after N epochs",
        tip="With a frozen backbone: unfreeze it after this many epochs (0 = keep it frozen).")
    augment: tuple[Augmentation, ...] = setting(
        (), flag="--augment", label="Augment", kinds=(IMAGE,),
        help="comma list of flip,crop,color,rotate or none (default none); flip and rotate only if a mirrored or "
             "turned image is still the same class",
        tip="Random changes to training images each epoch, so the model learns what matters and not the exact "
            "pictures. Off by default: switch on only changes that keep every image's class.")
    amp: bool | None = setting(
        flag="--amp", label="Mixed precision", help="mixed precision (default: on CUDA only)", kinds=(IMAGE, TEXT),
        tip="Mixed precision computes in 16-bit where safe: about twice as fast on modern GPUs, same accuracy. "
            "'Auto' uses it on CUDA only.")
    seed: int = setting(0, flag="--seed")
    early_stopping: int | None = setting(
        flag="--early-stopping", metavar="N", low=0, high=10000, label="Early stopping",
        help=f"stop after N epochs without val improvement (0 = off; default: off for images, "
             f"{TABLE_PATIENCE} epochs without a lower val loss for tables)",
        tip=f"Stop when the validation score has not improved for this many epochs; the best epoch's model is "
            f"kept. Automatic: off for images, {TABLE_PATIENCE} epochs for tables.")
    kernel_transforms: tuple[KernelTransform, ...] = setting(
        (), flag="--kernel", metavar="NAME[:key=value,...]", label="Kernel transforms", kinds=(IMAGE,),
        help="apply an image kernel of the kernel lab (`studio kernels list`) to every training batch, after "
             "augmentation; repeat for several, in order",
        tip="Image kernels (shipped or your own) applied to every training batch after augmentation, in this "
            "order. Validation and test images are not filtered.")
    log_every: int = setting(10, low=1, help="steps between loss records")
    # --- tables: the feed-forward network (defaults from bench/bench_tables.py, docs/benchmarks.md)
    hidden: tuple[int, ...] = setting(
        TABLE_HIDDEN, flag="--hidden", metavar="N,N,...", label="Hidden layers", kinds=(TABLE,),
        help=f"tables: the sizes of the hidden layers (default {','.join(map(str, TABLE_HIDDEN))})",
        tip="The network's hidden layers, first to last: e.g. 32,16 is two layers of 32 and 16 units. More or "
            "wider layers can learn more, and overfit a small table sooner.")
    activation: Activation = setting(  # noqa: RUF009 - a field() with metadata
        Activation.RELU, flag="--activation", label="Activation", kinds=(TABLE,),
        help="tables: the function after each hidden layer (default relu)",
        tip="The function after each hidden layer. ReLU is a good default; tanh and sigmoid are the classic "
            "smooth ones (as in Brain.js).",
        choice_labels={Activation.RELU: "ReLU", Activation.GELU: "GELU", Activation.TANH: "tanh",
                       Activation.SIGMOID: "sigmoid"})
    dropout: float = setting(
        TABLE_DROPOUT, flag="--dropout", label="Dropout", low=0.0, high=0.95, kinds=(TABLE,),
        help=f"tables: the share of hidden units dropped at random while training (default {TABLE_DROPOUT:g})",
        tip="While training, switch off this share of the hidden units at random, so the network does not "
            "lean on any one of them (less overfitting). 0 = off.")
    batch_norm: bool = setting(
        False, flag="--batch-norm", label="Batch norm", kinds=(TABLE,),
        help="tables: batch normalisation after each hidden layer",
        tip="Normalise each hidden layer's outputs over the batch: sometimes trains deeper networks faster.")

    # --- texts: the pretrained encoder and how much of each text it reads
    encoder: str = setting(
        "default", flag="--encoder", metavar="default|PATH|HUB_NAME", label="Encoder", kinds=(TEXT,),
        help="texts: the pretrained encoder: default (all-MiniLM-L6-v2, offline), a Hugging Face folder, or a Hub "
             "name such as org/model (downloaded once into the library cache)",
        tip="The pretrained text model that gets a new classification head. Default: all-MiniLM-L6-v2, a small "
            "English encoder that works offline. A folder: a Hugging Face model (config.json, safetensors weights "
            "and tokenizer files). A Hub name (org/model): downloaded once, when online.")
    max_length: int = setting(
        TEXT_MAX_LENGTH, flag="--max-length", metavar="TOKENS", label="Max length", low=2, high=8192, kinds=(TEXT,),
        help=f"texts: tokens the model reads of each text; longer texts are cut (default {TEXT_MAX_LENGTH})",
        tip="How many tokens (word pieces) of each text the model reads; longer texts are cut, and the run says how "
            "many were. Longer is slower.")

    # --- reading and writing -------------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, *, strict: bool = False) -> TrainSpec:
        """Settings from a stored spec or from user values. Missing keys and None take the default;
        unknown keys are an error when ``strict`` (a user's typo), else ignored (what a resolved or an
        older run stores beside the settings). Values are parsed and checked."""
        data = dict(data or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if strict and unknown:
            raise InvalidInputError(f"unknown training setting {unknown[0]!r}")
        given = {k: PARSERS[k](v) for k, v in data.items() if k in names and v is not None}
        spec = cls(**given)
        spec.check()
        return spec

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values: what a run stores (and what ``from_dict`` reads back)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["pretrained"] = self.pretrained.text
        out["augment"] = [str(a) for a in self.augment]
        out["kernel_transforms"] = [k.to_dict() for k in self.kernel_transforms]
        for key in ("optimizer", "schedule", "freeze", "activation"):
            out[key] = str(out[key])
        out["hidden"] = list(self.hidden)
        return out

    def hidden_text(self) -> str:
        return ",".join(map(str, self.hidden))

    def replace(self, **changes: Any) -> TrainSpec:
        return dataclasses.replace(self, **changes)

    def check(self) -> None:
        """Every number inside its range (the form's spin boxes use the same bounds)."""
        for f in dataclasses.fields(self):
            value, info = getattr(self, f.name), f.metadata["setting"]
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            name = (info.flag or f.name).removeprefix("--").replace("_", "-")
            if isinstance(value, float) and not math.isfinite(value):
                raise InvalidInputError(f"{name} must be a finite number, not {value}")
            if f.name == "lr" and not value > 0:
                raise InvalidInputError(f"learning rate must be positive, not {value}")
            if info.low is not None and value < info.low:
                raise InvalidInputError(f"{name} must be at least {info.low:g}, not {value}")
            if f.name == "dropout" and value > info.high:
                raise InvalidInputError(f"{name} must be at most {info.high:g}, not {value}")
        if any(size < 1 for size in self.hidden):
            raise InvalidInputError(f"hidden layer sizes must be whole numbers of 1 or more, not {self.hidden_text()}")


def applies_to(name: str, kind: str) -> bool:
    """Whether setting ``name`` applies to datasets of ``kind`` ("image" | "table" | "text")."""
    return kind in setting_info(name).kinds


def check_kind(spec: TrainSpec, kind: str, dataset: str) -> None:
    """One clear error for a setting given that does not apply to this dataset's kind."""
    for f in dataclasses.fields(spec):
        info = f.metadata["setting"]
        if kind not in info.kinds and getattr(spec, f.name) != f.default:
            raise InvalidInputError(f"{info.flag or f.name} is a setting for {' and '.join(info.kinds)} datasets; "
                                    f"{dataset!r} is {'an' if kind == IMAGE else 'a'} {kind} dataset")


def setting_info(name: str) -> Setting:
    """The metadata of one TrainSpec field (label, tooltip, range, choices' labels)."""
    return FIELDS[name].metadata["setting"]


def default(name: str) -> Any:
    return FIELDS[name].default


def augment_text(names: tuple[str, ...] | list[str] | None = None) -> str:
    """``flip,crop`` or ``none``: how the CLI writes a list of augmentations."""
    names = default("augment") if names is None else names
    return ",".join(str(n) for n in names) or NO_AUGMENTATION


# --- parsing one value of each field ------------------------------------------------------------

def _number(kind: type, name: str):
    def parse(value: Any):
        try:
            number = float(value) if not isinstance(value, bool) else math.nan  # True is no number of epochs
            if math.isnan(number) or (kind is int and not number.is_integer()):
                raise ValueError
            return int(number) if kind is int else number
        except (TypeError, ValueError):
            kind_text = "whole number" if kind is int else "number"
            raise InvalidInputError(f"{name.replace('_', '-')} must be a {kind_text}, not {value!r}") from None
    return parse


def _choice(enum: type[StrEnum], name: str):
    def parse(value: Any):
        try:
            return enum(str(value).strip().lower())
        except ValueError:
            allowed = ", ".join(e.value for e in enum)
            raise InvalidInputError(f"{name} must be one of {allowed}, not {value!r}") from None
    return parse


def parse_augment(value: str | list | tuple) -> tuple[Augmentation, ...]:
    names = [n.strip() for n in (value.split(",") if isinstance(value, str) else map(str, value)) if n.strip()]
    if names == [NO_AUGMENTATION]:
        return ()
    chosen = []
    for name in names:
        try:
            chosen.append(Augmentation(name))
        except ValueError:
            allowed = ", ".join(a.value for a in Augmentation)
            raise InvalidInputError(f"unknown augmentation {name!r} (choose from {allowed} or none)") from None
    return tuple(chosen)


def _kernel_transforms(value: Any) -> tuple[KernelTransform, ...]:
    items = [value] if isinstance(value, (str, dict, KernelTransform)) else list(value)
    return tuple(KernelTransform.from_value(item) for item in items)


def parse_hidden(value: str | list | tuple | int) -> tuple[int, ...]:
    """``32,16`` (the CLI's --hidden), a list, or one number -> layer sizes; ``none`` or empty: no
    hidden layer (a linear model)."""
    items = value.replace(" ", "").split(",") if isinstance(value, str) else [value] if isinstance(value, int) else list(value)
    if [str(item).lower() for item in items] in (["none"], [""]):
        return ()
    try:
        return tuple(_number(int, "hidden")(item) for item in items)
    except InvalidInputError:
        raise InvalidInputError(f"hidden layers are sizes separated by commas, like 32,16 - not {value!r}") from None


def _bool_or_auto(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


FIELDS = {f.name: f for f in dataclasses.fields(TrainSpec)}
PARSERS = {
    "model": lambda v: str(v).strip() or None,
    "pretrained": parse_start,
    "device": lambda v: str(v).strip() or "auto",
    "encoder": lambda v: str(v).strip() or "default",
    "optimizer": _choice(Optimizer, "optimizer"),
    "schedule": _choice(Schedule, "schedule"),
    "freeze": _choice(Freeze, "freeze"),
    "activation": _choice(Activation, "activation"),
    "hidden": parse_hidden,
    "batch_norm": _bool_or_auto,
    "augment": parse_augment,
    "amp": _bool_or_auto,
    "kernel_transforms": _kernel_transforms,
    **{name: _number(int, name) for name in ("epochs", "batch_size", "image_size", "gpus", "unfreeze_after", "seed",
                                             "early_stopping", "log_every", "max_length")},
    **{name: _number(float, name) for name in ("lr", "weight_decay", "backbone_lr_mult", "dropout")},
}


def default_lr(optimizer: Optimizer | str, start: StartFrom) -> float:
    """The peak learning rate when none is given: lower when starting from learned weights."""
    fine_tune = is_fine_tuning(start)
    if Optimizer(optimizer) is Optimizer.SGD:
        return SGD_LR_FINE_TUNE if fine_tune else SGD_LR_FROM_SCRATCH
    return LR_FINE_TUNE if fine_tune else LR_FROM_SCRATCH
