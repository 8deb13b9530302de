"""The plain job functions behind the Train, Runs and Evaluate pages (no Qt in here).

Each takes its inputs and a ``JobState`` last, so ``studio.ui.common.workers.start_job`` runs it on a
pool thread. They only gather what the views show, calling the engine's public API (zoo,
runner, runs, evaluate, augment); the training itself runs in the worker process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from sqlalchemy import select

from studio.core.jobs import JobState
from studio.store.models import Dataset, Metric, Prediction, Run, Sample

if TYPE_CHECKING:
    from studio.store.library import Library

FINISHED = ("completed", "stopped")
RESUMABLE = ("stopped", "interrupted", "failed")


@dataclass
class ModelChoice:
    name: str
    default_image_size: int
    description: str
    pretrained_available: bool


@dataclass
class DeviceChoice:
    key: str  # what the spec's "device" gets: auto, cpu, cuda:0, mps
    label: str


@dataclass
class RunChoice:
    run_id: int
    label: str
    model: str


@dataclass
class TrainChoices:
    datasets: list[tuple[int, str]] = field(default_factory=list)  # (id, "name (N samples, K classes)")
    models: list[ModelChoice] = field(default_factory=list)
    devices: list[DeviceChoice] = field(default_factory=list)
    runs: list[RunChoice] = field(default_factory=list)  # finished runs with weights to start from


# --- Train page -------------------------------------------------------------------------------

def list_devices() -> list[DeviceChoice]:
    """auto, CPU, each CUDA GPU with its name and free memory, Apple MPS when present."""
    import torch

    devices = [DeviceChoice("auto", "Automatic (the best available)"),
               DeviceChoice("cpu", f"CPU ({os.cpu_count()} cores)")]
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            name = torch.cuda.get_device_name(index)
            try:
                free, total = torch.cuda.mem_get_info(index)
                memory = f"{free / 2**30:.1f} GB free of {total / 2**30:.0f} GB"
            except RuntimeError:
                memory = "memory unknown"
            devices.append(DeviceChoice(f"cuda:{index}", f"GPU {index}: {name} ({memory})"))
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append(DeviceChoice("mps", "Apple GPU (MPS)"))
    return devices


def finished_runs(lib: Library) -> list[RunChoice]:
    """Runs whose trained weights exist: candidates to fine-tune from."""
    from studio.train.artifacts import WEIGHTS_NAME, run_dir

    with lib.session() as s:
        rows = s.execute(select(Run.id, Run.name, Run.model, Run.status, Run.summary)
                         .where(Run.status.in_(FINISHED)).order_by(Run.id.desc())).all()
    out = []
    for run_id, name, model, status, summary in rows:
        if not (run_dir(lib, run_id) / WEIGHTS_NAME).is_file():
            continue
        best = ((summary or {}).get("best") or {}).get("val_accuracy")
        acc = f", val acc {best:.1%}" if isinstance(best, (int, float)) else ""
        out.append(RunChoice(run_id, f"Run {run_id}: {name or model} ({status}{acc})", model))
    return out


def load_train_choices(lib: Library, state: JobState) -> TrainChoices:
    """Everything the Train page's combo boxes offer (importing torch happens here, off the GUI)."""
    from studio.store.datasets import list_datasets
    from studio.train import zoo

    choices = TrainChoices()
    with lib.session() as s:
        for d in list_datasets(s):
            choices.datasets.append((d.id, f"{d.name} ({d.samples} samples, {d.classes} classes)"))
    state.set_progress(0.3)
    choices.models = [ModelChoice(e.name, e.default_image_size, e.description, e.pretrained_available)
                      for e in zoo.list_models()]
    choices.devices = list_devices()
    choices.runs = finished_runs(lib)
    state.set_progress(1.0)
    return choices


def augment_preview(lib: Library, dataset_id: int, names: list[str], image_size: int,
                    count: int, seed: int, state: JobState) -> list[np.ndarray]:
    """``count`` training images of the dataset through the engine's augmentation, as HxWxC uint8."""
    import torch

    from studio.data.augment import make_augment
    from studio.data.preprocess import image_to_tensor, resize_float
    from studio.store.images import open_upright

    with lib.session() as s:
        ids = s.execute(select(Sample.id, Sample.blob).where(Sample.dataset_id == dataset_id)
                        .where(Sample.class_id.is_not(None))
                        .order_by(Sample.split != "train", Sample.id)).all()
    if not ids:
        return []
    picks = [ids[int(i)] for i in np.linspace(0, len(ids) - 1, num=min(count, len(ids)))]
    tensors = []
    channels = 3
    for _sid, blob in picks:
        state.check_cancelled()
        pil = open_upright(lib.blobs.path(blob))
        channels = 1 if pil.mode == "L" else 3
        tensors.append(image_to_tensor(pil, 3).float().div_(255))
    batch = torch.stack([resize_float(t.unsqueeze(0), image_size)[0] for t in tensors])
    augment = make_augment(names)
    if augment is not None:
        batch = augment(batch, torch.Generator().manual_seed(seed))
    if channels == 1:
        batch = batch.mean(dim=1, keepdim=True).expand(-1, 3, -1, -1)
    images = batch.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
    return [img for img in images]


