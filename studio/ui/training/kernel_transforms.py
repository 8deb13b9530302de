"""The Train form's "Kernel transforms" box: image kernels (shipped, and the user's own in
``<home>/kernels``) that filter every training batch after augmentation, each with its parameter
controls, and a row of real training samples through them.

The kernel list and the preview are computed by the page in background jobs (the two functions
below); this box only shows them and says what the user chose (``transforms()``). Nothing here
imports torch when the page is built: the kernel lab loads in the first job.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.train.spec import KernelTransform, setting_info
from studio.ui.training.thumbnails import PreviewRow


def load_transform_kernels(home: Any, state: Any) -> list[Any]:
    """Job: the image kernels that can filter a training batch (imports torch and the kernel lab)."""
    from studio.train.transforms import transform_kernels

    return transform_kernels(home, state)


def kernel_preview(images: list[np.ndarray], specs: list[dict], home: Any, state: Any) -> list[np.ndarray]:
    """Job: the augmentation preview's pictures through the kernel transforms."""
    from studio.train.transforms import preview_kernel_transforms

    return preview_kernel_transforms(images, specs, home, state)


class KernelEntry(QFrame):
    """One chosen kernel: its title, a remove button and its parameter controls."""

    changed = Signal()
    remove_wanted = Signal(object)

    def __init__(self, kernel: Any, values: dict[str, Any] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kernel = kernel
        self.setFrameShape(QFrame.Shape.StyledPanel)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        header = QHBoxLayout()
        title = QLabel(f"<b>{kernel.title}</b> <span style='color:#666'>({kernel.name}, {kernel.origin})</span>")
        header.addWidget(title, 1)
        self.remove = QPushButton("✕")
        self.remove.setFixedWidth(26)
        self.remove.setToolTip("Do not apply this kernel.")
        self.remove.clicked.connect(lambda: self.remove_wanted.emit(self))
        header.addWidget(self.remove)
        layout.addLayout(header)
        # imports the kernel lab (torch): loaded by now, by the job that listed the kernels
        from studio.ui.common.param_controls import ParamPanel

        self.params = ParamPanel()
        self.params.build(kernel.params, values)
        self.params.changed.connect(lambda _values: self.changed.emit())
        layout.addWidget(self.params)

    def transform(self) -> KernelTransform:
        """The kernel and its values as JSON-friendly settings (colours as #rrggbb)."""
        values = self.params.values()
        return KernelTransform.of(self.kernel.name, {p.name: p.display(values[p.name]) for p in self.kernel.params})


class KernelTransformsBox(QGroupBox):
    """Choose kernels to apply to training batches, in order; ``changed`` when the list or a value moves."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(setting_info("kernel_transforms").label, parent)
        self.setToolTip(setting_info("kernel_transforms").tooltip)
        self.kernels: dict[str, Any] = {}
        self.entries: list[KernelEntry] = []
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        pick_row = QHBoxLayout()
        self.choice = QComboBox()
        self.choice.setPlaceholderText("loading kernels…")
        self.choice.setToolTip("Image kernels that take a picture: from the kernel lab's shipped kernels and "
                               "your own kernel folder.")
        self.add_button = QPushButton("Add")
        self.add_button.setToolTip("Apply this kernel to every training batch (after the ones above).")
        self.add_button.clicked.connect(lambda: self.add_kernel(self.choice.currentData()))
        self.add_button.setEnabled(False)
        pick_row.addWidget(self.choice, 1)
        pick_row.addWidget(self.add_button)
        layout.addLayout(pick_row)
        self.entry_layout = QVBoxLayout()
        self.entry_layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(self.entry_layout)
        self.preview = PreviewRow("The training images above after the kernels, as the model sees them.")
        self.preview.setVisible(False)
        layout.addWidget(self.preview)
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #b00020;")
        self.message.setVisible(False)
        layout.addWidget(self.message)

    def set_kernels(self, kernels: list[Any]) -> None:
        """The kernels to offer (refreshed each time the page is shown; chosen entries stay)."""
        keep = self.choice.currentData()
        self.kernels = {k.name: k for k in kernels}
        self.choice.clear()
        for kernel in kernels:
            self.choice.addItem(f"{kernel.title} ({kernel.name})", kernel.name)
        self.choice.setCurrentIndex(max(self.choice.findData(keep), 0))
        self.choice.setPlaceholderText("no image kernels found" if not kernels else "")
        self.add_button.setEnabled(bool(kernels))

    def add_kernel(self, name: str | None, values: dict[str, Any] | None = None) -> KernelEntry | None:
        kernel = self.kernels.get(name or "")
        if kernel is None:
            return None
        entry = KernelEntry(kernel, values)
        entry.changed.connect(self.changed)
        entry.remove_wanted.connect(self._remove)
        self.entries.append(entry)
        self.entry_layout.addWidget(entry)
        self.preview.setVisible(True)
        self.changed.emit()
        return entry

    def _remove(self, entry: KernelEntry) -> None:
        self.entries.remove(entry)
        entry.deleteLater()
        self.preview.setVisible(bool(self.entries))
        self.show_error("")
        self.changed.emit()

    def transforms(self) -> tuple[KernelTransform, ...]:
        return tuple(entry.transform() for entry in self.entries)

    def show_preview(self, images: list[np.ndarray]) -> None:
        self.show_error("")
        self.preview.show_images(images)

    def show_error(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))
