"""The plain job functions behind the Train, Runs and Evaluate pages (no Qt in here).

Each takes its inputs and a ``JobState`` last, so ``studio.ui.common.workers.start_job`` runs it on a
pool thread. They only call the engine's public API (zoo, runner, runs, evaluate, augment) and
shape the answers for the combo boxes; the training itself runs in the worker process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from studio.core.jobs import JobState

if TYPE_CHECKING:
    import numpy as np

    from studio.store.library import Library
    from studio.train.evaluate import Evaluation


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
    dataset_kinds: dict[int, str] = field(default_factory=dict)  # id -> "image" | "table" | "text"
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


def finished_runs(lib: Library, state: JobState | None = None) -> list[RunChoice]:
    """Runs whose trained weights exist, newest first: to evaluate or fine-tune from."""
    from studio.train.runs import trained_runs

    out = []
    for run in trained_runs(lib):
        score = f", val {run.score_text}" if run.score_text != "–" else ""
        out.append(RunChoice(run.run_id, f"Run {run.run_id}: {run.name or run.model} ({run.status}{score})", run.model))
    return out


def load_train_choices(lib: Library, state: JobState) -> TrainChoices:
    """Everything the Train page's combo boxes offer (importing torch happens here, off the GUI)."""
    from studio.store.datasets import list_datasets
    from studio.train import zoo

    choices = TrainChoices()
    with lib.session() as s:
        for d in list_datasets(s):
            size = {"table": f"table, {d.samples} rows",
                    "text": f"text, {d.samples} texts, {d.classes} classes"}.get(d.kind, f"{d.samples} samples, {d.classes} classes")
            choices.datasets.append((d.id, f"{d.name} ({size})"))
            choices.dataset_kinds[d.id] = d.kind
    state.set_progress(0.3)
    choices.models = [ModelChoice(e.name, e.default_image_size, e.description, e.pretrained_available)
                      for e in zoo.list_models()]
    choices.devices = list_devices()
    choices.runs = finished_runs(lib)
    state.set_progress(1.0)
    return choices


def augment_preview(lib: Library, dataset_id: int, names: list[str], image_size: int,
                    count: int, seed: int, state: JobState) -> list[np.ndarray]:
    """``count`` training images of the dataset as the engine augments them, as HxWx3 uint8."""
    from studio.data.augment import preview

    return preview(lib, dataset_id, names, image_size, count, seed, state)


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


# --- Runs and Evaluate pages -----------------------------------------------------------------

def delete_run_job(lib: Library, run_id: int, state: JobState) -> int:
    from studio.train.runs import delete_run

    delete_run(lib, run_id)
    return run_id


def evaluate_job(lib: Library, run_id: int, split: str, state: JobState) -> Evaluation:
    """The engine's evaluation, on the device the CLI's `studio evaluate` uses by default."""
    from studio.train.evaluate import evaluate_run

    state.set_progress(0.05, "evaluating")
    return evaluate_run(lib, run_id, split, state=state)


def thumbnails_job(lib: Library, sample_ids: list[int], size: int, state: JobState) -> list[tuple[int, str]]:
    """(sample id, thumbnail file path) for each sample, made on disk when missing."""
    from studio.store.samples import sample_rows
    from studio.store.thumbnails import thumbnail_path

    with lib.session() as s:
        blobs = {row.id: row.blob for row in sample_rows(s, sample_ids)}
    out = []
    for i, sid in enumerate(sample_ids):
        state.check_cancelled()
        blob = blobs.get(sid)
        if blob is None:
            continue
        out.append((sid, str(thumbnail_path(lib, blob, size))))
        state.set_progress((i + 1) / max(len(sample_ids), 1))
    return out
