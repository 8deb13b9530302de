"""The Train page: settings on the left, the live view of the running worker on the right.

Pressing Train: (ImageNet weights checked/downloaded in a job, with progress and cancel) ->
``create_run`` in a job -> the worker process ``studio worker train --run ID`` via RunProcess,
whose JSON lines feed the LiveTrainingView. Nothing heavy runs on the GUI thread: even the model
list is loaded in a job because it imports torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QImage, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QProgressDialog,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from studio.train import defaults as train_defaults  # no torch: the engine's own default table
from studio.ui.common.run_process import RunProcess
from studio.ui.training.jobs import (
    TrainChoices,
    augment_preview,
    create_run_job,
    ensure_imagenet_weights,
    load_train_choices,
)
from studio.ui.training.live_view import LiveTrainingView
from studio.ui.common.workers import Job, start_job

if TYPE_CHECKING:
    from studio.store.library import Library

AUTO_MODEL = ""  # the engine picks: simple-cnn for small images, mobilenet_v3_small otherwise
PREVIEW_COUNT = 7
PREVIEW_PX = 64  # each preview tile is half this plus a frame
AUGMENTATIONS = (
    ("flip", "Flip", "Mirror images left-right at random. Only if a mirrored image is still the same "
                     "class: not for digits, letters or text (a mirrored 2 or b is another shape), nor for "
                     "left/right arrows. Off by default."),
    ("crop", "Crop", "Zoom into a random part of each image, so the model does not rely on exact framing. "
                     "Only if a part of an image still shows its class; costs time on every step."),
    ("color", "Colour", "Change brightness, contrast and saturation a little, for varied lighting. Only if "
                        "colour does not decide the class."),
    ("rotate", "Rotate", "Turn images by up to 15 degrees either way. Only if a turned image is still the "
                         "same class (a turned 6 can look like a 9 at larger angles). Off by default."),
)


def _tip(widget: QWidget, text: str) -> QWidget:
    widget.setToolTip(text)
    return widget


class TrainSettings(QWidget):
    """The form. ``spec()`` gives the engine's settings dict (None = let the engine choose)."""

    changed = Signal()
    preview_wanted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.choices = TrainChoices()
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)

        self.dataset = _tip(QComboBox(), "The images to learn from. Each labelled class becomes one "
                                         "output of the model; unlabelled images are ignored.")
        form.addRow("Dataset", self.dataset)

        self.model = _tip(QComboBox(), "The network to train. 'Automatic' picks a small CNN for small "
                                       "images and MobileNetV3 (small) for photos, starting from ImageNet "
                                       "weights; offline without them, the small CNN (a MobileNet from "
                                       "random weights learns little from a few hundred photos).")
        self.model_info = QLabel("")
        self.model_info.setWordWrap(True)
        self.model_info.setStyleSheet("color: #555; font-size: 9pt;")
        form.addRow("Model", self.model)
        form.addRow("", self.model_info)

        self.image_size = _tip(QSpinBox(), "Images are resized to this many pixels square before the model "
                                           "sees them. 'model default' uses the size the model was made for.")
        self.image_size.setRange(0, 1024)
        self.image_size.setSpecialValueText("model default")
        self.image_size.setSuffix(" px")
        form.addRow("Image size", self.image_size)

        self.weights = _tip(QComboBox(), "Where training starts. Automatic: ImageNet weights for photo "
                                         "models (MobileNet, ResNet, ...) when they are cached or can be "
                                         "downloaded, else from scratch (the run says so once and records "
                                         "which start it used); the small CNN always starts from scratch. "
                                         "ImageNet: weights learned from 1.2 million photos (best for photos, "
                                         "needs a one-time download). A previous run: continue from a model "
                                         "you trained. None: start from random.")
        self.weights.addItem("Automatic (ImageNet for photo models when available)", "auto")
        self.weights.addItem("None (train from scratch)", "none")
        self.weights.addItem("ImageNet (pretrained)", "imagenet")
        self.weights.addItem("A previous run…", "run")
        self.parent_run = _tip(QComboBox(), "The finished run whose trained model is the starting point.")
        form.addRow("Starting weights", self.weights)
        form.addRow("", self.parent_run)

        self.freeze = _tip(QComboBox(), "Fine-tune all: every layer learns (best with enough images). "
                                        "Freeze backbone: only the last layer learns (fast, good with "
                                        "few images per class).")
        self.freeze.addItem("Fine-tune all layers", "none")
        self.freeze.addItem("Freeze backbone (train the head only)", "backbone")
        self.unfreeze_after = _tip(QSpinBox(), "With a frozen backbone: unfreeze it after this many epochs "
                                               "(0 = keep it frozen).")
        self.unfreeze_after.setRange(0, 1000)
        self.unfreeze_after.setSpecialValueText("never")
        self.unfreeze_after.setPrefix("unfreeze after ")
        form.addRow("Layers", self.freeze)
        form.addRow("", self.unfreeze_after)

        self.epochs = _tip(QSpinBox(), "How many times training goes through all training images.")
        self.epochs.setRange(1, 10000)
        self.epochs.setValue(train_defaults.DEFAULT_EPOCHS)
        form.addRow("Epochs", self.epochs)

        self.batch_size = _tip(QSpinBox(), "Images per training step. Larger is faster on a GPU but needs "
                                           "more memory; lower it if you run out of memory.")
        self.batch_size.setRange(1, 4096)
        self.batch_size.setValue(train_defaults.DEFAULT_BATCH_SIZE)
        form.addRow("Batch size", self.batch_size)

        self.lr = _tip(QDoubleSpinBox(), "How big each learning step is. 'auto' picks a good value for the "
                                         "optimizer (smaller when fine-tuning). Too high: the loss jumps "
                                         "or becomes NaN; too low: slow progress.")
        self.lr.setDecimals(5)
        self.lr.setRange(0.0, 10.0)
        self.lr.setSingleStep(0.0005)
        self.lr.setSpecialValueText("auto")
        form.addRow("Learning rate", self.lr)

        self.optimizer = _tip(QComboBox(), "The update rule. AdamW works well almost always; SGD with "
                                           "momentum sometimes generalises slightly better.")
        self.optimizer.addItem("AdamW", "adamw")
        self.optimizer.addItem("SGD (momentum)", "sgd")
        form.addRow("Optimizer", self.optimizer)

        self.schedule = _tip(QComboBox(), "How the learning rate changes over the run. One-cycle: warms up, "
                                          "then decays (fast and robust). Cosine: decays smoothly. "
                                          "Constant: never changes.")
        self.schedule.addItem("One-cycle", "onecycle")
        self.schedule.addItem("Cosine decay", "cosine")
        self.schedule.addItem("Constant", "none")
        form.addRow("Schedule", self.schedule)

        aug_box = QWidget()
        aug_row = QHBoxLayout(aug_box)
        aug_row.setContentsMargins(0, 0, 0, 0)
        self.augment: dict[str, QCheckBox] = {}
        for key, title, tip in AUGMENTATIONS:
            box = _tip(QCheckBox(title), tip)
            box.setChecked(key in train_defaults.DEFAULT_AUGMENT)
            box.toggled.connect(self.preview_wanted)
            aug_row.addWidget(box)
            self.augment[key] = box
        aug_row.addStretch(1)
        form.addRow(_tip(QLabel("Augment"), "Random changes to training images each epoch, so the model "
                                            "learns what matters and not the exact pictures. Off by default: "
                                            "switch on only changes that keep every image's class."), aug_box)
        preview_row = QHBoxLayout()
        preview_row.setSpacing(3)
        self.preview_labels: list[QLabel] = []
        for _ in range(PREVIEW_COUNT):
            label = QLabel()
            label.setFixedSize(PREVIEW_PX // 2 + 8, PREVIEW_PX // 2 + 8)
            label.setStyleSheet("background: #f0f0f0; border: 1px solid #ddd;")
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            preview_row.addWidget(label)
            self.preview_labels.append(label)
        self.preview_again = _tip(QPushButton("↻"), "Show other random augmentations.")
        self.preview_again.setFixedWidth(28)
        self.preview_again.clicked.connect(self.preview_wanted)
        preview_row.addWidget(self.preview_again)
        preview_row.addStretch(1)
        preview_box = QWidget()
        preview_box.setLayout(preview_row)
        preview_box.setToolTip("Training images with the chosen augmentation applied, as the model sees them.")
        form.addRow(preview_box)  # spans both columns: the row of thumbnails needs the width

        self.amp = _tip(QComboBox(), "Mixed precision computes in 16-bit where safe: about twice as fast "
                                     "on modern GPUs, same accuracy. 'Auto' uses it on CUDA only.")
        self.amp.addItem("Auto (on for CUDA GPUs)", None)
        self.amp.addItem("On", True)
        self.amp.addItem("Off", False)
        form.addRow("Mixed precision", self.amp)

        self.device = _tip(QComboBox(), "Where training runs. Automatic picks a GPU when there is one. "
                                        "Free memory is shown for each GPU.")
        form.addRow("Device", self.device)

        self.model.currentIndexChanged.connect(self._model_changed)
        self.weights.currentIndexChanged.connect(self._weights_changed)
        self.freeze.currentIndexChanged.connect(self._freeze_changed)
        self.dataset.currentIndexChanged.connect(self.preview_wanted)
        self.image_size.valueChanged.connect(self.preview_wanted)
        self._weights_changed()
        self._freeze_changed()

    # ---- choices ---------------------------------------------------------------------------
    def set_choices(self, choices: TrainChoices) -> None:
        keep_dataset = self.dataset.currentData()
        keep_model = self.model.currentData()
        keep_device = self.device.currentData()
        keep_run = self.parent_run.currentData()
        self.choices = choices
        for combo in (self.dataset, self.model, self.device, self.parent_run):
            combo.blockSignals(True)
            combo.clear()
        for dataset_id, label in choices.datasets:
            self.dataset.addItem(label, dataset_id)
        self.model.addItem("Automatic (recommended)", AUTO_MODEL)
        for entry in choices.models:
            self.model.addItem(entry.name, entry.name)
        for device in choices.devices:
            self.device.addItem(device.label, device.key)
        for run in choices.runs:
            self.parent_run.addItem(run.label, run.run_id)
        for combo, keep in ((self.dataset, keep_dataset), (self.model, keep_model),
                            (self.device, keep_device), (self.parent_run, keep_run)):
            index = combo.findData(keep) if keep is not None else -1
            if index >= 0:
                combo.setCurrentIndex(index)
            combo.blockSignals(False)
        self._model_changed()
        self._weights_changed()
        self.preview_wanted.emit()

    def select_dataset(self, dataset_id: int) -> bool:
        index = self.dataset.findData(int(dataset_id))
        if index >= 0:
            self.dataset.setCurrentIndex(index)
        return index >= 0

    def start_from_run(self, run_id: int) -> bool:
        """Starting weights = that run (its architecture is used)."""
        index = self.parent_run.findData(int(run_id))
        if index < 0:
            return False
        self.weights.setCurrentIndex(self.weights.findData("run"))
        self.parent_run.setCurrentIndex(index)
        model = next((r.model for r in self.choices.runs if r.run_id == run_id), None)
        if model:
            self.model.setCurrentIndex(max(self.model.findData(model), 0))
        return True

    def _model_changed(self) -> None:
        name = self.model.currentData()
        entry = next((e for e in self.choices.models if e.name == name), None)
        if entry is None:
            self.model_info.setText("Picks a small CNN for images up to 64 px, else MobileNetV3 small from "
                                    "ImageNet weights (the small CNN when those are not available).")
        else:
            pretrained = "ImageNet weights available" if entry.pretrained_available else "trains from scratch"
            self.model_info.setText(f"{entry.description}. Default size {entry.default_image_size} px; {pretrained}.")
        imagenet = self.weights.model().item(self.weights.findData("imagenet"))
        if imagenet is not None:
            imagenet.setEnabled(entry is None or entry.pretrained_available)
        self.changed.emit()

    def _weights_changed(self) -> None:
        from_run = self.weights.currentData() == "run"
        self.model.setEnabled(not from_run)  # the run's architecture is used
        self.parent_run.setVisible(from_run)
        self.parent_run.setEnabled(from_run and self.parent_run.count() > 0)
        if from_run and self.parent_run.count() == 0:
            self.parent_run.setPlaceholderText("no finished run yet")
        self.changed.emit()

    def _freeze_changed(self) -> None:
        self.unfreeze_after.setEnabled(self.freeze.currentData() == "backbone")

    # ---- the spec --------------------------------------------------------------------------
    def dataset_id(self) -> int | None:
        return self.dataset.currentData()

    def augmentations(self) -> list[str]:
        return [key for key, box in self.augment.items() if box.isChecked()]

    def pretrained(self) -> str:
        mode = self.weights.currentData()
        if mode == "run":
            run_id = self.parent_run.currentData()
            return str(run_id) if run_id is not None else "none"
        return mode

    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = {
            "model": self.model.currentData() or None,
            "pretrained": self.pretrained(),
            "epochs": self.epochs.value(),
            "batch_size": self.batch_size.value(),
            "lr": self.lr.value() or None,
            "image_size": self.image_size.value() or None,
            "optimizer": self.optimizer.currentData(),
            "schedule": self.schedule.currentData(),
            "freeze": self.freeze.currentData(),
            "unfreeze_after": self.unfreeze_after.value() if self.freeze.currentData() == "backbone" else 0,
            "augment": self.augmentations() or ["none"],
            "amp": self.amp.currentData(),
            "device": self.device.currentData() or "auto",
        }
        if spec["pretrained"].isdigit():
            spec["model"] = None  # the parent run decides the architecture
        return spec

    def preview_size(self) -> int:
        if self.image_size.value():
            return min(self.image_size.value(), 128)
        entry = next((e for e in self.choices.models if e.name == self.model.currentData()), None)
        return min(entry.default_image_size, 128) if entry else 48


def _to_pixmap(image: np.ndarray, size: int) -> QPixmap:
    image = np.ascontiguousarray(image)
    h, w = image.shape[:2]
    qimage = QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    mode = Qt.TransformationMode.FastTransformation if max(h, w) < size // 2 else Qt.TransformationMode.SmoothTransformation
    return QPixmap.fromImage(qimage).scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio, mode)


