from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def shipped():
    """The shipped kernel library, loaded once."""
    from studio.kernels.registry import discover_for_home

    report = discover_for_home(None)
    assert not report.errors, report.errors
    return report.kernels
