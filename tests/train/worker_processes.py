"""Driving the real worker process and `studio` in tests, the way the app and a user do: JSON
event lines, kill -9, resume. Shared by the image, table and text worker tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from studio.store.library import Library
from studio.store.models import Run


def studio(home: Path, *args: str, timeout: float = 600, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=timeout, check=False, **kw)


def start_worker(home: Path, run_id: int, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "studio", "--home", str(home), "worker", "train", "--run", str(run_id), *extra],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)


def events_until(proc: subprocess.Popen, predicate) -> list[dict]:
    events = []
    for line in proc.stdout:
        event = json.loads(line)
        events.append(event)
        if predicate(event):
            return events
    raise AssertionError(f"worker ended first: {proc.stderr.read()[-2000:]}")


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def run_row(home: Path, run_id: int) -> Run:
    lib = Library.open(home)
    try:
        with lib.session() as s:
            return s.get(Run, run_id)
    finally:
        lib.close()


def check_kill_9_then_resume(home: Path, new_run: Callable[[], int], kill_in_epoch: int, epochs: int) -> None:
    """An uninterrupted run; a second one killed with SIGKILL during epoch ``kill_in_epoch`` (after the
    previous epoch's checkpoint); `studio runs list` calls it interrupted; `studio runs resume` goes on
    from that checkpoint and ends with the very steps and metrics of the uninterrupted run."""
    reference = new_run()
    proc = start_worker(home, reference)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    expected = json_lines(out)[-1]
    assert expected["event"] == "done" and expected["status"] == "completed"

    victim = new_run()
    proc = start_worker(home, victim)
    seen = events_until(proc, lambda e: e["event"] == "step" and e["epoch"] == kill_in_epoch)
    assert any(e["event"] == "checkpoint" and e["epoch"] == kill_in_epoch - 1 for e in seen)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert run_row(home, victim).status == "running"  # nobody told the library

    listed = studio(home, "runs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {r["run_id"]: r["status"] for r in json_lines(listed.stdout)}[victim] == "interrupted"
    resumed = studio(home, "runs", "resume", str(victim), "--json")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    events = json_lines(resumed.stdout)
    assert events[0]["event"] == "start" and events[0]["resume"] is True
    assert next(e for e in events if e["event"] == "data")["resumed_from_epoch"] == kill_in_epoch - 1
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == list(range(kill_in_epoch, epochs + 1))
    done = events[-1]
    assert done["status"] == "completed" and done["steps"] == expected["steps"]
    assert done["metrics"] == expected["metrics"]  # bit-identical: same batches, augmentation, dropout and RNG
