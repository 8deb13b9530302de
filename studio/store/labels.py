"""Labelling in the store: classes, labels, splits, model suggestions, duplicates, problems.

Every mutating function takes a Session (the caller owns the short transaction) and returns
exactly what an undo needs to put the library back as it was: a ``LabelSnapshot`` of previous
labels, a ``ClassSnapshot`` of a removed class, the previous order... So the Qt undo commands in
studio/ui/labelling are thin wrappers, and everything here is tested without Qt.

Bulk changes never loop over rows: ids go to SQL in chunks of ``CHUNK`` (one statement for
10,000 samples) and restoring groups the ids by their previous value (one UPDATE per group).
"""

from __future__ import annotations

import io
import json
import re
import time
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import case, func, insert, literal_column, select, update
from sqlalchemy.orm import Session

from studio.core.errors import InvalidInputError, NotFoundError
from studio.core.jobs import JobState
from studio.store.datasets import PALETTE  # one palette for the whole app
from studio.store.models import SPLITS, Dataset, LabelClass, Prediction, Run, Sample

CHUNK = 20_000  # ids per statement; below SQLite's 32,766 bound-parameter limit
SAMPLES = Sample.__table__

_COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")


# --------------------------------------------------------------------------- value types

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


@dataclass(frozen=True)
class ClassRemoval:
    """What merge_classes / delete_class did: the removed class and the labels it had."""

    removed: ClassSnapshot
    previous: LabelSnapshot
    target_id: int | None = None  # merge target; None for a delete


@dataclass(frozen=True)
class Suggestion:
    sample_id: int
    class_name: str  # the model's suggestion
    confidence: float
    class_id: int | None  # the suggestion's class in this dataset (None: no such class now)
    current_class_id: int | None
    current_class_name: str | None
    labelled_by: str

    @property
    def disagrees(self) -> bool:
        return self.current_class_id is not None and self.current_class_id != self.class_id


@dataclass(frozen=True)
class PredictionRun:
    run_id: int
    name: str
    status: str
    count: int


@dataclass(frozen=True)
class DuplicateGroup:
    kind: str  # "exact" (same pixels) or "near" (perceptual hash within max_distance)
    sample_ids: tuple[int, ...]
    class_ids: tuple[int | None, ...]  # per sample, same order
    splits: tuple[str | None, ...]
    distance: int = 0  # largest hash distance to the group's first sample

    @property
    def conflicting_classes(self) -> bool:
        return len({c for c in self.class_ids if c is not None}) > 1

    @property
    def crosses_splits(self) -> bool:
        """Train/test leakage: the same picture in more than one split."""
        return len({s for s in self.splits if s is not None}) > 1


@dataclass(frozen=True)
class ClassProblem:
    class_id: int | None
    name: str
    count: int
    per_split: dict[str | None, int]
    reasons: tuple[str, ...]


@dataclass
class SplitTable:
    """Counts per class (rows, in class order, unlabelled last) x split (train/val/test/None)."""

    rows: list[tuple[int | None, str, str, dict[str | None, int]]] = field(default_factory=list)

    def total(self, split: str | None = "*") -> int:
        if split == "*":
            return sum(sum(r[3].values()) for r in self.rows)
        return sum(r[3].get(split, 0) for r in self.rows)


# --------------------------------------------------------------------------- helpers

def _chunks(ids: Sequence[int], size: int = CHUNK) -> Iterator[list[int]]:
    for i in range(0, len(ids), size):
        yield list(ids[i : i + size])


def _id_in(column, ids: Sequence[int], s: Session):
    """``column IN (ids)`` for one chunk. On SQLite the ids travel as ONE JSON parameter
    (``IN (SELECT value FROM json_each(?))``): no statement with 20,000 placeholders to build,
    compile and bind, which costs more than the UPDATE itself. Other databases get a plain IN."""
    if s.get_bind().dialect.name == "sqlite":
        return column.in_(select(literal_column("value")).select_from(func.json_each(json.dumps(list(ids)))))
    return column.in_(list(ids))


def _unique_ids(sample_ids: Iterable[int]) -> list[int]:
    try:
        return list(dict.fromkeys(int(i) for i in sample_ids))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"sample ids must be whole numbers ({exc})") from None


