"""Digits libraries for the engine tests: built once per session, copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from studio.store.library import Library


def _template(factory, name: str, **kwargs) -> Path:
    from studio.data.digits import add_digits_dataset

    home = factory.mktemp(name) / "library"
    lib = Library.open(home)
    add_digits_dataset(lib, "digits", **kwargs)
    lib.close()
    return home


@pytest.fixture(scope="session")
def digits_template(tmp_path_factory) -> Path:
    return _template(tmp_path_factory, "digits")


@pytest.fixture
def digits_home(digits_template, tmp_path) -> Path:
    """A library with dataset "digits": 1797 8x8 PNGs, train/val/test 70/15/15, stratified."""
    home = tmp_path / "library"
    shutil.copytree(digits_template, home)
    return home


@pytest.fixture
def digits_lib(digits_home):
    lib = Library.open(digits_home)
    yield lib
    lib.close()
