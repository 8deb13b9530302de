"""Play: try a trained run, an export or an imported model on new images and on the webcam.

Drop images or folders, paste (Ctrl+V) or open files; each gets a card with its thumbnail and the
top classes. Everything heavy (loading the model, decoding, predicting, adding to a dataset) runs
as the jobs of ``play_jobs`` on one worker thread of the page (so results come in order); the
model is loaded once per (model, device) and cached. The live camera is ``camera_panel``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QThreadPool, Signal
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
    QStackedWidget,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import NotFoundError
from studio.store.images import IMAGE_FILE_FILTER
from studio.ui.common.page import Page
from studio.ui.models.camera_panel import CameraPanel
from studio.ui.models.play_jobs import (
    add_to_dataset_job,
    cuda_available_job,
    expand_job,
    load_predictor_job,
    playable_models_job,
    predict_job,
)
from studio.ui.models.play_widgets import ResultCard, qimage_to_array
from studio.ui.models.table_play import TablePlayPanel
from studio.ui.models.text_play import TextPlayPanel

MODEL_FILTER = "Models (*.onnx *.pt *.pth *.ts *.safetensors config.json);;All files (*)"
NOT_IMAGES = ("table", "text")  # kinds of model whose inputs are rows or texts: their own panel, no camera
RUNTIME_NAMES = {"run": "PyTorch (in the studio)", "onnx": "onnxruntime", "torchscript": "TorchScript",
                 "safetensors": "PyTorch (safetensors)", "state-dict": "PyTorch (state dict)"}


class PlayPage(Page):
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
        self._loading_key: tuple[str, str] | None = None
        self.items: list[Any] = []          # what was tried: Path or uint8 array (pasted, camera)
        self.cards: list[ResultCard] = []
        self.results: list[Any] = []        # FilePrediction per item, as shown
        self.dataset_id: int | None = None
        self.dataset_classes: list[tuple[int, str]] = []
        self._serial = 0  # each batch of images, each "add" is its own job: earlier ones keep running
        self._build()
        self._file_choices: list = []  # model files opened here stay in the picker
        self._wanted_source: str | None = None  # chosen while the model list was on its way
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

        self.camera = CameraPanel()
        self.camera.frame.connect(self._predict_frame)

        self.image_view = QSplitter()
        self.image_view.addWidget(left)
        self.image_view.addWidget(self.camera)
        self.image_view.setStretchFactor(0, 3)
        self.image_view.setStretchFactor(1, 2)
        self.image_view.setSizes([640, 400])
        self.table_view = TablePlayPanel(self)  # a table model: a form of its columns instead
        self.text_view = TextPlayPanel(self)    # a text model: a box to type texts in
        self.views = QStackedWidget()
        self.views.addWidget(self.image_view)
        self.views.addWidget(self.table_view)
        self.views.addWidget(self.text_view)

        page = QVBoxLayout(self)
        heading = QLabel("Play")
        heading.setStyleSheet("font-size: 18px; font-weight: 600;")
        page.addWidget(heading)
        page.addLayout(top)
        page.addWidget(self.model_status)
        page.addWidget(self.views, 1)

    def _set_cuda_available(self, available: bool) -> None:
        item = self.device_combo.model().item(1)
        item.setEnabled(bool(available))
        item.setToolTip("" if available else "No CUDA GPU on this computer")

    # --- models ---------------------------------------------------------------------------
    def on_first_show(self) -> None:
        """Nothing is loaded until the page is first shown (no torch, camera or model at start-up)."""
        self.camera.refresh()
        self.run_job("cuda", cuda_available_job, pool=self.pool).finished.connect(self._set_cuda_available)

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh_models()

    def refresh_models(self) -> None:
        """List the runs, exports and imported models in a job; the picker fills when it returns."""
        job = self.run_job("models", playable_models_job, self.lib)
        job.finished.connect(lambda choices, job=job: self.job("models") is job and self._fill_models(choices))

    def _fill_models(self, choices: list) -> None:
        current = self.model_combo.currentData()
        wanted, self._wanted_source = self._wanted_source, None
        self.model_combo.clear()
        for choice in choices + self._file_choices:
            self.model_combo.addItem(choice.title, choice)
        if self.model_combo.count() == 0:
            self.model_status.setText("No trained model yet: train one on the Train page, or open a model file.")
            return
        keep = wanted if wanted is not None else current.source if current is not None else None
        index = next((i for i in range(self.model_combo.count()) if self.model_combo.itemData(i).source == keep), 0)
        self.model_combo.setCurrentIndex(index)
        if self.predictor is None or current is None or self.model_combo.itemData(index).source != current.source:
            self._load_selected_model()

    def select_model(self, source: str) -> None:
        """Choose the model whose source (run id, path, imported name) is ``source``, and load it;
        while the list is on its way, once it has come."""
        if self.job("models") is not None:
            self._wanted_source = str(source)
            return
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
        from studio.export.predict_texts import hf_folder_of
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
        folder = hf_folder_of(p)  # config.json or the weights of a Hugging Face folder: a text model
        choice = (ModelChoice(f"Text model folder: {folder.name}", str(folder), "file") if folder is not None
                  else ModelChoice(f"File: {p.name}", str(p), "file", None, trust))
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
        if self.job("model") is not None and self._loading_key == key:
            return  # already on its way (a list refresh or a second click asks again)
        self.predictor, self._loading_key = None, key
        self.table_view.clear_predictor()  # no late prediction of the previous model under "Loading..."
        self.text_view.clear_predictor()
        self.model_status.setText(f"Loading {choice.title}...")
        job = self.run_job("model", load_predictor_job, self.lib, choice.source, device, choice.needs_trust, pool=self.pool)
        job.finished.connect(lambda predictor, key=key, job=job: self._loaded(key, predictor, job))
        job.failed.connect(lambda message, job=job: self.job("model") is job
                           and self.model_status.setText(f"Cannot load the model: {message}"))

    def _loaded(self, key: tuple[str, str], predictor, job) -> None:
        self.predictors[key] = predictor  # kept even when the user has moved on: choosing it again is instant
        if self.job("model") is job or self.job("model") is None:
            chosen = self.model_combo.currentData()
            if chosen is not None and (chosen.source, self.device_combo.currentData()) == key:
                self._use_predictor(predictor)

    def _use_predictor(self, predictor) -> None:
        self.predictor = predictor
        if predictor.kind == "table":
            self._use_table_predictor(predictor)
            return
        if predictor.kind == "text":
            self._use_text_predictor(predictor)
            return
        self.views.setCurrentWidget(self.image_view)
        runtime = RUNTIME_NAMES.get(predictor.kind, predictor.kind)
        self.model_status.setText(f"{predictor.label} - {runtime} on {predictor.device.upper()}, "
                                  f"{len(predictor.classes)} classes ({', '.join(predictor.classes[:8])}"
                                  f"{', ...' if len(predictor.classes) > 8 else ''})")
        for card in self.cards:
            card.set_classes(self.dataset_classes)
        self.model_ready.emit(predictor.label)
        if self.items:  # a new model: the images already tried are predicted again
            self._cancel_predictions()
            self._predict(list(range(len(self.items))))

    def _use_table_predictor(self, predictor) -> None:
        """A table model takes rows, not images: the form of its columns replaces the image view."""
        self.camera.button.setChecked(False)
        self._cancel_predictions()
        self.views.setCurrentWidget(self.table_view)
        outputs = (f"{len(predictor.classes)} classes of {predictor.target_names[0]}" if predictor.task == "classification"
                   else ", ".join(predictor.target_names) + " in their own units")
        self.model_status.setText(f"{predictor.label} - table model, {predictor.runtime} on {predictor.device.upper()}: "
                                  f"predicts {outputs} from {len(predictor.fields())} columns")
        self.table_view.set_predictor(predictor)
        self.model_ready.emit(predictor.label)

    def _use_text_predictor(self, predictor) -> None:
        """A text model takes texts: a box to type them in replaces the image view."""
        from studio.export.play import run_class_colours

        self.camera.button.setChecked(False)
        self._cancel_predictions()
        self.views.setCurrentWidget(self.text_view)
        self.model_status.setText(f"{predictor.label} - text model, {predictor.runtime} on {predictor.device.upper()}: "
                                  f"{len(predictor.classes)} classes ({', '.join(predictor.classes[:8])}"
                                  f"{', ...' if len(predictor.classes) > 8 else ''})")
        choice = self.model_combo.currentData()
        self.text_view.set_predictor(predictor, run_class_colours(self.lib, choice.run_id if choice else None))
        self.model_ready.emit(predictor.label)

    # --- images in --------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        mime = event.mimeData()
        takes_text = self.predictor is not None and self.predictor.kind == "text" and mime.hasText()
        if mime.hasUrls() or mime.hasImage() or takes_text:
            event.acceptProposedAction()

    def dragMoveEvent(self, event) -> None:
        event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        self.add_mime(event.mimeData())
        event.acceptProposedAction()

    def add_mime(self, mime) -> None:
        """What a drop or a paste brings: local files/folders, or image data; a table model
        takes a dropped table file (CSV, TSV, Parquet) to predict every row of."""
        paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
        if self.predictor is not None and self.predictor.kind == "table":
            self.table_view.take_dropped(paths)
        elif self.predictor is not None and self.predictor.kind == "text":
            self.text_view.take_dropped(paths, mime.text() if mime.hasText() and not paths else "")
        elif paths:
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
        job = self.run_job(self._key("expand"), expand_job, [str(p) for p in paths], pool=self.pool)
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
        if self.predictor is not None and self.predictor.kind not in NOT_IMAGES:
            self._predict(list(range(first, len(self.items))))

    def _predict(self, indices: list[int]) -> None:
        job = self.run_job(self._key("predict"), predict_job, self.predictor,
                           [(i, self.items[i]) for i in indices], pool=self.pool)
        job.partial.connect(self._show_result)
        job.finished.connect(lambda _n: self.predictions_done.emit())
        job.failed.connect(lambda message: self.model_status.setText(f"Prediction failed: {message}"))

    def _key(self, kind: str) -> str:
        self._serial += 1
        return f"{kind} {self._serial}"

    def _cancel_predictions(self) -> None:
        for key in [k for k in self._jobs if k.startswith("predict ")]:
            self.cancel_job(key)

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
        self._cancel_predictions()
        for card in self.cards:
            card.deleteLater()
        self.cards, self.items, self.results = [], [], []
        self.drop_hint.setVisible(True)

    # --- add to dataset ---------------------------------------------------------------------
    def _add_to_dataset(self, card: ResultCard, class_id: int) -> None:
        if self.dataset_id is None:
            return
        source = self.items[self.cards.index(card)]
        card.add_button.setEnabled(False)
        name = card.class_combo.currentText()
        job = self.run_job(self._key("add"), add_to_dataset_job, self.lib, self.dataset_id, class_id, source, pool=self.pool)
        job.finished.connect(lambda _sid: card.mark_added(f"Added as {name}"))
        job.failed.connect(lambda message: (card.add_button.setEnabled(True), self.model_status.setText(message)))

    # --- camera -----------------------------------------------------------------------------
    def _predict_frame(self, image) -> None:
        if self.predictor is None or self.predictor.kind in NOT_IMAGES or self.job("camera") is not None:
            return  # drop frames while the previous one is being predicted: always live, never queued
        job = self.run_job("camera", predict_job, self.predictor, [(-1, qimage_to_array(image, 256))], pool=self.pool)
        job.partial.connect(lambda payload: self.camera.show_prediction(payload[1], self.predictor.device))

    def hideEvent(self, event) -> None:
        self.camera.button.setChecked(False)  # no camera running behind the user's back
        super().hideEvent(event)
