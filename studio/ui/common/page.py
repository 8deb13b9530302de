"""The base of every sidebar page: load on first show, run background jobs, close cleanly.

A page is a thin view. What it shows comes from plain functions in the layers below, run off the
GUI thread with ``run_job`` (Orange3 style: one job per purpose, a new one replaces the old).

    class RunsPage(Page):
        def on_first_show(self) -> None:      # heavy imports / queries wait until a user looks
            self.refresh()

        def refresh(self) -> None:
            job = self.run_job("runs", list_runs, self.lib)
            job.finished.connect(self._show_runs)

The main window calls ``confirm_close()`` (may veto), ``save_state(settings)`` and
``shutdown()`` when it closes; ``restore_state(settings)`` after a page is built, and
``on_shown()``, when a page has one, each time the user switches to it.

Code that adds pages to a window (``studio.ui.training.install``) sees it as a ``PageHost``,
so it need not import the shell that imports it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QSettings, QThreadPool
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QStatusBar, QWidget

from studio.ui.common.workers import Job, start_job


class PageHost(Protocol):
    """What a window offers to code that adds pages to it and moves between them."""

    def add_page(self, key: str, title: str, icon: QIcon | None, widget: QWidget) -> None: ...

    def show_page(self, key: str) -> None: ...

    def statusBar(self) -> QStatusBar: ...


class Page(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._first_shown = False
        self._jobs: dict[str, Job] = {}

    # ---- first show ----------------------------------------------------------------------------
    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._first_shown:
            self._first_shown = True
            self.on_first_show()

    def on_first_show(self) -> None:
        """Load what the page shows; called once, the first time a user opens the page."""

    @property
    def was_shown(self) -> bool:
        return self._first_shown

    # ---- background jobs ------------------------------------------------------------------------
    def run_job(self, key: str, fn: Callable[..., Any], *args: Any, pool: QThreadPool | None = None) -> Job:
        """Start ``fn(*args, state)`` off the GUI thread (on ``pool``, the global pool by
        default). A running job with the same key is cancelled first: its late result would
        describe a choice the user has left."""
        self.cancel_job(key)
        job = start_job(fn, *args, pool=pool)
        self._jobs[key] = job
        job.done.connect(lambda key=key, job=job: self._job_done(key, job))
        return job

    def cancel_job(self, key: str) -> None:
        """Ask the job to stop; from now on it is forgotten (its late signals still arrive)."""
        job = self._jobs.pop(key, None)
        if job is not None:
            job.cancel()

    def job(self, key: str) -> Job | None:
        return self._jobs.get(key)

    def _job_done(self, key: str, job: Job) -> None:
        if self._jobs.get(key) is job:
            del self._jobs[key]

    # ---- closing --------------------------------------------------------------------------------
    def confirm_close(self) -> bool:
        """False keeps the window open (e.g. a run is training and the user said Cancel)."""
        return True

    def save_state(self, settings: QSettings) -> None:
        """Remember splitter sizes and choices across sessions."""

    def restore_state(self, settings: QSettings) -> None:
        """Put back what ``save_state`` remembered."""

    def shutdown(self) -> None:
        """Stop everything the page started; the window is closing."""
        for key in list(self._jobs):
            self.cancel_job(key)
