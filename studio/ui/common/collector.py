"""Python's cyclic garbage collection on the GUI thread only.

The collector runs in whichever thread happens to allocate when a threshold is crossed. When that
is a job thread and the garbage holds a Qt object, Qt destroys it off the GUI thread and shiboken
waits for the GIL that thread already holds: the app freezes (seen in the test suite: a preview
job's thread collecting a closed page). So automatic collection is turned off and a timer on the
GUI thread collects each generation when its threshold is crossed, as CPython would
(pyqtgraph's GarbageCollector does the same; importing pyqtgraph at start-up costs too much)."""

from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 1000


class GuiThreadCollector(QObject):
    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS):
        super().__init__(parent)
        self.thresholds = gc.get_threshold()
        gc.disable()
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.collect_due)
        self.timer.start(interval_ms)

    def collect_due(self) -> None:
        counts = gc.get_count()
        for generation in (2, 1, 0):  # the oldest due generation (a collection includes the younger ones)
            if counts[generation] > self.thresholds[generation]:
                gc.collect(generation)
                return
