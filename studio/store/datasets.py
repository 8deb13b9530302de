"""Datasets and their label classes: create, find, list with counts, rename, delete.

Query functions take a Session and leave committing to the caller (``with lib.transaction() as s``),
except ``delete_dataset`` which owns its transaction because it also removes files afterwards.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from studio.core.errors import InvalidInputError, NotFoundError
from studio.store.models import Dataset, LabelClass, Sample, TableData

DATASET_KINDS = ("image", "table", "text")

# Okabe-Ito and Tableau 10, reordered so neighbours contrast: distinct, colour-blind friendly.
PALETTE = (
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2",
    "#edc948", "#ff9da7", "#9c755f", "#0072b2", "#d55e00", "#009e73",
)


@dataclass(frozen=True)
class DatasetSummary:
    id: int
    name: str
    kind: str
    samples: int
    labelled: int
    classes: int
    created_at: datetime


@dataclass(frozen=True)
class ClassCount:
    class_id: int
    name: str
    colour: str
    count: int


def name_problem(name: str, what: str = "dataset") -> str | None:
    """Why ``name`` (already stripped) cannot name a dataset or class; None when it can."""
    from studio.core.limits import limits

    most = limits().max_class_name_chars if what == "class" else 200
    if not name:
        return f"{what} name must not be empty"
    if len(name) > most:
        return f"{what} name is too long ({len(name)} characters, at most {most})"
    return None


def clean_name(name: str, what: str = "dataset") -> str:
    """``name`` stripped; InvalidInputError when it cannot name a dataset or class."""
    name = (name or "").strip()
    problem = name_problem(name, what)
    if problem:
        raise InvalidInputError(problem)
    return name


def create_dataset(s: Session, name: str, kind: str = "image") -> Dataset:
    name = clean_name(name)
    if kind not in DATASET_KINDS:
        raise InvalidInputError(f"unknown dataset kind {kind!r} (use one of: {', '.join(DATASET_KINDS)})")
    if s.scalar(select(Dataset.id).where(Dataset.name == name)) is not None:
        raise InvalidInputError(f"a dataset named {name!r} already exists")
    ds = Dataset(name=name, kind=kind)
    s.add(ds)
    s.flush()
    return ds


def get_dataset(s: Session, name_or_id: str | int) -> Dataset:
    """By name first; a string of digits that is no dataset's name is taken as an id."""
    if isinstance(name_or_id, int):
        ds = s.get(Dataset, name_or_id)
        if ds is None:
            raise NotFoundError(f"no dataset with id {name_or_id}")
        return ds
    text = str(name_or_id).strip()
    ds = s.scalar(select(Dataset).where(Dataset.name == text))
    if ds is None and text.isdigit():
        ds = s.get(Dataset, int(text))
    if ds is None:
        raise NotFoundError(f"no dataset named {text!r}", hint="`studio datasets list` shows them")
    return ds


def list_datasets(s: Session) -> list[DatasetSummary]:
    """All datasets with sample, labelled and class counts, in one grouped query."""
    sample_counts = (
        select(
            Sample.dataset_id.label("dataset_id"),
            func.count(Sample.id).label("samples"),
            func.count(Sample.class_id).label("labelled"),
        )
        .group_by(Sample.dataset_id)
        .subquery()
    )
    class_counts = (
        select(LabelClass.dataset_id.label("dataset_id"), func.count(LabelClass.id).label("classes"))
        .group_by(LabelClass.dataset_id)
        .subquery()
    )
    stmt = (
        select(
            Dataset.id,
            Dataset.name,
            Dataset.kind,
            func.coalesce(sample_counts.c.samples, TableData.rows, 0),  # a table's samples are its rows
            func.coalesce(sample_counts.c.labelled, TableData.rows, 0),
            func.coalesce(class_counts.c.classes, 0),
            Dataset.created_at,
        )
        .outerjoin(sample_counts, sample_counts.c.dataset_id == Dataset.id)
        .outerjoin(TableData, TableData.dataset_id == Dataset.id)
        .outerjoin(class_counts, class_counts.c.dataset_id == Dataset.id)
        .order_by(Dataset.name)
    )
    return [DatasetSummary(*row) for row in s.execute(stmt)]


