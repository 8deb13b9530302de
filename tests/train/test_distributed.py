"""`--gpus 2` on CPU: two processes under torchrun with DDP over gloo reach the same accuracy as one."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def train(home, *extra):
    proc = subprocess.run([sys.executable, "-m", "studio", "--home", str(home), "train", "digits", "--model", "simple-cnn",
                           "--image-size", "12", "--epochs", "4", "--augment", "crop", "--device", "cpu", "--json", *extra],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return events


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(digits_home):
    single = train(digits_home)[-1]
    events = train(digits_home, "--gpus", "2")
    double = events[-1]
    assert double["status"] == "completed" and single["status"] == "completed"
    assert sum(e["event"] == "start" for e in events) == 1  # rank 0 alone speaks
    assert "x2 processes" in events[0]["device"]
    acc1, acc2 = single["metrics"]["val_accuracy"], double["metrics"]["val_accuracy"]
    assert acc1 > 0.9 and abs(acc1 - acc2) < 0.04, (acc1, acc2)
