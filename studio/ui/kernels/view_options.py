"""The row under the kernel canvas: how points and volumes are drawn (point size, camera, colour by
value, rendering method, colour map) and, for zoomable images, how to zoom. Each output kind keeps
its own colour map, so switching kernels does not carry a points map over to a volume."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QWidget,
)

from studio.render.kernel_views import CAMERAS, COLORMAPS, KernelCanvas

VOLUME_METHODS = ("mip", "translucent", "additive", "iso")


class ViewOptions(QWidget):
    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.kind = "image"
        self.colormap_by_kind = {"points": "viridis", "volume": "hot"}  # dark-to-bright for volumes
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.point_size = QDoubleSpinBox()
        self.point_size.setRange(0.5, 20.0)
        self.point_size.setValue(3.0)
        self.point_size.setSingleStep(0.5)
        self.point_size.valueChanged.connect(self._changed)
        self.camera_combo = QComboBox()
        self.camera_combo.addItems(list(CAMERAS))
        self.camera_combo.currentTextChanged.connect(self._changed)
        self.by_value = QCheckBox("Colour by value")
        self.by_value.toggled.connect(self._changed)
        self.colormap_combo = QComboBox()
        self.colormap_combo.addItems(list(COLORMAPS))
        self.colormap_combo.currentTextChanged.connect(self._changed)
        self.volume_method = QComboBox()
        self.volume_method.addItems(list(VOLUME_METHODS))
        self.volume_method.currentTextChanged.connect(self._changed)
        self.point_widgets = [QLabel("Point size"), self.point_size, QLabel("Camera"), self.camera_combo, self.by_value]
        self.volume_widgets = [QLabel("Rendering"), self.volume_method]
        self.colormap_label = QLabel("Colour map")
        self.zoom_hint = QLabel("Drag a rectangle to zoom in, wheel to zoom at the cursor; Reset view to start again.")
        self.zoom_hint.setStyleSheet("color: #6b7280;")
        # a long hint must never force the page wider than the window
        self.zoom_hint.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.zoom_hint.setMinimumWidth(0)
        for w in self.point_widgets + self.volume_widgets + [self.colormap_label, self.colormap_combo, self.zoom_hint]:
            row.addWidget(w)
        row.addStretch(1)

    def show_for(self, kind: str, zoomable: bool) -> None:
        """Show the options of an output ``kind`` ("image", "points", "volume")."""
        self.kind = kind
        if kind in self.colormap_by_kind:
            self.colormap_combo.blockSignals(True)
            self.colormap_combo.setCurrentText(self.colormap_by_kind[kind])
            self.colormap_combo.blockSignals(False)
        for w in self.point_widgets:
            w.setVisible(kind == "points")
        for w in self.volume_widgets:
            w.setVisible(kind == "volume")
        self.colormap_label.setVisible(kind != "image")
        self.colormap_combo.setVisible(kind != "image")
        self.zoom_hint.setVisible(kind == "image" and zoomable)

    def apply_to(self, view: KernelCanvas) -> None:
        points = view.points
        points.point_size = self.point_size.value()
        points.colour_by_value = self.by_value.isChecked()
        points.colormap = self.colormap_by_kind["points"]
        if points.camera_name != self.camera_combo.currentText():
            points.set_camera(self.camera_combo.currentText())
        points._refresh()
        view.volume.set_method(self.volume_method.currentText())
        view.volume.set_colormap(self.colormap_by_kind["volume"])
        view.canvas.update()

    def _changed(self, *_) -> None:
        if self.kind in self.colormap_by_kind:
            self.colormap_by_kind[self.kind] = self.colormap_combo.currentText()
        self.changed.emit()