def ensure_imagenet_weights(model: str, state: JobState) -> str:
    """Find (or download, with progress and cancel) torchvision's ImageNet weights for ``model``."""
    from studio.train import zoo

    def progress(done: int, total: int) -> None:
        state.check_cancelled()
        fraction = done / total if total else 0.0
        state.set_progress(fraction, f"{done / 1e6:.1f} of {total / 1e6:.1f} MB" if total else f"{done / 1e6:.1f} MB")

    return str(zoo.imagenet_weights_file(model, progress))


def create_run_job(lib: Library, dataset_id: int, spec: dict[str, Any], state: JobState) -> int:
    """Check the settings and store a queued run (the worker process then trains it)."""
    from studio.train.runner import create_run

    return create_run(lib, dataset_id, spec)


# --- Runs page --------------------------------------------------------------------------------

@dataclass
class RunRow:
    run_id: int
    name: str
    dataset: str
    model: str
    settings: str
    status: str
    best: float | None
    duration_s: float | None
    epoch: int
    epochs: int | None
    error: str
    has_weights: bool
    has_checkpoint: bool
    dataset_id: int | None
    spec: dict


def _settings_text(spec: dict) -> str:
    if not spec:
        return ""
    bits = [f"{spec.get('epochs', '?')} ep", f"bs {spec.get('batch_size', '?')}"]
    lr = spec.get("lr")
    if isinstance(lr, (int, float)):
        bits.append(f"lr {lr:g}")
    if spec.get("optimizer"):
        bits.append(str(spec["optimizer"]))
    if spec.get("image_size"):
        bits.append(f"{spec['image_size']}px")
    pretrained = spec.get("pretrained")
    if pretrained not in (None, "none"):
        bits.append(f"from {'run ' + str(pretrained) if str(pretrained).isdigit() else pretrained}")
    if spec.get("freeze") == "backbone":
        bits.append("frozen backbone")
    return ", ".join(bits)


def load_runs(lib: Library, state: JobState | None = None) -> list[RunRow]:
    """All runs, newest first. Marks runs whose worker died as interrupted first."""
    from studio.train.artifacts import WEIGHTS_NAME, run_dir
    from studio.train.checkpoints import CHECKPOINT_NAME
    from studio.train.runs import mark_interrupted

    mark_interrupted(lib)
    with lib.session() as s:
        names = dict(s.execute(select(Dataset.id, Dataset.name)).all())
        runs = list(s.scalars(select(Run).order_by(Run.id.desc())))
    rows = []
    for run in runs:
        spec = dict(run.spec or {})
        best = ((run.summary or {}).get("best") or {}).get("val_accuracy")
        duration = None
        if run.started_at is not None:
            end = run.finished_at or run.heartbeat_at
            if end is not None:
                duration = max((end - run.started_at).total_seconds(), 0.0)
        rows.append(RunRow(
            run_id=run.id, name=run.name, dataset=names.get(run.dataset_id, "(deleted)"), model=run.model,
            settings=_settings_text(spec), status=run.status, best=best if isinstance(best, (int, float)) else None,
            duration_s=duration, epoch=run.epoch, epochs=spec.get("epochs"), error=run.error or "",
            has_weights=(run_dir(lib, run.id) / WEIGHTS_NAME).is_file(),
            has_checkpoint=(run_dir(lib, run.id) / CHECKPOINT_NAME).is_file(), dataset_id=run.dataset_id, spec=spec,
        ))
    return rows


@dataclass
class RunCurves:
    run_id: int
    series: dict[str, tuple[np.ndarray, np.ndarray]]  # "train/loss" -> (steps, values)


