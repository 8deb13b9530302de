"""The states of a training run, as stored in ``runs.status``.

A ``StrEnum``: each member IS its string ("completed" == RunStatus.COMPLETED, and it formats as
"completed"), so rows written before the enum existed, JSON events and comparisons all keep working.
It lives in core so the store, the engine and the GUI share it without the GUI importing the ORM.
"""

from __future__ import annotations

from studio.core.compat import StrEnum


class RunStatus(StrEnum):
    QUEUED = "queued"  # created, no worker has started it yet
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"  # stopped by the user; resumable from its last checkpoint
    COMPLETED = "completed"
    FAILED = "failed"  # run.error says why
    INTERRUPTED = "interrupted"  # its worker died (killed, crashed, machine off); resumable


# a worker process is (or should be) attached to the run
WORKER_ATTACHED = (RunStatus.RUNNING, RunStatus.PAUSED)
# not finished yet: queued or with a worker
ACTIVE = (RunStatus.QUEUED, *WORKER_ATTACHED)
# ended normally, with weights to use
FINISHED = (RunStatus.COMPLETED, RunStatus.STOPPED)
