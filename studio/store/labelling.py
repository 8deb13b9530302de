"""Labels and splits of samples: set and restore them in bulk, and the order labelling mode shows.

Every mutating function takes a Session (the caller owns the short transaction) and returns the
previous values (a ``LabelSnapshot``, a dict of splits) for the undo, which puts them back with
one UPDATE per distinct previous value.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from studio.core.errors import InvalidInputError, NotFoundError
from studio.store.models import SPLITS
from studio.store.rows import SAMPLES, chunks, get_class, id_in, unique_ids


class LabelSnapshot(dict):
    """Previous labels ``{sample_id: class_id | None}``; ``.by`` keeps who had labelled each."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.by: dict[int, str] = {}

    def merge(self, other: "LabelSnapshot") -> None:
        for sid, cid in other.items():
            if sid not in self:  # the earliest previous value wins
                self[sid] = cid
                self.by[sid] = other.by.get(sid, "")


def set_labels(
    s: Session, dataset_id: int, sample_ids: Iterable[int], class_id: int | None,
    by: str | None = "user",
) -> LabelSnapshot:
    """Label samples (``class_id=None`` unlabels). Returns the previous labels of the samples
    that changed, for restore_labels(). ``by=None`` keeps each sample's labelled_by."""
    ids = unique_ids(sample_ids)
    if class_id is not None:
        cls = get_class(s, class_id)
        if cls.dataset_id != dataset_id:
            raise InvalidInputError(f"class {cls.name!r} belongs to another dataset")
    previous = LabelSnapshot()
    for chunk in chunks(ids):
        rows = s.execute(
            select(SAMPLES.c.id, SAMPLES.c.class_id, SAMPLES.c.labelled_by)
            .where(SAMPLES.c.dataset_id == dataset_id, id_in(SAMPLES.c.id, chunk, s))
        ).all()
        if len(rows) != len(chunk):
            found = {r[0] for r in rows}
            missing = [i for i in chunk if i not in found]
            raise NotFoundError(
                f"{len(missing)} sample(s) are not in this dataset (e.g. id {missing[0]})")
        for sid, cid, who in rows:
            if cid != class_id:
                previous[sid] = cid
                previous.by[sid] = who
    values: dict = {"class_id": class_id}
    if by is not None:
        values["labelled_by"] = by if class_id is not None else ""
    for chunk in chunks(list(previous)):
        s.execute(update(SAMPLES).where(id_in(SAMPLES.c.id, chunk, s)).values(**values))
    return previous


def restore_labels(s: Session, previous: LabelSnapshot | dict[int, int | None]) -> None:
    """Put labels back as set_labels() found them: one UPDATE per distinct previous value."""
    by_map = getattr(previous, "by", {})
    groups: dict[tuple[int | None, str | None], list[int]] = defaultdict(list)
    for sid, cid in previous.items():
        groups[(cid, by_map.get(sid))].append(sid)
    for (cid, who), ids in groups.items():
        values: dict = {"class_id": cid}
        if who is not None:
            values["labelled_by"] = who
        for chunk in chunks(ids):
            s.execute(update(SAMPLES).where(id_in(SAMPLES.c.id, chunk, s)).values(**values))


def check_split(split: str | None) -> str | None:
    if split in (None, "", "none"):
        return None
    if split not in SPLITS:
        raise InvalidInputError(f"split must be one of {', '.join(SPLITS)} or none, not {split!r}")
    return split


def set_splits(
    s: Session, dataset_id: int, sample_ids: Iterable[int], split: str | None
) -> dict[int, str | None]:
    """Move samples to a split (None: no split); returns the previous splits of those that moved."""
    split = check_split(split)
    ids = unique_ids(sample_ids)
    previous: dict[int, str | None] = {}
    for chunk in chunks(ids):
        rows = s.execute(
            select(SAMPLES.c.id, SAMPLES.c.split)
            .where(SAMPLES.c.dataset_id == dataset_id, id_in(SAMPLES.c.id, chunk, s))
        ).all()
        if len(rows) != len(chunk):
            raise NotFoundError(f"{len(chunk) - len(rows)} sample(s) are not in this dataset")
        previous.update({sid: old for sid, old in rows if old != split})
    for chunk in chunks(list(previous)):
        s.execute(update(SAMPLES).where(id_in(SAMPLES.c.id, chunk, s)).values(split=split))
    return previous


def restore_splits(s: Session, previous: dict[int, str | None]) -> None:
    groups: dict[str | None, list[int]] = defaultdict(list)
    for sid, split in previous.items():
        groups[split].append(sid)
    for split, ids in groups.items():
        for chunk in chunks(ids):
            s.execute(update(SAMPLES).where(id_in(SAMPLES.c.id, chunk, s)).values(split=split))


def label_states(s: Session, sample_ids: Sequence[int]) -> dict[int, tuple[int | None, str | None, str]]:
    """``{sample_id: (class_id, split, labelled_by)}``: the few columns labelling changes, so a
    view can patch the rows it holds instead of re-reading them whole."""
    out: dict[int, tuple[int | None, str | None, str]] = {}
    ids = unique_ids(sample_ids)
    for chunk in chunks(ids):
        for sid, cid, split, who in s.execute(
            select(SAMPLES.c.id, SAMPLES.c.class_id, SAMPLES.c.split, SAMPLES.c.labelled_by)
            .where(id_in(SAMPLES.c.id, chunk, s))
        ):
            out[sid] = (cid, split, who)
    return out


def labelling_order(s: Session, dataset_id: int, sample_ids: Sequence[int] | None = None) -> list[int]:
    """Sample ids for labelling mode: unlabelled first, then labelled; by id, or in the order
    given when ``sample_ids`` is given (a review list keeps its order)."""
    if sample_ids is None:
        return list(s.scalars(
            select(SAMPLES.c.id).where(SAMPLES.c.dataset_id == dataset_id)
            .order_by(SAMPLES.c.class_id.is_not(None), SAMPLES.c.id)))
    ids = unique_ids(sample_ids)
    labelled: dict[int, bool] = {}
    for chunk in chunks(ids):
        labelled.update(s.execute(
            select(SAMPLES.c.id, SAMPLES.c.class_id.is_not(None))
            .where(SAMPLES.c.dataset_id == dataset_id, id_in(SAMPLES.c.id, chunk, s))).all())
    present = [i for i in ids if i in labelled]
    return [i for i in present if not labelled[i]] + [i for i in present if labelled[i]]
