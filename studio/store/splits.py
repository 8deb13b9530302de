"""Train / val / test assignment: stratified per class, deterministic for a seed."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from studio.core.errors import InvalidInputError
from studio.store.models import Sample



def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    if len(fractions) != 3:
        raise InvalidInputError("give three split fractions: train, val, test")
    try:
        train, val, test = (float(f) for f in fractions)
    except (TypeError, ValueError):
        raise InvalidInputError(f"split fractions must be numbers, got {list(fractions)}") from None
    if any(math.isnan(f) or f < 0 for f in (train, val, test)):
        raise InvalidInputError(f"split fractions must not be negative, got {train:g}, {val:g}, {test:g}")
    if abs(train + val + test - 1.0) > 1e-6:
        raise InvalidInputError(
            f"split fractions must sum to 1, got {train:g} + {val:g} + {test:g} = {train + val + test:g}"
        )
    return train, val, test


def _group_sizes(n: int, fractions: tuple[float, float, float]) -> tuple[int, int, int]:
    """How many of n go to train, val, test. With >= 3 samples every split whose fraction is
    non-zero gets at least one (train keeps the rest)."""
    f_train, f_val, f_test = fractions
    n_val = round(n * f_val)
    n_test = round(n * f_test)
    if n >= 3:
        n_val = max(n_val, 1 if f_val > 0 else 0)
        n_test = max(n_test, 1 if f_test > 0 else 0)
        if f_train > 0:  # never let rounding take train's last sample
            while n_val + n_test > n - 1 and (n_val > 1 or n_test > 1):
                if n_val >= n_test:
                    n_val -= 1
                else:
                    n_test -= 1
    if f_train == 0:
        n_test = n - n_val
    n_val = min(n_val, n)
    n_test = min(n_test, n - n_val)
    return n - n_val - n_test, n_val, n_test


def auto_split(
    s: Session,
    dataset_id: int,
    fractions: Sequence[float] = (0.8, 0.1, 0.1),
    seed: int = 0,
    only_unassigned: bool = False,
) -> dict[str, int]:
    """Assign splits per class (unlabelled samples form one more group); returns the counts
    assigned now. The same seed over the same samples always gives the same assignment."""
    fracs = _check_fractions(fractions)
    stmt = select(Sample.id, Sample.class_id).where(Sample.dataset_id == dataset_id)
    if only_unassigned:
        stmt = stmt.where(Sample.split.is_(None))
    groups: dict[int | None, list[int]] = defaultdict(list)
    for sample_id, class_id in s.execute(stmt.order_by(Sample.id)):
        groups[class_id].append(sample_id)
    counts = {"train": 0, "val": 0, "test": 0}
    updates = []
    for class_id, ids in groups.items():
        rng = random.Random(f"{seed}:{class_id}")  # str seeds hash stably across runs
        rng.shuffle(ids)
        n_train, n_val, _ = _group_sizes(len(ids), fracs)
        for i, sample_id in enumerate(ids):
            split = "train" if i < n_train else "val" if i < n_train + n_val else "test"
            updates.append({"id": sample_id, "split": split})
            counts[split] += 1
    if updates:
        s.execute(update(Sample), updates)  # bulk UPDATE by primary key, executemany
    return counts
