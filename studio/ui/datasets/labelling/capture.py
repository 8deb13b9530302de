"""Webcam capture straight into a class, as Teachable Machine does: pick a camera, watch the
live view, hold the record button to save frames at the chosen rate into the selected class.

Frames come from a QVideoSink; ``on_frame`` (what the sink calls) keeps the latest for the
preview and, while recording, hands one frame per 1/rate seconds to a worker that encodes it
(JPEG) and stores it like an imported image (blob + Sample row, labelled_by="capture").
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, Qt, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from studio.core.gl_safety import load_before_opengl
from studio.store import adding as store_adding
from studio.store import classes as store_classes
from studio.store.library import Library
from studio.ui.datasets.labelling.controller import LabellingController
from studio.ui.common.style import colour_swatch
from studio.ui.common.workers import start_job

NO_CAMERA_TEXT = "No camera found. Connect a webcam and press Refresh."


def multimedia():
    """The QtMultimedia module, or the reason it cannot load (e.g. a missing system library)."""
    try:
        from PySide6 import QtMultimedia

        return QtMultimedia, ""
    except ImportError as exc:
        return None, str(exc)


def frame_to_image(frame) -> QImage:
    """A QVideoFrame (from the sink) or a QImage -> QImage."""
    if isinstance(frame, QImage):
        return frame
    load_before_opengl()  # toImage() converts through Qt's RHI: an OpenGL context (studio.core.gl_safety)
    return frame.toImage()


def encode_frame(image: QImage, fmt: str = "jpeg", quality: int = 92) -> bytes:
    """Encode on a worker thread: JPEG (or PNG) bytes, alpha dropped."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    data = QByteArray()
    buf = QBuffer(data)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    ok = image.save(buf, "JPG" if fmt == "jpeg" else "PNG", quality if fmt == "jpeg" else -1)
    buf.close()
    if not ok or data.isEmpty():
        raise ValueError("the frame could not be encoded")
    return bytes(data.data())


def save_frame(lib: Library, dataset_id: int, class_id: int | None, image: QImage, state=None) -> tuple[int, bool]:
    """A job (worker thread): store one frame like an imported file; returns (sample_id, added)."""
    return store_adding.add_image(lib, dataset_id, encode_frame(image), class_id=class_id, labelled_by="capture",
                                  source=f"capture:{time.strftime('%Y-%m-%dT%H:%M:%S')}")


