"""Picking a sample to try a kernel on: image datasets by name, a random sample, its blob."""

from __future__ import annotations

import random

import pytest
from imagefactory import digit_png

from studio.core.errors import NotFoundError
from studio.store.adding import add_image
from studio.store.datasets import create_dataset
from studio.store.picking import image_dataset_ids, random_sample_id, sample_blob


def test_picks_only_image_datasets_and_samples_of_the_chosen_one(library):
    with library.transaction() as s:
        pictures = create_dataset(s, "pictures").id
        other = create_dataset(s, "other").id
        create_dataset(s, "rows", kind="table")
    added = {add_image(library, pictures, digit_png(d), source=f"d{d}")[0] for d in range(5)}
    add_image(library, other, digit_png(7), source="other")
    with library.session() as s:
        assert image_dataset_ids(s) == {"pictures": pictures, "other": other}
        rng = random.Random(0)
        picked = {random_sample_id(s, pictures, rng) for _ in range(60)}
        assert picked == added  # uniform over the dataset's samples: all five come up, no other
        empty = create_dataset(s, "empty").id
        assert random_sample_id(s, empty) is None
        some = next(iter(added))
        assert library.blobs.exists(sample_blob(s, some))
        with pytest.raises(NotFoundError, match="no sample with id 999"):
            sample_blob(s, 999)
