"""One sample, large: the upright image scaled to fit, its metadata, arrows to move through the grid.

The image is decoded on a worker thread (a large photo takes longer than a frame); a result that
arrives after the user moved on is dropped.
"""

from __future__ import annotations

import re
from typing import Any

from PySide6.QtCore import QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from studio.store.library import Library
from studio.ui.common.sample_grid import SampleGridModel
from studio.ui.common.style import human_bytes
from studio.ui.common.workers import Job, start_job


def load_upright_image(lib: Library, blob: str, state: Any = None) -> QImage:
    """Worker thread: the blob's pixels, EXIF-rotated upright, as a QImage."""
    from studio.store.images import open_upright

    with open_upright(lib.blobs.path(blob)) as pil:
        rgba = pil.convert("RGBA")
        data = rgba.tobytes()
        image = QImage(data, rgba.width, rgba.height, rgba.width * 4, QImage.Format.Format_RGBA8888)
        return image.copy()  # own the pixels: ``data`` goes away with this frame


def breakable(path: str, run: int = 20) -> str:
    """``path`` with zero-width spaces after separators and inside long runs, so a QLabel can
    wrap it instead of clipping it."""
    text = re.sub(r"([/\\_.\-])", "\\1\u200b", path)
    return re.sub(r"([^\u200b]{%d})(?=[^\u200b])" % run, "\\1\u200b", text)


class ImageCanvas(QWidget):
    """Paints an image scaled to fit, centred, never upscaled past 8x (tiny digits stay crisp)."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._image: QImage | None = None
        self._message = ""
        self.setMinimumSize(320, 320)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def set_image(self, image: QImage | None, message: str = "") -> None:
        self._image = image
        self._message = message
        self.update()

    def image(self) -> QImage | None:
        return self._image

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#2b2f33"))
        if self._image is None or self._image.isNull():
            painter.setPen(QColor("#c8ccd0"))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._message)
            return
        area = self.rect().adjusted(12, 12, -12, -12)
        size = self._image.size()
        scaled = size.scaled(area.size(), Qt.AspectRatioMode.KeepAspectRatio)
        if scaled.width() > size.width() * 8:
            scaled = size * 8
        # small images are enlarged without smoothing so their pixels stay visible
        smooth = scaled.width() < size.width() or size.width() >= 256
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        target = QRect(
            area.left() + (area.width() - scaled.width()) // 2,
            area.top() + (area.height() - scaled.height()) // 2,
            scaled.width(),
            scaled.height(),
        )
        painter.drawImage(target, self._image)


class SampleViewer(QDialog):
    """Shows ``model``'s sample at ``row``; Left/Right (or Up/Down) go to the previous/next one."""

    row_changed = Signal(int)
    FIELDS = ("sample", "class", "split", "size", "format", "bytes", "source", "labelled_by", "added")

    def __init__(self, lib: Library, model: SampleGridModel, row: int, parent: QWidget | None = None):
        super().__init__(parent)
        self._lib = lib
        self._model = model
        self.row = -1
        self._job: Job | None = None
        self.setWindowTitle("Sample")
        self.setModal(False)
        self.resize(QSize(980, 660))

        self.canvas = ImageCanvas(self)
        self.fields: dict[str, QLabel] = {}
        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        titles = {
            "sample": "Sample", "class": "Class", "split": "Split", "size": "Size",
            "format": "Format", "bytes": "File size", "source": "Source",
            "labelled_by": "Labelled by", "added": "Added",
        }
        for key in self.FIELDS:
            label = QLabel()
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            label.setWordWrap(True)
            label.setObjectName(f"field_{key}")
            self.fields[key] = label
            form.addRow(f"{titles[key]}:", label)

        side = QFrame()
        side.setFixedWidth(300)
        side_layout = QVBoxLayout(side)
        side_layout.addLayout(form)
        side_layout.addStretch(1)
        nav = QHBoxLayout()
        self.prev_button = QPushButton("◀ Previous")
        self.next_button = QPushButton("Next ▶")
        self.prev_button.setToolTip("Previous sample (Left arrow)")
        self.next_button.setToolTip("Next sample (Right arrow)")
        self.prev_button.clicked.connect(self.previous)
        self.next_button.clicked.connect(self.next)
        for b in (self.prev_button, self.next_button):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # arrows keep working on the dialog
        nav.addWidget(self.prev_button)
        nav.addWidget(self.next_button)
        side_layout.addLayout(nav)
        self.position_label = QLabel()
        self.position_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        side_layout.addWidget(self.position_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        for b in buttons.buttons():
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        side_layout.addWidget(buttons)

        layout = QHBoxLayout(self)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(side)
        self.show_row(row)

    def show_row(self, row: int) -> None:
        if not 0 <= row < self._model.rowCount():
            return
        sample = self._model.sample_row(row)
        if sample is None:
            return
        self.row = row
        self.sample = sample
        self._fill_fields(sample)
        total = self._model.rowCount()
        self.position_label.setText(f"{row + 1} of {total:,}")
        self.prev_button.setEnabled(row > 0)
        self.next_button.setEnabled(row < total - 1)
        self.setWindowTitle(f"Sample #{sample.id} — {sample.class_name or 'unlabelled'}")
        self.canvas.set_image(None, "Loading…")
        self._job = start_job(load_upright_image, self._lib, sample.blob, parent=None)
        wanted = sample.id
        self._job.finished.connect(lambda image, wanted=wanted: self._on_image(wanted, image))
        self._job.failed.connect(lambda msg, wanted=wanted: self._on_image_failed(wanted, msg))
        self.row_changed.emit(row)

    def _fill_fields(self, s: Any) -> None:
        colour = s.class_colour or "#9aa3ad"
        cls = (
            f'<span style="color:{colour}">●</span> {s.class_name}' if s.class_id is not None
            else '<i>unlabelled</i>'
        )
        values = {
            "sample": f"#{s.id}",
            "class": cls,
            "split": s.split or "none",
            "size": f"{s.width} × {s.height} px, {s.channels} channel{'s' if s.channels != 1 else ''}",
            "format": (s.format or "?").upper(),
            "bytes": human_bytes(s.byte_size) + (f" ({s.byte_size:,} bytes)" if s.byte_size >= 1024 else ""),
            "source": breakable(s.source_path) if s.source_path else "—",
            "labelled_by": s.labelled_by or "—",
            "added": s.created_at.strftime("%Y-%m-%d %H:%M") if s.created_at else "—",
        }
        for key, text in values.items():
            self.fields[key].setText(text)
        self.fields["class"].setTextFormat(Qt.TextFormat.RichText)
        self.fields["source"].setToolTip(s.source_path or "")

    def _on_image(self, sample_id: int, image: QImage) -> None:
        if sample_id == self.sample.id:
            self.canvas.set_image(image)

    def _on_image_failed(self, sample_id: int, message: str) -> None:
        if sample_id == self.sample.id:
            self.canvas.set_image(None, f"Cannot show this image:\n{message}")

    def next(self) -> None:
        self.show_row(self.row + 1)

    def previous(self) -> None:
        self.show_row(self.row - 1)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key = event.key()
        if key in (Qt.Key.Key_Right, Qt.Key.Key_Down, Qt.Key.Key_PageDown):
            self.next()
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Up, Qt.Key.Key_PageUp):
            self.previous()
        elif key == Qt.Key.Key_Home:
            self.show_row(0)
        elif key == Qt.Key.Key_End:
            self.show_row(self._model.rowCount() - 1)
        else:
            super().keyPressEvent(event)