class CapturePanel(QWidget):
    frame_saved = Signal(int)  # sample id

    def __init__(self, controller: LabellingController, parent: QWidget | None = None,
                 clock: Callable[[], float] = time.monotonic):
        super().__init__(parent)
        self.ctl = controller
        self.lib = controller.lib
        self.dataset_id: int | None = None
        self.clock = clock
        self.recording = False
        self.saved = 0
        self.pending = 0
        self._last_saved_at = float("-inf")
        self._last_preview_at = float("-inf")
        self.latest: QImage | None = None
        self._camera = self._session = self._sink = None
        self.mm, self.mm_error = multimedia()

        self.camera_combo = QComboBox()
        self.camera_combo.currentIndexChanged.connect(self._start_camera)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.clicked.connect(self.refresh_cameras)
        self.class_combo = QComboBox()
        self.rate = QDoubleSpinBox()
        self.rate.setRange(0.5, 30.0)
        self.rate.setDecimals(1)
        self.rate.setValue(5.0)
        self.rate.setSuffix(" frames/s")
        self.record_button = QPushButton("● Hold to record")
        self.record_button.setObjectName("record_button")
        self.record_button.setMinimumHeight(40)
        self.record_button.pressed.connect(self.start_recording)
        self.record_button.released.connect(self.stop_recording)
        self.preview = QLabel()
        self.preview.setObjectName("capture_preview")
        self.preview.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview.setMinimumSize(480, 300)
        self.preview.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.preview.setStyleSheet("background: #2b2f33; color: #e6e8ea; font-size: 15px; border-radius: 6px;")
        self.preview.setWordWrap(True)
        self.status = QLabel()
        self.status.setObjectName("capture_status")

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Camera:"))
        controls.addWidget(self.camera_combo, 2)
        controls.addWidget(self.refresh_button)
        controls.addSpacing(16)
        controls.addWidget(QLabel("Into class:"))
        controls.addWidget(self.class_combo, 1)
        controls.addWidget(self.rate)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(self.preview, 1)
        bottom = QHBoxLayout()
        bottom.addWidget(self.record_button, 1)
        bottom.addWidget(self.status, 2)
        layout.addLayout(bottom)
        controller.classes_changed.connect(lambda ds: ds == self.dataset_id and self._fill_classes())
        # Listing cameras loads Qt's multimedia backend (FFmpeg, device probing): done when the
        # panel is first shown, not while the app starts, and no camera turns on before then.
        self._cameras_listed = False
        self.show_message("Looking for cameras…")

    # --- setup --------------------------------------------------------------------------------
    def set_dataset(self, dataset_id: int | None) -> None:
        self.dataset_id = dataset_id
        self._fill_classes()

    def _fill_classes(self) -> None:
        keep = self.class_combo.currentData()
        self.class_combo.clear()
        if self.dataset_id is not None:
            with self.lib.session() as s:
                for c in store_classes.list_classes(s, self.dataset_id):
                    self.class_combo.addItem(colour_swatch(c.colour), c.name, c.id)
        self.class_combo.addItem("(unlabelled)", None)
        i = self.class_combo.findData(keep) if keep is not None else -1
        self.class_combo.setCurrentIndex(i if i >= 0 else 0)  # default: the first class
        self._update_enabled()

    def cameras(self) -> list:
        return list(self.mm.QMediaDevices.videoInputs()) if self.mm else []

    def refresh_cameras(self) -> None:
        self._cameras_listed = True
        self.camera_combo.blockSignals(True)
        self.camera_combo.clear()
        for dev in self.cameras():
            self.camera_combo.addItem(dev.description(), dev)
        self.camera_combo.blockSignals(False)
        if self.mm is None:
            self.show_message(f"Camera support is not available on this system ({self.mm_error}).")
        elif self.camera_combo.count() == 0:
            self.show_message(NO_CAMERA_TEXT)
        else:
            self._start_camera()
        self._update_enabled()

    def show_message(self, text: str) -> None:
        self.preview.setPixmap(QPixmap())
        self.preview.setText(text)

    def has_camera(self) -> bool:
        return self.camera_combo.count() > 0

    def _update_enabled(self) -> None:
        self.record_button.setEnabled(self.dataset_id is not None and (self.has_camera() or self.latest is not None))
        self.camera_combo.setEnabled(self.has_camera())

    def _start_camera(self, *_args) -> None:
        self.stop_camera()
        dev = self.camera_combo.currentData()
        if self.mm is None or dev is None:
            return
        mm = self.mm
        load_before_opengl()  # video frames may be drawn through OpenGL: see studio.core.gl_safety
        self._camera = mm.QCamera(dev)
        self._session = mm.QMediaCaptureSession()
        self._sink = mm.QVideoSink()
        self._session.setCamera(self._camera)
        self._session.setVideoSink(self._sink)
        self._sink.videoFrameChanged.connect(self.on_frame)
        self._camera.errorOccurred.connect(lambda _e, text: self.show_message(f"Camera error: {text}"))
        self.show_message("Starting camera…")
        self._camera.start()

    def stop_camera(self) -> None:
        if self._camera is not None:
            self._camera.stop()
        self._camera = self._session = self._sink = None

    # --- frames -------------------------------------------------------------------------------
    def start_recording(self) -> None:
        if self.dataset_id is None:
            return
        self.recording = True
        self._last_saved_at = float("-inf")
        self.record_button.setText("● Recording… (release to stop)")
        self.record_button.setStyleSheet("background: #c0392b; color: white;")

    def stop_recording(self) -> None:
        self.recording = False
        self.record_button.setText("● Hold to record")
        self.record_button.setStyleSheet("")

    def on_frame(self, frame) -> None:
        """What the video sink calls for each frame (tests feed QImages / QVideoFrames here)."""
        now = self.clock()
        image = frame_to_image(frame)
        if image.isNull():
            return
        self.latest = image
        if now - self._last_preview_at >= 1 / 30:  # the preview needs no more than 30 fps
            self._last_preview_at = now
            self.preview.setPixmap(QPixmap.fromImage(image).scaled(
                self.preview.size(), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))
        if self.recording and now - self._last_saved_at >= 1.0 / self.rate.value():
            self._last_saved_at = now
            self._save(image.copy())

    def _save(self, image: QImage) -> None:
        dataset_id, class_id = self.dataset_id, self.class_combo.currentData()
        self.pending += 1
        job = start_job(save_frame, self.lib, dataset_id, class_id, image)
        job.finished.connect(lambda result, ds=dataset_id: self._on_saved(ds, result))
        job.failed.connect(self._on_failed)

    def _on_saved(self, dataset_id: int, result: tuple[int, bool]) -> None:
        self.pending -= 1
        sample_id, added = result
        if added:
            self.saved += 1
            self.ctl.samples_added.emit(dataset_id, [sample_id])
            self.frame_saved.emit(sample_id)
        self.status.setText(f"{self.saved} frame(s) saved into “{self.class_combo.currentText()}”")

    def _on_failed(self, message: str) -> None:
        self.pending -= 1
        self.status.setText(f"A frame could not be saved: {message}")

    def hideEvent(self, event) -> None:  # noqa: N802 - the camera is off while the panel is hidden
        self.stop_recording()
        self.stop_camera()
        super().hideEvent(event)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._cameras_listed:
            self.refresh_cameras()  # starts the first camera, if any
        elif self._camera is None and self.has_camera():
            self._start_camera()
