"""Latest-request-wins execution for live previews.

While a slider moves, requests arrive faster than kernels finish. One worker thread computes only
the newest pending request (older pending ones are dropped, never started), and a finished result
is delivered only if no newer request has already been delivered. No Qt here: the GUI passes
callbacks that post to its thread (a queued signal)."""

from __future__ import annotations

import atexit
import itertools
import threading
import weakref
from collections.abc import Callable
from typing import Any

Work = Callable[[], Any]
EXIT_WAIT_S = 120.0  # at interpreter exit, how long a kernel still running may take to finish

_runners: weakref.WeakSet[LatestOnlyRunner] = weakref.WeakSet()


@atexit.register
def _finish_running_kernels() -> None:
    """A daemon thread still inside torch's C++ code when Python finalizes is unwound by force and
    the process aborts ("terminate called without an active exception"). A page closes its runner
    without blocking the GUI; at exit, let a kernel that is still running finish first."""
    for runner in list(_runners):
        runner._thread.join(EXIT_WAIT_S)


class LatestOnlyRunner:
    def __init__(self, on_result: Callable[[int, Any], None], on_error: Callable[[int, BaseException], None]):
        self._on_result = on_result
        self._on_error = on_error
        self._cond = threading.Condition()
        self._pending: tuple[int, Work] | None = None
        self._ids = itertools.count(1)
        self._delivered = 0  # id of the newest request whose outcome was delivered
        self._closed = False
        self.dropped = 0  # requests replaced before they started (for tests and the status bar)
        self._busy = False
        self._thread = threading.Thread(target=self._loop, name="kernel-runner", daemon=True)
        self._thread.start()
        _runners.add(self)

    def submit(self, work: Work) -> int:
        """Queue ``work``; it replaces any request that has not started yet. Returns its id."""
        with self._cond:
            request_id = next(self._ids)
            if self._pending is not None:
                self.dropped += 1
            self._pending = (request_id, work)
            self._cond.notify()
            return request_id

    @property
    def busy(self) -> bool:
        with self._cond:
            return self._busy or self._pending is not None

    def wait_idle(self, timeout: float | None = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._busy and self._pending is None, timeout)

    def close(self, timeout: float = 5.0) -> None:
        with self._cond:
            self._closed = True
            self._pending = None
            self._cond.notify_all()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
                request_id, work = self._pending  # type: ignore[misc]
                self._pending = None
                self._busy = True
            try:
                outcome: Any = work()
                failed = False
            except BaseException as exc:  # reported to the GUI, never kills the thread
                outcome, failed = exc, True
            with self._cond:
                stale = request_id < self._delivered
                if not stale:
                    self._delivered = request_id
            try:
                if not stale:
                    (self._on_error if failed else self._on_result)(request_id, outcome)
            finally:
                with self._cond:  # idle only after the outcome was handed over
                    self._busy = False
                    self._cond.notify_all()