def _get_class(s: Session, class_id: int) -> LabelClass:
    cls = s.get(LabelClass, class_id)
    if cls is None:
        raise NotFoundError(f"class {class_id} does not exist")
    return cls


def _check_dataset(s: Session, dataset_id: int) -> None:
    if s.get(Dataset, dataset_id) is None:
        raise NotFoundError(f"dataset {dataset_id} does not exist")


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise InvalidInputError("a class name cannot be empty")
    if len(name) > 200:
        raise InvalidInputError("a class name can have at most 200 characters")
    return name


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
    for colour in PALETTE:
        if colour not in used:
            return colour
    return PALETTE[len(used) % len(PALETTE)]


def snapshot(cls: LabelClass) -> ClassSnapshot:
    return ClassSnapshot(cls.id, cls.dataset_id, cls.name, cls.colour, cls.position)


# --------------------------------------------------------------------------- classes

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
    _check_dataset(s, dataset_id)
    name = _clean_name(name)
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
    cls = _get_class(s, class_id)
    new_name = _clean_name(new_name)
    _check_name_free(s, cls.dataset_id, new_name, except_id=cls.id)
    old, cls.name = cls.name, new_name
    s.flush()
    return old


def recolour_class(s: Session, class_id: int, colour: str) -> str:
    """Set the colour (#rrggbb); returns the old colour."""
    cls = _get_class(s, class_id)
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
    source, target = _get_class(s, source_id), _get_class(s, target_id)
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
    cls = _get_class(s, class_id)
    ids = list(s.scalars(select(Sample.id).where(Sample.class_id == cls.id)))
    previous = set_labels(s, cls.dataset_id, ids, None)
    snap = snapshot(cls)
    s.delete(cls)
    s.flush()
    return ClassRemoval(snap, previous)


def undo_removal(s: Session, removal: ClassRemoval) -> None:
    restore_class(s, removal.removed)
    restore_labels(s, removal.previous)


# --------------------------------------------------------------------------- labels & splits

