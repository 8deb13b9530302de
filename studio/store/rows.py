"""Shared by the labelling modules (classes, labelling, suggestions): lookups that raise a clear
NotFoundError, and bulk id helpers.

Bulk changes never loop over rows: ids go to SQL in chunks of ``CHUNK`` (one statement for
10,000 samples) and restoring groups the ids by their previous value (one UPDATE per group).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence

from sqlalchemy import func, literal_column, select
from sqlalchemy.orm import Session

from studio.core.errors import InvalidInputError, NotFoundError
from studio.store.models import Dataset, LabelClass, Sample

IN_CHUNK = 900  # ids per plain IN (...) clause: well below SQLite's variable limit
CHUNK = 20_000  # ids per statement; below SQLite's 32,766 bound-parameter limit
SAMPLES = Sample.__table__


def chunks(ids: Sequence[int], size: int = CHUNK) -> Iterator[list[int]]:
    for i in range(0, len(ids), size):
        yield list(ids[i : i + size])


def id_in(column, ids: Sequence[int], s: Session):
    """``column IN (ids)`` for one chunk. On SQLite the ids travel as ONE JSON parameter
    (``IN (SELECT value FROM json_each(?))``): no statement with 20,000 placeholders to build,
    compile and bind, which costs more than the UPDATE itself. Other databases get a plain IN."""
    if s.get_bind().dialect.name == "sqlite":
        return column.in_(select(literal_column("value")).select_from(func.json_each(json.dumps(list(ids)))))
    return column.in_(list(ids))


def unique_ids(sample_ids: Iterable[int]) -> list[int]:
    try:
        return list(dict.fromkeys(int(i) for i in sample_ids))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"sample ids must be whole numbers ({exc})") from None


def get_class(s: Session, class_id: int) -> LabelClass:
    cls = s.get(LabelClass, class_id)
    if cls is None:
        raise NotFoundError(f"class {class_id} does not exist")
    return cls


def check_dataset(s: Session, dataset_id: int) -> None:
    if s.get(Dataset, dataset_id) is None:
        raise NotFoundError(f"dataset {dataset_id} does not exist")