def load_curves(lib: Library, run_ids: list[int], state: JobState | None = None) -> list[RunCurves]:
    """Every stored metric of the runs, grouped as split/name series ordered by step."""
    out = []
    with lib.session() as s:
        for run_id in run_ids:
            rows = s.execute(select(Metric.split, Metric.name, Metric.step, Metric.value)
                             .where(Metric.run_id == run_id).order_by(Metric.name, Metric.step)).all()
            grouped: dict[str, list[tuple[int, float]]] = {}
            for split, name, step, value in rows:
                grouped.setdefault(f"{split}/{name}", []).append((step, value))
            series = {key: (np.array([p[0] for p in pts], dtype=float), np.array([p[1] for p in pts], dtype=float))
                      for key, pts in grouped.items()}
            out.append(RunCurves(run_id, series))
    return out


def delete_run_job(lib: Library, run_id: int, state: JobState) -> int:
    from studio.train.runs import delete_run

    delete_run(lib, run_id)
    return run_id


# --- Evaluate page ----------------------------------------------------------------------------

@dataclass
class Evaluation:
    run_id: int
    split: str
    dataset_id: int
    classes: list[str]
    accuracy: float | None
    per_class: list[dict]
    confusion: np.ndarray | None  # rows = true class, columns = predicted class
    cells: dict[tuple[int, int], list[int]]  # (true, predicted) -> sample ids, most confident first
    mistakes: list[tuple[int, str, str, float]]  # (sample id, true, predicted, confidence), worst first
    samples: int


def evaluate_job(lib: Library, run_id: int, split: str, state: JobState) -> Evaluation:
    """Run the engine's evaluation, then read back the stored predictions to map cells -> samples."""
    from studio.train.evaluate import evaluate_run

    state.set_progress(0.05, "evaluating")
    result = evaluate_run(lib, run_id, split, device="cpu", state=state)
    classes = list(result["classes"])
    with lib.session() as s:
        run = s.get(Run, run_id)
        dataset_id = int(run.dataset_id)
        class_names = _sample_classes(s, dataset_id)
        rows = s.execute(select(Prediction.sample_id, Prediction.class_name, Prediction.confidence)
                         .where(Prediction.run_id == run_id)).all()
    wanted = _split_ids(lib, run_id, dataset_id, split)
    index = {name: i for i, name in enumerate(classes)}
    cells: dict[tuple[int, int], list[tuple[float, int]]] = {}
    mistakes = []
    for sample_id, predicted, confidence in rows:
        if sample_id not in wanted:
            continue
        truth = class_names.get(sample_id)
        if truth is None or truth not in index or predicted not in index:
            continue
        cells.setdefault((index[truth], index[predicted]), []).append((confidence, sample_id))
        if truth != predicted:
            mistakes.append((sample_id, truth, predicted, float(confidence)))
    mistakes.sort(key=lambda m: -m[3])
    confusion = np.asarray(result["confusion_matrix"]) if "confusion_matrix" in result else None
    return Evaluation(
        run_id=run_id, split=split, dataset_id=dataset_id, classes=classes, accuracy=result.get("accuracy"),
        per_class=list(result.get("per_class", [])), confusion=confusion,
        cells={k: [sid for _c, sid in sorted(v, reverse=True)] for k, v in cells.items()},
        mistakes=mistakes, samples=int(result.get("samples", 0)),
    )


def _sample_classes(s, dataset_id: int) -> dict[int, str]:
    from studio.store.models import LabelClass

    rows = s.execute(select(Sample.id, LabelClass.name).join(LabelClass, Sample.class_id == LabelClass.id)
                     .where(Sample.dataset_id == dataset_id)).all()
    return {sid: name for sid, name in rows}


def _split_ids(lib: Library, run_id: int, dataset_id: int, split: str) -> set[int]:
    """The sample ids the engine evaluated for ``split`` (same view, same held-out val)."""
    from studio.data.samples import apply_holdout, load_view

    with lib.session() as s:
        view = load_view(s, dataset_id)
        held = (s.get(Run, run_id).spec or {}).get("holdout_val_ids")
    if held:
        view = apply_holdout(view, held)
    return {r.id for r in view.split(split)}


def sample_blobs(lib: Library, sample_ids: list[int]) -> dict[int, str]:
    with lib.session() as s:
        return dict(s.execute(select(Sample.id, Sample.blob).where(Sample.id.in_(sample_ids))).all())


def thumbnails_job(lib: Library, sample_ids: list[int], size: int, state: JobState) -> list[tuple[int, str]]:
    """(sample id, thumbnail file path) for each sample, made on disk when missing."""
    from studio.store.thumbnails import thumbnail_path

    blobs = sample_blobs(lib, sample_ids)
    out = []
    for i, sid in enumerate(sample_ids):
        state.check_cancelled()
        blob = blobs.get(sid)
        if blob is None:
            continue
        out.append((sid, str(thumbnail_path(lib, blob, size))))
        state.set_progress((i + 1) / max(len(sample_ids), 1))
    return out
