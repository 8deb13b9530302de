"""Run bookkeeping: list, show, find dead workers, stop, delete. Query functions take a session;
the listing (``list_runs``) takes the library, as it also looks at each run's files."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from dataclasses import dataclass, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select

from studio.core.errors import InvalidInputError, NotFoundError
from studio.core.run_status import ACTIVE, FINISHED, WORKER_ATTACHED, RunStatus
from studio.store.models import Dataset, Run, utcnow
from studio.train.checkpoints import CHECKPOINT_NAME
from studio.train.run_files import WEIGHTS_NAME, run_dir
from studio.train.spec import parse_run_id

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from studio.store.library import Library

HEARTBEAT_TIMEOUT_S = 30


def get_run(s: Session, run_id: int | str) -> Run:
    run = s.get(Run, parse_run_id(run_id))
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
        for run in s.scalars(select(Run).where(Run.status.in_(WORKER_ATTACHED))):
            stale = run.heartbeat_at is None or run.heartbeat_at < cutoff
            if stale or not pid_alive(run.pid):
                run.status = RunStatus.INTERRUPTED
                run.error = run.error or "the worker process ended without finishing; resume with `studio runs resume`"
                run.pid = None
                changed.append(run.id)
    return changed


def run_summary(run: Run) -> dict[str, Any]:
    best = (run.summary or {}).get("best") or {}
    return {
        "run_id": run.id, "name": run.name, "dataset_id": run.dataset_id, "model": run.model,
        "status": run.status, "epoch": run.epoch, "epochs": (run.spec or {}).get("epochs"), "step": run.step,
        "val_accuracy": best.get("val_accuracy"), "val_r2": best.get("val_r2"),
        "device": run.device, "parent_run_id": run.parent_run_id,
        "created_at": run.created_at, "finished_at": run.finished_at, "error": run.error,
    }


RESUMABLE = (RunStatus.STOPPED, RunStatus.INTERRUPTED, RunStatus.FAILED)


@dataclass
class RunSummary:
    """The stable keys of `studio runs list --json` (``run_summary``)."""

    run_id: int
    name: str
    dataset_id: int | None
    model: str
    status: str
    epoch: int
    epochs: int | None
    step: int
    val_accuracy: float | None
    val_r2: float | None  # regression runs (tables): their best validation score
    device: str | None
    parent_run_id: int | None
    created_at: datetime | None
    finished_at: datetime | None
    error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(RunSummary)}

    @property
    def score_text(self) -> str:
        """The best validation score in words: "97.0%" (accuracy), "R² 0.845" (regression), or "–"."""
        if isinstance(self.val_accuracy, (int, float)):
            return f"{self.val_accuracy:.1%}"
        if isinstance(self.val_r2, (int, float)):
            return f"R² {self.val_r2:.3f}"
        return "–"


@dataclass
class RunRecord(RunSummary):
    """A run as listings show it: its summary, its dataset's name and what its folder holds."""

    dataset: str | None = None  # None once the dataset is deleted
    spec: dict[str, Any] | None = None
    duration_s: float | None = None  # started -> finished (or last heartbeat)
    has_weights: bool = False  # can be evaluated, exported, fine-tuned from
    has_checkpoint: bool = False  # can be resumed

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def resumable(self) -> bool:
        return self.status in RESUMABLE and self.has_checkpoint


def list_runs(lib: Library) -> list[RunRecord]:
    """Every run, oldest first. Runs whose worker died are marked interrupted first."""
    mark_interrupted(lib)
    with lib.session() as s:
        rows = s.execute(select(Run, Dataset.name).outerjoin(Dataset, Dataset.id == Run.dataset_id)
                         .order_by(Run.id)).all()
        records = [_record(lib, run, dataset) for run, dataset in rows]
    return records


def _record(lib: Library, run: Run, dataset: str | None) -> RunRecord:
    folder = run_dir(lib, run.id)
    duration = None
    end = run.finished_at or run.heartbeat_at
    if run.started_at is not None and end is not None:
        duration = max((end - run.started_at).total_seconds(), 0.0)
    return RunRecord(**run_summary(run), dataset=dataset, spec=dict(run.spec or {}), duration_s=duration,
                     has_weights=(folder / WEIGHTS_NAME).is_file(),
                     has_checkpoint=(folder / CHECKPOINT_NAME).is_file())


def trained_runs(lib: Library) -> list[RunRecord]:
    """Finished or stopped runs with trained weights, newest first: what can be evaluated or
    fine-tuned from."""
    return [r for r in reversed(list_runs(lib)) if r.finished and r.has_weights]


def run_dataset(s: Session, run_id: int) -> tuple[int, str] | None:
    """The id and name of the dataset a run trained on; None when the run or dataset is gone."""
    row = s.execute(select(Dataset.id, Dataset.name).join(Run, Run.dataset_id == Dataset.id)
                    .where(Run.id == int(run_id))).first()
    return (int(row[0]), str(row[1])) if row is not None else None


def show_run(s: Session, run_id: int | str) -> dict[str, Any]:
    run = get_run(s, run_id)
    return {**run_summary(run), "spec": run.spec, "classes": run.classes, "summary": run.summary,
            "notes": run.notes, "heartbeat_at": run.heartbeat_at, "started_at": run.started_at, "pid": run.pid}


