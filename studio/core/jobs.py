"""The progress/cancel protocol for long jobs (Orange3 style).

A long job is a plain function that takes a ``JobState`` as its last argument. It reports progress
and partial results through it and checks for cancellation between units of work. The GUI gives it
a state whose callbacks post to the GUI thread; tests and the CLI pass ``JobState()`` or a
``JobState(on_progress=print_bar)``. Nothing here knows about Qt.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from studio.core.errors import Cancelled

ProgressCallback = Callable[[float, str], None]


class JobState:
    """Progress, partial result and an interruption flag shared between a job and its caller."""

    def __init__(
        self,
        on_progress: ProgressCallback | None = None,
        on_partial: Callable[[Any], None] | None = None,
    ):
        self._on_progress = on_progress
        self._on_partial = on_partial
        self._cancel = threading.Event()
        self.progress = 0.0
        self.message = ""

    # job side
    def set_progress(self, fraction: float, message: str | None = None) -> None:
        self.progress = min(max(float(fraction), 0.0), 1.0)
        if message is not None:
            self.message = message
        if self._on_progress:
            self._on_progress(self.progress, self.message)

    def set_partial_result(self, value: Any) -> None:
        if self._on_partial:
            self._on_partial(value)

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def check_cancelled(self) -> None:
        """Raise Cancelled if the caller asked to stop; call between units of work."""
        if self._cancel.is_set():
            raise Cancelled()

    # caller side
    def cancel(self) -> None:
        self._cancel.set()
