"""Which samples a run trains, validates and tests on: read from the store, checked, split."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select

from studio.core.errors import InvalidInputError
from studio.store.models import Dataset, LabelClass, Sample

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

HOLDOUT_FRACTION = 0.10
UNLABELLED = "unlabelled"


@dataclass(frozen=True)
class SampleRef:
    id: int
    blob: str
    label: int  # index into DatasetView.classes; -1 when unlabelled
    split: str  # train | val | test | unlabelled


@dataclass
class DatasetView:
    id: int
    name: str
    classes: list[str]
    samples: list[SampleRef]
    median_size: int = 0
    channels: int = 3
    notes: list[str] = field(default_factory=list)

    def split(self, name: str) -> list[SampleRef]:
        if name == "all":
            return list(self.samples)
        return [s for s in self.samples if s.split == name]

    def summary(self) -> dict:
        per_split = Counter(s.split for s in self.samples)
        per_class = Counter(self.classes[s.label] for s in self.samples if s.label >= 0)
        return {"id": self.id, "name": self.name, "splits": dict(per_split), "classes": dict(per_class)}


def find_dataset(session: Session, dataset: str | int) -> Dataset:
    """By name first, then by id (the store's rule)."""
    from studio.store.datasets import get_dataset

    return get_dataset(session, dataset)


def load_view(session: Session, dataset: str | int) -> DatasetView:
    """Every sample of a dataset with its class index and split (labelled ones without a split are train)."""
    ds = find_dataset(session, dataset)
    classes = list(session.scalars(
        select(LabelClass).where(LabelClass.dataset_id == ds.id).order_by(LabelClass.position, LabelClass.id)
    ))
    index = {c.id: i for i, c in enumerate(classes)}
    rows = session.execute(
        select(Sample.id, Sample.blob, Sample.class_id, Sample.split, Sample.width, Sample.height, Sample.channels)
        .where(Sample.dataset_id == ds.id)
        .order_by(Sample.id)
    ).all()
    refs = []
    for sid, blob, class_id, split, *_ in rows:
        label = index.get(class_id, -1) if class_id is not None else -1
        refs.append(SampleRef(sid, blob, label, (split or "train") if label >= 0 else UNLABELLED))
    sizes = sorted(max(w or 0, h or 0) for *_, w, h, _c in rows)
    channels = 1 if rows and all((c or 3) == 1 for *_, c in rows) else 3
    return DatasetView(ds.id, ds.name, [c.name for c in classes], refs,
                       sizes[len(sizes) // 2] if sizes else 0, channels)


def check_trainable(view: DatasetView) -> None:
    """One clear message for each dataset that cannot be trained on."""
    labelled = [s for s in view.samples if s.label >= 0]
    if not labelled:
        raise InvalidInputError(f"dataset {view.name!r} has no labelled samples: label some images first")
    counts = Counter(s.label for s in labelled)
    empty = [name for i, name in enumerate(view.classes) if counts[i] == 0]
    if empty:
        names = ", ".join(repr(n) for n in empty)
        raise InvalidInputError(f"class {names} of dataset {view.name!r} has no labelled samples: label some or delete the class")
    if len(view.classes) < 2:
        only = view.classes[0] if view.classes else "?"
        raise InvalidInputError(f"dataset {view.name!r} has only one class ({only!r}): training needs at least two")
    if not [s for s in labelled if s.split == "train"]:
        raise InvalidInputError(f"dataset {view.name!r} has no training samples (all are in val/test)")


def hold_out_validation(view: DatasetView, seed: int, fraction: float = HOLDOUT_FRACTION) -> list[int]:
    """Ids of a stratified ``fraction`` of train moved to val, when the dataset has no val split.

    Deterministic in (seed, sample ids); each class with >= 2 train samples gives at least one."""
    by_class: dict[int, list[int]] = defaultdict(list)
    for s in view.samples:
        if s.split == "train":
            by_class[s.label].append(s.id)
    rng = random.Random(seed)
    held: list[int] = []
    for label in sorted(by_class):
        ids = sorted(by_class[label])
        if len(ids) < 2:
            continue
        rng.shuffle(ids)
        held.extend(ids[: max(1, round(len(ids) * fraction))])
    return sorted(held)


def apply_holdout(view: DatasetView, val_ids: list[int]) -> DatasetView:
    moved = set(val_ids)
    samples = [SampleRef(s.id, s.blob, s.label, "val") if s.id in moved else s for s in view.samples]
    return DatasetView(view.id, view.name, view.classes, samples, view.median_size, view.channels, list(view.notes))
