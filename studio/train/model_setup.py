"""A run's model: where it starts from (ImageNet, a previous run, a file or scratch), which layers
learn, and the optimizer, schedule and mixed precision that train it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from studio.core.errors import InvalidInputError, StudioError
from studio.data.samples import load_view
from studio.train import zoo
from studio.train.artifacts import CARD_NAME, WEIGHTS_NAME, run_dir
from studio.train.card import ModelCard
from studio.train.data_setup import TrainData
from studio.train.events import DownloadProgress
from studio.train.resolve import auto_image_size, automatic_epochs, default_lr
from studio.train.run_context import RunContext
from studio.train.spec import (
    Auto,
    FromFile,
    FromRun,
    ImageNet,
    Scratch,
    StartFrom,
    parse_start,
)


@dataclass
class ModelParts:
    model: nn.Module
    train_model: nn.Module  # the model itself, or wrapped in DDP under torchrun
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler
    amp_dtype: torch.dtype | None  # None: full precision
    frozen: bool  # the backbone is frozen at the start
    head_replaced: bool | None  # fine-tuning: whether the classifier head is new


def download_progress(ctx: RunContext):
    return lambda done, total: ctx.emit(DownloadProgress(bytes=done, total=total))


def _model_with_local_imagenet_weights() -> str | None:
    return next((e.name for e in zoo.list_models() if e.pretrained_available and zoo.local_imagenet_weights(e.name)),
                None)


def _use_model(ctx: RunContext, spec: dict[str, Any], dataset_id: int, model: str) -> None:
    """Switch an automatically chosen model, with the size and normalisation that go with it."""
    spec["model"] = model
    if spec.get("auto_image_size"):
        with ctx.lib.session() as s:
            spec["image_size"] = auto_image_size(model, load_view(s, dataset_id))
    spec["mean"], spec["std"] = zoo.default_normalisation(model, spec["in_channels"])


def resolve_auto_start(ctx: RunContext, spec: dict[str, Any], dataset_id: int) -> list[str]:
    """pretrained "auto": ImageNet weights when cached or downloadable (with progress events); for an
    automatically chosen model, else another photo model whose ImageNet weights are on this machine;
    else from scratch. Recorded in the run's spec (with the rate and epoch count that go with the
    start). Returns the notes for the user (said once)."""
    if not isinstance(parse_start(spec["pretrained"]), Auto):
        return []
    name = spec["model"]
    notes = []
    try:
        zoo.imagenet_weights_file(name, download_progress(ctx))
        spec["pretrained"] = ImageNet.text
        spec["start"] = f"ImageNet weights ({name}), chosen automatically"
    except StudioError as exc:
        local = _model_with_local_imagenet_weights() if spec.get("auto_model") else None
        if local is not None:
            # measured: fine-tuning from ImageNet beats any model from scratch on a few hundred photos
            _use_model(ctx, spec, dataset_id, local)
            spec["pretrained"] = ImageNet.text
            spec["start"] = f"ImageNet weights ({local}), chosen automatically"
            notes.append(f"ImageNet weights for {name} are not available; this run fine-tunes {local} from the "
                         f"ImageNet weights on this machine instead.")
        else:
            notes.append(_from_scratch(ctx, spec, dataset_id, exc))
    if spec["lr"] is None:
        spec["lr"] = default_lr(spec)
    if spec["epochs"] is None:
        spec["epochs"] = automatic_epochs(spec, from_scratch=spec["pretrained"] == Scratch.text)
    ctx.update_run(spec=dict(spec), model=spec["model"])
    return notes


def _from_scratch(ctx: RunContext, spec: dict[str, Any], dataset_id: int, exc: StudioError) -> str:
    name = spec["model"]
    spec["pretrained"] = Scratch.text
    spec["start"] = "from scratch: ImageNet weights were not available"
    if spec.get("auto_model"):
        # measured (docs/benchmarks.md, Training): from scratch on a few hundred photos, simple-cnn at the
        # images' own size learns where mobilenet_v3_small at 224 px stays near chance, 10x slower
        _use_model(ctx, spec, dataset_id, zoo.SIMPLE_CNN)
        what = f"this run trains the small CNN ({spec['model']} at {spec['image_size']} px) from scratch instead"
    else:
        what = "this run trains from scratch (slower to learn, needs more images)"
    return f"ImageNet weights for {name} are not available, so {what}. {_hint(exc)}"


def _hint(exc: BaseException) -> str:
    """The offline error's advice (where to put the file), without its first clause."""
    text = str(exc)
    return ("To start from ImageNet: " + text.split(": ", 1)[1]) if ": " in text else text