class TrainPage(QWidget):
    """Settings + Train button + the live view. Emits ``run_started`` / ``run_finished``."""

    run_started = Signal(int)
    run_finished = Signal(int, str)

    def __init__(self, library: Library, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.lib = library
        self.process: RunProcess | None = None
        self._jobs: dict[str, Job] = {}
        self._preview_seed = 0
        self._pending_start: tuple[int, dict] | None = None
        self._preferred_dataset: int | None = None  # the one open on the Datasets page
        self._build()
        self._preview_timer = QTimer(self)
        self._preview_timer.setSingleShot(True)
        self._preview_timer.setInterval(150)  # coalesce quick toggles into one preview job
        self._preview_timer.timeout.connect(self._refresh_preview)
        self.settings.preview_wanted.connect(self._preview_timer.start)
        self.settings.preview_again.clicked.connect(self._next_preview_seed)
        self._loaded = False  # choices load when first shown: they import torch (seconds)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._loaded:
            self._loaded = True
            self.reload_choices()

    def _build(self) -> None:
        root = QHBoxLayout(self)
        split = QSplitter(Qt.Orientation.Horizontal)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(4, 4, 4, 4)
        heading = QLabel("Train a model")
        heading.setStyleSheet("font-size: 13pt; font-weight: 600;")
        left_layout.addWidget(heading)
        self.settings = TrainSettings()
        for combo in self.settings.findChildren(QComboBox):
            # long choices ("Automatic (ImageNet for photo models ...)") must not widen the form past
            # its column: the box shows what fits, the open list shows it whole
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(14)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.settings)
        left_layout.addWidget(scroll, 1)
        self.train_button = QPushButton("Train")
        self.train_button.setToolTip("Start training with these settings in a separate process. "
                                     "The defaults work; you can stop at any time.")
        self.train_button.setMinimumHeight(36)
        self.train_button.setStyleSheet("font-size: 11pt; font-weight: 600;")
        self.train_button.clicked.connect(self.start_training)
        left_layout.addWidget(self.train_button)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        left_layout.addWidget(self.status)
        left.setMinimumWidth(360)

        self.live = LiveTrainingView()
        self.live.run_finished.connect(self._on_run_finished)
        box = QGroupBox("Live training")
        box_layout = QVBoxLayout(box)
        box_layout.addWidget(self.live)
        split.addWidget(left)
        split.addWidget(box)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setSizes([380, 750])
        root.addWidget(split)

    # ---- page hooks ------------------------------------------------------------------------
    def on_shown(self) -> None:
        if not self.is_training():
            self.reload_choices()

    def reload_choices(self) -> None:
        if "choices" in self._jobs:
            return
        job = start_job(load_train_choices, self.lib, parent=self)
        self._jobs["choices"] = job
        job.finished.connect(self.settings.set_choices)
        job.finished.connect(self._choices_loaded)
        job.failed.connect(lambda msg: self._set_status(f"Could not list models: {msg}", error=True))
        job.done.connect(lambda: self._jobs.pop("choices", None))

    def prefer_dataset(self, dataset_id: int | None) -> None:
        """Select the dataset the user has open on the Datasets page (now, or when the list loads)."""
        self._preferred_dataset = dataset_id
        if dataset_id is not None and not self.is_training():
            self.settings.select_dataset(dataset_id)

    def _choices_loaded(self, choices: TrainChoices) -> None:
        if not choices.datasets:
            self._set_status("No dataset yet: import one on the Datasets page first.", error=True)
        if self._preferred_dataset is not None and not self.is_training():
            self.settings.select_dataset(self._preferred_dataset)
        if self._pending_start is not None:
            kind, value = self._pending_start
            if kind == "run":
                if not self.settings.start_from_run(value["run_id"]):
                    value["tries"] = value.get("tries", 0) + 1
                    if value["tries"] <= 2:  # a list loaded before that run finished: once more
                        QTimer.singleShot(300, self.reload_choices)
                        return
                    self._set_status(f"Run {value['run_id']} has no trained model to start from.", error=True)
                elif value.get("dataset_id") is not None:
                    self.settings.select_dataset(value["dataset_id"])
            self._pending_start = None

    def fine_tune_from(self, run_id: int, dataset_id: int | None = None) -> None:
        """Preset starting weights = ``run_id`` (called by the Runs and Evaluate views)."""
        self._pending_start = ("run", {"run_id": int(run_id), "dataset_id": dataset_id})
        self.reload_choices()  # the run list may be stale; applied when it arrives

    # ---- augment preview -------------------------------------------------------------------
    def _next_preview_seed(self) -> None:
        self._preview_seed += 1

    def _refresh_preview(self) -> None:
        dataset_id = self.settings.dataset_id()
        if dataset_id is None:
            return
        old = self._jobs.pop("preview", None)
        if old is not None:
            old.cancel()
        job = start_job(augment_preview, self.lib, dataset_id, self.settings.augmentations(),
                        self.settings.preview_size(), len(self.settings.preview_labels), self._preview_seed,
                        parent=self)
        self._jobs["preview"] = job
        job.finished.connect(lambda images, j=job: self._show_preview(j, images))
        job.failed.connect(lambda msg: self.settings.preview_again.setToolTip(f"Preview failed: {msg}"))

    def _show_preview(self, job: Job, images: list) -> None:
        if self._jobs.get("preview") is not job:
            return  # a newer preview is on its way
        for label, image in zip(self.settings.preview_labels, images + [None] * len(self.settings.preview_labels)):
            if image is None:
                label.clear()
            else:
                label.setPixmap(_to_pixmap(image, label.width() - 4))

    # ---- training --------------------------------------------------------------------------
    def is_training(self) -> bool:
        return self.process is not None and self.process.is_running()

    def _set_status(self, text: str, error: bool = False) -> None:
        self.status.setStyleSheet("color: #b00020;" if error else "color: #333;")
        self.status.setText(text)

    def start_training(self) -> None:
        if self.is_training() or "create" in self._jobs or "weights" in self._jobs:
            return
        dataset_id = self.settings.dataset_id()
        if dataset_id is None:
            self._set_status("Choose a dataset first (import one on the Datasets page).", error=True)
            return
        spec = self.settings.spec()
        self.train_button.setEnabled(False)
        if spec["pretrained"] == "imagenet":
            self._ensure_weights(dataset_id, spec)
        else:
            self._create_run(dataset_id, spec)

    def _ensure_weights(self, dataset_id: int, spec: dict) -> None:
        model = spec["model"] or "mobilenet_v3_small"
        spec = {**spec, "model": model}
        self._set_status(f"Checking ImageNet weights for {model}…")
        job = start_job(ensure_imagenet_weights, model, parent=self)
        self._jobs["weights"] = job
        dialog = QProgressDialog(f"Downloading ImageNet weights for {model}…", "Cancel", 0, 1000, self)
        dialog.setWindowTitle("Pretrained weights")
        dialog.setMinimumDuration(400)  # a file already there never shows the dialog
        dialog.setAutoClose(False)
        dialog.setAutoReset(False)
        self.download_dialog = dialog
        dialog.canceled.connect(job.cancel)
        job.progress.connect(lambda f, msg: (dialog.setValue(int(f * 1000)), dialog.setLabelText(
            f"Downloading ImageNet weights for {model}: {msg}")))

        def finish() -> None:
            self._jobs.pop("weights", None)
            dialog.canceled.disconnect()
            dialog.cancel()  # also stops its show-after-400-ms timer (close() alone does not)
            dialog.deleteLater()

        job.done.connect(finish)
        job.finished.connect(lambda _path: self._create_run(dataset_id, spec))
        job.cancelled.connect(lambda: self._abort("Download cancelled; nothing was trained."))
        job.failed.connect(lambda msg: self._weights_missing(dataset_id, spec, msg))

    def _weights_missing(self, dataset_id: int, spec: dict, message: str) -> None:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("ImageNet weights not available")
        box.setText(message)
        scratch = box.addButton("Train from scratch", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        self.weights_box = box
        box.finished.connect(lambda _r: self._after_weights_box(box, scratch, dataset_id, spec))
        box.open()

    def _after_weights_box(self, box: QMessageBox, scratch, dataset_id: int, spec: dict) -> None:
        if box.clickedButton() is scratch:
            self.settings.weights.setCurrentIndex(self.settings.weights.findData("none"))
            self._create_run(dataset_id, {**spec, "pretrained": "none"})
        else:
            self._abort("Not started: the ImageNet weights are missing.")

    def _create_run(self, dataset_id: int, spec: dict) -> None:
        self._set_status("Preparing the run…")
        job = start_job(create_run_job, self.lib, dataset_id, spec, parent=self)
        self._jobs["create"] = job
        job.finished.connect(self.start_worker)
        job.failed.connect(lambda msg: self._abort(msg))
        job.done.connect(lambda: self._jobs.pop("create", None))

    def _abort(self, message: str) -> None:
        self._set_status(message, error=True)
        self.train_button.setEnabled(True)

    def start_worker(self, run_id: int, resume: bool = False) -> RunProcess:
        """Start (or resume) run ``run_id`` in its worker process and follow it live."""
        if self.process is not None and not self.process.is_running():
            self.process.deleteLater()  # the previous, finished run's process object
        proc = RunProcess(self)
        self.process = proc
        proc.stderr_line.connect(self._on_stderr)
        self.live.attach(proc, f"Run {run_id}: starting…")
        if resume:  # draw what the run recorded before, then let the worker continue the curves
            from studio.train.history import run_history

            job = start_job(run_history, self.lib, int(run_id), parent=self)
            job.finished.connect(self.live.show_history)
            job.done.connect(lambda: proc.start_training(self.lib.home, int(run_id), resume=True))
        else:
            proc.start_training(self.lib.home, int(run_id), resume=False)
        self.train_button.setEnabled(False)
        self._set_status(f"Run {run_id} {'resumed' if resume else 'started'}.")
        self.run_started.emit(int(run_id))
        return proc

    def _on_stderr(self, line: str) -> None:
        if line.startswith("studio: error:"):
            self._set_status(line.removeprefix("studio: error:").strip(), error=True)

    def _on_run_finished(self, run_id: int, status: str) -> None:
        self.train_button.setEnabled(True)
        m = self.live.model
        if status == "failed":
            self._set_status(f"Run {run_id} failed: {m.message or 'see the Runs view'}", error=True)
        else:
            self._set_status(f"Run {run_id} {status}.")
        self.run_finished.emit(run_id, status)
        self.reload_choices()

    # ---- closing ---------------------------------------------------------------------------
    def confirm_close(self) -> bool:
        """Asked before the window closes. False = the user cancelled closing."""
        if not self.is_training():
            return True
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Training is running")
        box.setText("A training run is still going. Stop it, or keep it running in the background?")
        box.setInformativeText("A background run keeps saving its progress; the Runs view shows it "
                               "next time.")
        stop = box.addButton("Stop training", QMessageBox.ButtonRole.DestructiveRole)
        keep = box.addButton("Keep running", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        clicked = box.clickedButton()
        if clicked is stop:
            self.stop_and_wait()
            return True
        if clicked is keep:
            self.keep_in_background()
            return True
        return False

    def stop_and_wait(self, msecs: int = 20000) -> None:
        if self.process is not None and self.process.is_running():
            self.process.request_stop()
            if not self.process.wait(msecs):
                self.process.terminate()
                self.process.wait(5000)

    def keep_in_background(self) -> None:
        if self.process is not None:
            self.live.detach()
            self.process.detach()
            self.process = None

    def shutdown(self) -> None:
        """The window is closing. A run still attached here (the user was not asked, or chose
        Stop) is stopped cleanly: destroying the QProcess would otherwise kill it mid-step."""
        self.stop_and_wait()
        for job in list(self._jobs.values()):
            job.cancel()
        for plot in (self.live.loss_plot, self.live.acc_plot, self.live.lr_plot):
            plot.stop_updates()