def set_labels(
    s: Session, dataset_id: int, sample_ids: Iterable[int], class_id: int | None,
    by: str | None = "user",
) -> LabelSnapshot:
    """Label samples (``class_id=None`` unlabels). Returns the previous labels of the samples
    that changed, for restore_labels(). ``by=None`` keeps each sample's labelled_by."""
    ids = _unique_ids(sample_ids)
    if class_id is not None:
        cls = _get_class(s, class_id)
        if cls.dataset_id != dataset_id:
            raise InvalidInputError(f"class {cls.name!r} belongs to another dataset")
    previous = LabelSnapshot()
    for chunk in _chunks(ids):
        rows = s.execute(
            select(SAMPLES.c.id, SAMPLES.c.class_id, SAMPLES.c.labelled_by)
            .where(SAMPLES.c.dataset_id == dataset_id, _id_in(SAMPLES.c.id, chunk, s))
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
    for chunk in _chunks(list(previous)):
        s.execute(update(SAMPLES).where(_id_in(SAMPLES.c.id, chunk, s)).values(**values))
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
        for chunk in _chunks(ids):
            s.execute(update(SAMPLES).where(_id_in(SAMPLES.c.id, chunk, s)).values(**values))


def _check_split(split: str | None) -> str | None:
    if split in (None, "", "none"):
        return None
    if split not in SPLITS:
        raise InvalidInputError(f"split must be one of {', '.join(SPLITS)} or none, not {split!r}")
    return split


def set_splits(
    s: Session, dataset_id: int, sample_ids: Iterable[int], split: str | None
) -> dict[int, str | None]:
    """Move samples to a split (None: no split); returns the previous splits of those that moved."""
    split = _check_split(split)
    ids = _unique_ids(sample_ids)
    previous: dict[int, str | None] = {}
    for chunk in _chunks(ids):
        rows = s.execute(
            select(SAMPLES.c.id, SAMPLES.c.split)
            .where(SAMPLES.c.dataset_id == dataset_id, _id_in(SAMPLES.c.id, chunk, s))
        ).all()
        if len(rows) != len(chunk):
            raise NotFoundError(f"{len(chunk) - len(rows)} sample(s) are not in this dataset")
        previous.update({sid: old for sid, old in rows if old != split})
    for chunk in _chunks(list(previous)):
        s.execute(update(SAMPLES).where(_id_in(SAMPLES.c.id, chunk, s)).values(split=split))
    return previous


def restore_splits(s: Session, previous: dict[int, str | None]) -> None:
    groups: dict[str | None, list[int]] = defaultdict(list)
    for sid, split in previous.items():
        groups[split].append(sid)
    for split, ids in groups.items():
        for chunk in _chunks(ids):
            s.execute(update(SAMPLES).where(_id_in(SAMPLES.c.id, chunk, s)).values(split=split))


def label_states(s: Session, sample_ids: Sequence[int]) -> dict[int, tuple[int | None, str | None, str]]:
    """``{sample_id: (class_id, split, labelled_by)}``: the few columns labelling changes, so a
    view can patch the rows it holds instead of re-reading them whole."""
    out: dict[int, tuple[int | None, str | None, str]] = {}
    ids = _unique_ids(sample_ids)
    for chunk in _chunks(ids):
        for sid, cid, split, who in s.execute(
            select(SAMPLES.c.id, SAMPLES.c.class_id, SAMPLES.c.split, SAMPLES.c.labelled_by)
            .where(_id_in(SAMPLES.c.id, chunk, s))
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
    ids = _unique_ids(sample_ids)
    labelled: dict[int, bool] = {}
    for chunk in _chunks(ids):
        labelled.update(s.execute(
            select(SAMPLES.c.id, SAMPLES.c.class_id.is_not(None))
            .where(SAMPLES.c.dataset_id == dataset_id, _id_in(SAMPLES.c.id, chunk, s))).all())
    present = [i for i in ids if i in labelled]
    return [i for i in present if not labelled[i]] + [i for i in present if labelled[i]]


# --------------------------------------------------------------------------- suggestions

def prediction_runs(s: Session, dataset_id: int) -> list[PredictionRun]:
    """Runs that stored predictions for samples of this dataset, newest first."""
    rows = s.execute(
        select(Run.id, Run.name, Run.status, func.count(Prediction.id))
        .join(Prediction, Prediction.run_id == Run.id)
        .join(Sample, Sample.id == Prediction.sample_id)
        .where(Sample.dataset_id == dataset_id)
        .group_by(Run.id)
        .order_by(Run.id.desc())
    ).all()
    return [PredictionRun(rid, name or f"run {rid}", status, n) for rid, name, status, n in rows]


ORDERS = ("confidence", "uncertainty", "disagreement")


def predictions_for(
    s: Session, dataset_id: int, run_id: int, order: str = "confidence", only: str = "all",
) -> list[Suggestion]:
    """The run's suggestions for this dataset's samples.

    order: "confidence" (most confident first), "uncertainty" (least confident first) or
    "disagreement" (labelled samples whose label differs from the model's first: likely label
    errors, most confident disagreements on top). only: "all", "unlabelled" or "labelled"."""
    if order not in ORDERS:
        raise InvalidInputError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    if only not in ("all", "unlabelled", "labelled"):
        raise InvalidInputError(f"only must be all, unlabelled or labelled, not {only!r}")
    if s.get(Run, run_id) is None:
        raise NotFoundError(f"run {run_id} does not exist")
    classes = {c.name: c for c in list_classes(s, dataset_id)}
    by_id = {c.id: c.name for c in classes.values()}
    q = (
        select(Prediction.sample_id, Prediction.class_name, Prediction.confidence,
               Sample.class_id, Sample.labelled_by)
        .join(Sample, Sample.id == Prediction.sample_id)
        .where(Prediction.run_id == run_id, Sample.dataset_id == dataset_id)
    )
    if only == "unlabelled":
        q = q.where(Sample.class_id.is_(None))
    elif only == "labelled":
        q = q.where(Sample.class_id.is_not(None))
    out = []
    for sid, name, conf, cid, who in s.execute(q):
        suggested = classes.get(name)
        out.append(Suggestion(sid, name, float(conf), suggested.id if suggested else None,
                              cid, by_id.get(cid), who))
    if order == "confidence":
        out.sort(key=lambda g: (-g.confidence, g.sample_id))
    elif order == "uncertainty":
        out.sort(key=lambda g: (g.confidence, g.sample_id))
    else:
        out.sort(key=lambda g: (not g.disagrees, -g.confidence, g.sample_id))
    return out


def accept_suggestions(
    s: Session, run_id: int, sample_ids: Iterable[int], overwrite: bool = False,
) -> LabelSnapshot:
    """Label samples with the run's suggestion (labelled_by="model").

    Human labels are kept unless ``overwrite`` (the user explicitly accepted a disagreement);
    suggestions whose class no longer exists are skipped. Returns the previous labels."""
    ids = _unique_ids(sample_ids)
    previous = LabelSnapshot()
    if not ids:
        return previous
    plan: dict[tuple[int, int], list[int]] = defaultdict(list)  # (dataset, class) -> samples
    for chunk in _chunks(ids):
        rows = s.execute(
            select(Prediction.sample_id, Prediction.class_name, Sample.dataset_id, Sample.class_id)
            .join(Sample, Sample.id == Prediction.sample_id)
            .where(Prediction.run_id == run_id, Prediction.sample_id.in_(chunk))
        ).all()
        names = {}
        for sid, name, ds, cid in rows:
            if cid is not None and not overwrite:
                continue
            key = (ds, name)
            if key not in names:
                names[key] = s.scalar(select(LabelClass.id).where(
                    LabelClass.dataset_id == ds, LabelClass.name == name))
            target = names[key]
            if target is not None and target != cid:
                plan[(ds, target)].append(sid)
    for (ds, target), group in plan.items():
        previous.merge(set_labels(s, ds, group, target, by="model"))
    return previous


# --------------------------------------------------------------------------- problems

def split_table(s: Session, dataset_id: int) -> SplitTable:
    """Counts class x split in one grouped query; the unlabelled row comes last."""
    counts: dict[int | None, dict[str | None, int]] = defaultdict(dict)
    for cid, split, n in s.execute(
        select(Sample.class_id, Sample.split, func.count())
        .where(Sample.dataset_id == dataset_id)
        .group_by(Sample.class_id, Sample.split)
    ):
        counts[cid][split] = n
    table = SplitTable()
    for c in list_classes(s, dataset_id):
        table.rows.append((c.id, c.name, c.colour, counts.get(c.id, {})))
    if None in counts:
        table.rows.append((None, "(unlabelled)", "#bbbbbb", counts[None]))
    return table


def small_classes(s: Session, dataset_id: int, min_count: int = 10) -> list[ClassProblem]:
    """Classes a training run would struggle with: fewer than ``min_count`` samples, or (when the
    dataset uses splits) no sample in train, val or test."""
    table = split_table(s, dataset_id)
    uses_splits = any(k is not None for r in table.rows for k, n in r[3].items() if n)
    problems = []
    for cid, name, _colour, per_split in table.rows:
        if cid is None:
            continue
        total = sum(per_split.values())
        reasons = []
        if total < min_count:
            reasons.append(f"only {total} sample{'s' if total != 1 else ''} (at least {min_count} needed)")
        if uses_splits and total:
            reasons += [f"no {sp} sample" for sp in SPLITS if not per_split.get(sp)]
        if reasons:
            problems.append(ClassProblem(cid, name, total, dict(per_split), tuple(reasons)))
    return problems


def _hash_bits(hexes: Sequence[str]) -> np.ndarray:
    """phash hex strings (64 bits) -> (N, 8) uint8 rows, for fast XOR + popcount."""
    return np.frombuffer(b"".join(bytes.fromhex(h.rjust(16, "0")[:16]) for h in hexes),
                         dtype=np.uint8).reshape(-1, 8)


_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _union_find_groups(n: int, pairs: Iterable[tuple[int, int]]) -> list[list[int]]:
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    groups: dict[int, list[int]] = defaultdict(list)
    for i in range(n):
        groups[root(i)].append(i)
    return [g for g in groups.values() if len(g) > 1]


def _sort_groups(groups: list[DuplicateGroup]) -> list[DuplicateGroup]:
    """Most harmful first: conflicting labels, then split leakage, then the rest."""
    return sorted(groups, key=lambda g: (not g.conflicting_classes, not g.crosses_splits, g.sample_ids))


def find_near_duplicates(
    s: Session, dataset_id: int, max_distance: int = 4, state: JobState | None = None
) -> list[DuplicateGroup]:
    """Groups of samples whose perceptual hashes differ in at most ``max_distance`` bits.

    Samples without a phash are left out (compute them first with compute_missing_phashes).
    Pairwise Hamming distances in numpy blocks: 10,000 hashes take well under a second."""
    rows = s.execute(
        select(Sample.id, Sample.phash, Sample.class_id, Sample.split)
        .where(Sample.dataset_id == dataset_id, Sample.phash.is_not(None))
        .order_by(Sample.id)
    ).all()
    if len(rows) < 2:
        return []
    bits = _hash_bits([r[1] for r in rows])
    pairs: list[tuple[int, int]] = []
    dist_of: dict[tuple[int, int], int] = {}
    block = 512
    for start in range(0, len(rows), block):
        if state:
            state.check_cancelled()
            state.set_progress(start / len(rows), "comparing images")
        x = bits[start : start + block]
        d = _POPCOUNT[x[:, None, :] ^ bits[None, start:, :]].sum(axis=2, dtype=np.uint16)
        ii, jj = np.nonzero(d <= max_distance)
        for i, j in zip(ii.tolist(), jj.tolist()):
            a, b = start + i, start + j
            if a < b:
                pairs.append((a, b))
                dist_of[(a, b)] = int(d[i, j])
    groups = []
    for members in _union_find_groups(len(rows), pairs):
        first = members[0]
        dist = max((dist_of.get((first, m), max_distance) for m in members[1:]), default=0)
        groups.append(DuplicateGroup("near", tuple(rows[m][0] for m in members),
                                     tuple(rows[m][2] for m in members),
                                     tuple(rows[m][3] for m in members), dist))
    return _sort_groups(groups)


def _decode(data: bytes):
    from studio.store.images import open_image

    return open_image(data)  # allowed formats only, within the decode limits


def phash_of(data: bytes) -> str:
    """The same perceptual hash the importer stores (imagehash.phash, bit for bit), on the
    upright image, so lazily computed and imported hashes compare."""
    from studio.store.images import open_upright
    from studio.store.importers import phash_hex

    return phash_hex(open_upright(data))


def _pixel_digest(data: bytes) -> str:
    import hashlib

    img = _decode(data)
    if img.mode not in ("RGB", "RGBA", "L"):
        img = img.convert("RGBA" if "A" in img.getbands() else "RGB")
    return hashlib.sha256(f"{img.mode}{img.size}".encode() + img.tobytes()).hexdigest()


def missing_phash_ids(s: Session, dataset_id: int) -> list[int]:
    return list(s.scalars(select(Sample.id).where(Sample.dataset_id == dataset_id,
                                                  Sample.phash.is_(None)).order_by(Sample.id)))


def compute_missing_phashes(lib, dataset_id: int, state: JobState | None = None, batch: int = 200) -> int:
    """Fill Sample.phash where the importer left it empty (a job: run it off the GUI thread).

    Decodes in a small thread pool (Pillow releases the GIL), writes each batch in one short
    transaction, so a cancel keeps what is done. Unreadable blobs are skipped. Returns the count."""
    with lib.session() as s:
        todo = s.execute(select(Sample.id, Sample.blob).where(
            Sample.dataset_id == dataset_id, Sample.phash.is_(None)).order_by(Sample.id)).all()
    done = 0

    def one(blob: str) -> str | None:
        try:
            return phash_of(lib.blobs.read(blob))
        except Exception:  # a missing or undecodable file is not a duplicate of anything
            return None

    with ThreadPoolExecutor(max_workers=2) as pool:
        for start in range(0, len(todo), batch):
            if state:
                state.check_cancelled()
                state.set_progress(start / max(len(todo), 1), f"hashing images {start}/{len(todo)}")
            part = todo[start : start + batch]
            hashes = list(pool.map(one, [b for _, b in part]))
            values = [{"sid": sid, "h": h} for (sid, _), h in zip(part, hashes) if h]
            if values:
                from sqlalchemy import bindparam

                with lib.transaction() as s:
                    s.execute(update(SAMPLES).where(SAMPLES.c.id == bindparam("sid"))
                              .values(phash=bindparam("h")), values)
            done += len(values)
    if state:
        state.set_progress(1.0, f"hashed {done} images")
    return done


def find_exact_duplicates(
    s: Session, dataset_id: int, blobs, state: JobState | None = None
) -> list[DuplicateGroup]:
    """Groups of samples with identical pixels (the files differ - identical files are already
    one sample). Only samples sharing width x height (and phash, when known) are decoded."""
    rows = s.execute(
        select(Sample.id, Sample.blob, Sample.width, Sample.height, Sample.phash,
               Sample.class_id, Sample.split)
        .where(Sample.dataset_id == dataset_id).order_by(Sample.id)
    ).all()
    buckets: dict[tuple, list] = defaultdict(list)
    for r in rows:
        buckets[(r.width, r.height, r.phash)].append(r)
    candidates = [r for b in buckets.values() if len(b) > 1 for r in b]
    by_digest: dict[str, list] = defaultdict(list)
    for i, r in enumerate(candidates):
        if state:
            state.check_cancelled()
            state.set_progress(i / max(len(candidates), 1), "comparing pixels")
        try:
            by_digest[_pixel_digest(blobs.read(r.blob))].append(r)
        except Exception:  # unreadable: cannot be shown to be a duplicate
            continue
    groups = [
        DuplicateGroup("exact", tuple(r.id for r in g), tuple(r.class_id for r in g),
                       tuple(r.split for r in g))
        for g in by_digest.values() if len(g) > 1
    ]
    return _sort_groups(groups)


# --------------------------------------------------------------------------- capture

def add_captured_image(
    lib, dataset_id: int, class_id: int | None, data: bytes, fmt: str = "png",
    split: str | None = None,
) -> tuple[int, bool]:
    """Store an encoded webcam frame like an imported image: blob first, then one Sample row
    (labelled_by="capture"). Returns (sample_id, added); an identical frame already in the
    dataset returns its id with added=False."""
    from studio.store.blobs import sha256_bytes
    from studio.store.gc import hold_blobs

    if not data:
        raise InvalidInputError("the captured frame is empty")
    try:
        img = _decode(data)
        img.load()
    except Exception as exc:
        raise InvalidInputError(f"the captured frame is not a readable image ({exc})") from None
    phash = phash_of(data)
    digest = sha256_bytes(data)
    with lib.session() as s:
        existing = s.scalar(select(Sample.id).where(Sample.dataset_id == dataset_id, Sample.blob == digest))
    if existing is not None:
        return existing, False
    uncommitted: list[str] = []
    with hold_blobs(lib, "capture", uncommitted=uncommitted):  # a dataset delete cannot take the file
        wrote = not lib.blobs.exists(digest)
        lib.blobs.put(data, digest)
        try:
            return _insert_captured(lib, dataset_id, class_id, data, fmt, split, img, digest, phash)
        except BaseException:
            if wrote:
                uncommitted.append(digest)
            raise


def _insert_captured(lib, dataset_id, class_id, data, fmt, split, img, digest, phash) -> tuple[int, bool]:
    with lib.transaction() as s:
        _check_dataset(s, dataset_id)
        if class_id is not None and _get_class(s, class_id).dataset_id != dataset_id:
            raise InvalidInputError("the class belongs to another dataset")
        sample = Sample(
            dataset_id=dataset_id, blob=digest, format=fmt.lower(), width=img.width,
            height=img.height, channels=len(img.getbands()), byte_size=len(data),
            class_id=class_id, split=_check_split(split),
            source_path=f"capture:{time.strftime('%Y-%m-%dT%H:%M:%S')}",
            labelled_by="capture" if class_id is not None else "", phash=phash,
        )
        s.add(sample)
        s.flush()
        return sample.id, True
