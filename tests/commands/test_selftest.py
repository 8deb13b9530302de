"""`studio self-test`: every step runs for real in a fresh process and passes on a good install;
a broken step is reported as one FAILED line and the exit code says so."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow


def test_self_test_passes_end_to_end_in_a_fresh_process(tmp_path):
    env_home = tmp_path / "user-library"  # the user's library must not be touched
    proc = subprocess.run([sys.executable, "-m", "studio", "--home", str(env_home), "self-test", "--json"],
                          capture_output=True, text=True, timeout=900)
    steps = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert proc.returncode == 0, proc.stdout + proc.stderr[-2000:]
    names = [s["step"] for s in steps]
    assert names[:4] == ["library", "import images", "train (cpu)", "evaluate"]
    assert {"export onnx + parity", "export torchscript + parity", "predict",
            "kernel 2D (mandelbrot)", "kernel 3D (mandelbulb)"} <= set(names)
    assert all(s["ok"] for s in steps)
    assert "val accuracy" in steps[2]["detail"]
    assert not env_home.exists()


def test_a_failing_step_is_one_line_and_a_non_zero_exit(monkeypatch, tmp_path, capsys):
    import studio.store.demo as demo
    from studio.cli import main

    monkeypatch.setattr(demo, "demo_zip", lambda: tmp_path / "missing.zip")  # an install without its demo images
    code = main(["self-test"])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    assert out[-1] == "self-test FAILED"
    failed = [line for line in out if line.startswith("FAILED")]
    assert len(failed) == 1 and "import images" in failed[0]
    assert not any("train" in line for line in out)  # nothing ran on a library without images
    assert any(line.startswith("ok") and "kernel 2D" in line for line in out)  # independent steps still ran
