"""Picking a sample to try something on: the image datasets by name, a random sample of one, the
blob a sample's picture is stored in (the kernel lab's "Dataset sample…" input uses these)."""

from __future__ import annotations

import random

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from studio.core.errors import NotFoundError
from studio.store.models import Dataset, Sample


def image_dataset_ids(s: Session) -> dict[str, int]:
    """Name -> id of every image dataset."""
    return dict(s.execute(select(Dataset.name, Dataset.id).where(Dataset.kind == "image")).all())


def random_sample_id(s: Session, dataset_id: int, rng: random.Random | None = None) -> int | None:
    """One sample of the dataset chosen uniformly at random; None when it has none."""
    count = s.scalar(select(func.count(Sample.id)).where(Sample.dataset_id == dataset_id)) or 0
    if not count:
        return None
    offset = (rng or random).randrange(count)
    return s.scalar(select(Sample.id).where(Sample.dataset_id == dataset_id).order_by(Sample.id).offset(offset).limit(1))


def sample_blob(s: Session, sample_id: int) -> str:
    """The blob digest of a sample's file (NotFoundError when there is no such sample)."""
    blob = s.scalar(select(Sample.blob).where(Sample.id == sample_id))
    if blob is None:
        raise NotFoundError(f"no sample with id {sample_id}")
    return blob
