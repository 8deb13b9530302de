from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def shipped_kernels():
    from studio.kernels.registry import discover_for_home

    return discover_for_home(None).kernels
