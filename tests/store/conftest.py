"""Fixtures of the store tests (image helpers live in imagefactory.py)."""

from __future__ import annotations

import pytest


@pytest.fixture
def dataset_id(library) -> int:
    from studio.store.datasets import create_dataset

    with library.transaction() as s:
        return create_dataset(s, "test set").id
