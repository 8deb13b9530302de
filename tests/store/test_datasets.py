"""Datasets and classes: create, find, list with counts, rename, delete with blob clean-up."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, insert, select

from imagefactory import write_digit_tree
from studio.core.errors import InvalidInputError, NotFoundError
from studio.store.datasets import (
    PALETTE,
    class_counts,
    create_dataset,
    delete_dataset,
    get_dataset,
    get_or_create_class,
    list_datasets,
    rename_dataset,
    split_counts,
    unlabelled_count,
)
from studio.store.importers import import_path
from studio.store.models import LabelClass, Prediction, Run, Sample


def test_create_and_get_by_name_or_id(library):
    with library.transaction() as s:
        ds = create_dataset(s, "  Flowers  ")
    assert ds.name == "Flowers" and ds.kind == "image"
    with library.session() as s:
        assert get_dataset(s, "Flowers").id == ds.id
        assert get_dataset(s, ds.id).name == "Flowers"
        assert get_dataset(s, str(ds.id)).name == "Flowers"  # digits that are no name = an id


def test_a_name_made_of_digits_wins_over_an_id(library):
    with library.transaction() as s:
        first = create_dataset(s, "first")
        numeric = create_dataset(s, str(first.id))  # a dataset literally called "1"
    with library.session() as s:
        assert get_dataset(s, str(first.id)).id == numeric.id


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_name_is_refused(library, name):
    with library.transaction() as s, pytest.raises(InvalidInputError, match="must not be empty"):
        create_dataset(s, name)


def test_duplicate_name_is_refused(library):
    with library.transaction() as s:
        create_dataset(s, "cats")
    with library.transaction() as s, pytest.raises(InvalidInputError, match="'cats' already exists"):
        create_dataset(s, "cats")


def test_unknown_dataset_message_names_what_was_asked(library):
    with library.session() as s:
        with pytest.raises(NotFoundError, match="no dataset named 'dogs'"):
            get_dataset(s, "dogs")
        with pytest.raises(NotFoundError, match="no dataset with id 42"):
            get_dataset(s, 42)


def test_list_datasets_counts_in_one_query(library, tmp_path):
    with library.transaction() as s:
        a = create_dataset(s, "a").id
        create_dataset(s, "empty")
        get_or_create_class(s, a, "unused class")
    write_digit_tree(tmp_path / "src", 30)
    flat = tmp_path / "flat"
    flat.mkdir()
    (flat / "x.png").write_bytes((tmp_path / "src" / "0" / "00000.png").read_bytes()[:-1] + b"\x00")
    import_path(library, a, tmp_path / "src")
    with library.transaction() as s:
        s.execute(insert(Sample), [{"dataset_id": a, "blob": f"u{i}"} for i in range(4)])  # unlabelled

    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(library.engine, "before_cursor_execute", listener)
    try:
        with library.session() as s:
            summaries = {d.name: d for d in list_datasets(s)}
    finally:
        event.remove(library.engine, "before_cursor_execute", listener)
    assert len(statements) == 1
    assert summaries["a"].samples == 34 and summaries["a"].labelled == 30
    assert summaries["a"].classes == 11  # 10 digits + the unused class
    assert (summaries["empty"].samples, summaries["empty"].labelled, summaries["empty"].classes) == (0, 0, 0)


def test_rename(library):
    with library.transaction() as s:
        a = create_dataset(s, "a").id
        create_dataset(s, "b")
    with library.transaction() as s:
        rename_dataset(s, a, "alpha")
    with library.session() as s:
        assert get_dataset(s, a).name == "alpha"
    with library.transaction() as s, pytest.raises(InvalidInputError, match="'b' already exists"):
        rename_dataset(s, a, "b")
    with library.transaction() as s, pytest.raises(InvalidInputError, match="must not be empty"):
        rename_dataset(s, a, " ")


def test_classes_get_distinct_colours_and_positions(library):
    with library.transaction() as s:
        ds = create_dataset(s, "c").id
        made = [get_or_create_class(s, ds, f"class {i}") for i in range(len(PALETTE) + 5)]
        again = get_or_create_class(s, ds, "class 0")
    assert again.id == made[0].id
    assert [c.position for c in made] == list(range(len(made)))
    colours = [c.colour for c in made]
    assert len(set(colours)) == len(colours)
    assert colours[: len(PALETTE)] == list(PALETTE)


def test_class_unlabelled_and_split_counts(library):
    with library.transaction() as s:
        ds = create_dataset(s, "d").id
        b = get_or_create_class(s, ds, "b").id
        a = get_or_create_class(s, ds, "a").id
        get_or_create_class(s, ds, "empty")
        rows = [{"dataset_id": ds, "blob": f"x{i}", "class_id": a if i < 5 else b if i < 8 else None,
                 "split": ("train", "val", None)[i % 3]} for i in range(10)]
        s.execute(insert(Sample), rows)
    with library.session() as s:
        counts = class_counts(s, ds)
        assert [(c.name, c.count) for c in counts] == [("b", 3), ("a", 5), ("empty", 0)]  # position order
        assert unlabelled_count(s, ds) == 2
        assert split_counts(s, ds) == {"train": 4, "val": 3, "test": 0, None: 3}


def test_delete_removes_rows_and_only_unreferenced_blobs(library, tmp_path):
    with library.transaction() as s:
        keep = create_dataset(s, "keep").id
        gone = create_dataset(s, "gone").id
    write_digit_tree(tmp_path / "shared", 10)
    write_digit_tree(tmp_path / "own", 5, start=100)
    import_path(library, keep, tmp_path / "shared")
    import_path(library, gone, tmp_path / "shared")
    import_path(library, gone, tmp_path / "own")
    with library.session() as s:
        own_blobs = set(s.scalars(select(Sample.blob).where(Sample.dataset_id == gone))) - set(
            s.scalars(select(Sample.blob).where(Sample.dataset_id == keep))
        )
        shared_blobs = set(s.scalars(select(Sample.blob).where(Sample.dataset_id == keep)))
        some_sample = s.scalar(select(Sample.id).where(Sample.dataset_id == gone))
    with library.transaction() as s:
        run = Run(dataset_id=gone, name="r")
        s.add(run)
        s.flush()
        s.add(Prediction(run_id=run.id, sample_id=some_sample, class_name="1", confidence=0.5))
        run_id = run.id
    from studio.store.thumbnails import thumbnail_path

    thumb = thumbnail_path(library, next(iter(own_blobs)), 64)
    assert len(own_blobs) == 5

    removed = delete_dataset(library, gone)

    assert removed == 5
    assert all(not library.blobs.path(b).exists() for b in own_blobs)
    assert all(library.blobs.path(b).exists() for b in shared_blobs)
    assert not thumb.exists()
    with library.session() as s:
        assert s.scalar(select(func.count(Sample.id)).where(Sample.dataset_id == gone)) == 0
        assert s.scalar(select(func.count(LabelClass.id)).where(LabelClass.dataset_id == gone)) == 0
        assert s.scalar(select(func.count(Prediction.id))) == 0
        assert s.get(Run, run_id).dataset_id is None  # the run's history stays
        assert s.scalar(select(func.count(Sample.id)).where(Sample.dataset_id == keep)) == 10
    with pytest.raises(NotFoundError):
        delete_dataset(library, gone)
