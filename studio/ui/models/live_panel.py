"""What the table and text Play panels share: a predictor, a debounce timer that predicts when the
user pauses, and one page job for the prediction on screen."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

DEBOUNCE_MS = 150  # typing faster than this predicts once, when it pauses


class LivePredictPanel(QWidget):
    """Subclasses build their widgets in ``_build`` and predict in ``predict_now`` as the page's
    ``job_key`` job (the Play page's run_job keeps one job per purpose and ends them on close)."""

    job_key = ""

    def __init__(self, page, parent: QWidget | None = None):
        super().__init__(parent)
        self.page = page
        self.predictor = None
        self.shown = None  # the prediction on screen
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.predict_now)
        self._build()

    def _build(self) -> None:
        raise NotImplementedError

    def predict_now(self) -> None:
        raise NotImplementedError

    def clear_predictor(self) -> None:
        """Another model is loading: forget this one and any prediction of it still on its way."""
        self.page.cancel_job(self.job_key)
        self.predictor = None
        self._timer.stop()
