"""Play: try a trained run, an export or an imported model on new images and on the webcam.

Drop images or folders, paste (Ctrl+V) or open files; each gets a card with its thumbnail and the
top classes. Everything heavy (loading the model, decoding, predicting) runs on one worker thread
of the page (so results come in order); the model is loaded once per (model, device) and cached.
The numbers are those of `studio predict` (same ``open_predictor`` + ``predict_file``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QThreadPool, Qt, Signal
from PySide6.QtGui import QGuiApplication, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import InvalidInputError, NotFoundError
from studio.core.gl_safety import load_before_opengl
from studio.core.jobs import JobState
from studio.store.images import IMAGE_FILE_FILTER
from studio.ui.models.play_widgets import CameraView, ResultCard, qimage_to_array, qimage_to_png
from studio.ui.common.workers import Job, start_job

TOP_K = 3
MODEL_FILTER = "Models (*.onnx *.pt *.pth *.ts *.safetensors);;All files (*)"
RUNTIME_NAMES = {"run": "PyTorch (in the studio)", "onnx": "onnxruntime", "torchscript": "TorchScript",
                 "safetensors": "PyTorch (safetensors)", "state-dict": "PyTorch (state dict)"}


# --- jobs (plain functions, run on the page's worker thread) ----------------------------------

def load_predictor_job(lib, source: str, device: str, trust: bool, state: JobState):
    from studio.export.predictor import open_predictor

    state.set_progress(0.1, "loading the model")
    return open_predictor(source, lib, device=device, trust=trust)


def cuda_available_job(state: JobState) -> bool:
    import torch

    return bool(torch.cuda.is_available())


def predict_job(predictor, items: list[tuple[int, Any]], state: JobState) -> int:
    """Predict (index, path | uint8 array) items; each result goes out as a partial result
    (index, FilePrediction, thumbnail array) so cards fill in as they are ready."""
    from studio.export.predictor import FilePrediction

    for done, (index, source) in enumerate(items):
        state.check_cancelled()
        if isinstance(source, np.ndarray):
            image = source if predictor.in_channels == 3 else _to_grey(source)
            result, thumb = predictor.predict_image(image, TOP_K, "pasted image"), source
        else:
            try:
                image = predictor.decode(source)
            except (InvalidInputError, NotFoundError) as exc:
                state.set_partial_result((index, FilePrediction(str(source), error=str(exc)), None))
                continue
            result, thumb = predictor.predict_image(image, TOP_K, str(source)), _thumbnail(image)
        state.set_partial_result((index, result, thumb))
        state.set_progress((done + 1) / len(items), f"{done + 1}/{len(items)} images")
    return len(items)


def expand_job(paths: list[str], state: JobState) -> list[Path]:
    from studio.export.images import expand_image_paths

    return expand_image_paths(paths)


def add_to_dataset_job(lib, dataset_id: int, class_id: int, source: Any, state: JobState) -> int:
    from studio.export.play import add_to_dataset

    return add_to_dataset(lib, dataset_id, class_id, source)


def _to_grey(rgb: np.ndarray) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).convert("L"))[:, :, None]


def _thumbnail(image: np.ndarray, side: int = 96) -> np.ndarray:
    from PIL import Image

    pil = Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)
    if max(pil.size) > side:
        pil.thumbnail((side, side))
    array = np.asarray(pil)
    return array[:, :, None] if array.ndim == 2 else array


class PlayPage(QWidget):
    predictions_done = Signal()   # a batch of images has been predicted and shown
    model_ready = Signal(str)     # the model label, once loaded

    def __init__(self, lib, parent: QWidget | None = None):
        super().__init__(parent)
        self.lib = lib
        self.setAcceptDrops(True)
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)  # one model, one thread: results in order, no contention
        self.predictors: dict[tuple[str, str], Any] = {}
        self.predictor = None
        self.items: list[Any] = []          # what was tried: Path or uint8 array (pasted, camera)
        self.cards: list[ResultCard] = []
        self.results: list[Any] = []        # FilePrediction per item, as shown
        self.dataset_id: int | None = None
        self.dataset_classes: list[tuple[int, str]] = []
        self._predict_job: Job | None = None
        self._camera_job: Job | None = None
        self._camera = None
        self._build()
        self._shown_before = False
        self._file_choices: list = []  # model files opened here stay in the picker
        QShortcut(QKeySequence.StandardKey.Paste, self, activated=self.paste)

    # --- layout ---------------------------------------------------------------------------
    def _build(self) -> None:
        top = QHBoxLayout()
        top.addWidget(QLabel("Model"))
        self.model_combo = QComboBox()
        self.model_combo.setMinimumWidth(360)
        self.model_combo.activated.connect(lambda _i: self._load_selected_model())
        top.addWidget(self.model_combo, 1)
        self.open_model_button = QPushButton("Open model file...")
        self.open_model_button.clicked.connect(self.open_model_file)
        top.addWidget(self.open_model_button)
        top.addWidget(QLabel("Device"))
        self.device_combo = QComboBox()
        self.device_combo.addItem("CPU", "cpu")
        self.device_combo.addItem("GPU (CUDA)", "cuda")
        self._set_cuda_available(False)
        self.device_combo.activated.connect(lambda _i: self._load_selected_model())
        top.addWidget(self.device_combo)

        self.model_status = QLabel("Choose a model to try.")
        self.model_status.setStyleSheet("color: #5b6670;")

        buttons = QHBoxLayout()
        self.open_button = QPushButton(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogOpenButton), "Open images...")
        self.open_button.clicked.connect(self.open_images)
        self.paste_button = QPushButton("Paste (Ctrl+V)")
        self.paste_button.clicked.connect(self.paste)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(self.clear)
        for b in (self.open_button, self.paste_button, self.clear_button):
            buttons.addWidget(b)
        buttons.addStretch(1)

        self.drop_hint = QLabel("Drop images or folders here, paste an image, or open files.\n"
                                "Each one shows its top classes with their confidence.")
        self.drop_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.drop_hint.setMinimumHeight(120)
        self.drop_hint.setStyleSheet("border: 2px dashed #b8c2cc; border-radius: 10px; color: #5b6670; font-size: 14px;")
        self.cards_box = QVBoxLayout()
        self.cards_box.setSpacing(8)
        self.cards_box.addWidget(self.drop_hint)
        self.cards_box.addStretch(1)
        holder = QWidget()
        holder.setLayout(self.cards_box)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(holder)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        left = QWidget()
        left_box = QVBoxLayout(left)
        left_box.setContentsMargins(0, 0, 0, 0)
        left_box.addLayout(buttons)
        left_box.addWidget(self.scroll, 1)

        right = QWidget()
        cam_box = QVBoxLayout(right)
        cam_box.setContentsMargins(0, 0, 0, 0)
        title = QLabel("Live camera")
        title.setStyleSheet("font-weight: 600; font-size: 14px;")
        cam_box.addWidget(title)
        self.camera_view = CameraView()
        cam_box.addWidget(self.camera_view, 1)
        cam_row = QHBoxLayout()
        self.camera_combo = QComboBox()
        self.camera_button = QPushButton("Start camera")
        self.camera_button.setCheckable(True)
        self.camera_button.toggled.connect(self._toggle_camera)
        self.camera_refresh = QPushButton("Refresh")
        self.camera_refresh.clicked.connect(self.refresh_cameras)
        cam_row.addWidget(self.camera_combo, 1)
        cam_row.addWidget(self.camera_button)
        cam_row.addWidget(self.camera_refresh)
        cam_box.addLayout(cam_row)
        self.camera_status = QLabel("")
        self.camera_status.setWordWrap(True)
        cam_box.addWidget(self.camera_status)

        split = QSplitter()
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([640, 400])

        page = QVBoxLayout(self)
        heading = QLabel("Play")
        heading.setStyleSheet("font-size: 18px; font-weight: 600;")
        page.addWidget(heading)
        page.addLayout(top)
        page.addWidget(self.model_status)
        page.addWidget(split, 1)

    def _set_cuda_available(self, available: bool) -> None:
        item = self.device_combo.model().item(1)
        item.setEnabled(bool(available))
        item.setToolTip("" if available else "No CUDA GPU on this computer")

    # --- models ---------------------------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802
        """Nothing is loaded until the page is first shown (no torch, camera or model at start-up)."""
        super().showEvent(event)
        if not self._shown_before:
            self._shown_before = True
            self.refresh_cameras()
            start_job(cuda_available_job, pool=self.pool).finished.connect(self._set_cuda_available)
        self.refresh_models()

    def refresh_models(self) -> None:
        from studio.export.play import playable_models

        current = self.model_combo.currentData()
        self.model_combo.clear()
        for choice in playable_models(self.lib) + self._file_choices:
            self.model_combo.addItem(choice.title, choice)
        if self.model_combo.count() == 0:
            self.model_status.setText("No trained model yet: train one on the Train page, or open a model file.")
            return
        index = next((i for i in range(self.model_combo.count())
                      if current is not None and self.model_combo.itemData(i).source == current.source), 0)
        self.model_combo.setCurrentIndex(index)
        if self.predictor is None or current is None or self.model_combo.itemData(index).source != current.source:
            self._load_selected_model()

    def select_model(self, source: str) -> None:
        """Choose the model whose source (run id, path, imported name) is ``source``, and load it."""
        for i in range(self.model_combo.count()):
            if self.model_combo.itemData(i).source == str(source):
                self.model_combo.setCurrentIndex(i)
                self._load_selected_model()
                return
        raise NotFoundError(f"no model {source!r} to play with")

    def open_model_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open a model", str(Path.home()), MODEL_FILTER)
        if path:
            self.use_model_file(path)

    def use_model_file(self, path: str, trust: bool | None = None) -> None:
        """Play with a model file; TorchScript from elsewhere is loaded only after the user agrees."""
        from studio.export.loading import is_torchscript
        from studio.export.play import ModelChoice
        from studio.export.registry import is_own_export

        p = Path(path)
        if trust is None:
            trust = False
            if p.suffix.lower() in (".pt", ".pth", ".ts") and is_torchscript(p) and not is_own_export(self.lib, p):
                answer = QMessageBox.warning(
                    self, "Load TorchScript?",
                    f"{p.name} is TorchScript. Loading it can run code on this computer.\n\n"
                    "Load it only if you trust where it came from.",
                    QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                    QMessageBox.StandardButton.Cancel)
                if answer != QMessageBox.StandardButton.Yes:
                    return
                trust = True
        choice = ModelChoice(f"File: {p.name}", str(p), "file", None, trust)
        self._file_choices.append(choice)
        self.model_combo.addItem(choice.title, choice)
        self.model_combo.setCurrentIndex(self.model_combo.count() - 1)
        self._load_selected_model()

    def _load_selected_model(self) -> None:
        choice = self.model_combo.currentData()
        if choice is None:
            return
        from studio.export.play import run_dataset_classes

        device = self.device_combo.currentData()
        key = (choice.source, device)
        self.dataset_id, self.dataset_classes = run_dataset_classes(self.lib, choice.run_id)
        if key in self.predictors:
            self._use_predictor(self.predictors[key])
            return
        self.predictor = None
        self.model_status.setText(f"Loading {choice.title}...")
        job = start_job(load_predictor_job, self.lib, choice.source, device, choice.needs_trust, pool=self.pool)
        job.finished.connect(lambda predictor, key=key: self._loaded(key, predictor))
        job.failed.connect(lambda message: self.model_status.setText(f"Cannot load the model: {message}"))

    def _loaded(self, key: tuple[str, str], predictor) -> None:
        self.predictors[key] = predictor
        if self.model_combo.currentData() is not None and (self.model_combo.currentData().source, self.device_combo.currentData()) == key:
            self._use_predictor(predictor)

    def _use_predictor(self, predictor) -> None:
        self.predictor = predictor
        runtime = RUNTIME_NAMES.get(predictor.kind, predictor.kind)
        self.model_status.setText(f"{predictor.label} - {runtime} on {predictor.device.upper()}, "
                                  f"{len(predictor.classes)} classes ({', '.join(predictor.classes[:8])}"
                                  f"{', ...' if len(predictor.classes) > 8 else ''})")
        for card in self.cards:
            card.set_classes(self.dataset_classes)
        self.model_ready.emit(predictor.label)
        if self.items:  # a new model: the images already tried are predicted again
            if self._predict_job is not None:
                self._predict_job.cancel()
            self._predict(list(range(len(self.items))))

    # --- images in --------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: N802
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        event.acceptProposedAction()

    def dropEvent(self, event) -> None:  # noqa: N802
        self.add_mime(event.mimeData())
        event.acceptProposedAction()

    def add_mime(self, mime) -> None:
        """What a drop or a paste brings: local files/folders, or image data."""
        paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
        if paths:
            self.add_paths(paths)
        elif mime.hasImage():
            self.add_image(qimage_to_array(mime.imageData(), 640))

    def paste(self) -> None:
        self.add_mime(QGuiApplication.clipboard().mimeData())

    def open_images(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Images to try", str(Path.home()), IMAGE_FILE_FILTER)
        if files:
            self.add_paths(files)

    def add_paths(self, paths: list[str]) -> None:
        job = start_job(expand_job, [str(p) for p in paths], pool=self.pool)
        job.finished.connect(lambda files: self._add_items(list(files)))
        job.failed.connect(lambda message: self.model_status.setText(message))

    def add_image(self, array: np.ndarray) -> None:
        self._add_items([array])

    def _add_items(self, sources: list[Any]) -> None:
        self.drop_hint.setVisible(False)
        first = len(self.items)
        for source in sources:
            name = Path(source).name if not isinstance(source, np.ndarray) else "pasted image"
            card = ResultCard(name, source if isinstance(source, np.ndarray) else None)
            card.set_classes(self.dataset_classes)
            card.add_requested.connect(self._add_to_dataset)
            self.cards_box.insertWidget(self.cards_box.count() - 1, card)
            self.items.append(source)
            self.cards.append(card)
            self.results.append(None)
        if self.predictor is not None:
            self._predict(list(range(first, len(self.items))))

    def _predict(self, indices: list[int]) -> None:
        job = start_job(predict_job, self.predictor, [(i, self.items[i]) for i in indices], pool=self.pool)
        job.partial.connect(self._show_result)
        job.finished.connect(lambda _n: self.predictions_done.emit())
        job.failed.connect(lambda message: self.model_status.setText(f"Prediction failed: {message}"))
        self._predict_job = job

    def _show_result(self, payload) -> None:
        index, result, thumb = payload
        if index >= len(self.cards):
            return  # cleared meanwhile
        card = self.cards[index]
        self.results[index] = result
        if thumb is not None and not isinstance(self.items[index], np.ndarray):
            card.set_thumbnail(thumb)
        if result.error:
            card.show_error(result.error)
        else:
            card.show_prediction(result.top, result.latency_ms, self.predictor.device if self.predictor else "")

    def shown_predictions(self) -> list[dict[str, Any]]:
        """What the cards show, as `studio predict --json` prints it (for tests and copy/paste)."""
        return [r.to_json() for r in self.results if r is not None]

    def clear(self) -> None:
        if self._predict_job is not None:
            self._predict_job.cancel()
        for card in self.cards:
            card.deleteLater()
        self.cards, self.items, self.results = [], [], []
        self.drop_hint.setVisible(True)

    # --- add to dataset ---------------------------------------------------------------------
    def _add_to_dataset(self, card: ResultCard, class_id: int) -> None:
        if self.dataset_id is None:
            return
        index = self.cards.index(card)
        source = self.items[index]
        if isinstance(source, np.ndarray):
            from studio.ui.models.play_widgets import array_to_qimage

            source = qimage_to_png(array_to_qimage(source))
        card.add_button.setEnabled(False)
        name = card.class_combo.currentText()
        job = start_job(add_to_dataset_job, self.lib, self.dataset_id, class_id, source, pool=self.pool)
        job.finished.connect(lambda _sid: card.mark_added(f"Added as {name}"))
        job.failed.connect(lambda message: (card.add_button.setEnabled(True), self.model_status.setText(message)))

    # --- camera -----------------------------------------------------------------------------
    def refresh_cameras(self) -> None:
        from PySide6.QtMultimedia import QMediaDevices

        self.camera_combo.clear()
        for device in QMediaDevices.videoInputs():
            self.camera_combo.addItem(device.description(), device)
        has_camera = self.camera_combo.count() > 0
        self.camera_button.setEnabled(has_camera)
        self.camera_combo.setVisible(has_camera)
        if not has_camera:
            self.camera_view.setText("No camera found on this computer.\n\nConnect a webcam and press Refresh\n"
                                     "to see live predictions here.")
            self.camera_status.setText("")

    def _toggle_camera(self, on: bool) -> None:
        if on:
            self.start_camera()
        else:
            self.stop_camera()

    def start_camera(self) -> None:
        from PySide6.QtMultimedia import QCamera, QMediaCaptureSession, QVideoSink

        device = self.camera_combo.currentData()
        if device is None:
            self.camera_button.setChecked(False)
            return
        load_before_opengl()  # video frames may be drawn through OpenGL: see studio.core.gl_safety
        self._camera = QCamera(device)
        self._session = QMediaCaptureSession()
        self._sink = QVideoSink()
        self._session.setCamera(self._camera)
        self._session.setVideoSink(self._sink)
        self._sink.videoFrameChanged.connect(self._on_frame)
        self._camera.errorOccurred.connect(lambda _e, text: self.camera_status.setText(f"Camera error: {text}"))
        self._camera.start()
        self.camera_button.setText("Stop camera")

    def stop_camera(self) -> None:
        if self._camera is not None:
            self._camera.stop()
            self._camera = None
        self.camera_button.setText("Start camera")

    def _on_frame(self, frame) -> None:
        load_before_opengl()  # toImage() converts through Qt's RHI (OpenGL): see studio.core.gl_safety
        image = frame.toImage()
        if image.isNull():
            return
        self.camera_view.show_frame(image)
        busy = self._camera_job is not None and self._camera_job.is_running
        if self.predictor is None or busy:
            return  # drop frames while the previous one is being predicted: always live, never queued
        array = qimage_to_array(image, 256)
        job = start_job(predict_job, self.predictor, [(-1, array)], pool=self.pool)
        job.partial.connect(self._show_camera_result)
        self._camera_job = job

    def _show_camera_result(self, payload) -> None:
        _index, result, _thumb = payload
        if result.top:
            name, probability = result.top[0]
            self.camera_view.overlay = f"{name} {probability:.0%}"
            self.camera_status.setText(f"{result.latency_ms:.1f} ms per frame on {self.predictor.device}, "
                                       f"{self.camera_view.fps:.0f} fps")

    def hideEvent(self, event) -> None:  # noqa: N802
        self.camera_button.setChecked(False)  # no camera running behind the user's back
        super().hideEvent(event)
