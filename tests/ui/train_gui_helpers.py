"""Libraries with the digits dataset and real trained runs, for the Train/Runs/Evaluate GUI tests.

Templates are built once per session (training in-process through the engine's run_training),
then copied per test so each test gets a library it may change.
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

from studio.core.jobs import JobState
from studio.store.library import Library

FAST_SPEC = {"model": "simple-cnn", "image_size": 16, "batch_size": 64}


def make_digits_home(home: Path) -> Path:
    from studio.data.digits import add_digits_dataset

    lib = Library.open(home)
    add_digits_dataset(lib, "digits")
    lib.close()
    return home


def train_in_process(lib: Library, spec: dict, stop_after_step: int | None = None) -> int:
    """Create and train a run in this process; with ``stop_after_step`` it is stopped there."""
    from studio.train.runner import create_run, run_training

    run_id = create_run(lib, "digits", {**FAST_SPEC, **spec})
    state = JobState()

    def emit(event: dict) -> None:
        if stop_after_step is not None and event.get("event") == "step" and event["step"] >= stop_after_step:
            state.cancel()

    run_training(lib, run_id, state, emit=emit)
    return run_id


def make_runs_home(home: Path) -> tuple[Path, dict[str, int]]:
    """digits + run "completed" (3 epochs) + run "stopped" (stopped at step 10 of 60)."""
    make_digits_home(home)
    lib = Library.open(home)
    try:
        runs = {
            "completed": train_in_process(lib, {"epochs": 3}),
            "stopped": train_in_process(lib, {"epochs": 3, "log_every": 5}, stop_after_step=10),
        }
    finally:
        lib.close()
    return home, runs


def copy_home(template: Path, target: Path) -> Path:
    shutil.copytree(template, target)
    return target


@contextmanager
def main_window_at_1280x800(qtbot, lib: Library, settings_file: Path):
    """The real main window on ``lib``, shown at 1280x800 with its own settings file; closed (and
    the library with it) afterwards."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication

    from studio.ui.shell.main_window import MainWindow

    window = MainWindow(lib, QSettings(str(settings_file), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.resize(1280, 800)
    window.show()
    qtbot.waitExposed(window)
    try:
        yield window
    finally:
        window.close()
        QApplication.processEvents()  # the pages' close handlers run before the library goes
        lib.close()
