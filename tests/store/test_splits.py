"""auto_split is stratified and deterministic; set_splits changes exactly the given samples."""

from __future__ import annotations

import pytest
from sqlalchemy import insert, select

from studio.core.errors import InvalidInputError
from studio.store.datasets import create_dataset, get_or_create_class, split_counts
from studio.store.models import Sample
from studio.store.labelling import set_splits
from studio.store.splits import auto_split


@pytest.fixture
def ds(library):
    """Classes of 100, 30, 3 and 2 samples, plus 20 unlabelled."""
    with library.transaction() as s:
        ds = create_dataset(s, "split me").id
        sizes = {"big": 100, "mid": 30, "three": 3, "two": 2, None: 20}
        rows = []
        for name, n in sizes.items():
            cid = get_or_create_class(s, ds, name).id if name else None
            rows += [{"dataset_id": ds, "blob": f"{name}-{i}", "class_id": cid} for i in range(n)]
        s.execute(insert(Sample), rows)
    return ds


def per_class(library, ds) -> dict:
    out: dict = {}
    with library.session() as s:
        for class_id, split in s.execute(select(Sample.class_id, Sample.split).where(Sample.dataset_id == ds)):
            out.setdefault(class_id, {"train": 0, "val": 0, "test": 0, None: 0})[split] += 1
    return out


def assignment(library, ds) -> dict[int, str]:
    with library.session() as s:
        return dict(s.execute(select(Sample.id, Sample.split).where(Sample.dataset_id == ds)).all())


def test_stratified_per_class(library, ds):
    with library.transaction() as s:
        counts = auto_split(s, ds, (0.8, 0.1, 0.1), seed=0)
    assert sum(counts.values()) == 155
    groups = sorted(per_class(library, ds).values(), key=lambda c: -sum(c.values()))
    big, mid, unlabelled, three, two = groups
    assert (big["train"], big["val"], big["test"]) == (80, 10, 10)
    assert (mid["train"], mid["val"], mid["test"]) == (24, 3, 3)
    assert (unlabelled["train"], unlabelled["val"], unlabelled["test"]) == (16, 2, 2)
    assert (three["train"], three["val"], three["test"]) == (1, 1, 1)  # >= 3: one of each
    assert two[None] == 0 and two["train"] + two["val"] + two["test"] == 2


def test_deterministic_for_a_seed_and_different_for_another(library, ds):
    with library.transaction() as s:
        auto_split(s, ds, seed=7)
    first = assignment(library, ds)
    with library.transaction() as s:
        auto_split(s, ds, seed=7)
    assert assignment(library, ds) == first
    with library.transaction() as s:
        auto_split(s, ds, seed=8)
    assert assignment(library, ds) != first


def test_only_unassigned_keeps_existing_splits(library, ds):
    with library.session() as s:
        ids = list(s.scalars(select(Sample.id).where(Sample.dataset_id == ds).order_by(Sample.id)))
    with library.transaction() as s:
        assert len(set_splits(s, ds, ids[:10], "test")) == 10
    with library.transaction() as s:
        counts = auto_split(s, ds, (1.0, 0.0, 0.0), only_unassigned=True)
    assert counts == {"train": len(ids) - 10, "val": 0, "test": 0}
    got = assignment(library, ds)
    assert all(got[i] == "test" for i in ids[:10])
    assert all(got[i] == "train" for i in ids[10:])


def test_set_split_and_clear(library, ds):
    with library.session() as s:
        ids = list(s.scalars(select(Sample.id).where(Sample.dataset_id == ds)))
    with library.transaction() as s:
        set_splits(s, ds, ids[:5], "val")
        set_splits(s, ds, ids[5:7], "val")
        set_splits(s, ds, ids[:2], "none")
    with library.session() as s:
        assert split_counts(s, ds)["val"] == 5


@pytest.mark.parametrize(
    "fractions, message",
    [((0.5, 0.2, 0.2), "must sum to 1"), ((1.2, -0.1, -0.1), "must not be negative"), ((0.5, 0.5), "three")],
)
def test_bad_fractions_are_refused(library, ds, fractions, message):
    with library.transaction() as s, pytest.raises(InvalidInputError, match=message):
        auto_split(s, ds, fractions)
    assert set(assignment(library, ds).values()) == {None}  # nothing changed


def test_unknown_split_name_is_refused(library, ds):
    with library.transaction() as s, pytest.raises(InvalidInputError, match="not 'dev'"):
        set_splits(s, ds, [1], "dev")
