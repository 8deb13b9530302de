"""Run bookkeeping: list, show, find dead workers, stop, delete. Query functions take a session."""

from __future__ import annotations

import os
import shutil
import signal
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from studio.core.errors import InvalidInputError, NotFoundError
from studio.store.models import Run, utcnow
from studio.train.artifacts import run_dir

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from studio.store.library import Library

HEARTBEAT_TIMEOUT_S = 30
ACTIVE = ("queued", "running", "paused")


def get_run(s: Session, run_id: int | str) -> Run:
    if not str(run_id).isdigit():
        raise InvalidInputError(f"a run id is a number, not {run_id!r}")
    run = s.get(Run, int(run_id))
    if run is None:
        raise NotFoundError(f"no run {run_id}", hint="`studio runs list` shows them")
    return run


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def mark_interrupted(lib: Library) -> list[int]:
    """Runs marked running/paused whose worker is gone (pid dead, or silent for 30 s) -> interrupted."""
    cutoff = utcnow() - timedelta(seconds=HEARTBEAT_TIMEOUT_S)
    changed = []
    with lib.transaction() as s:
        for run in s.scalars(select(Run).where(Run.status.in_(("running", "paused")))):
            stale = run.heartbeat_at is None or run.heartbeat_at < cutoff
            if stale or not pid_alive(run.pid):
                run.status = "interrupted"
                run.error = run.error or "the worker process ended without finishing; resume with `studio runs resume`"
                run.pid = None
                changed.append(run.id)
    return changed


def run_summary(run: Run) -> dict[str, Any]:
    best = (run.summary or {}).get("best", {})
    return {
        "run_id": run.id, "name": run.name, "dataset_id": run.dataset_id, "model": run.model,
        "status": run.status, "epoch": run.epoch, "epochs": (run.spec or {}).get("epochs"), "step": run.step,
        "val_accuracy": best.get("val_accuracy"), "device": run.device, "parent_run_id": run.parent_run_id,
        "created_at": run.created_at, "finished_at": run.finished_at, "error": run.error,
    }


def list_runs(s: Session) -> list[dict[str, Any]]:
    return [run_summary(r) for r in s.scalars(select(Run).order_by(Run.id))]


def show_run(s: Session, run_id: int | str) -> dict[str, Any]:
    run = get_run(s, run_id)
    return {**run_summary(run), "spec": run.spec, "classes": run.classes, "summary": run.summary,
            "notes": run.notes, "heartbeat_at": run.heartbeat_at, "started_at": run.started_at, "pid": run.pid}


def request_stop(lib: Library, run_id: int | str) -> bool:
    """SIGTERM the worker (it finishes the step, checkpoints, marks the run stopped).

    Returns False when there was no live worker (a queued run is then just marked stopped)."""
    with lib.transaction() as s:
        run = get_run(s, run_id)
        if run.status not in ACTIVE:
            raise InvalidInputError(f"run {run.id} is not running (it is {run.status})")
        pid = run.pid
        if not pid_alive(pid):
            run.status = "stopped" if run.status == "queued" else "interrupted"
            run.pid = None
            return False
    os.kill(pid, signal.SIGTERM)
    return True


def delete_run(lib: Library, run_id: int | str) -> None:
    """Remove the run's rows (metrics, checkpoints, predictions cascade) and its folder."""
    with lib.transaction() as s:
        run = get_run(s, run_id)
        if run.status in ("running", "paused") and pid_alive(run.pid):
            raise InvalidInputError(f"run {run.id} is running: stop it first (`studio runs stop {run.id}`)")
        s.execute(delete(Run).where(Run.id == run.id))
    shutil.rmtree(run_dir(lib, int(run_id)), ignore_errors=True)
