"""GUI tests, laid out like studio/ui. This conftest puts tests/ui on sys.path (pytest's rootdir
import mode) so tests in the feature folders share train_gui_helpers.

Cyclic garbage is collected on the GUI thread only, as the app does (studio.ui.common.collector):
a job thread that happens to run the collector on a closed page of an earlier test deadlocks in
Qt's destructor. Here: off for the GUI tests, and a full collection after each test."""

import gc

import pytest


@pytest.fixture(scope="session", autouse=True)
def _no_automatic_collection():
    was_enabled = gc.isenabled()
    gc.disable()
    yield
    if was_enabled:
        gc.enable()


@pytest.fixture(autouse=True)
def _collect_on_the_gui_thread_after_each_test():
    yield
    gc.collect()
