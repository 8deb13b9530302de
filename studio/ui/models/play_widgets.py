"""Small widgets of the Play page: one result card per tried image, and the live camera panel."""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QBuffer, QIODevice, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

THUMB = 96


def array_to_qimage(array: np.ndarray) -> QImage:
    """uint8 H x W x 1|3 -> a QImage that owns its pixels."""
    array = np.ascontiguousarray(array)
    h, w, c = array.shape
    fmt = QImage.Format.Format_Grayscale8 if c == 1 else QImage.Format.Format_RGB888
    return QImage(array.data, w, h, w * c, fmt).copy()


def qimage_to_array(image: QImage, max_side: int = 320) -> np.ndarray:
    """A camera frame or pasted image -> uint8 H x W x 3, scaled down (prediction resizes anyway)."""
    if max(image.width(), image.height()) > max_side:
        image = image.scaled(max_side, max_side, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation)
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    ptr = image.constBits()
    rows = np.frombuffer(ptr, np.uint8, image.bytesPerLine() * image.height()).reshape(image.height(), image.bytesPerLine())
    return rows[:, : image.width() * 3].reshape(image.height(), image.width(), 3).copy()


def qimage_to_png(image: QImage) -> bytes:
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    image.save(buffer, "PNG")
    return bytes(buffer.data())


class ResultCard(QFrame):
    """Thumbnail, name, the top classes with confidence bars, latency, and "Add to dataset"."""

    add_requested = Signal(object, int)  # (card, class id)

    def __init__(self, name: str, thumbnail: np.ndarray | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.name = name
        self.setObjectName("resultCard")
        self.setStyleSheet("QFrame#resultCard { background: white; border: 1px solid #d9dee3; border-radius: 8px; }")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)
        row = QHBoxLayout(self)
        self.thumb = QLabel()
        self.thumb.setFixedSize(THUMB, THUMB)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setStyleSheet("background: #f3f5f7; border-radius: 4px;")
        if thumbnail is not None:
            self.set_thumbnail(thumbnail)
        row.addWidget(self.thumb, 0, Qt.AlignmentFlag.AlignTop)
        body = QVBoxLayout()
        self.title = QLabel(name)
        self.title.setStyleSheet("font-weight: 600;")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        body.addWidget(self.title)
        self.bars = QGridLayout()
        self.bars.setHorizontalSpacing(8)
        self.bars.setVerticalSpacing(2)
        body.addLayout(self.bars)
        self.info = QLabel("predicting...")
        self.info.setStyleSheet("color: #5b6670;")
        body.addWidget(self.info)
        add_row = QHBoxLayout()
        self.class_combo = QComboBox()
        self.class_combo.setMinimumWidth(120)
        self.add_button = QPushButton("Add to dataset")
        self.add_button.setToolTip("Import this image into the run's dataset, labelled with the chosen class")
        self.add_button.clicked.connect(self._request_add)
        add_row.addWidget(QLabel("Label:"))
        add_row.addWidget(self.class_combo)
        add_row.addWidget(self.add_button)
        add_row.addStretch(1)
        self.add_widget = QWidget()
        self.add_widget.setLayout(add_row)
        add_row.setContentsMargins(0, 0, 0, 0)
        body.addWidget(self.add_widget)
        row.addLayout(body, 1)
        self.shown_top: list[tuple[str, float]] = []
        self.failed = False

    def set_thumbnail(self, array: np.ndarray) -> None:
        pix = QPixmap.fromImage(array_to_qimage(array))
        mode = Qt.TransformationMode.FastTransformation if max(pix.width(), pix.height()) < 48 else Qt.TransformationMode.SmoothTransformation
        self.thumb.setPixmap(pix.scaled(THUMB - 4, THUMB - 4, Qt.AspectRatioMode.KeepAspectRatio, mode))

    def show_prediction(self, top: list[tuple[str, float]], latency_ms: float, device: str) -> None:
        while self.bars.count():
            item = self.bars.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        self.shown_top = list(top)
        for row, (name, probability) in enumerate(top):
            label = QLabel(name)
            label.setStyleSheet("font-weight: 600;" if row == 0 else "")
            bar = QProgressBar()
            bar.setRange(0, 1000)
            bar.setValue(round(probability * 1000))
            bar.setTextVisible(False)
            bar.setFixedHeight(12 if row == 0 else 8)
            bar.setStyleSheet("QProgressBar { background: #eef1f4; border: none; border-radius: 4px; }"
                              f"QProgressBar::chunk {{ background: {'#2a7de1' if row == 0 else '#9fb9d6'}; border-radius: 4px; }}")
            percent = QLabel(f"{probability:.1%}")
            percent.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            percent.setMinimumWidth(52)
            self.bars.addWidget(label, row, 0)
            self.bars.addWidget(bar, row, 1)
            self.bars.addWidget(percent, row, 2)
        self.bars.setColumnStretch(1, 1)
        self.info.setText(f"{latency_ms:.1f} ms per image on {device}")
        self._select_top_class()

    def show_error(self, message: str) -> None:
        self.info.setText(message)
        self.info.setStyleSheet("color: #b3261e;")
        self.failed = True
        self.add_widget.setVisible(False)

    def set_classes(self, classes: list[tuple[int, str]]) -> None:
        """The run's dataset classes for "Add to dataset"; none (no dataset) hides the row."""
        self.class_combo.clear()
        for class_id, name in classes:
            self.class_combo.addItem(name, class_id)
        self.add_widget.setVisible(bool(classes) and not self.failed)
        self._select_top_class()

    def _select_top_class(self) -> None:
        if self.shown_top:
            index = self.class_combo.findText(self.shown_top[0][0])
            if index >= 0:
                self.class_combo.setCurrentIndex(index)

    def _request_add(self) -> None:
        if self.class_combo.currentIndex() >= 0:
            self.add_requested.emit(self, int(self.class_combo.currentData()))

    def mark_added(self, text: str) -> None:
        self.add_button.setEnabled(False)
        self.add_button.setText(text)


class CameraView(QLabel):
    """Shows camera frames with the top class and the frame rate painted over them."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumSize(320, 240)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet("background: #20262c; color: #e8edf2; border-radius: 6px;")
        self.setWordWrap(True)
        self.overlay = ""
        self._times: list[float] = []
        self.fps = 0.0

    def show_frame(self, image: QImage) -> None:
        now = time.monotonic()
        self._times = [t for t in self._times if now - t < 2.0] + [now]
        self.fps = (len(self._times) - 1) / max(self._times[-1] - self._times[0], 1e-6) if len(self._times) > 1 else 0.0
        pix = QPixmap.fromImage(image).scaled(self.width(), self.height(), Qt.AspectRatioMode.KeepAspectRatio,
                                              Qt.TransformationMode.FastTransformation)
        painter = QPainter(pix)
        painter.fillRect(0, 0, pix.width(), 34, QColor(0, 0, 0, 150))
        painter.setPen(QColor("white"))
        font = QFont()
        font.setPointSize(13)
        font.setBold(True)
        painter.setFont(font)
        painter.drawText(10, 24, f"{self.overlay}    {self.fps:.0f} fps")
        painter.end()
        self.setPixmap(pix)
