"""Table runs in the real worker process and from `studio train`: kill -9 then `studio runs resume`
ends where an uninterrupted run ends, SIGTERM stops with a checkpoint, and the CLI prints live
progress (or JSON lines with --json)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from studio.data.tables.dataset import import_table
from studio.data.tables.demos import DEMO_TABLES
from studio.store.library import Library
from studio.store.models import Run
from studio.train.runner import create_run

SPEC = {"epochs": 8, "early_stopping": 0, "hidden": "32,16", "log_every": 3}


@pytest.fixture
def penguins_home(tmp_path):
    home = tmp_path / "library"
    lib = Library.open(home)
    try:
        import_table(lib, "penguins", DEMO_TABLES["penguins"].path, targets=["species"])
    finally:
        lib.close()
    return home


def studio(home, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=600, check=False)


def start_worker(home, run_id: int) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "studio", "--home", str(home), "worker", "train", "--run", str(run_id)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1)


def events_until(proc: subprocess.Popen, predicate) -> list[dict]:
    events = []
    for line in proc.stdout:
        events.append(json.loads(line))
        if predicate(events[-1]):
            return events
    raise AssertionError(f"worker ended first: {proc.stderr.read()[-2000:]}")


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def new_run(home, **spec) -> int:
    lib = Library.open(home)
    try:
        return create_run(lib, "penguins", {**SPEC, **spec})
    finally:
        lib.close()


def run_row(home, run_id: int) -> Run:
    lib = Library.open(home)
    try:
        with lib.session() as s:
            return s.get(Run, run_id)
    finally:
        lib.close()


def test_kill_9_then_resume_ends_as_an_uninterrupted_run(penguins_home):
    reference = new_run(penguins_home)
    proc = start_worker(penguins_home, reference)
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    expected = json_lines(out)[-1]
    assert expected["event"] == "done" and expected["status"] == "completed"

    victim = new_run(penguins_home)
    proc = start_worker(penguins_home, victim)
    seen = events_until(proc, lambda e: e["event"] == "step" and e["epoch"] == 4)
    assert any(e["event"] == "checkpoint" and e["epoch"] == 3 for e in seen)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert run_row(penguins_home, victim).status == "running"  # nobody told the library

    listed = studio(penguins_home, "runs", "list", "--json")
    assert {r["run_id"]: r["status"] for r in json_lines(listed.stdout)}[victim] == "interrupted"
    resumed = studio(penguins_home, "runs", "resume", str(victim), "--json")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    events = json_lines(resumed.stdout)
    assert events[0]["event"] == "start" and events[0]["resume"] is True
    assert next(e for e in events if e["event"] == "data")["resumed_from_epoch"] == 3
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [4, 5, 6, 7, 8]
    done = events[-1]
    assert done["status"] == "completed" and done["steps"] == expected["steps"]
    assert done["metrics"] == expected["metrics"]  # the same batches, dropout and test scores


def test_sigterm_stops_a_table_run_with_a_checkpoint(penguins_home):
    run_id = new_run(penguins_home, epochs=300)
    proc = start_worker(penguins_home, run_id)
    events_until(proc, lambda e: e["event"] == "epoch")
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    done = json_lines(out)[-1]
    assert done["event"] == "done" and done["status"] == "stopped" and done["epochs"] < 300
    run = run_row(penguins_home, run_id)
    assert run.status == "stopped" and run.pid is None
    assert (penguins_home / "runs" / str(run_id) / "checkpoint.pt").is_file()


def test_studio_train_prints_a_table_runs_progress(penguins_home):
    shown = studio(penguins_home, "train", "penguins", "--epochs", "3", "--hidden", "16", "--activation", "gelu")
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert "mlp-16 on cpu" in shown.stderr and "train / " in shown.stderr and "val rows, predicting Adelie" in shown.stderr
    assert "epoch 3/3: train loss" in shown.stderr and " f1 " in shown.stderr
    assert "completed: best val loss" in shown.stdout or "completed: best val accuracy" in shown.stdout
    assert "; test accuracy" in shown.stdout

    as_json = studio(penguins_home, "train", "penguins", "--epochs", "2", "--batch-norm", "--json")
    assert as_json.returncode == 0, as_json.stderr[-2000:]
    events = json_lines(as_json.stdout)
    assert [e["event"] for e in events[:2]] == ["start", "data"] and events[-1]["event"] == "done"
    assert events[0]["image_size"] == 0 and events[-1]["status"] == "completed"
    assert run_row(penguins_home, events[0]["run_id"]).spec["batch_norm"] is True

    refused = studio(penguins_home, "train", "penguins", "--augment", "flip")
    assert refused.returncode != 0
    assert "--augment is a setting for image datasets; 'penguins' is a table dataset" in refused.stderr
