"""The worker process: JSON lines, SIGTERM/stdin stop, pause, and kill -9 + resume reaching the
same final metrics as an uninterrupted run (same seed, CPU)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from studio.store.library import Library
from studio.store.models import Run
from studio.train.runner import create_run

SPEC = {"model": "simple-cnn", "image_size": 12, "epochs": 4, "augment": "crop,flip", "log_every": 5}


def studio(home: Path, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=600, **kw)


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


def new_run(home: Path, **spec) -> int:
    lib = Library.open(home)
    try:
        return create_run(lib, "digits", {**SPEC, **spec})
    finally:
        lib.close()


def run_status(home: Path, run_id: int) -> Run:
    lib = Library.open(home)
    try:
        with lib.session() as s:
            return s.get(Run, run_id)
    finally:
        lib.close()


@pytest.mark.slow
def test_kill_9_mid_epoch_then_resume_matches_an_uninterrupted_run(digits_home):
    reference = new_run(digits_home)
    proc = start_worker(digits_home, reference)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    expected = json_lines(out)[-1]
    assert expected["event"] == "done" and expected["status"] == "completed"

    victim = new_run(digits_home)
    proc = start_worker(digits_home, victim)
    seen = events_until(proc, lambda e: e["event"] == "step" and e["epoch"] == 3)
    assert any(e["event"] == "checkpoint" and e["epoch"] == 2 for e in seen)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert run_status(digits_home, victim).status == "running"  # nobody told the DB

    listed = studio(digits_home, "runs", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {r["run_id"]: r for r in json_lines(listed.stdout)}
    assert rows[victim]["status"] == "interrupted"

    resumed = studio(digits_home, "runs", "resume", str(victim), "--json")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    events = json_lines(resumed.stdout)
    assert events[0]["event"] == "start" and events[0]["resume"] is True
    assert next(e for e in events if e["event"] == "data")["resumed_from_epoch"] == 2
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [3, 4]
    done = events[-1]
    assert done["status"] == "completed" and done["steps"] == expected["steps"]
    assert done["metrics"] == expected["metrics"]  # bit-identical: same data order, augmentation and RNG


def test_sigterm_finishes_the_step_checkpoints_and_marks_stopped(digits_home):
    run_id = new_run(digits_home, epochs=20)
    proc = start_worker(digits_home, run_id)
    events_until(proc, lambda e: e["event"] == "step")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    done = json_lines(out)[-1]
    assert done["event"] == "done" and done["status"] == "stopped"
    assert any(e["event"] == "checkpoint" for e in json_lines(out))
    run = run_status(digits_home, run_id)
    assert run.status == "stopped" and run.pid is None
    assert (digits_home / "runs" / str(run_id) / "checkpoint.pt").is_file()


def test_stdin_pause_resume_and_stop(digits_home):
    run_id = new_run(digits_home, epochs=20)
    proc = start_worker(digits_home, run_id)
    events_until(proc, lambda e: e["event"] == "step")
    proc.stdin.write("pause\n")
    proc.stdin.flush()
    events_until(proc, lambda e: e["event"] == "paused")
    assert run_status(digits_home, run_id).status == "paused"
    proc.stdin.write("resume\n")
    proc.stdin.flush()
    events_until(proc, lambda e: e["event"] == "resumed")
    proc.stdin.write("stop\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert json_lines(out)[-1]["status"] == "stopped"
    assert run_status(digits_home, run_id).status == "stopped"
