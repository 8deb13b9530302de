"""Sample id lists and rows: correct per filter over 100,000 rows, order kept, light rows."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import insert

from studio.core.errors import InvalidInputError, NotFoundError
from studio.store.datasets import create_dataset, get_or_create_class
from studio.store.models import Sample
from studio.store.samples import SampleFilter, count_samples, get_sample_row, sample_ids, sample_rows

N = 100_000


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """100,000 rows (no files): class a for i%3==0, b for i%3==1, unlabelled otherwise;
    split train/val/test/None by i%4. Built once for the module; the tests only read it."""
    from studio.store.library import Library

    library = Library.open(tmp_path_factory.mktemp("big") / "library")
    with library.transaction() as s:
        ds = create_dataset(s, "big").id
        other = create_dataset(s, "other").id
        a = get_or_create_class(s, ds, "a").id
        b = get_or_create_class(s, ds, "b").id
        splits = ("train", "val", "test", None)
        s.execute(insert(Sample), [
            {"dataset_id": ds, "blob": f"{i:064x}", "class_id": (a, b, None)[i % 3], "split": splits[i % 4],
             "source_path": f"/data/{i}.png", "format": "png", "width": 28, "height": 28, "channels": 1}
            for i in range(N)
        ])
        s.execute(insert(Sample), [{"dataset_id": other, "blob": f"o{i}"} for i in range(100)])
    yield library, ds, a, b
    library.close()


def expected(pred) -> int:
    return sum(1 for i in range(N) if pred(i))


def test_sample_ids_per_filter(big):
    lib, ds, a, b = big
    cases = [
        (SampleFilter(), lambda i: True),
        (SampleFilter(class_id=a), lambda i: i % 3 == 0),
        (SampleFilter(class_id=b, split="val"), lambda i: i % 3 == 1 and i % 4 == 1),
        (SampleFilter(unlabelled=True), lambda i: i % 3 == 2),
        (SampleFilter(unlabelled=True, split="none"), lambda i: i % 3 == 2 and i % 4 == 3),
        (SampleFilter(split="test"), lambda i: i % 4 == 2),
    ]
    with lib.session() as s:
        for flt, pred in cases:
            ids = sample_ids(s, ds, flt)
            assert len(ids) == expected(pred), flt
            assert ids == sorted(ids)
            assert count_samples(s, ds, flt) == len(ids)


def test_all_ids_come_back_fast(big):
    """Behaviour, not a timing assertion: the query builds no ORM objects (checked by type)."""
    lib, ds, _, _ = big
    with lib.session() as s:
        started = time.perf_counter()
        ids = sample_ids(s, ds)
        elapsed = time.perf_counter() - started
        assert len(ids) == N and all(type(i) is int for i in ids[:10])
        assert len(s.identity_map) == 0  # no Sample objects were loaded
    print(f"sample_ids over {N} rows: {elapsed * 1000:.0f} ms")


def test_sample_rows_keep_order_and_join_classes(big):
    lib, ds, a, _ = big
    with lib.session() as s:
        ids = sample_ids(s, ds)
        wanted = [ids[5], ids[0], ids[2], ids[99_999], 10**9]  # an unknown id is left out
        rows = sample_rows(s, wanted)
        assert [r.id for r in rows] == wanted[:4]
        first = rows[1]  # i == 0: class a, split train
        assert (first.class_id, first.class_name, first.split) == (a, "a", "train")
        assert first.class_colour.startswith("#") and first.source_path == "/data/0.png"
        assert (rows[2].class_name, rows[2].class_colour, rows[2].split) == (None, None, "test")  # i == 2
        assert len(sample_rows(s, ids[:2000])) == 2000  # long lists are chunked


def test_get_sample_row_and_unknown_id(big):
    lib, ds, _, b = big
    with lib.session() as s:
        sid = sample_ids(s, ds, SampleFilter(class_id=b))[0]
        assert get_sample_row(s, sid).class_name == "b"
        with pytest.raises(NotFoundError, match="no sample with id 123456789"):
            get_sample_row(s, 123456789)


def test_unknown_split_filter_is_refused(library):
    with library.session() as s, pytest.raises(InvalidInputError, match="unknown split 'holdout'"):
        sample_ids(s, 1, SampleFilter(split="holdout"))