def request_stop(lib: Library, run_id: int | str) -> bool:
    """SIGTERM the worker (it finishes the step, checkpoints, marks the run stopped).

    The stored PID is signalled only while it is still this run's worker: alive, heartbeat
    fresh, and (where the OS tells) its command line names this run and library and it started
    before the run did. A PID reused by another process after the worker died is left alone.
    Returns False when there was no live worker (a queued run is then just marked stopped)."""
    cutoff = utcnow() - timedelta(seconds=HEARTBEAT_TIMEOUT_S)
    with lib.transaction() as s:
        run = get_run(s, run_id)
        if run.status not in ACTIVE:
            raise InvalidInputError(f"run {run.id} is not running (it is {run.status})")
        pid = run.pid
        fresh = run.heartbeat_at is not None and run.heartbeat_at >= cutoff
        if not (pid_alive(pid) and fresh and is_run_worker(pid, run.id, lib.home, run.started_at)):
            run.status = RunStatus.STOPPED if run.status == RunStatus.QUEUED else RunStatus.INTERRUPTED
            run.pid = None
            return False
    os.kill(pid, signal.SIGTERM)
    return True


START_TOLERANCE_S = 5.0  # clock granularity between the OS's process start time and the DB stamp


def is_run_worker(pid: int, run_id: int, home, started_at=None) -> bool:
    """Whether process ``pid`` is the worker of run ``run_id`` of the library at ``home``. Where
    the OS does not say (no /proc, no ps), the caller's liveness and heartbeat checks stand alone."""
    argv = process_argv(pid)
    if argv is None:
        return True
    if not _names_run(argv, run_id, home):
        if not argv or not _is_ps_line(argv) or not _ps_names_run(argv[0], run_id, home):
            return False
    began = process_start(pid)
    if began is not None and started_at is not None:
        stamped = started_at.replace(tzinfo=timezone.utc).timestamp()
        if began > stamped + START_TOLERANCE_S:  # born after the worker marked the run started
            return False
    return True


def _names_run(argv: list[str], run_id: int, home) -> bool:
    """`... [--home H] worker train --run|--run-id ID ...` (directly, or under torchrun)."""
    if "worker" not in argv or "train" not in argv:
        return False
    values = {}
    for index, arg in enumerate(argv):
        key, eq, value = arg.partition("=")
        if key in ("--run", "--run-id", "--home"):
            values[key.lstrip("-").replace("-id", "")] = value if eq else (argv[index + 1] if index + 1 < len(argv) else "")
    if values.get("run") != str(run_id):
        return False
    if "home" in values:
        try:
            return Path(values["home"]).expanduser().resolve() == Path(home).resolve()
        except (OSError, RuntimeError):
            return False
    return True


_PS_MARK = "\0ps"


def _is_ps_line(argv: list[str]) -> bool:
    return len(argv) == 2 and argv[1] == _PS_MARK


def _ps_names_run(text: str, run_id: int, home) -> bool:
    """`ps` gives one string, so paths with spaces cannot be split back out: match the pieces."""
    tokens = text.split()
    if "worker" not in tokens or "train" not in tokens:
        return False
    run_ok = any(tokens[i] in ("--run", "--run-id") and tokens[i + 1] == str(run_id) for i in range(len(tokens) - 1)) \
        or f"--run={run_id}" in tokens or f"--run-id={run_id}" in tokens
    homes = {str(home), str(Path(home).resolve())}
    return run_ok and ("--home" not in text or any(f"--home {h}" in text or f"--home={h}" in text for h in homes))


def process_argv(pid: int) -> list[str] | None:
    """The command line of ``pid`` ([] when it has gone), or None when the OS cannot say. Without
    /proc (macOS) it is ``[text, _PS_MARK]``: ps's one-line rendering, which _ps_names_run reads."""
    proc = Path(f"/proc/{pid}/cmdline")
    if Path("/proc/self/cmdline").exists():
        try:
            raw = proc.read_bytes()
        except OSError:
            return []
        return [part.decode("utf-8", errors="replace") for part in raw.split(b"\0") if part]
    try:
        out = subprocess.run(["ps", "-ww", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return [out.stdout.strip(), _PS_MARK] if out.returncode == 0 else []  # one string, marked as from ps


def process_start(pid: int) -> float | None:
    """Unix time at which ``pid`` started (Linux /proc), else None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat[stat.rindex(")") + 2 :].split()  # after "(comm)", which may hold spaces
        ticks = int(fields[19])  # field 22 of the whole line: starttime in clock ticks since boot
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None


def delete_run(lib: Library, run_id: int | str) -> None:
    """Remove the run's rows (metrics, checkpoints, predictions cascade) and its folder."""
    with lib.transaction() as s:
        run = get_run(s, run_id)
        if run.status in WORKER_ATTACHED and pid_alive(run.pid):
            raise InvalidInputError(f"run {run.id} is running: stop it first (`studio runs stop {run.id}`)")
        s.execute(delete(Run).where(Run.id == run.id))
    shutil.rmtree(run_dir(lib, int(run_id)), ignore_errors=True)
