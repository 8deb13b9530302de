"""Classes of a dataset: list, find, add, rename, recolour, reorder, merge, delete, restore.

Every mutating function takes a Session (the caller owns the short transaction) and returns
exactly what an undo needs: a ``ClassSnapshot`` of a removed class, the previous name, colour or
order... so the Qt undo commands in studio/ui/datasets/labelling are thin wrappers, tested without Qt.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.orm import Session

from studio.core.errors import InvalidInputError, NotFoundError
from studio.store.datasets import clean_name, unused_colour  # one palette, one name rule for the app
from studio.store.labelling import LabelSnapshot, restore_labels, set_labels
from studio.store.models import LabelClass, Sample
from studio.store.rows import check_dataset, get_class

_COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


@dataclass(frozen=True)
class ClassRow:
    id: int
    name: str
    colour: str
    position: int
    count: int


@dataclass(frozen=True)
class ClassSnapshot:
    """Everything needed to re-create a deleted or merged class with its original id."""

    id: int
    dataset_id: int
    name: str
    colour: str
    position: int


@dataclass(frozen=True)
class ClassRemoval:
    """What merge_classes / delete_class did: the removed class and the labels it had."""

    removed: ClassSnapshot
    previous: LabelSnapshot
    target_id: int | None = None  # merge target; None for a delete


def _check_name_free(s: Session, dataset_id: int, name: str, except_id: int | None = None) -> None:
    clash = s.scalar(
        select(LabelClass.id).where(
            LabelClass.dataset_id == dataset_id,
            func.lower(LabelClass.name) == name.lower(),
            LabelClass.id != (except_id or -1),
        )
    )
    if clash is not None:
        raise InvalidInputError(f"a class named {name!r} already exists in this dataset")


def _check_colour(colour: str) -> str:
    if not _COLOUR_RE.match(colour or ""):
        raise InvalidInputError(f"colour must look like #rrggbb, not {colour!r}")
    return colour.lower()


def next_colour(s: Session, dataset_id: int) -> str:
    used = set(s.scalars(select(func.lower(LabelClass.colour)).where(LabelClass.dataset_id == dataset_id)))
    return unused_colour(used)


def snapshot(cls: LabelClass) -> ClassSnapshot:
    return ClassSnapshot(cls.id, cls.dataset_id, cls.name, cls.colour, cls.position)


def list_classes(s: Session, dataset_id: int) -> list[ClassRow]:
    """Classes in position order with their sample counts (one grouped query)."""
    counts = (
        select(Sample.class_id, func.count().label("n"))
        .where(Sample.dataset_id == dataset_id, Sample.class_id.is_not(None))
        .group_by(Sample.class_id)
        .subquery()
    )
    rows = s.execute(
        select(LabelClass.id, LabelClass.name, LabelClass.colour, LabelClass.position,
               func.coalesce(counts.c.n, 0))
        .outerjoin(counts, counts.c.class_id == LabelClass.id)
        .where(LabelClass.dataset_id == dataset_id)
        .order_by(LabelClass.position, LabelClass.id)
    ).all()
    return [ClassRow(*r) for r in rows]


def class_order(s: Session, dataset_id: int) -> list[tuple[int, str]]:
    """(id, name) of the classes in position order, without counting samples (number keys)."""
    return [tuple(r) for r in s.execute(
        select(LabelClass.id, LabelClass.name).where(LabelClass.dataset_id == dataset_id)
        .order_by(LabelClass.position, LabelClass.id))]


def class_styles(s: Session, dataset_id: int) -> dict[int, tuple[str, str]]:
    """{class_id: (name, colour)}: what a tile shows, without counting samples."""
    return {cid: (name, colour) for cid, name, colour in s.execute(
        select(LabelClass.id, LabelClass.name, LabelClass.colour).where(LabelClass.dataset_id == dataset_id))}


def find_class(s: Session, dataset_id: int, name_or_id: str | int) -> LabelClass:
    """A class of this dataset by name (case-insensitive) or, for digits that are no name, by id."""
    text = str(name_or_id).strip()
    cls = s.scalar(
        select(LabelClass).where(LabelClass.dataset_id == dataset_id,
                                 func.lower(LabelClass.name) == text.lower())
    )
    if cls is None and text.isdigit():
        cls = s.get(LabelClass, int(text))
        if cls is not None and cls.dataset_id != dataset_id:
            cls = None
    if cls is None:
        known = ", ".join(c.name for c in list_classes(s, dataset_id)) or "none yet"
        raise NotFoundError(f"no class {text!r} in this dataset (classes: {known})")
    return cls


def add_class(s: Session, dataset_id: int, name: str, colour: str | None = None) -> ClassSnapshot:
    check_dataset(s, dataset_id)
    name = clean_name(name, "class")
    _check_name_free(s, dataset_id, name)
    colour = _check_colour(colour) if colour else next_colour(s, dataset_id)
    top = s.scalar(select(func.max(LabelClass.position)).where(LabelClass.dataset_id == dataset_id))
    cls = LabelClass(dataset_id=dataset_id, name=name, colour=colour,
                     position=(top + 1) if top is not None else 0)
    s.add(cls)
    s.flush()
    return snapshot(cls)


def rename_class(s: Session, class_id: int, new_name: str) -> str:
    """Rename; returns the old name."""
    cls = get_class(s, class_id)
    new_name = clean_name(new_name, "class")
    _check_name_free(s, cls.dataset_id, new_name, except_id=cls.id)
    old, cls.name = cls.name, new_name
    s.flush()
    return old


def recolour_class(s: Session, class_id: int, colour: str) -> str:
    """Set the colour (#rrggbb); returns the old colour."""
    cls = get_class(s, class_id)
    old, cls.colour = cls.colour, _check_colour(colour)
    s.flush()
    return old


def reorder_classes(s: Session, dataset_id: int, class_ids: Sequence[int]) -> list[int]:
    """Give the classes the order of ``class_ids`` (all of them); returns the previous order."""
    before = [c.id for c in list_classes(s, dataset_id)]
    wanted = [int(c) for c in class_ids]
    if sorted(wanted) != sorted(before):
        raise InvalidInputError("the new order must list every class of the dataset exactly once")
    if wanted != before:
        s.execute(
            update(LabelClass.__table__)
            .where(LabelClass.id.in_(wanted))
            .values(position=case({cid: pos for pos, cid in enumerate(wanted)}, value=LabelClass.id))
        )
    return before


def restore_class(s: Session, snap: ClassSnapshot) -> None:
    """Re-create a removed class with its original id, name, colour and position."""
    if s.get(LabelClass, snap.id) is not None:
        raise InvalidInputError(f"class {snap.name!r} already exists")
    _check_name_free(s, snap.dataset_id, snap.name)
    s.execute(insert(LabelClass.__table__).values(
        id=snap.id, dataset_id=snap.dataset_id, name=snap.name, colour=snap.colour,
        position=snap.position))


def class_sample_count(s: Session, class_id: int) -> int:
    return s.scalar(select(func.count()).select_from(Sample).where(Sample.class_id == class_id)) or 0


def merge_classes(s: Session, source_id: int, target_id: int) -> ClassRemoval:
    """Move every sample of ``source`` into ``target`` and remove ``source``."""
    source, target = get_class(s, source_id), get_class(s, target_id)
    if source.id == target.id:
        raise InvalidInputError("cannot merge a class into itself")
    if source.dataset_id != target.dataset_id:
        raise InvalidInputError("can only merge classes of the same dataset")
    ids = list(s.scalars(select(Sample.id).where(Sample.class_id == source.id)))
    previous = set_labels(s, source.dataset_id, ids, target.id, by=None)
    snap = snapshot(source)
    s.delete(source)
    s.flush()
    return ClassRemoval(snap, previous, target.id)


def delete_class(s: Session, class_id: int) -> ClassRemoval:
    """Remove a class; its samples become unlabelled. Undo with undo_removal()."""
    cls = get_class(s, class_id)
    ids = list(s.scalars(select(Sample.id).where(Sample.class_id == cls.id)))
    previous = set_labels(s, cls.dataset_id, ids, None)
    snap = snapshot(cls)
    s.delete(cls)
    s.flush()
    return ClassRemoval(snap, previous)


def undo_removal(s: Session, removal: ClassRemoval) -> None:
    restore_class(s, removal.removed)
    restore_labels(s, removal.previous)
