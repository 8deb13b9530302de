"""A gallery of sample thumbnails with captions (the Evaluate page's confusion cells and mistakes):
a QListWidget in icon mode, items rather than a widget per image; each item keeps a blank icon of
full size until its thumbnail file arrives."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QListWidget, QListWidgetItem, QWidget

THUMB_PX = 72


class Gallery(QListWidget):
    """Thumbnails with captions; ``sample_ids`` in display order."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setViewMode(QListWidget.ViewMode.IconMode)
        self.setIconSize(QSize(THUMB_PX, THUMB_PX))
        self.setGridSize(QSize(THUMB_PX + 28, THUMB_PX + 34))
        self.setResizeMode(QListWidget.ResizeMode.Adjust)
        self.setMovement(QListWidget.Movement.Static)
        self.setUniformItemSizes(True)
        self.setWordWrap(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.sample_ids: list[int] = []
        # a blank icon of full size until the thumbnail arrives: item sizes are right from the start
        blank = QPixmap(THUMB_PX, THUMB_PX)
        blank.fill(QColor("#eeeeee"))
        self._placeholder = QIcon(blank)

    def show_samples(self, sample_ids: list[int], captions: dict[int, str], tooltips: dict[int, str] | None = None) -> None:
        self.clear()
        self.sample_ids = list(sample_ids)
        for sid in self.sample_ids:
            item = QListWidgetItem(self._placeholder, captions.get(sid, f"#{sid}"))
            item.setData(Qt.ItemDataRole.UserRole, sid)
            item.setData(Qt.ItemDataRole.UserRole + 1, False)  # has its thumbnail
            item.setToolTip((tooltips or {}).get(sid, f"sample {sid}"))
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            self.addItem(item)

    def set_thumbnails(self, paths: list[tuple[int, str]]) -> int:
        """Give items their pictures; returns how many got one."""
        by_id = dict(paths)
        shown = 0
        for row in range(self.count()):
            item = self.item(row)
            path = by_id.get(item.data(Qt.ItemDataRole.UserRole))
            if not path:
                continue
            pixmap = QPixmap(path)
            if pixmap.isNull():
                continue
            small = max(pixmap.width(), pixmap.height()) < THUMB_PX // 2
            mode = Qt.TransformationMode.FastTransformation if small else Qt.TransformationMode.SmoothTransformation
            item.setIcon(QIcon(pixmap.scaled(THUMB_PX, THUMB_PX, Qt.AspectRatioMode.KeepAspectRatio, mode)))
            item.setData(Qt.ItemDataRole.UserRole + 1, True)
            shown += 1
        return shown

    def thumbnails_shown(self) -> int:
        return sum(1 for row in range(self.count()) if self.item(row).data(Qt.ItemDataRole.UserRole + 1))
