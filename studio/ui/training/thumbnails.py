"""A row of small preview tiles: training images as the model sees them (augmentation, kernels)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

PREVIEW_COUNT = 7
PREVIEW_PX = 64  # each preview tile is half this plus a frame


def to_pixmap(image: np.ndarray, size: int) -> QPixmap:
    """An H x W x 3 uint8 picture scaled to fit ``size`` (sharp pixels for tiny images)."""
    image = np.ascontiguousarray(image)
    h, w = image.shape[:2]
    qimage = QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    mode = Qt.TransformationMode.FastTransformation if max(h, w) < size // 2 else Qt.TransformationMode.SmoothTransformation
    return QPixmap.fromImage(qimage).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, mode)


class PreviewRow(QWidget):
    """``PREVIEW_COUNT`` framed tiles; ``show_images`` fills them (fewer images leave tiles empty)."""

    def __init__(self, tooltip: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.row = QHBoxLayout(self)
        self.row.setContentsMargins(0, 0, 0, 0)
        self.row.setSpacing(3)
        self.labels: list[QLabel] = []
        for _ in range(PREVIEW_COUNT):
            label = QLabel()
            label.setFixedSize(PREVIEW_PX // 2 + 8, PREVIEW_PX // 2 + 8)
            label.setStyleSheet("background: #f0f0f0; border: 1px solid #ddd;")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            self.row.addWidget(label)
            self.labels.append(label)
        self.setToolTip(tooltip)

    def show_images(self, images: list[np.ndarray]) -> None:
        for label, image in zip(self.labels, list(images) + [None] * len(self.labels)):
            if image is None:
                label.clear()
            else:
                label.setPixmap(to_pixmap(image, label.width() - 4))

    def is_filled(self) -> bool:
        return all(label.pixmap() is not None and not label.pixmap().isNull() for label in self.labels)
