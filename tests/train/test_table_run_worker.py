"""Table runs in the real worker process and from `studio train`: kill -9 then `studio runs resume`
ends where an uninterrupted run ends, SIGTERM stops with a checkpoint, and the CLI prints live
progress (or JSON lines with --json)."""

from __future__ import annotations

import signal

import pytest
from worker_processes import (
    check_kill_9_then_resume,
    events_until,
    json_lines,
    run_row,
    start_worker,
    studio,
)

from studio.data.tables.dataset import import_table
from studio.data.tables.demos import DEMO_TABLES
from studio.store.library import Library
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


def new_run(home, **spec) -> int:
    lib = Library.open(home)
    try:
        return create_run(lib, "penguins", {**SPEC, **spec})
    finally:
        lib.close()


def test_kill_9_then_resume_ends_as_an_uninterrupted_run(penguins_home):
    check_kill_9_then_resume(penguins_home, lambda: new_run(penguins_home), kill_in_epoch=4, epochs=SPEC["epochs"])


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
