"""The job bridge: a plain job function on a pool thread, its signals delivered on the GUI thread."""

from __future__ import annotations

import threading

import pytest

pytestmark = pytest.mark.gui

pytest.importorskip("PySide6")

from PySide6.QtCore import QThread  # noqa: E402

from studio.core.errors import InvalidInputError  # noqa: E402
from studio.ui.common.workers import running_jobs, start_job  # noqa: E402


def test_result_and_progress_arrive_on_the_gui_thread(qtbot):
    seen = []

    def job(n, state):
        for i in range(n):
            state.set_progress((i + 1) / n, f"step {i + 1}")
        return threading.current_thread().name

    gui_thread = QThread.currentThread()
    handle = start_job(job, 5)
    handle.progress.connect(lambda f, m: seen.append((f, m, QThread.currentThread() is gui_thread)))
    with qtbot.waitSignal(handle.finished, timeout=10_000) as blocker:
        pass
    assert blocker.args[0] != threading.current_thread().name  # it ran elsewhere
    assert seen and all(on_gui for _f, _m, on_gui in seen)
    assert seen[-1][:2] == (1.0, "step 5")  # the final progress is never throttled away
    qtbot.waitUntil(lambda: handle not in running_jobs())


def test_studio_error_becomes_its_one_line_message(qtbot):
    def job(state):
        raise InvalidInputError("that file is not an image")

    handle = start_job(job)
    with qtbot.waitSignal(handle.failed, timeout=10_000) as blocker:
        pass
    assert blocker.args == ["that file is not an image"]


def test_unexpected_error_is_one_line_not_a_traceback(qtbot):
    def job(state):
        return {}["missing"]

    handle = start_job(job)
    with qtbot.waitSignal(handle.failed, timeout=10_000) as blocker:
        pass
    assert blocker.args[0] == "KeyError: 'missing'"
    assert "Traceback" not in blocker.args[0]


def test_cancel_stops_a_job_that_checks(qtbot):
    started = threading.Event()

    def job(state):
        started.set()
        while True:
            state.check_cancelled()
            threading.Event().wait(0.005)

    handle = start_job(job)
    qtbot.waitUntil(started.is_set, timeout=10_000)
    with qtbot.waitSignal(handle.cancelled, timeout=10_000):
        handle.cancel()
    assert handle.is_cancelled()
