"""Play's live camera: pick a webcam, start and stop it, show its frames with the model's top
class painted over them. Each frame shown also goes out as ``frame(QImage)``; the page predicts
the ones it has time for (never a queue: a frame arriving while one is predicted is dropped)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from studio.core.gl_safety import load_before_opengl
from studio.ui.models.play_widgets import CameraView

NO_CAMERA_TEXT = "No camera found on this computer.\n\nConnect a webcam and press Refresh\nto see live predictions here."


class CameraPanel(QWidget):
    frame = Signal(object)  # QImage

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._camera = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Live camera")
        title.setStyleSheet("font-weight: 600; font-size: 14px;")
        layout.addWidget(title)
        self.view = CameraView()
        layout.addWidget(self.view, 1)
        row = QHBoxLayout()
        self.combo = QComboBox()
        self.button = QPushButton("Start camera")
        self.button.setCheckable(True)
        self.button.toggled.connect(lambda on: self.start() if on else self.stop())
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh)
        row.addWidget(self.combo, 1)
        row.addWidget(self.button)
        row.addWidget(self.refresh_button)
        layout.addLayout(row)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)

    def refresh(self) -> None:
        """List the cameras (QtMultimedia loads here, on first use, not at start-up)."""
        from PySide6.QtMultimedia import QMediaDevices

        self.combo.clear()
        for device in QMediaDevices.videoInputs():
            self.combo.addItem(device.description(), device)
        has_camera = self.combo.count() > 0
        self.button.setEnabled(has_camera)
        self.combo.setVisible(has_camera)
        if not has_camera:
            self.view.setText(NO_CAMERA_TEXT)
            self.status.setText("")

    def start(self) -> None:
        from PySide6.QtMultimedia import QCamera, QMediaCaptureSession, QVideoSink

        device = self.combo.currentData()
        if device is None:
            self.button.setChecked(False)
            return
        load_before_opengl()  # video frames may be drawn through OpenGL: see studio.core.gl_safety
        self._camera = QCamera(device)
        self._session = QMediaCaptureSession()
        self._sink = QVideoSink()
        self._session.setCamera(self._camera)
        self._session.setVideoSink(self._sink)
        self._sink.videoFrameChanged.connect(self._on_frame)
        self._camera.errorOccurred.connect(lambda _e, text: self.status.setText(f"Camera error: {text}"))
        self._camera.start()
        self.button.setText("Stop camera")

    def stop(self) -> None:
        if self._camera is not None:
            self._camera.stop()
            self._camera = None
        self.button.setText("Start camera")

    def _on_frame(self, frame) -> None:
        load_before_opengl()  # toImage() converts through Qt's RHI (OpenGL): see studio.core.gl_safety
        image = frame.toImage()
        if image.isNull():
            return
        self.view.show_frame(image)
        self.frame.emit(image)

    def show_prediction(self, result, device: str) -> None:
        """The top class over the picture, the speed below it."""
        if result.top:
            name, probability = result.top[0]
            self.view.overlay = f"{name} {probability:.0%}"
            self.status.setText(f"{result.latency_ms:.1f} ms per frame on {device}, {self.view.fps:.0f} fps")
