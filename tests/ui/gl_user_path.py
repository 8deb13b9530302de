"""A user's path through the app in a fresh process (run by test_gl_compiler_order.py).

Opens the Kernels page first (a vispy canvas: an OpenGL context), then every other page, exports
the newest run as ONNX from the Export page (the dynamo exporter imports triton), and ticks Compile
on the Kernels page (torch.compile). Prints one line per step; a segfault ends the process without
the final "done" line. Not a test module itself: the crash it looks for would kill pytest.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication


def wait_until(condition, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        QApplication.processEvents()
        if condition():
            return True
        time.sleep(0.02)
    return False


def main(home: Path, export_to: Path) -> None:
    app = QApplication.instance() or QApplication([])
    from studio.store.library import Library
    from studio.ui.shell.main_window import MainWindow

    lib = Library.open(home)
    window = MainWindow(lib, QSettings(str(home / "settings.ini"), QSettings.Format.IniFormat))
    window.resize(1280, 800)
    window.show()
    wait_until(window.isExposed if hasattr(window, "isExposed") else window.isVisible, 10)

    window.show_page("kernels")
    kernels = window.page("kernels")
    assert kernels.wait_idle(120), "kernel run did not finish"
    pixels = kernels.view.render()
    print("kernels page drawn", pixels.shape, flush=True)

    for key in window.page_keys():
        window.show_page(key)
        wait_until(lambda: False, 0.3)
        print("page", key, flush=True)

    window.show_page("export")
    export = window.page("export")
    wait_until(lambda: export.run_combo.count() > 0, 10)
    export.set_format("onnx")
    export.path_edit.setText(str(export_to))
    reports = []
    export.export_finished.connect(reports.append)
    QTest.mouseClick(export.export_button, Qt.MouseButton.LeftButton)
    assert wait_until(lambda: bool(reports) or export.job("export") is None and export.progress_label.text().startswith("Export failed"), 400), "export did not end"
    assert reports, export.progress_label.text()
    print("onnx export", "ok" if reports[0].ok else "FLAGGED", flush=True)

    window.show_page("kernels")
    QTest.mouseClick(kernels.compile_check, Qt.MouseButton.LeftButton)
    assert kernels.compile_check.isChecked()
    assert wait_until(lambda: kernels.last_run is not None and kernels.last_run.compiled or bool(kernels.last_run and kernels.last_run.note), 400)
    assert kernels.wait_idle(400)
    print("kernel compiled", kernels.last_run.compiled, kernels.last_run.note or "", flush=True)
    kernels.view.render()
    window.close()
    lib.close()
    print("done", flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
