"""A second launch on a library that has a window open gets a clear choice (another library, or
quit) instead of two windows writing one library; a crashed window leaves no stale lock. A missing
system GL/xcb library is named with its package before Qt starts."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytest.importorskip("PySide6")

from studio.core.instance import LibraryInUse, WindowLock  # noqa: E402

HOLD = """
import sys, time
from studio.core.instance import WindowLock
lock = WindowLock(sys.argv[1]).acquire()
print("held", flush=True)
time.sleep(120)
"""


@pytest.fixture
def other_process_holds(tmp_path):
    home = tmp_path / "library"
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(home)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    yield home, proc
    proc.kill()
    proc.wait()


def test_second_window_on_a_library_is_refused_with_the_holders_pid(other_process_holds):
    home, proc = other_process_holds
    with pytest.raises(LibraryInUse) as busy:
        WindowLock(home).acquire()
    assert busy.value.pid == proc.pid
    assert str(home) in str(busy.value)


def test_the_lock_goes_with_a_killed_window(other_process_holds):
    home, proc = other_process_holds
    proc.kill()  # kill -9: no clean-up ran
    proc.wait()
    with WindowLock(home):
        pass


def test_choosing_another_library_or_quitting(other_process_holds, tmp_path):
    from studio.ui.shell.app import lock_library_for_window

    home, _proc = other_process_holds
    asked = []
    assert lock_library_for_window(home, lambda busy: asked.append(busy) or None) is None
    assert len(asked) == 1
    lock, chosen = lock_library_for_window(home, lambda busy: tmp_path / "other")
    assert chosen == tmp_path / "other"
    lock.release()


@pytest.mark.gui
def test_second_launch_shows_the_choice_and_quits(other_process_holds, qtbot):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    from studio.ui.shell.app import run_app

    home, proc = other_process_holds
    seen = []

    def answer() -> None:
        box = next((w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()), None)
        if box is None:
            QTimer.singleShot(50, answer)
            return
        seen.append(box.text())
        quit_button = next(b for b in box.buttons() if b.text() == "Quit")
        quit_button.click()

    QTimer.singleShot(50, answer)
    assert run_app(home) == 0
    assert seen and f"process {proc.pid}" in seen[0]
    from studio.ui.shell.main_window import MainWindow

    assert not any(isinstance(w, MainWindow) for w in QApplication.topLevelWidgets())  # no second window


def test_missing_system_library_is_named_with_its_package(monkeypatch, capsys):
    from studio.cli import main
    from studio.core import system_libs

    assert system_libs.missing_libraries({"libc.so.6": "libc6"}) == []
    monkeypatch.setattr(system_libs, "GUI_LIBRARIES", {**system_libs.GUI_LIBRARIES,
                                                       "libstudio-absent-gl.so.7": "libstudio-absent-gl7"})
    monkeypatch.setenv("QT_QPA_PLATFORM", "xcb")
    assert main([]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "libstudio-absent-gl.so.7" in err[0] and "sudo apt install libstudio-absent-gl7" in err[0]
