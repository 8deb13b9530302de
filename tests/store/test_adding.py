"""Adding one image (bytes) to a dataset: webcam capture and Play go through ``add_image``, which
validates, stores and describes the file exactly as an import does."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from imagefactory import digit_png
from studio.core.errors import InvalidInputError, NotFoundError
from studio.store.adding import add_image
from studio.store.classes import add_class
from studio.store.datasets import create_dataset
from studio.store.duplicates import phash_of
from studio.store.importers import import_path
from studio.store.models import Sample


def new_dataset(library, name: str = "cam") -> int:
    with library.transaction() as s:
        return create_dataset(s, name).id


def columns(library, sample_id: int) -> tuple:
    with library.session() as s:
        smp = s.get(Sample, sample_id)
        return (smp.blob, smp.format, smp.width, smp.height, smp.channels, smp.byte_size)


def test_added_image_is_stored_like_an_import(library, tmp_path):
    data = digit_png(3)
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "three.png").write_bytes(data)
    imported_ds, added_ds = new_dataset(library, "imported"), new_dataset(library, "added")
    assert import_path(library, imported_ds, tmp_path / "src" / "three.png").added == 1
    with library.transaction() as s:
        cat = add_class(s, added_ds, "cat").id
    sid, added = add_image(library, added_ds, data, class_id=cat, source="capture:now", labelled_by="capture")
    assert added
    with library.session() as s:
        imported = s.scalar(select(Sample.id).where(Sample.dataset_id == imported_ds))
        smp = s.get(Sample, sid)
        assert (smp.class_id, smp.labelled_by, smp.source_path) == (cat, "capture", "capture:now")
        assert smp.phash == phash_of(data)
    assert columns(library, sid) == columns(library, imported)
    assert library.blobs.read(columns(library, sid)[0]) == data


def test_an_identical_image_is_not_stored_twice(library):
    ds = new_dataset(library)
    with library.transaction() as s:
        cat, dog = add_class(s, ds, "cat").id, add_class(s, ds, "dog").id
    data = digit_png(5)
    sid, _ = add_image(library, ds, data, class_id=cat, source="a", labelled_by="capture")
    assert add_image(library, ds, data, class_id=dog, source="b") == (sid, False)
    with library.session() as s:
        assert s.get(Sample, sid).class_id == cat  # kept: capture never relabels
    assert add_image(library, ds, data, class_id=dog, source="b", relabel_existing=True) == (sid, False)
    with library.session() as s:
        assert (s.get(Sample, sid).class_id, s.get(Sample, sid).labelled_by) == (dog, "user")
        assert s.scalar(select(func.count(Sample.id))) == 1


def test_unlabelled_image_with_a_split(library):
    ds = new_dataset(library)
    sid, added = add_image(library, ds, digit_png(1), source="x", split="val", labelled_by="capture")
    with library.session() as s:
        smp = s.get(Sample, sid)
        assert (smp.class_id, smp.labelled_by, smp.split) == (None, "", "val")


@pytest.mark.parametrize("data, message", [(b"", "empty"), (b"hello", "not a readable image")])
def test_bad_bytes_are_refused_and_nothing_is_stored(library, data, message):
    ds = new_dataset(library)
    with pytest.raises(InvalidInputError, match=message):
        add_image(library, ds, data, source="x")
    with library.session() as s:
        assert s.scalar(select(Sample.id)) is None
    assert [p for p in library.blobs.root.rglob("*") if p.is_file()] == []


def test_wrong_dataset_class_or_split(library):
    ds, other = new_dataset(library), new_dataset(library, "other")
    with library.transaction() as s:
        foreign = add_class(s, other, "cat").id
    with pytest.raises(NotFoundError):
        add_image(library, 999, digit_png(2), source="x")
    with pytest.raises(InvalidInputError, match="another dataset"):
        add_image(library, ds, digit_png(2), class_id=foreign, source="x")
    with pytest.raises(InvalidInputError, match="split"):
        add_image(library, ds, digit_png(2), split="holdout", source="x")
    with library.session() as s:
        assert s.scalar(select(Sample.id)) is None
