"""Creating and running a training run: the body of the worker process (and usable in-process).

    run_id = create_run(lib, "digits", {"model": "simple-cnn", "epochs": 5})
    result = run_training(lib, run_id, JobState(), emit=print)

The run row holds the full spec (defaults resolved), so the run can be resumed or repeated.
Each epoch end writes a resumable checkpoint and, when validation improved, the best weights
(model.safetensors) with their model card (model.json).
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
import torch.nn.functional as F
from sqlalchemy import update

from studio import __version__
from studio.core.errors import Cancelled, InvalidInputError, NotFoundError, StudioError
from studio.core.jobs import JobState
from studio.data.augment import make_augment, parse_augment
from studio.data.cache import load_images
from studio.data.loader import BatchLoader, epoch_seed
from studio.data.preprocess import normalise
from studio.data.samples import DatasetView, apply_holdout, check_trainable, hold_out_validation, load_view
from studio.store.models import Checkpoint, Run, utcnow
from studio.train import defaults, zoo
from studio.train.artifacts import CARD_NAME, WEIGHTS_NAME, run_dir
from studio.train.card import ModelCard
from studio.train.checkpoints import (
    CHECKPOINT_NAME,
    CheckpointWriteError,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from studio.train.engine import Engine, Events
from studio.train.handlers import EarlyStopping, Heartbeat, MetricsSink, NaNGuard, StepLogger, TrainingFailed
from studio.train.transforms import make_kernel_transforms

if TYPE_CHECKING:
    from studio.store.library import Library

Emit = Callable[[dict[str, Any]], None]

DEFAULTS = defaults.DEFAULTS  # the one table (studio/train/defaults.py)
SMALL_IMAGE = 64
PHOTO_MODEL = "mobilenet_v3_small"  # the automatic model for larger images when ImageNet weights are there


def _auto_image_size(model: str, view: DatasetView) -> int:
    if model == zoo.SIMPLE_CNN:
        return min(max(view.median_size, 16), 128)
    return zoo.get_entry(model).default_image_size


# --- spec -------------------------------------------------------------------------------------

def resolve_spec(lib: Library, view: DatasetView, spec: dict[str, Any]) -> dict[str, Any]:
    """Fill in and check every setting, so the stored spec says exactly what the run does."""
    unknown = sorted(set(spec) - set(DEFAULTS))
    if unknown:
        raise InvalidInputError(f"unknown training setting {unknown[0]!r}")
    out = {**DEFAULTS, **{k: v for k, v in spec.items() if v is not None}}
    out["augment"] = parse_augment(out["augment"])
    pretrained = str(out["pretrained"])
    if pretrained.lower() in ("none", "imagenet", "auto"):
        out["pretrained"] = pretrained.lower()
    elif not pretrained.isdigit():  # a weights file: absolute, so the worker finds it from anywhere
        path = Path(pretrained).expanduser().resolve()
        if not path.is_file():
            raise NotFoundError(f"weights file not found: {path} (--pretrained takes imagenet, a run id, none or a file)")
        out["pretrained"] = str(path)
    parent = _parent_card(lib, out["pretrained"])
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
        out["image_size"] = _auto_image_size(out["model"], view)
        out["auto_image_size"] = True
    out.setdefault("in_channels", view.channels)
    if "mean" not in out:
        out["mean"], out["std"] = zoo.default_normalisation(out["model"], out["in_channels"])
    if out["pretrained"] == "auto" and not entry.pretrained_available:
        out["pretrained"] = "none"  # simple-cnn: nothing to start from
    out["start"] = start_text(out["pretrained"], out["model"])
    if out["lr"] is None and out["pretrained"] != "auto":  # auto: set once the worker knows the start
        out["lr"] = default_lr(out)
    if out["backbone_lr_mult"] is None:
        out["backbone_lr_mult"] = 1.0
    for key, low in (("epochs", 1), ("batch_size", 1), ("image_size", 4), ("gpus", 1)):
        if int(out[key]) < low:
            raise InvalidInputError(f"{key.replace('_', '-')} must be at least {low}, not {out[key]}")
        out[key] = int(out[key])
    if out["lr"] is not None and not float(out["lr"]) > 0:
        raise InvalidInputError(f"learning rate must be positive, not {out['lr']}")
    for key, allowed in (("optimizer", ("adamw", "sgd")), ("schedule", ("onecycle", "cosine", "none")), ("freeze", ("backbone", "none"))):
        if out[key] not in allowed:
            raise InvalidInputError(f"{key} must be one of {', '.join(allowed)}, not {out[key]!r}")
    resolve_device(out["device"])  # fail now, not in the worker
    return out


def default_lr(spec: dict[str, Any]) -> float:
    fine_tune = spec["pretrained"] not in ("none", None)
    if spec["optimizer"] == "sgd":
        return 0.01 if fine_tune else 0.05
    return defaults.LR_FINE_TUNE if fine_tune else defaults.LR_FROM_SCRATCH


def start_text(pretrained: str, model: str) -> str:
    """What the run starts from, in words (kept in the spec: `studio runs show`, the model card)."""
    if pretrained == "auto":
        return f"ImageNet weights for {model} if available, else from scratch (decided when training starts)"
    if pretrained == "none":
        return "from scratch (random weights)"
    if pretrained == "imagenet":
        return f"ImageNet weights ({model})"
    if pretrained.isdigit():
        return f"the trained model of run {pretrained}"
    return f"weights file {pretrained}"


def _parent_card(lib: Library, pretrained: Any) -> ModelCard | None:
    if pretrained is None or not str(pretrained).isdigit():
        return None
    folder = run_dir(lib, int(pretrained))
    if not (folder / WEIGHTS_NAME).is_file():
        raise NotFoundError(f"run {pretrained} has no trained model to fine-tune from")
    return ModelCard.load(folder / CARD_NAME)


def resolve_device(name: str) -> torch.device:
    name = (name or "auto").lower()
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise InvalidInputError(f"unknown device {name!r} (use auto, cpu, cuda, cuda:N or mps)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise InvalidInputError("CUDA is not available on this machine: use --device cpu (or auto)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise InvalidInputError(f"there is no {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise InvalidInputError("MPS is not available on this machine: use --device cpu (or auto)")
    if device.type not in ("cpu", "cuda", "mps"):
        raise InvalidInputError(f"unsupported device {name!r} (use auto, cpu, cuda, cuda:N or mps)")
    return device


def create_run(lib: Library, dataset: str | int, spec: dict[str, Any] | None = None, *, name: str = "") -> int:
    """Check the dataset and settings, store a queued run, return its id (nothing is trained yet)."""
    with lib.session() as s:
        view = load_view(s, dataset)
    check_trainable(view)
    full = resolve_spec(lib, view, dict(spec or {}))
    parent = int(full["pretrained"]) if str(full["pretrained"]).isdigit() else None
    with lib.transaction() as s:
        run = Run(dataset_id=view.id, parent_run_id=parent, name=name or f"{view.name} {full['model']}",
                  model=full["model"], spec=full, classes=list(view.classes), status="queued")
        s.add(run)
        s.flush()
        return run.id


# --- the run ----------------------------------------------------------------------------------

@dataclass
class Distributed:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> Distributed:
        return cls(int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0)))


@dataclass
class Best:
    score: tuple[float, float] | None = None  # (val_accuracy, -val_loss): higher is better
    metrics: dict[str, Any] = field(default_factory=dict)


def run_training(
    lib: Library,
    run_id: int,
    state: JobState | None = None,
    emit: Emit | None = None,
    *,
    resume: bool = False,
    control: Callable[[Engine], None] | None = None,
) -> dict[str, Any]:
    """Train run ``run_id`` (or continue it from its last checkpoint with ``resume=True``).

    Returns the final {"run_id", "status", "metrics", ...}. Bad data or settings mark the run
    failed and raise StudioError with the reason. ``control(engine)`` is called once the engine
    exists, so a caller (the worker) can wire stop/pause to it."""
    trainer = _Trainer(lib, run_id, state or JobState(), emit or (lambda _e: None), Distributed.from_env())
    return trainer.run(resume=resume, control=control)


class _Trainer:
    def __init__(self, lib: Library, run_id: int, job: JobState, emit: Emit, dist: Distributed):
        self.lib, self.run_id, self.job, self.dist = lib, int(run_id), job, dist
        self._emit = emit
        self.folder = run_dir(lib, self.run_id)
        self.best = Best()
        self.engine: Engine | None = None
        self.notes: list[str] = []

    def emit(self, event: dict[str, Any]) -> None:
        if self.dist.is_main:
            self._emit(event)

    def update_run(self, **values: Any) -> None:
        if self.dist.is_main:
            with self.lib.transaction() as s:
                s.execute(update(Run).where(Run.id == self.run_id).values(**values))

    # --- setup ------------------------------------------------------------------------------
    def run(self, resume: bool, control: Callable[[Engine], None] | None) -> dict[str, Any]:
        with self.lib.session() as s:
            run = s.get(Run, self.run_id)
            if run is None:
                raise NotFoundError(f"no run {self.run_id}")
            self.spec = dict(run.spec)
            dataset_id, status = run.dataset_id, run.status
        if resume and status in ("completed",):
            raise InvalidInputError(f"run {self.run_id} already completed; start a new run to train more")
        try:
            if dataset_id is None:
                raise InvalidInputError(f"run {self.run_id}: its dataset was deleted")
            self.device = resolve_device(self.spec["device"])
            if self.dist.world > 1 and self.device.type == "cuda":
                self.device = torch.device("cuda", self.dist.local_rank)
            # under torchrun, the launcher's pid: SIGTERM to it reaches every rank
            self.update_run(status="running", pid=os.getppid() if self.dist.world > 1 else os.getpid(),
                            device=self._device_text(), started_at=utcnow(), heartbeat_at=utcnow(),
                            error="", finished_at=None)
            self.heartbeat = Heartbeat(self.lib, self.run_id) if self.dist.is_main else None
            if self.heartbeat:
                self.heartbeat.start()
            if dataset_id is not None:
                self._resolve_auto_start(dataset_id)  # may download, or change the model and size: before all else
            self.emit({"event": "start", "run_id": self.run_id, "model": self.spec["model"], "device": self._device_text(),
                       "epochs": self.spec["epochs"], "batch_size": self.spec["batch_size"],
                       "image_size": self.spec["image_size"], "resume": resume})
            self._prepare_data(dataset_id)
            self._prepare_model()
            return self._train(resume, control)
        except torch.cuda.OutOfMemoryError:
            half = max(1, self.spec["batch_size"] // 2)
            return self._fail(f"CUDA ran out of memory with batch size {self.spec['batch_size']}: try --batch-size {half}")
        except TrainingFailed as exc:
            return self._fail(str(exc))
        except CheckpointWriteError as exc:
            return self._fail(f"{exc.strerror}; the previous checkpoint is kept, resume once there is space")
        except StudioError as exc:
            return self._fail(str(exc))
        except Cancelled:
            self.update_run(status="stopped", finished_at=utcnow(), pid=None)
            result = {"run_id": self.run_id, "status": "stopped", "metrics": self.best.metrics, "notes": ["stopped before training began"]}
            self.emit({"event": "done", **result})
            return result
        except BaseException as exc:
            self._fail(f"{type(exc).__name__}: {exc}", raise_error=False)
            raise
        finally:
            if getattr(self, "heartbeat", None):
                self.heartbeat.stop()

    def _fail(self, message: str, raise_error: bool = True) -> dict[str, Any]:
        self.update_run(status="failed", error=message, finished_at=utcnow(), pid=None)
        self.emit({"event": "done", "run_id": self.run_id, "status": "failed", "error": message, "metrics": self.best.metrics})
        if raise_error:
            raise TrainingError(message)
        return {}

    def _device_text(self) -> str:
        if self.device.type == "cuda":
            return f"{self.device} ({torch.cuda.get_device_name(self.device)})" + (f" x{self.dist.world}" if self.dist.world > 1 else "")
        text = f"{self.device.type} ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"
        return text + (f" x{self.dist.world} processes" if self.dist.world > 1 else "")

    def _prepare_data(self, dataset_id: int) -> None:
        spec = self.spec
        with self.lib.session() as s:
            view = load_view(s, dataset_id)
        check_trainable(view)
        if list(view.classes) != list(self._run_classes()):
            raise InvalidInputError("the dataset's classes changed since this run was created: start a new run")
        if not view.split("val"):
            if "holdout_val_ids" not in spec:
                spec["holdout_val_ids"] = hold_out_validation(view, spec["seed"])
                spec["validation"] = f"no validation split: held out a stratified 10% of train ({len(spec['holdout_val_ids'])} samples)"
                self.update_run(spec=dict(spec))
            view = apply_holdout(view, spec["holdout_val_ids"])
            self.notes.append(spec["validation"])
        self.view = view
        train, val = view.split("train"), view.split("val")
        if not val:
            raise InvalidInputError(f"dataset {view.name!r} is too small to hold out validation samples: add more or set a val split")
        size, channels = spec["image_size"], spec["in_channels"]
        progress = JobState(on_progress=lambda f, m: self._cache_progress(f, m))
        progress.check_cancelled = self.job.check_cancelled  # type: ignore[method-assign]
        if self.dist.world > 1 and not self.dist.is_main:
            torch.distributed.barrier()  # rank 0 builds the cache; the others then read it
        images = load_images(self.lib, train + val, size, channels, self.device, progress)
        if self.dist.world > 1 and self.dist.is_main:
            torch.distributed.barrier()
        world_batch = spec["batch_size"]
        per_rank = max(1, world_batch // self.dist.world)
        self.train_loader = BatchLoader(images, [r.id for r in train], [r.label for r in train], per_rank,
                                        seed=spec["seed"], rank=self.dist.rank, world=self.dist.world)
        self.val_loader = BatchLoader(images, [r.id for r in val], [r.label for r in val], max(256, world_batch), shuffle=False)
        if len(self.train_loader) == 0:
            raise InvalidInputError(f"dataset {view.name!r} has too few training samples for one batch")
        self.augment = make_augment(spec["augment"])
        self.kernel_transforms = make_kernel_transforms(spec.get("kernel_transforms"))

    def _run_classes(self) -> list[str]:
        with self.lib.session() as s:
            return list(s.get(Run, self.run_id).classes)

    def _cache_progress(self, fraction: float, message: str) -> None:
        self.job.set_progress(fraction * 0.05, message)
        self.emit({"event": "cache", "fraction": round(fraction, 4), "message": message})

    def _resolve_auto_start(self, dataset_id: int) -> None:
        """pretrained "auto": ImageNet weights when cached or downloadable (with progress events),
        else from scratch, said once (a note) and recorded in the run's spec."""
        spec = self.spec
        if spec["pretrained"] != "auto":
            return
        with self.lib.session() as s:
            view = load_view(s, dataset_id)
        name = spec["model"]
        try:
            zoo.imagenet_weights_file(name, self._download_progress)
            spec["pretrained"] = "imagenet"
            spec["start"] = f"ImageNet weights ({name}), chosen automatically"
        except StudioError as exc:
            spec["pretrained"] = "none"
            spec["start"] = "from scratch: ImageNet weights were not available"
            if spec.get("auto_model"):  # a MobileNet from random weights learns little from few photos
                self._use_small_cnn(view)
                what = f"this run trains the small CNN ({spec['model']} at {spec['image_size']} px) from scratch instead"
            else:
                what = "this run trains from scratch (slower to learn, needs more images)"
            self.notes.append(f"ImageNet weights for {name} are not available, so {what}. {_hint(exc)}")
        if spec["lr"] is None:
            spec["lr"] = default_lr(spec)
        self.update_run(spec=dict(spec), model=spec["model"])

    def _use_small_cnn(self, view: DatasetView) -> None:
        """Measured (docs/benchmarks.md, Training): from scratch on a few hundred photos, simple-cnn at
        the images' own size learns where mobilenet_v3_small at 224 px stays near chance, 10x slower."""
        spec = self.spec
        spec["model"] = zoo.SIMPLE_CNN
        if spec.get("auto_image_size"):
            spec["image_size"] = _auto_image_size(zoo.SIMPLE_CNN, view)
        spec["mean"], spec["std"] = zoo.default_normalisation(zoo.SIMPLE_CNN, spec["in_channels"])

    def _prepare_model(self) -> None:
        spec = self.spec
        torch.manual_seed(spec["seed"])
        num_classes = len(self.view.classes)
        model = zoo.build_model(spec["model"], num_classes, spec["in_channels"], spec["image_size"])
        self.head_replaced = None
        pretrained = str(spec["pretrained"])
        if pretrained not in ("none", "None"):
            state = self._pretrained_state(pretrained)
            keep_head = None  # ImageNet / a file: keep the head only if its shape fits
            if pretrained.isdigit():  # a previous run: same classes = continue, else a new task
                keep_head = ModelCard.load(run_dir(self.lib, int(pretrained)) / CARD_NAME).classes == list(self.view.classes)
            self.head_replaced = zoo.load_backbone_weights(model, spec["model"], state, keep_head)
        self.model = model.to(self.device)
        self.frozen = spec["freeze"] == "backbone"
        zoo.freeze_backbone(self.model, spec["model"], self.frozen)
        head = zoo.head_prefix(spec["model"]) + "."
        named = list(self.model.named_parameters())
        mult = float(spec.get("backbone_lr_mult") or 1.0)
        params = [{"params": [p for k, p in named if k.startswith(head)], "lr": spec["lr"]},
                  {"params": [p for k, p in named if not k.startswith(head)], "lr": spec["lr"] * mult}]
        max_lrs = [group["lr"] for group in params]
        if spec["optimizer"] == "sgd":
            self.optimizer = torch.optim.SGD(params, lr=spec["lr"], momentum=0.9, weight_decay=spec["weight_decay"], nesterov=True)
        else:
            self.optimizer = torch.optim.AdamW(params, lr=spec["lr"], weight_decay=spec["weight_decay"])
        total_steps = spec["epochs"] * len(self.train_loader)
        if total_steps < 3:  # too few steps to shape a schedule: keep the rate constant
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda _step: 1.0)
        elif spec["schedule"] == "onecycle":
            self.scheduler = torch.optim.lr_scheduler.OneCycleLR(self.optimizer, max_lr=max_lrs, total_steps=total_steps,
                                                                 pct_start=max(0.25, 2 / total_steps))
        elif spec["schedule"] == "cosine":
            self.scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(self.optimizer, T_max=total_steps)
        else:
            self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lambda _step: 1.0)
        amp = spec["amp"] if spec["amp"] is not None else self.device.type == "cuda"
        self.amp_dtype = (torch.float16 if self.device.type == "cuda" else torch.bfloat16) if amp else None
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)
        self.train_model = self.model
        if self.dist.world > 1:
            from torch.nn.parallel import DistributedDataParallel as DDP

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.train_model = DDP(self.model, device_ids=ids)

    def _pretrained_state(self, pretrained: str) -> dict[str, torch.Tensor]:
        """Weights to start from, as the studio model's state-dict keys ("net." for backbones)."""
        name = self.spec["model"]
        if pretrained.isdigit():
            path = run_dir(self.lib, int(pretrained)) / WEIGHTS_NAME
        elif pretrained == "imagenet":
            if name == zoo.SIMPLE_CNN:
                raise InvalidInputError("simple-cnn has no ImageNet weights: pick a torchvision model or --pretrained none")
            path = zoo.imagenet_weights_file(name, self._download_progress)
        else:
            path = os.path.expanduser(pretrained)
        state = zoo.load_state_dict_file(path)
        if name != zoo.SIMPLE_CNN and not any(k.startswith("net.") for k in state):
            state = {f"net.{k}": v for k, v in state.items()}  # a plain torchvision state dict
        return state

    def _download_progress(self, done: int, total: int) -> None:
        self.emit({"event": "download", "bytes": done, "total": total})

    # --- training ---------------------------------------------------------------------------
    def _train_step(self, engine: Engine, batch) -> dict[str, Any]:
        self.train_model.train()
        if self.augment is None and self.kernel_transforms is None:
            x = self._uint8_to_input(batch.images)
        else:
            x = batch.images.float().div_(255)
            if self.augment is not None:
                gen = torch.Generator(device=self.device).manual_seed(epoch_seed(self.spec["seed"], engine.state.epoch, batch.index))
                x = self.augment(x, gen)
            if self.kernel_transforms is not None:
                x = self.kernel_transforms(x)
            x = normalise(x, self.spec["mean"], self.spec["std"])
        with self._autocast():
            logits = self.train_model(x)
            loss = F.cross_entropy(logits.float(), batch.labels)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        correct = (logits.argmax(1) == batch.labels).sum()
        return {"loss": float(loss.item()), "correct": int(correct.item()), "n": int(batch.labels.numel())}

    def _uint8_to_input(self, images: torch.Tensor) -> torch.Tensor:
        """(x / 255 - mean) / std as one multiply-add on the float copy (same values up to rounding)."""
        if not hasattr(self, "_affine"):
            mean = torch.tensor(self.spec["mean"], device=self.device).view(1, -1, 1, 1)
            std = torch.tensor(self.spec["std"], device=self.device).view(1, -1, 1, 1)
            self._affine = (1.0 / (255.0 * std), -mean / std)
        scale, shift = self._affine
        return torch.addcmul(shift, images.float(), scale)

    def _autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    @torch.no_grad()
    def evaluate_val(self) -> tuple[float, float]:
        self.model.eval()
        loss_sum, correct, n = 0.0, 0, 0
        for batch in self.val_loader.epoch(0):
            x = self._uint8_to_input(batch.images)
            with self._autocast():
                logits = self.model(x).float()
            loss_sum += float(F.cross_entropy(logits, batch.labels, reduction="sum"))
            correct += int((logits.argmax(1) == batch.labels).sum())
            n += batch.labels.numel()
        return loss_sum / max(n, 1), correct / max(n, 1)

    def _train(self, resume: bool, control: Callable[[Engine], None] | None) -> dict[str, Any]:
        spec = self.spec
        engine = self.engine = Engine(self._train_step)
        early = EarlyStopping(spec["early_stopping"]) if spec["early_stopping"] else None
        start = {"start_epoch": 0, "start_iteration": 0, "start_epoch_iteration": 0}
        if resume:
            start = self._restore(early)
        else:
            self._clear_outputs()
        self.sink = MetricsSink(self.lib, self.run_id) if self.dist.is_main else None
        NaNGuard().attach(engine)
        if self.dist.is_main:
            self.heartbeat.attach(engine)
            StepLogger(self.emit, max(1, int(spec["log_every"])), lambda: self.scheduler.get_last_lr()[0]).attach(engine)
        engine.on(Events.EPOCH_STARTED, self._epoch_started)
        engine.on(Events.ITERATION_COMPLETED, self._iteration_completed)
        engine.on(Events.EPOCH_COMPLETED, self._epoch_completed)
        if early is not None:
            early.attach(engine)
        self.early = early
        if control is not None:
            control(engine)
        self.emit({"event": "data", "run_id": self.run_id, "dataset": self.view.name, "classes": self.view.classes,
                   "train_samples": len(self.view.split("train")), "val_samples": len(self.view.split("val")),
                   "resumed_from_epoch": start["start_epoch"] if resume else None, "notes": self.notes,
                   "head_replaced": self.head_replaced})
        self.t_start = time.perf_counter()
        self.epochs_timed = 0
        state = engine.run(lambda epoch, skip: self.train_loader.epoch(epoch, skip), spec["epochs"],
                           epoch_length=len(self.train_loader), **start)
        return self._finish(state)

    def _epoch_started(self, engine: Engine) -> None:
        self.epoch_t0 = time.perf_counter()
        self.epoch_loss, self.epoch_correct, self.epoch_n = 0.0, 0, 0
        if self.frozen and self.spec["unfreeze_after"] and engine.state.epoch > self.spec["unfreeze_after"]:
            self.frozen = False
            zoo.freeze_backbone(self.model, self.spec["model"], False)
            self.emit({"event": "unfreeze", "epoch": engine.state.epoch})

    def _iteration_completed(self, engine: Engine) -> None:
        out = engine.state.output
        self.epoch_loss += out["loss"] * out["n"]
        self.epoch_correct += out["correct"]
        self.epoch_n += out["n"]
        if self.sink is not None and engine.state.iteration % max(1, int(self.spec["log_every"])) == 0:
            epoch_float = engine.state.epoch - 1 + engine.state.epoch_iteration / len(self.train_loader)
            self.sink.add(engine.state.iteration, epoch_float, "train", loss=out["loss"], lr=self.scheduler.get_last_lr()[0])
        self.job.set_progress(0.05 + 0.95 * engine.state.iteration / (self.spec["epochs"] * len(self.train_loader)),
                              f"epoch {engine.state.epoch}/{self.spec['epochs']}")
        if self._stop_requested():
            engine.stop("stopped")

    def _stop_requested(self) -> bool:
        """Every rank must stop after the SAME step, so under DDP the ranks agree on it each step."""
        wanted = self.job.is_cancelled()
        if self.dist.world == 1:
            return wanted
        flag = torch.tensor([1.0 if wanted else 0.0], device=self.device)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MAX)
        return bool(flag.item())

    def _epoch_completed(self, engine: Engine) -> None:
        epoch = engine.state.epoch
        train_seconds = time.perf_counter() - self.epoch_t0
        val_loss, val_acc = self.evaluate_val()
        if self.dist.world > 1:  # rank 0's numbers everywhere, so every rank decides the same (early stop)
            shared = torch.tensor([val_loss, val_acc], dtype=torch.float64, device=self.device)
            torch.distributed.broadcast(shared, src=0)
            val_loss, val_acc = shared.tolist()
        seconds = time.perf_counter() - self.epoch_t0
        self.epochs_timed += 1
        per_epoch = (time.perf_counter() - self.t_start) / self.epochs_timed
        metrics = {
            "train_loss": self.epoch_loss / max(self.epoch_n, 1),
            "train_accuracy": self.epoch_correct / max(self.epoch_n, 1),
            "val_loss": val_loss,
            "val_accuracy": val_acc,
        }
        engine.state.metrics.update(metrics)
        if self.sink is not None:
            self.sink.add(engine.state.iteration, float(epoch), "val", loss=val_loss, accuracy=val_acc)
            self.sink.add(engine.state.iteration, float(epoch), "train", epoch_loss=metrics["train_loss"], accuracy=metrics["train_accuracy"])
            self.sink.flush()
        self.emit({"event": "epoch", "epoch": epoch, "step": engine.state.iteration, **{k: round(v, 6) for k, v in metrics.items()},
                   "eta_s": round(per_epoch * (self.spec["epochs"] - epoch), 1), "seconds": round(seconds, 3),
                   "train_seconds": round(train_seconds, 3)})
        score = (val_acc, -val_loss)
        improved = self.best.score is None or score > self.best.score
        if improved:
            self.best.score = score
            self.best.metrics = {**metrics, "epoch": epoch}
            self._write_model()
        self._checkpoint(engine, is_best=improved)
        self.update_run(epoch=epoch, step=engine.state.iteration, summary={"best": self.best.metrics, "last": {**metrics, "epoch": epoch}})

    def _clear_outputs(self) -> None:
        if self.dist.is_main:
            self.folder.mkdir(parents=True, exist_ok=True)
            for name in (CHECKPOINT_NAME, WEIGHTS_NAME, CARD_NAME):
                (self.folder / name).unlink(missing_ok=True)

    def _write_model(self) -> None:
        if not self.dist.is_main:
            return
        from safetensors.torch import save_file

        self.folder.mkdir(parents=True, exist_ok=True)
        weights = {k: v.detach().to("cpu").contiguous() for k, v in self.model.state_dict().items()}
        tmp = self.folder / f".{WEIGHTS_NAME}.tmp"
        save_file(weights, str(tmp))
        os.replace(tmp, self.folder / WEIGHTS_NAME)
        self.card().save(self.folder / CARD_NAME)

    def card(self) -> ModelCard:
        spec = self.spec
        training = {k: v for k, v in spec.items() if k != "holdout_val_ids"}
        return ModelCard(architecture=spec["model"], classes=list(self.view.classes), image_size=spec["image_size"],
                         in_channels=spec["in_channels"], mean=list(spec["mean"]), std=list(spec["std"]),
                         run_id=self.run_id, dataset=self.view.summary(), metrics=dict(self.best.metrics),
                         training=training, studio_version=__version__)

    def _checkpoint(self, engine: Engine, is_best: bool = False) -> None:
        if not self.dist.is_main:
            return
        st = engine.state
        payload = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(),
            "rng": rng_state(),
            "epoch": st.epoch,  # completed epochs
            "iteration": st.iteration,
            "epoch_iteration": 0 if st.epoch_iteration >= len(self.train_loader) else st.epoch_iteration,
            "best_score": list(self.best.score) if self.best.score else None,
            "best_metrics": self.best.metrics,
            "early_stopping": self.early.state_dict() if self.early else None,
            "frozen": self.frozen,
        }
        path = self.folder / CHECKPOINT_NAME
        save_checkpoint(path, payload)
        rel = str(path.relative_to(self.lib.home))
        with self.lib.transaction() as s:
            s.add(Checkpoint(run_id=self.run_id, epoch=st.epoch, step=st.iteration, path=rel,
                             metrics=dict(st.metrics), is_best=is_best))
        self.emit({"event": "checkpoint", "run_id": self.run_id, "epoch": st.epoch, "step": st.iteration,
                   "path": str(path), "is_best": is_best})

    def _restore(self, early: EarlyStopping | None) -> dict[str, int]:
        ckpt = load_checkpoint(self.folder / CHECKPOINT_NAME)
        self.model.load_state_dict(ckpt["model"])
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.scheduler.load_state_dict(ckpt["scheduler"])
        self.scaler.load_state_dict(ckpt["scaler"])
        set_rng_state(ckpt["rng"])
        if ckpt.get("best_score"):
            self.best.score = tuple(ckpt["best_score"])
            self.best.metrics = dict(ckpt.get("best_metrics") or {})
        if early is not None and ckpt.get("early_stopping"):
            early.load_state_dict(ckpt["early_stopping"])
        self.frozen = bool(ckpt.get("frozen", self.frozen))
        zoo.freeze_backbone(self.model, self.spec["model"], self.frozen)
        return {"start_epoch": int(ckpt["epoch"]), "start_iteration": int(ckpt["iteration"]),
                "start_epoch_iteration": int(ckpt["epoch_iteration"])}

    def _finish(self, state) -> dict[str, Any]:
        if self.sink is not None:
            self.sink.flush()
        stopped_by_user = state.stop_reason == "stopped"
        if stopped_by_user and state.epoch_iteration and state.epoch_iteration < len(self.train_loader):
            self._checkpoint(self.engine)  # mid-epoch: keep the work done so far
        if not (self.folder / WEIGHTS_NAME).is_file() and self.dist.is_main:
            self.best.metrics = dict(self.best.metrics or {"epoch": state.epoch})
            self._write_model()  # stopped before the first epoch ended: the weights as they are
        status = "stopped" if stopped_by_user else "completed"
        if state.stop_reason and not stopped_by_user:
            self.notes.append(state.stop_reason)
        self.update_run(status=status, finished_at=utcnow(), pid=None, epoch=state.epoch, step=state.iteration,
                        notes="\n".join(self.notes))
        result = {"run_id": self.run_id, "status": status, "metrics": self.best.metrics,
                  "epochs": state.epoch, "steps": state.iteration, "notes": self.notes,
                  "model_path": str(self.folder / WEIGHTS_NAME)}
        self.emit({"event": "done", **result})
        return result


def _hint(exc: BaseException) -> str:
    """The offline error's advice (where to put the file), without its first clause."""
    text = str(exc)
    return ("To start from ImageNet: " + text.split(": ", 1)[1]) if ": " in text else text


class TrainingError(StudioError):
    """A run failed; the message (also stored in run.error) says why."""
