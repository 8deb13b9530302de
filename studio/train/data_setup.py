"""A run's data: the dataset as it is now (checked against the run), its validation split (held
out of train when it has none), the decoded image cache, batch loaders, and the batch transforms."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from studio.core.errors import InvalidInputError
from studio.core.jobs import JobState
from studio.data.augment import make_augment
from studio.data.cache import load_images
from studio.data.loader import BatchLoader
from studio.data.samples import (
    DatasetView,
    apply_holdout,
    check_trainable,
    hold_out_validation,
    load_view,
)
from studio.train.events import CacheProgress
from studio.train.run_context import RunContext
from studio.train.transforms import make_kernel_transforms

CACHE_SHARE = 0.05  # of the run's progress bar: decoding the images; training is the rest


@dataclass
class TrainData:
    view: DatasetView
    train_loader: BatchLoader
    val_loader: BatchLoader
    augment: Callable[..., torch.Tensor] | None
    kernel_transforms: Callable[[torch.Tensor], torch.Tensor] | None
    notes: list[str] = field(default_factory=list)  # for the user, once (e.g. how validation was held out)


class CacheJob(JobState):
    """The run's job as the cache build sees it: progress goes to ``on_progress``, and a stop asked
    of the run cancels the build."""

    def __init__(self, run_job: JobState, on_progress: Callable[[float, str], None]):
        super().__init__(on_progress=on_progress)
        self._run_job = run_job

    def is_cancelled(self) -> bool:
        return self._run_job.is_cancelled()

    def check_cancelled(self) -> None:
        self._run_job.check_cancelled()


def prepare_data(ctx: RunContext, spec: dict[str, Any], dataset_id: int, device: torch.device) -> TrainData:
    """Load and check the dataset, decode its images onto ``device``, and build the loaders.
    A held-out validation split is stored in ``spec`` (and the run row), so a resume reuses it."""
    with ctx.lib.session() as s:
        view = load_view(s, dataset_id)
    check_trainable(view)
    if list(view.classes) != ctx.run_classes():
        raise InvalidInputError("the dataset's classes changed since this run was created: start a new run")
    notes: list[str] = []
    if not view.split("val"):
        if "holdout_val_ids" not in spec:
            spec["holdout_val_ids"] = hold_out_validation(view, spec["seed"])
            spec["validation"] = f"no validation split: held out a stratified 10% of train ({len(spec['holdout_val_ids'])} samples)"
            ctx.update_run(spec=dict(spec))
        view = apply_holdout(view, spec["holdout_val_ids"])
        notes.append(spec["validation"])
    train, val = view.split("train"), view.split("val")
    if not val:
        raise InvalidInputError(f"dataset {view.name!r} is too small to hold out validation samples: add more or set a val split")

    def cache_progress(fraction: float, message: str) -> None:
        ctx.job.set_progress(fraction * CACHE_SHARE, message)
        ctx.emit(CacheProgress(fraction=round(fraction, 4), message=message))

    dist = ctx.dist
    if not dist.is_main:
        dist.barrier()  # rank 0 builds the cache; the others then read it
    images = load_images(ctx.lib, train + val, spec["image_size"], spec["in_channels"], device,
                         CacheJob(ctx.job, cache_progress))
    if dist.is_main:
        dist.barrier()
    world_batch = spec["batch_size"]
    per_rank = max(1, world_batch // dist.world)
    train_loader = BatchLoader(images, [r.id for r in train], [r.label for r in train], per_rank,
                               seed=spec["seed"], rank=dist.rank, world=dist.world)
    val_loader = BatchLoader(images, [r.id for r in val], [r.label for r in val], max(256, world_batch), shuffle=False)
    if len(train_loader) == 0:
        raise InvalidInputError(f"dataset {view.name!r} has too few training samples for one batch")
    return TrainData(view, train_loader, val_loader, make_augment(spec["augment"]),
                     make_kernel_transforms(spec.get("kernel_transforms"), ctx.lib.home), notes)