def rename_dataset(s: Session, dataset_id: int, new_name: str) -> Dataset:
    ds = get_dataset(s, int(dataset_id))
    new_name = clean_name(new_name)
    if new_name == ds.name:
        return ds
    clash = s.scalar(select(Dataset.id).where(Dataset.name == new_name))
    if clash is not None:
        raise InvalidInputError(f"a dataset named {new_name!r} already exists")
    ds.name = new_name
    s.flush()
    return ds


def delete_dataset(lib, dataset_id: int) -> int:
    """Delete a dataset (its classes, samples and predictions cascade in the DB) and queue its
    blobs for removal in the same transaction; then collect garbage: files no other sample uses
    are removed now, or when the import in progress (if any) ends. Returns the files removed now."""
    from studio.store.gc import collect_garbage, queue_for_removal, table_blobs

    with lib.transaction() as s:
        get_dataset(s, int(dataset_id))
        blobs = set(s.scalars(select(Sample.blob).where(Sample.dataset_id == dataset_id)))
        blobs |= set(table_blobs(s, dataset_id))
        s.execute(delete(Dataset).where(Dataset.id == dataset_id))
        queue_for_removal(s, blobs)
    return collect_garbage(lib).removed


# --- classes -----------------------------------------------------------------------------------


def unused_colour(used: set[str]) -> str:
    """The first palette colour not in ``used`` (lower-case #rrggbb)."""
    for colour in PALETTE:
        if colour not in used:
            return colour
    # Palette exhausted: golden-ratio hue steps stay distinct for a long while.
    hue = (len(used) * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.55, 0.85)
    return f"#{int(r * 255):02x}{int(g * 255):02x}{int(b * 255):02x}"


def get_or_create_class(s: Session, dataset_id: int, name: str) -> LabelClass:
    name = clean_name(name, "class")
    found = s.scalar(
        select(LabelClass).where(LabelClass.dataset_id == dataset_id, LabelClass.name == name)
    )
    if found is not None:
        return found
    rows = s.execute(
        select(LabelClass.colour, LabelClass.position).where(LabelClass.dataset_id == dataset_id)
    ).all()
    used = {colour.lower() for colour, _ in rows}
    position = max((pos for _, pos in rows), default=-1) + 1
    cls = LabelClass(dataset_id=dataset_id, name=name, colour=unused_colour(used), position=position)
    s.add(cls)
    s.flush()
    return cls


def class_counts(s: Session, dataset_id: int) -> list[ClassCount]:
    """Every class of the dataset (empty ones too) with its sample count, in position order."""
    stmt = (
        select(LabelClass.id, LabelClass.name, LabelClass.colour, func.count(Sample.id))
        .outerjoin(Sample, Sample.class_id == LabelClass.id)
        .where(LabelClass.dataset_id == dataset_id)
        .group_by(LabelClass.id)
        .order_by(LabelClass.position, LabelClass.id)
    )
    return [ClassCount(*row) for row in s.execute(stmt)]


def unlabelled_count(s: Session, dataset_id: int) -> int:
    return s.scalar(
        select(func.count(Sample.id)).where(Sample.dataset_id == dataset_id, Sample.class_id.is_(None))
    ) or 0


def split_counts(s: Session, dataset_id: int) -> dict[str | None, int]:
    """Samples per split; key None = not assigned. Every split key is present (0 when empty)."""
    counts: dict[str | None, int] = {"train": 0, "val": 0, "test": 0, None: 0}
    stmt = (
        select(Sample.split, func.count(Sample.id))
        .where(Sample.dataset_id == dataset_id)
        .group_by(Sample.split)
    )
    for split, n in s.execute(stmt):
        counts[split] = n
    return counts
