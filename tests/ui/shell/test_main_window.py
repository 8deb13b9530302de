"""The app shell: title, pages, menus and shortcuts, status bar, About, remembered settings."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.gui

pytest.importorskip("PySide6")

from PySide6.QtCore import QSettings, QSize, Qt  # noqa: E402
from PySide6.QtGui import QKeySequence  # noqa: E402
from PySide6.QtWidgets import QApplication, QLabel  # noqa: E402

from studio.store.library import Library  # noqa: E402


@pytest.fixture
def open_window(qtbot, tmp_path):
    from studio.ui.shell.main_window import MainWindow

    opened = []

    def make(lib: Library | None = None, size: QSize | None = QSize(1280, 800)):
        lib = lib or Library.open(tmp_path / "library", demo=True)
        settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
        window = MainWindow(lib, settings)
        qtbot.addWidget(window)
        if size is not None:
            window.resize(size)
        window.show()
        qtbot.waitExposed(window)
        opened.append((window, lib))
        return window

    yield make
    for window, lib in opened:
        window.close()
        QApplication.processEvents()
        lib.close()


def _actions(window) -> dict[str, object]:
    found = {}
    for menu_action in window.menuBar().actions():
        menu = menu_action.menu()
        for a in menu.actions():
            found[a.text().replace("&", "")] = a
            if a.menu():
                for sub in a.menu().actions():
                    found[sub.text().replace("&", "")] = sub
    return found


def test_window_title_pages_menus_and_status_bar(open_window, artifacts):
    window = open_window()
    assert window.windowTitle() == "Model Studio"
    assert not window.windowIcon().isNull()
    assert window.page_keys()[0] == "datasets"  # later pages come after it
    assert window.current_page_key() == "datasets"
    menus = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert menus[0] == "File" and menus[-1] == "Help"
    actions = _actions(window)
    shortcuts = {
        "New dataset…": "Ctrl+N", "Import folder…": "Ctrl+I", "Quit": "Ctrl+Q", "About Model Studio": "F1",
    }
    for text, keys in shortcuts.items():
        assert actions[text].shortcut() == QKeySequence(keys), text
    assert {"Import zip…", "Import files…", "Delete dataset…", "Split…"} <= set(actions)
    assert "Library:" in window.library_label.text()
    assert window.count_label.text().endswith(f"“{window.datasets.current_summary.name}”")
    window.statusBar().showMessage("hello")
    assert window.statusBar().currentMessage() == "hello"


def test_add_page_shows_it_and_calls_on_shown(open_window, qtbot):
    from PySide6.QtWidgets import QWidget

    window = open_window()

    class Page(QLabel):
        shown = 0

        def on_shown(self) -> None:
            Page.shown += 1

    page = Page("a later page")
    window.add_page("later", "Later", None, page)
    assert window.page_keys()[0] == "datasets" and window.page_keys()[-1] == "later"
    assert window.current_page_key() == "datasets" and Page.shown == 0
    window.show_page("later")
    assert window.stack.currentWidget() is page and Page.shown == 1
    window.show_page("datasets")
    window.show_page("later")
    assert Page.shown == 2
    with pytest.raises(ValueError):
        window.add_page("later", "Again", None, QWidget())
    with pytest.raises(KeyError):
        window.show_page("nope")


def test_about_dialog_lists_versions(open_window, qtbot, artifacts):
    import PySide6

    window = open_window()
    window.about_action.trigger()
    dialog = window.about_dialog
    assert dialog.isVisible()
    values = dialog.values
    assert PySide6.__version__ in values["qt"].text()
    assert str(window.lib.home) == values["library"].text()
    qtbot.waitUntil(lambda: values["torch"].text() not in ("loading…",), timeout=120_000)
    import torch

    assert values["torch"].text() == torch.__version__
    expected = "available" if torch.cuda.is_available() else "not available"
    assert values["cuda"].text().startswith(expected)
    qtbot.wait(50)
    dialog.grab().save(str(artifacts / "about.png"))


def test_geometry_and_last_dataset_are_remembered(open_window, tmp_path, qtbot):
    window = open_window(size=QSize(1100, 700))
    page = window.datasets
    other = page.create_dataset("second")
    first = next(ds for ds in page._summaries.values() if ds.id != other)
    page.select_dataset(first.id)
    assert page.current_id == first.id
    window.move(40, 30)
    qtbot.wait(50)
    size = window.size()
    lib = window.lib
    window.close()

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    assert int(settings.value("datasets/last_id")) == first.id

    again = open_window(lib=lib, size=None)
    assert again.datasets.current_id == first.id
    assert again.size() == size

    # a last dataset that was deleted meanwhile: the first one is shown, no error
    settings.setValue("datasets/last_id", 99999)
    settings.sync()
    again.close()
    third = open_window(lib=lib, size=None)
    assert third.datasets.current_id is not None


def test_quit_closes_the_window(open_window, qtbot):
    window = open_window()
    window.quit_action.trigger()
    qtbot.waitUntil(lambda: not window.isVisible())


def test_window_without_explicit_settings_keeps_them_in_the_library(qtbot, tmp_path):
    from studio.ui.shell.main_window import MainWindow

    lib = Library.open(tmp_path / "library")
    try:
        window = MainWindow(lib)
        qtbot.addWidget(window)
        assert window.settings.fileName() == str(lib.home / "window.ini")
        window.close()
        assert (lib.home / "window.ini").exists()
    finally:
        lib.close()


START_SCRIPT = """
import sys
from PySide6.QtCore import QSettings, QThreadPool
from PySide6.QtWidgets import QApplication
from studio.store.library import Library
from studio.ui.shell.main_window import MainWindow

