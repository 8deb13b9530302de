"""Engine test helpers (the digits library fixtures live in tests/conftest.py)."""

from __future__ import annotations

import pytest

from studio.store.library import Library


def add_regrouped_dataset(lib: Library, source: str, name: str, groups: dict[str, list[str]], *,
                          train_per_class: int, seed: int = 0) -> int:
    """Add dataset ``name``: the SAME images as dataset ``source`` (same blobs, same splits), with
    the source classes merged into ``groups`` ({"even": ["0", "2", ...], ...}) and only
    ``train_per_class`` train samples per new class (a seeded draw); val and test are kept whole.

    So a run on ``source`` and a run on ``name`` never see each other's test images."""
    import random

    from sqlalchemy import select

    from studio.store.models import Dataset, LabelClass, Sample

    with lib.transaction() as s:
        src = s.scalars(select(Dataset).where(Dataset.name == source)).one()
        old_names = {c.id: c.name for c in s.scalars(select(LabelClass).where(LabelClass.dataset_id == src.id))}
        ds = Dataset(name=name, kind=src.kind)
        s.add(ds)
        s.flush()
        new_class = {}
        for pos, (group, members) in enumerate(groups.items()):
            cls = LabelClass(dataset_id=ds.id, name=group, position=pos)
            s.add(cls)
            s.flush()
            new_class.update({member: cls.id for member in members})
        rows = s.scalars(select(Sample).where(Sample.dataset_id == src.id).order_by(Sample.id)).all()
        rng = random.Random(seed)
        kept = []
        for class_id in dict.fromkeys(new_class.values()):
            members = [r for r in rows if new_class.get(old_names.get(r.class_id)) == class_id]
            train = [r for r in members if r.split == "train"]
            rng.shuffle(train)
            kept += train[:train_per_class] + [r for r in members if r.split != "train"]
        for r in kept:
            s.add(Sample(dataset_id=ds.id, blob=r.blob, format=r.format, width=r.width, height=r.height,
                         channels=r.channels, byte_size=r.byte_size, class_id=new_class[old_names[r.class_id]],
                         split=r.split, source_path=r.source_path, labelled_by=r.labelled_by))
        return ds.id


@pytest.fixture
def regrouped_dataset():
    """``add_regrouped_dataset`` (test modules here are not a package, so they get it as a fixture)."""
    return add_regrouped_dataset
