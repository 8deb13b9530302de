"""Blocker from a user's walk-through: the app segfaulted on Export -> ONNX and on Kernels ->
Compile once a vispy canvas existed (triton's LLVM loaded after Mesa's). In-process GUI tests
could not see it (pytest had imported everything first), so this walks the pages in a fresh
process, as a user does, and checks the process lives to the end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.gui, pytest.mark.slow]

pytest.importorskip("PySide6")
pytest.importorskip("onnxruntime")

HERE = Path(__file__).parent


@pytest.fixture
def runs_home(tmp_path) -> Path:
    from train_gui_helpers import make_digits_home, train_in_process

    from studio.store.library import Library

    home = make_digits_home(tmp_path / "library")
    lib = Library.open(home)
    try:
        train_in_process(lib, {"epochs": 1})
    finally:
        lib.close()
    return home


def test_export_onnx_and_compile_after_an_opengl_canvas(runs_home, tmp_path):
    if not os.environ.get("DISPLAY"):
        pytest.skip("needs an X server (run under xvfb-run)")
    env = {**os.environ, "QT_QPA_PLATFORM": "xcb", "STUDIO_HOME": str(runs_home)}
    proc = subprocess.run(
        [sys.executable, str(HERE / "gl_user_path.py"), str(runs_home), str(tmp_path / "out" / "model.onnx")],
        capture_output=True, text=True, timeout=900, env=env, cwd=HERE.parent.parent,
    )
    lines = proc.stdout.splitlines()
    assert proc.returncode == 0, f"exit {proc.returncode} after {lines[-3:]}\n{proc.stderr[-2000:]}"
    assert lines[0].startswith("kernels page drawn")
    assert "onnx export ok" in lines
    assert any(line.startswith("kernel compiled") for line in lines)
    assert lines[-1] == "done"
    assert (tmp_path / "out" / "model.onnx").is_file()
