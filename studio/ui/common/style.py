"""Icons (SVG files in resources/icons) and small helpers shared by the pages."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap
from PySide6.QtWidgets import QMessageBox, QWidget

from studio.core.paths import resources_dir


def icons_dir():
    return resources_dir() / "icons"


@lru_cache(maxsize=None)
def icon(name: str) -> QIcon:
    """``icon("import")`` -> resources/icons/import.svg (an empty icon if it is missing)."""
    path = icons_dir() / f"{name}.svg"
    return QIcon(str(path)) if path.exists() else QIcon()


def app_icon() -> QIcon:
    return icon("app")


def colour_swatch(colour: str, size: int = 14) -> QIcon:
    """A small rounded square filled with ``colour`` (class colours in lists)."""
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(QColor(0, 0, 0, 60))
    qcolour = QColor(colour)
    painter.setBrush(qcolour if qcolour.isValid() else QColor("#888888"))
    painter.drawRoundedRect(1, 1, size - 2, size - 2, 3, 3)
    painter.end()
    return QIcon(pix)


def show_error(parent: QWidget | None, title: str, message: str) -> None:
    """One clear line for the user; never a traceback."""
    QMessageBox.warning(parent, title, message)


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} bytes"
