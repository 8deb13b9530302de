"""The "Show" tree of the Datasets page: all samples, each class, the unlabelled ones and each
split, with their counts. Picking a row filters the grid; ``filter_chosen`` says which."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QHeaderView, QTreeWidget, QTreeWidgetItem

from studio.store import samples as store_samples
from studio.store.datasets import ClassCount
from studio.ui.common.style import colour_swatch

FilterKey = tuple[str, Any]  # ("all", None) | ("class", id) | ("unlabelled", None) | ("split", name)
ALL: FilterKey = ("all", None)
SPLIT_TITLES = {"train": "Train", "val": "Validation", "test": "Test", "none": "No split"}


def filter_for(key: FilterKey) -> store_samples.SampleFilter:
    kind, value = key
    if kind == "class":
        return store_samples.SampleFilter(class_id=value)
    if kind == "unlabelled":
        return store_samples.SampleFilter(unlabelled=True)
    if kind == "split":
        return store_samples.SampleFilter(split=value)
    return store_samples.SampleFilter()


class FilterTree(QTreeWidget):
    filter_chosen = Signal(tuple)  # a FilterKey

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("filter_tree")
        self.setColumnCount(2)
        self.setHeaderHidden(True)
        self.setRootIsDecorated(False)
        self.setIndentation(10)
        self.setUniformRowHeights(True)
        self.header().setStretchLastSection(False)
        self.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.itemSelectionChanged.connect(self._on_selected)

    def fill(self, classes: list[ClassCount] | None, unlabelled: int, splits: dict[str | None, int]) -> None:
        """The rows of one dataset's counts (``classes`` None: no dataset, no rows)."""
        self.blockSignals(True)
        self.clear()
        bold = QFont(self.font())
        bold.setBold(True)

        def leaf(parent, text: str, count: int, key: FilterKey, swatch: str | None = None) -> QTreeWidgetItem:
            item = QTreeWidgetItem([text, f"{count:,}"])
            item.setData(0, Qt.ItemDataRole.UserRole, key)
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if swatch:
                item.setIcon(0, colour_swatch(swatch))
            (parent.addChild(item) if parent is not None else self.addTopLevelItem(item))
            return item

        def group(text: str) -> QTreeWidgetItem:
            item = QTreeWidgetItem([text, ""])
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            item.setFont(0, bold)
            self.addTopLevelItem(item)
            return item

        if classes is not None:
            total = sum(c.count for c in classes) + unlabelled
            leaf(None, "All samples", total, ALL).setFont(0, bold)
            class_group = group("Classes")
            for c in classes:
                leaf(class_group, c.name, c.count, ("class", c.class_id), c.colour)
            leaf(class_group, "Unlabelled", unlabelled, ("unlabelled", None), "#ffffff")
            split_group = group("Splits")
            for name in ("train", "val", "test"):
                leaf(split_group, SPLIT_TITLES[name], splits.get(name, 0), ("split", name))
            leaf(split_group, SPLIT_TITLES["none"], splits.get(None, 0), ("split", "none"))
        self.expandAll()
        self.blockSignals(False)

    def all_items(self) -> list[QTreeWidgetItem]:
        out = []
        for i in range(self.topLevelItemCount()):
            top = self.topLevelItem(i)
            out.append(top)
            out.extend(top.child(j) for j in range(top.childCount()))
        return out

    def item_for(self, key: FilterKey) -> QTreeWidgetItem | None:
        return next((item for item in self.all_items() if item.data(0, Qt.ItemDataRole.UserRole) == key), None)

    def show_selected(self, key: FilterKey) -> None:
        """Select the row of ``key`` without announcing it (the page already filters by it)."""
        item = self.item_for(key)
        self.blockSignals(True)
        self.clearSelection()
        if item is not None:
            item.setSelected(True)
            self.setCurrentItem(item)
        self.blockSignals(False)

    def _on_selected(self) -> None:
        items = self.selectedItems()
        key = items[0].data(0, Qt.ItemDataRole.UserRole) if items else None
        self.filter_chosen.emit(tuple(key) if key else ALL)
