"""A run's recorded curves, for the live view of a resumed run (so it shows the whole run, not only
the epochs after Resume) and anything else that redraws a run from the metrics table."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select

from studio.store.models import Metric, Run


@dataclass
class Series:
    steps: np.ndarray
    epochs: np.ndarray
    values: np.ndarray


@dataclass
class RunHistory:
    run_id: int
    epochs: int  # epochs the run was asked for
    epochs_done: int
    step: int
    series: dict[str, Series] = field(default_factory=dict)  # "train/loss", "val/accuracy", ...

    def get(self, key: str) -> Series | None:
        return self.series.get(key)


def run_history(lib, run_id: int, state=None) -> RunHistory:
    """Every metric the run recorded, as split/name series ordered by step (a job function)."""
    with lib.session() as s:
        run = s.get(Run, int(run_id))
        if run is None:
            return RunHistory(int(run_id), 0, 0, 0)
        rows = s.execute(select(Metric.split, Metric.name, Metric.step, Metric.epoch, Metric.value)
                         .where(Metric.run_id == run.id).order_by(Metric.split, Metric.name, Metric.step)).all()
        history = RunHistory(run.id, int((run.spec or {}).get("epochs") or 0), int(run.epoch or 0), int(run.step or 0))
    grouped: dict[str, list[tuple[int, float, float]]] = {}
    for split, name, step, epoch, value in rows:
        grouped.setdefault(f"{split}/{name}", []).append((step, epoch, value))
    for key, points in grouped.items():
        array = np.asarray(points, dtype=np.float64)
        history.series[key] = Series(array[:, 0], array[:, 1], array[:, 2])
    return history
