"""Cyclic garbage is collected by a timer on the GUI thread, never by a job thread."""

from __future__ import annotations

import gc
import threading

import pytest

pytest.importorskip("PySide6")

from studio.ui.common.collector import GuiThreadCollector  # noqa: E402

pytestmark = pytest.mark.gui


class _Cycle:
    def __init__(self, seen: list[str]):
        self.me = self
        self.seen = seen

    def __del__(self):
        self.seen.append(threading.current_thread().name)


def test_cycles_are_collected_on_the_gui_thread_by_the_timer(qtbot):
    was_enabled = gc.isenabled()
    gc.enable()
    gc.collect()
    collector = GuiThreadCollector(interval_ms=20)
    try:
        assert not gc.isenabled()  # a job thread allocating past a threshold collects nothing
        seen: list[str] = []
        _Cycle(seen)  # unreachable now; only a collection frees it
        kept: list[list] = []

        def allocate_in_a_thread():
            kept.extend([] for _ in range(5 * collector.thresholds[0]))  # past the threshold, in a job thread

        worker = threading.Thread(target=allocate_in_a_thread, name="job")
        worker.start()
        worker.join()
        assert seen == []  # the job thread's allocations collected nothing
        qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
        assert seen == [threading.main_thread().name]
    finally:
        collector.timer.stop()
        if was_enabled:
            gc.enable()