def prepare_model(ctx: RunContext, spec: dict[str, Any], data: TrainData, device: torch.device) -> ModelParts:
    torch.manual_seed(spec["seed"])
    model = zoo.build_model(spec["model"], len(data.view.classes), spec["in_channels"], spec["image_size"])
    head_replaced = None
    start = parse_start(spec["pretrained"])
    if not isinstance(start, Scratch):
        state = _pretrained_state(ctx, spec, start)
        keep_head = None  # ImageNet / a file: keep the head only if its shape fits
        if isinstance(start, FromRun):  # a previous run: same classes = continue, else a new task
            keep_head = ModelCard.load(run_dir(ctx.lib, start.run_id) / CARD_NAME).classes == list(data.view.classes)
        head_replaced = zoo.load_backbone_weights(model, spec["model"], state, keep_head)
    model = model.to(device)
    frozen = spec["freeze"] == "backbone"
    zoo.freeze_backbone(model, spec["model"], frozen)
    optimizer = _optimizer(model, spec)
    scheduler = _scheduler(optimizer, spec, spec["epochs"] * len(data.train_loader))
    amp = spec["amp"] if spec["amp"] is not None else device.type == "cuda"
    amp_dtype = (torch.float16 if device.type == "cuda" else torch.bfloat16) if amp else None
    scaler = torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16)
    train_model = model
    if ctx.dist.world > 1:
        from torch.nn.parallel import DistributedDataParallel as DDP

        train_model = DDP(model, device_ids=[device.index] if device.type == "cuda" else None)
    return ModelParts(model, train_model, optimizer, scheduler, scaler, amp_dtype, frozen, head_replaced)


def _optimizer(model: nn.Module, spec: dict[str, Any]) -> torch.optim.Optimizer:
    """Two groups: the head at the run's rate, the backbone at ``backbone_lr_mult`` times it."""
    head = zoo.head_prefix(spec["model"]) + "."
    named = list(model.named_parameters())
    mult = float(spec.get("backbone_lr_mult") or 1.0)
    params = [{"params": [p for k, p in named if k.startswith(head)], "lr": spec["lr"]},
              {"params": [p for k, p in named if not k.startswith(head)], "lr": spec["lr"] * mult}]
    if spec["optimizer"] == "sgd":
        return torch.optim.SGD(params, lr=spec["lr"], momentum=0.9, weight_decay=spec["weight_decay"], nesterov=True)
    return torch.optim.AdamW(params, lr=spec["lr"], weight_decay=spec["weight_decay"])


def _scheduler(optimizer: torch.optim.Optimizer, spec: dict[str, Any], total_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    if total_steps < 3:  # too few steps to shape a schedule: keep the rate constant
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _step: 1.0)
    if spec["schedule"] == "onecycle":
        max_lrs = [group["lr"] for group in optimizer.param_groups]
        return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lrs, total_steps=total_steps,
                                                   pct_start=max(0.25, 2 / total_steps))
    if spec["schedule"] == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _step: 1.0)


def _pretrained_state(ctx: RunContext, spec: dict[str, Any], start: StartFrom) -> dict[str, torch.Tensor]:
    """Weights to start from, as the studio model's state-dict keys ("net." for backbones)."""
    name = spec["model"]
    if isinstance(start, FromRun):
        path = run_dir(ctx.lib, start.run_id) / WEIGHTS_NAME
    elif isinstance(start, FromFile):
        path = start.path
    else:
        if name == zoo.SIMPLE_CNN:
            raise InvalidInputError("simple-cnn has no ImageNet weights: pick a torchvision model or --pretrained none")
        path = zoo.imagenet_weights_file(name, download_progress(ctx))
    state = zoo.load_state_dict_file(path)
    if name != zoo.SIMPLE_CNN and not any(k.startswith("net.") for k in state):
        state = {f"net.{k}": v for k, v in state.items()}  # a plain torchvision state dict
    return state