app = QApplication([])
lib = Library.open(sys.argv[1], demo=True)
window = MainWindow(lib, QSettings(sys.argv[2], QSettings.Format.IniFormat))
window.show()
app.processEvents()
heavy = [m for m in ("torch", "vispy", "pyqtgraph", "torchvision") if m in sys.modules]
print("BEFORE", ",".join(heavy), window.page_keys())
window.show_page("kernels")
print("AFTER", "torch" in sys.modules, type(window.stack.currentWidget()).__name__, flush=True)
window.close()
QThreadPool.globalInstance().waitForDone(60000)  # the page's background jobs end before exit
app.processEvents()
lib.close()
"""


def test_first_paint_imports_no_torch_and_pages_build_when_shown(tmp_path):
    """Start-up: the window shows without importing torch, vispy or pyqtgraph (seconds of
    imports); a reserved page is built, in its sidebar place, the first time it is shown."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    out = subprocess.run([sys.executable, "-c", START_SCRIPT, str(tmp_path / "lib"), str(tmp_path / "s.ini")],
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    before = next(line for line in out.stdout.splitlines() if line.startswith("BEFORE"))
    after = next(line for line in out.stdout.splitlines() if line.startswith("AFTER"))
    assert before.split()[1].startswith("[")  # no heavy module listed before the page list
    assert "'datasets', 'train', 'runs', 'evaluate', 'kernels', 'play', 'export'" in before
    assert after == "AFTER True KernelsPage"


def test_reserved_pages_build_on_first_use(open_window):
    window = open_window()
    assert not window.is_page_built("train") and not window.is_page_built("kernels")
    pages = window.training  # asking for them builds Train, Runs and Evaluate together
    assert window.is_page_built("train") and window.is_page_built("runs") and window.is_page_built("evaluate")
    assert window.page("runs") is pages.runs and window.stack.indexOf(pages.runs) == 2
    assert window.page_keys()[:4] == ["datasets", "train", "runs", "evaluate"]
    window.show_page("evaluate")
    assert window.stack.currentWidget() is pages.evaluate


@pytest.mark.slow
def test_about_dialog_runs_the_self_test(open_window, qtbot, artifacts):
    window = open_window()
    dialog = window.show_about()
    panel = dialog.self_test
    with qtbot.waitSignal(panel.finished, timeout=900_000) as done:
        qtbot.mouseClick(panel.run_button, Qt.MouseButton.LeftButton)
    assert done.args == [True]
    assert panel.status.text() == "passed"
    lines = panel.output.toPlainText().splitlines()
    assert len(lines) >= 9 and all(line.startswith("ok") for line in lines)
    dialog.grab().save(str(artifacts / "about_self_test.png"))
    dialog.close()
