"""The kernel lab's list: shipped kernels, then the user's own, then modules that failed to load
(red, with the reason as tooltip). Each kernel row carries the kernel's name."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QListWidget, QListWidgetItem

from studio.kernels.registry import KernelSpec

ROLE_NAME = Qt.ItemDataRole.UserRole


class KernelList(QListWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("kernel_list")

    def fill(self, kernels: dict[str, KernelSpec], errors) -> None:
        """Rows grouped by origin and sorted by title; no selection signal while filling."""
        self.blockSignals(True)
        self.clear()
        for origin, heading in (("shipped", "Shipped"), ("user", "My kernels")):
            specs = [s for s in kernels.values() if s.origin == origin]
            if not specs and origin == "shipped":
                continue
            header = QListWidgetItem(heading.upper())
            header.setFlags(Qt.ItemFlag.NoItemFlags)
            header.setForeground(QColor("#6b7280"))
            self.addItem(header)
            for spec in sorted(specs, key=lambda s: s.title.lower()):
                item = QListWidgetItem(f"  {spec.title}")
                item.setData(ROLE_NAME, spec.name)
                item.setToolTip(f"{spec.name} · {spec.output} · {spec.path}")
                self.addItem(item)
        for err in errors:
            item = QListWidgetItem(f"  ⚠ {Path(err.path or '').name}")
            item.setForeground(QColor("#b91c1c"))
            item.setToolTip(str(err))
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.addItem(item)
        self.blockSignals(False)

    def add_unsaved(self, spec: KernelSpec) -> None:
        """A kernel made from the template and not saved yet; it becomes the current row."""
        item = QListWidgetItem(f"  {spec.title} (unsaved)")
        item.setData(ROLE_NAME, spec.name)
        self.addItem(item)
        self.setCurrentItem(item)

    def names(self) -> list[str]:
        return [self.item(i).data(ROLE_NAME) for i in range(self.count()) if self.item(i).data(ROLE_NAME)]

    def select(self, name: str) -> None:
        for i in range(self.count()):
            if self.item(i).data(ROLE_NAME) == name:
                self.setCurrentRow(i)
                return

    @staticmethod
    def name_of(item: QListWidgetItem | None) -> str | None:
        return item.data(ROLE_NAME) if item else None
