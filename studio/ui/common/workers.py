"""Run a plain job function (Orange3 style: ``fn(*args, state)``) off the GUI thread.

``start_job(fn, *args)`` returns a ``Job``: a QObject living on the GUI thread whose signals are
emitted from a QThreadPool worker and therefore delivered *queued* to GUI-thread receivers. The
job function itself knows nothing about Qt; it receives a ``JobState`` whose callbacks emit
these signals. Progress is throttled so a job reporting per file cannot flood the event loop.

    job = start_job(import_path, lib, dataset_id, path)
    job.progress.connect(bar.set_fraction)        # (fraction, message)
    job.finished.connect(show_summary)            # the function's return value
    job.failed.connect(show_error)                # a one-line message
    job.cancelled.connect(...)                    # the function raised Cancelled
    cancel_button.clicked.connect(job.cancel)
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

from studio.core.errors import Cancelled, StudioError
from studio.core.jobs import JobState

log = logging.getLogger(__name__)

PROGRESS_INTERVAL_S = 0.05  # at most ~20 progress signals a second reach the GUI

# Jobs stay referenced here until they end, so a caller may drop its handle safely.
_running: set[Job] = set()


class Job(QObject):
    progress = Signal(float, str)
    partial = Signal(object)
    finished = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    done = Signal()  # after any of finished / failed / cancelled

    def __init__(self, fn: Callable[..., Any], args: tuple, parent: QObject | None = None):
        super().__init__(parent)
        self._fn = fn
        self._args = args
        self._last_progress = 0.0
        self._progress_lock = threading.Lock()
        self.state = JobState(on_progress=self._report_progress, on_partial=self.partial.emit)
        self.is_running = False
        self.done.connect(self._forget)

    def cancel(self) -> None:
        """Ask the job to stop at its next check; it then emits ``cancelled`` (or ``finished``
        with a result that says it was cancelled, when the function returns one)."""
        self.state.cancel()

    def is_cancelled(self) -> bool:
        return self.state.is_cancelled()

    def _report_progress(self, fraction: float, message: str) -> None:
        now = time.monotonic()
        with self._progress_lock:
            if fraction < 1.0 and now - self._last_progress < PROGRESS_INTERVAL_S:
                return
            self._last_progress = now
        self.progress.emit(fraction, message)

    def run(self) -> None:
        """Runs on a pool thread."""
        try:
            result = self._fn(*self._args, self.state)
        except Cancelled:
            self.cancelled.emit()
        except StudioError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - shown as one line, full trace in the log
            log.error("job %s failed:\n%s", getattr(self._fn, "__name__", self._fn), traceback.format_exc())
            self.failed.emit(f"{type(exc).__name__}: {exc}")
        else:
            self.finished.emit(result)
        self.done.emit()

    def _forget(self) -> None:
        self.is_running = False
        _running.discard(self)


class _Runnable(QRunnable):
    def __init__(self, job: Job):
        super().__init__()
        self._job = job

    def run(self) -> None:
        self._job.run()


def start_job(
    fn: Callable[..., Any], *args: Any, pool: QThreadPool | None = None, parent: QObject | None = None
) -> Job:
    """Start ``fn(*args, state)`` on ``pool`` (the global pool by default).

    The job is queued only when control returns to the event loop: a signal emitted before a
    receiver is connected would be lost, so the caller connects to the returned job's signals
    first, in the same GUI-thread call."""
    job = Job(fn, args, parent)
    job.is_running = True
    _running.add(job)
    target = pool or QThreadPool.globalInstance()
    QTimer.singleShot(0, job, lambda: target.start(_Runnable(job)))
    return job


def running_jobs() -> list[Job]:
    return list(_running)
