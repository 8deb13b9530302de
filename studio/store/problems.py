"""Dataset problems before training: the class x split table and classes too small to learn."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from studio.store.classes import list_classes
from studio.store.models import SPLITS, Sample


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
