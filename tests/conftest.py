"""Shared fixtures. Tests mirror the package: tests/store, tests/train, tests/ui, ...

GUI tests run on a real X server (scripts/test.sh starts Xvfb); without one they are skipped.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from studio.store.library import Library

ARTIFACTS = Path(__file__).parent / "_artifacts"  # screenshots saved by GUI tests: look at them

if os.environ.get("DISPLAY"):
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
os.environ.pop("STUDIO_HOME", None)


def pytest_collection_modifyitems(config, items):
    has_display = bool(os.environ.get("DISPLAY"))
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except Exception:  # torch missing or broken: gpu tests cannot run
        has_cuda = False
    for item in items:
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(pytest.mark.skip(reason="needs CUDA"))
        if "gui" in item.keywords and not has_display:
            item.add_marker(pytest.mark.skip(reason="needs an X server (run scripts/test.sh)"))


@pytest.fixture
def home(tmp_path) -> Path:
    """An empty library folder."""
    return tmp_path / "library"


@pytest.fixture
def library(home):
    """A fresh library (migrated to head, no demo dataset)."""
    lib = Library.open(home)
    yield lib
    lib.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


# Digits libraries for the engine, data and GUI tests: built once per session, copied per test.
@pytest.fixture(scope="session")
def digits_template(tmp_path_factory) -> Path:
    from studio.data.digits import add_digits_dataset

    home = tmp_path_factory.mktemp("digits") / "library"
    lib = Library.open(home)
    add_digits_dataset(lib, "digits")
    lib.close()
    return home


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
