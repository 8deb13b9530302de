"""The worker process: JSON lines, SIGTERM/stdin stop, pause, and kill -9 + resume reaching the
same final metrics as an uninterrupted run (same seed, CPU)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from worker_processes import (
    check_kill_9_then_resume,
    events_until,
    json_lines,
    run_row,
    start_worker,
    studio,
)

from studio.store.library import Library
from studio.store.models import Run
from studio.train.runner import create_run

SPEC = {"model": "simple-cnn", "image_size": 12, "epochs": 4, "augment": "crop,flip", "log_every": 5}


def new_run(home: Path, **spec) -> int:
    lib = Library.open(home)
    try:
        return create_run(lib, "digits", {**SPEC, **spec})
    finally:
        lib.close()


@pytest.mark.slow
def test_kill_9_mid_epoch_then_resume_matches_an_uninterrupted_run(digits_home):
    check_kill_9_then_resume(digits_home, lambda: new_run(digits_home), kill_in_epoch=3, epochs=SPEC["epochs"])


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
    run = run_row(digits_home, run_id)
    assert run.status == "stopped" and run.pid is None
    assert (digits_home / "runs" / str(run_id) / "checkpoint.pt").is_file()


def test_stdin_pause_resume_and_stop(digits_home):
    run_id = new_run(digits_home, epochs=20)
    proc = start_worker(digits_home, run_id)
    events_until(proc, lambda e: e["event"] == "step")
    proc.stdin.write("pause\n")
    proc.stdin.flush()
    events_until(proc, lambda e: e["event"] == "paused")
    assert run_row(digits_home, run_id).status == "paused"
    proc.stdin.write("resume\n")
    proc.stdin.flush()
    events_until(proc, lambda e: e["event"] == "resumed")
    proc.stdin.write("stop\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-2000:]
    assert json_lines(out)[-1]["status"] == "stopped"
    assert run_row(digits_home, run_id).status == "stopped"


# --- the pipes: bad bytes either way cost a line, never the run's control -----------------------

def test_control_thread_survives_invalid_utf8_and_endless_lines():
    """One bad byte used to kill the stdin thread (UnicodeDecodeError), so a later stop was ignored."""
    import io

    from studio.commands.worker import _Controls

    controls = _Controls(lib=None, run_id=1)
    stream = io.BytesIO(b"\xff\xfe\xfd\n" + b"p" * 10_000_000 + b"\nsto\xc3p\n" + b"STOP\n")
    controls.read_stdin(stream.read)
    assert controls.job.is_cancelled()


def test_control_lines_are_read_with_a_bound():
    import io
    import tracemalloc

    from studio.train.protocol import read_control_lines

    stream = io.BytesIO(b"x" * 10_000_000 + b"\npause\n\xff\nresume")
    tracemalloc.start()
    try:
        words = list(read_control_lines(stream.read, 4096))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert words == ["", "pause", "\ufffd", "resume"]
    assert peak < 1_000_000  # the 10 MB line was never held whole


def test_event_parser_skips_non_json_and_does_not_buffer_an_endless_line():
    from studio.train.protocol import JsonLinesParser

    parser = JsonLinesParser(max_line_bytes=1000)
    items = parser.split(b"{'loss': 0.5}\n{\"event\": \"step\", \"step\": 1}\n{not json\n\xff\xfe\n")
    assert items == ["{'loss': 0.5}", {"event": "step", "step": 1}, "{not json", "\ufffd\ufffd"]
    for _ in range(100):  # 100 x 64 KiB without a newline: dropped as it comes
        assert parser.split(b"{" * 65536) == []
        assert len(parser._tail) <= 1000 + 65536
    (notice,) = parser.split(b"tail\n")
    assert notice.startswith("(skipped a line of 6,553,604 bytes")
    assert parser.split(b'{"event": "done"}\n') == [{"event": "done"}]


STUB_WORKER = r"""
import sys
out = sys.stdout
out.write('{"event": "data", "train_samples": 10, "val_samples": 2, "classes": ["a", "b"]}\n')
out.write("{'loss': 0.5}\n")                     # a dict printed by some library: starts with {, not JSON
out.write("{" + "x" * 5000 + "\n")               # over the (test's) 1000-byte line limit
out.write('{"event": "step"}\n')                 # an event missing the fields the view reads
out.write('{"event": "done", "run_id": 1, "status": "completed", "metrics": {}}\n')
"""


@pytest.mark.parametrize("json_mode", [False, True])
def test_studio_train_survives_stray_lines_from_the_worker(monkeypatch, capsys, tmp_path, json_mode):
    """`studio train` died with a JSONDecodeError traceback on "{'loss': 0.5}" and left the worker
    training unattended; now such lines go to stderr and the run is followed to the end."""
    import dataclasses

    from studio.commands import train as train_cmd
    from studio.core.limits import limits, set_limits

    monkeypatch.setattr(train_cmd, "worker_argv", lambda *a, **k: [sys.executable, "-c", STUB_WORKER])
    set_limits(dataclasses.replace(limits(), max_event_line_bytes=1000))
    try:
        assert train_cmd.run_worker(tmp_path, 1, json_mode=json_mode) == 0
    finally:
        set_limits(None)
    out, err = capsys.readouterr()
    assert "{'loss': 0.5}" in err and "skipped a line of 5,001 bytes" in err
    if json_mode:
        events = [json.loads(line) for line in out.splitlines()]  # stdout stays pure JSON lines
        assert [e["event"] for e in events] == ["data", "step", "done"]
    else:
        assert "run 1 completed" in out and "10 train / 2 val samples, 2 classes" in err


def test_studio_train_asks_the_worker_to_stop_if_it_cannot_follow_it(monkeypatch, tmp_path):
    from studio.commands import train as train_cmd

    marker = tmp_path / "stop-received"
    step = '{"event": "step", "run_id": 1, "step": 1, "epoch": 1, "loss": 0.5}'  # a complete typed event
    script = (f"import sys\nprint({step!r}, flush=True)\n"
              f"line = sys.stdin.readline()\nopen({str(marker)!r}, 'w').write(line)\n")
    monkeypatch.setattr(train_cmd, "worker_argv", lambda *a, **k: [sys.executable, "-c", script])

    def broken_view(self, event):
        raise RuntimeError("the view failed")

    monkeypatch.setattr(train_cmd._ProgressView, "_show", broken_view)
    with pytest.raises(RuntimeError):
        train_cmd.run_worker(tmp_path, 1, json_mode=False)
    for _ in range(600):
        if marker.exists() and marker.read_text():
            break
        import time

        time.sleep(0.1)
    assert marker.read_text() == "stop\n"


def test_real_worker_hears_stop_after_invalid_utf8_and_a_huge_line(digits_home):
    run_id = new_run(digits_home, epochs=30)
    proc = subprocess.Popen([sys.executable, "-m", "studio", "--home", str(digits_home), "worker", "train", "--run", str(run_id)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    for line in proc.stdout:
        if json.loads(line)["event"] == "step":
            break
    proc.stdin.write(b"\xff\xfe\n" + b"z" * 1_000_000 + b"\n")
    proc.stdin.write(b"stop\n")
    proc.stdin.flush()
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    assert json_lines(out.decode())[-1]["status"] == "stopped"
    assert run_row(digits_home, run_id).status == "stopped"


# --- `studio runs stop` signals the run's worker, not whoever has its PID now -------------------

def _pretend_running(home: Path, run_id: int, pid: int, started_ago_s: float) -> None:
    from datetime import timedelta

    from studio.store.models import utcnow

    lib = Library.open(home)
    try:
        with lib.transaction() as s:
            run = s.get(Run, run_id)
            run.status, run.pid = "running", pid
            run.started_at = utcnow() - timedelta(seconds=started_ago_s)
            run.heartbeat_at = utcnow()  # the worker died a moment ago; its heartbeat is still fresh
    finally:
        lib.close()


@pytest.mark.parametrize("kind", ["another program", "same command line, started after the run"])
def test_runs_stop_leaves_a_process_that_reused_the_pid_alone(digits_home, kind):
    run_id = new_run(digits_home)
    if kind == "another program":
        argv = ["sleep", "120"]
    else:
        argv = [sys.executable, "-c", "import time; time.sleep(120)", "--home", str(digits_home),
                "worker", "train", "--run", str(run_id)]
    bystander = subprocess.Popen(argv)
    try:
        _pretend_running(digits_home, run_id, bystander.pid, started_ago_s=120)
        proc = studio(digits_home, "runs", "stop", str(run_id), "--json")
        assert proc.returncode == 0, proc.stderr
        assert json_lines(proc.stdout) == [{"run_id": run_id, "stop_requested": False}]
        with pytest.raises(subprocess.TimeoutExpired):
            bystander.wait(timeout=2)  # not signalled: still running
        run = run_row(digits_home, run_id)
        assert run.status == "interrupted" and run.pid is None
    finally:
        bystander.kill()
        bystander.wait()


def test_runs_stop_stops_the_real_worker(digits_home):
    run_id = new_run(digits_home, epochs=30)
    proc = start_worker(digits_home, run_id)
    events_until(proc, lambda e: e["event"] == "step")
    stop = studio(digits_home, "runs", "stop", str(run_id), "--json")
    assert stop.returncode == 0, stop.stderr
    assert json_lines(stop.stdout) == [{"run_id": run_id, "stop_requested": True}]
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-2000:]
    assert json_lines(out)[-1]["status"] == "stopped" and run_row(digits_home, run_id).status == "stopped"


def test_worker_command_lines_are_recognised_as_ps_prints_them():
    """Without /proc (macOS) only ps's one-line rendering is there; the default library lives in
    "Application Support", whose space must not make a live worker look like a stranger."""
    from studio.train.runs import _ps_names_run

    home = "/Users/ann/Library/Application Support/ModelStudio"
    assert _ps_names_run(f"/usr/bin/python3 -m studio --home {home} worker train --run 12", 12, home)
    assert _ps_names_run(f"/usr/bin/python3 -m torch.distributed.run --standalone --nproc_per_node=2 -m studio "
                         f"--home {home} worker train --run-id 12", 12, home)
    assert not _ps_names_run(f"/usr/bin/python3 -m studio --home {home} worker train --run 13", 12, home)
    assert not _ps_names_run("/usr/bin/python3 -m studio --home /Users/ann/other worker train --run 12", 12, home)
    assert not _ps_names_run("/bin/sleep 120", 12, home)
