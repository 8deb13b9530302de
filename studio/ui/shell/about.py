"""Help ▸ About: versions of the studio and what it runs on.

torch takes seconds to import, so it is imported on a worker thread when the dialog opens and its
lines are filled in when ready."""

from __future__ import annotations

import platform
import sys
from typing import Any

import PySide6
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from studio import __version__
from studio.store.library import Library
from studio.ui.shell.self_test import SelfTestPanel
from studio.ui.common.style import app_icon
from studio.ui.common.workers import start_job


def torch_info(state: Any = None) -> dict[str, str]:
    """Worker thread: torch's version and the accelerators it sees."""
    try:
        import torch
    except Exception as exc:  # noqa: BLE001 - shown to the user as "not available"
        return {"torch": f"not available ({type(exc).__name__})", "cuda": "—"}
    info = {"torch": torch.__version__}
    if torch.cuda.is_available():
        names = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
        info["cuda"] = f"available (CUDA {torch.version.cuda}): " + ", ".join(names)
    else:
        built = f"built for CUDA {torch.version.cuda}" if torch.version.cuda else "CPU-only build"
        info["cuda"] = f"not available ({built}); training runs on the CPU"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        info["cuda"] += "; Apple MPS available"
    return info


class AboutDialog(QDialog):
    def __init__(self, lib: Library, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("About Model Studio")
        logo = QLabel()
        logo.setPixmap(app_icon().pixmap(72, 72))
        title = QLabel(f"<h2>Model Studio {__version__}</h2>"
                       "Label data, train and fine-tune networks locally, export them.<br>"
                       "Your data never leaves this machine.")
        title.setWordWrap(True)
        head = QVBoxLayout()
        head.addWidget(logo, 0, Qt.AlignmentFlag.AlignHCenter)
        head.addWidget(title)

        self.values: dict[str, QLabel] = {}
        form = QFormLayout()
        rows = {
            "studio": __version__,
            "torch": "loading…",
            "cuda": "checking…",
            "qt": f"Qt {qVersion()}, PySide6 {PySide6.__version__}",
            "python": f"{platform.python_version()} ({sys.executable})",
            "os": platform.platform(),
            "library": str(lib.home),
        }
        titles = {"studio": "Studio", "torch": "PyTorch", "cuda": "GPU (CUDA)", "qt": "Qt",
                  "python": "Python", "os": "System", "library": "Library"}
        for key, text in rows.items():
            label = QLabel(text)
            label.setWordWrap(True)
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.values[key] = label
            form.addRow(f"{titles[key]}:", label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        self.self_test = SelfTestPanel()
        self.finished.connect(lambda _result: self.self_test.stop())  # closing the dialog stops it
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addLayout(form)
        layout.addWidget(self.self_test)
        layout.addWidget(buttons)
        self.setMinimumWidth(640)

        self.torch_job = start_job(torch_info)
        self.torch_job.finished.connect(self._on_torch_info)
        self.torch_job.failed.connect(self._on_torch_failed)

    def _on_torch_failed(self, message: str) -> None:
        self._on_torch_info({"torch": f"error: {message}", "cuda": "—"})

    def _on_torch_info(self, info: dict[str, str]) -> None:
        for key, text in info.items():
            self.values[key].setText(text)
