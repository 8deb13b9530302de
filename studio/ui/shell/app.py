"""Start the GUI: ``studio`` (studio.cli.open_gui) calls ``run_app(home)``."""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
import traceback
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSettings, QTimer
from PySide6.QtWidgets import QApplication, QMessageBox

from studio import __version__
from studio.core.errors import StudioError
from studio.core.instance import LibraryInUse, WindowLock
from studio.core.paths import resolve_home
from studio.store.library import Library
from studio.ui.common.collector import GuiThreadCollector
from studio.ui.common.style import app_icon
from studio.ui.shell.main_window import (
    APPLICATION,
    ORGANISATION,
    MainWindow,
    user_settings,
)

log = logging.getLogger(__name__)
STARTUP_PROBE_ENV = "STUDIO_STARTUP_PROBE"  # bench/bench_startup.py: file for the first-paint time


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication with the studio's name, organisation (for QSettings) and icon."""
    if not QApplication.instance() and "utf" not in (os.environ.get("LC_ALL") or os.environ.get("LC_CTYPE")
                                                    or os.environ.get("LANG") or "").lower():
        os.environ["LC_CTYPE"] = "C.UTF-8"  # what Qt would switch to anyway, without its warning
    app = QApplication.instance() or QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("model-studio")
    app.setWindowIcon(app_icon())
    return app


def _install_excepthook() -> None:
    """An unexpected error in a slot is logged in full and shown as one line, never as a trace."""

    def hook(exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            QApplication.quit()
            return
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        log.error("unexpected error:\n%s", text)
        print(text, file=sys.stderr)
        message = str(exc) if isinstance(exc, StudioError) else f"{exc_type.__name__}: {exc}"
        QMessageBox.warning(QApplication.activeWindow(), "Model Studio", message)

    sys.excepthook = hook


def _close_on_terminate(window: MainWindow) -> None:
    """SIGTERM / Ctrl+C close the window properly (settings saved, jobs cancelled). Python runs
    signal handlers only between bytecodes, so a timer hands it control now and then."""
    def close(*_args) -> None:
        window.close()
        QApplication.quit()

    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            signal.signal(sig, close)
        except (ValueError, OSError):  # not the main thread, or a platform without it
            pass
    timer = QTimer(window)
    timer.timeout.connect(lambda: None)
    timer.start(250)


class _FirstPaintProbe(QObject):
    """For bench/bench_startup.py: writes the wall-clock time of the window's first paint to a
    file, then quits. Start-up is measured to what the user sees, not to the end of __init__."""

    def __init__(self, window: MainWindow, path: str) -> None:
        super().__init__(window)
        self.path = path
        window.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint:
            obj.removeEventFilter(self)
            QTimer.singleShot(0, self._record)  # after this paint has reached the screen
        return False

    def _record(self) -> None:
        with open(self.path, "w") as out:
            out.write(f"{time.time():.6f}\n")
        QApplication.quit()


def run_app(home: str | Path | None = None, settings: QSettings | None = None) -> int:
    """Open the main window on the library at ``home`` and run until it closes; the exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = make_application()
    try:
        held = lock_library_for_window(home, ask_when_busy)
    except OSError as exc:  # a library folder that cannot be created or written
        QMessageBox.critical(None, "Model Studio", f"Cannot open the library at {resolve_home(home)}: "
                             f"{exc.strerror or exc}. Choose another folder with --home.")
        return 1
    if held is None:
        return 0  # the user chose to quit: the library stays with the window that has it
    lock, home = held
    try:
        lib = Library.open(home, demo=True)
    except StudioError as exc:
        QMessageBox.critical(None, "Model Studio", f"Cannot open the library: {exc}")
        return 1
    except OSError as exc:
        QMessageBox.critical(None, "Model Studio", f"Cannot open the library at {home or 'the default place'}: {exc}")
        return 1
    _install_excepthook()
    collector = GuiThreadCollector(app)  # noqa: F841 - lives with the app
    window = MainWindow(lib, settings if settings is not None else user_settings())
    if os.environ.get(STARTUP_PROBE_ENV):
        _FirstPaintProbe(window, os.environ[STARTUP_PROBE_ENV])
    window.show()
    _close_on_terminate(window)
    try:
        return app.exec()
    finally:
        lib.close()
        lock.release()


def lock_library_for_window(home, ask) -> tuple[WindowLock, Path] | None:
    """Take the library's window lock; while another window holds it, ``ask(busy)`` returns
    another library folder to try, or None to give up."""
    path = resolve_home(home)
    while True:
        try:
            return WindowLock(path).acquire(), path
        except LibraryInUse as busy:
            chosen = ask(busy)
            if chosen is None:
                return None
            path = Path(chosen)


def ask_when_busy(busy: LibraryInUse) -> Path | None:
    """The choice a second launch gets: another library folder, or quit."""
    from PySide6.QtWidgets import QFileDialog

    box = QMessageBox(QMessageBox.Icon.Information, "Model Studio",
                      f"{busy}.\n\nTwo windows on one library would overwrite each other's work. "
                      "Switch to that window, or open a different library here.")
    other = box.addButton("Open another library…", QMessageBox.ButtonRole.AcceptRole)
    box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
    box.exec()
    if box.clickedButton() is not other:
        return None
    folder = QFileDialog.getExistingDirectory(None, "Library folder (an empty folder starts a new library)")
    return Path(folder) if folder else None
