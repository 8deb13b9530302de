"""A user's action that the database refuses becomes one StudioError line, nothing half-done."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from studio.core.errors import InvalidInputError
from studio.store.datasets import create_dataset
from studio.store.library import LibraryUpdateError
from studio.store.models import Dataset


def test_a_database_failure_is_a_library_update_error_and_rolls_back(library):
    with pytest.raises(LibraryUpdateError, match="could not be updated .*OperationalError.*nothing was changed"):
        with library.user_transaction() as s:
            create_dataset(s, "kept out")
            s.execute(text("SELECT * FROM no_such_table"))
    with library.session() as s:
        assert s.scalars(select(Dataset.name)).all() == []


def test_the_studios_own_errors_pass_unchanged(library):
    with pytest.raises(InvalidInputError), library.user_transaction() as s:
        create_dataset(s, "")
