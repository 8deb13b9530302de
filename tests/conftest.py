"""Shared fixtures. Tests mirror the package: tests/store, tests/train, tests/ui, ...

GUI tests run on a real X server (scripts/test.sh starts Xvfb); without one they are skipped.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
    from studio.store.library import Library

    lib = Library.open(home)
    yield lib
    lib.close()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
