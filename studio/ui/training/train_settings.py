"""The Train page's settings form. Its labels, tooltips, choices, ranges and defaults come from the
fields of ``TrainSpec`` (studio/train/spec.py), the table the CLI and the engine use too;
``train_spec()`` gives the typed settings and checks them the same way. The form shows the
settings that apply to the chosen dataset's kind (``Setting.kinds``): the model zoo, image size,
starting weights and augmentation for images; the network's layers for tables; the pretrained
encoder and the max length for texts.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRegularExpression, Signal
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from studio.train.spec import (
    AUGMENT_LABELS,
    AUGMENT_TIPS,
    IMAGE,
    TABLE,
    TEXT,
    Augmentation,
    Auto,
    Freeze,
    FromRun,
    ImageNet,
    Scratch,
    StartFrom,
    TrainSpec,
    applies_to,
    default,
    parse_start,
    setting_info,
)
from studio.ui.training.jobs import TrainChoices
from studio.ui.training.kernel_transforms import KernelTransformsBox
from studio.ui.training.thumbnails import PreviewRow

AUTO_MODEL = ""  # the engine picks: simple-cnn for small images, mobilenet_v3_small otherwise
FROM_RUN = "run"  # the "A previous run…" item: the run comes from the second combo
START_LABELS = ((Auto(), "Automatic (ImageNet for photo models when available)"), (Scratch(), "None (train from scratch)"),
                (ImageNet(), "ImageNet (pretrained)"))


def _tip(widget: QWidget, text: str) -> QWidget:
    widget.setToolTip(text)
    return widget


def _spin(name: str, special: str = "") -> QSpinBox:
    """A spin box over the setting's range; ``special`` names its lowest value (= the engine decides)."""
    info = setting_info(name)
    box = _tip(QSpinBox(), info.tooltip)
    box.setRange(0 if special else int(info.low or 0), int(info.high or 2**31 - 1))
    box.setValue(default(name) or 0)
    if special:
        box.setSpecialValueText(special)
    return box


def _choices(name: str) -> QComboBox:
    """A combo box of the setting's allowed values, labelled for people, the default selected."""
    info = setting_info(name)
    combo = _tip(QComboBox(), info.tooltip)
    for value, label in info.choice_labels.items():
        combo.addItem(label, value)
    combo.setCurrentIndex(combo.findData(default(name)))
    return combo


class TrainSettings(QWidget):
    """The form. ``train_spec()`` gives the typed settings (None = let the engine choose)."""

    changed = Signal()
    preview_wanted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.choices = TrainChoices()
        self.form = QFormLayout(self)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self._build_data_and_model()
        self._build_text()
        self._build_network()
        self._build_optimisation()
        self._build_augmentation()
        self.amp = _tip(QComboBox(), setting_info("amp").tooltip)
        for label, value in (("Auto (on for CUDA GPUs)", None), ("On", True), ("Off", False)):
            self.amp.addItem(label, value)
        self.form.addRow(setting_info("amp").label, self.amp)
        self.device = _tip(QComboBox(), setting_info("device").tooltip)
        self.form.addRow(setting_info("device").label, self.device)
        # the rows each setting's kinds show them for (the model's note and the kernels go with images)
        self._rows_by_setting = {
            "model": (self.model, self.model_info), "image_size": (self.image_size,), "freeze": (self.freeze, self.unfreeze_after),
            "augment": (self.augment_row, self.preview), "kernel_transforms": (self.kernels,), "amp": (self.amp,),
            "hidden": (self.hidden,), "activation": (self.activation,), "dropout": (self.dropout,),
            "batch_norm": (self.batch_norm,), "encoder": (self.encoder_row,), "max_length": (self.max_length,),
            "optimizer": (self.optimizer,), "schedule": (self.schedule,)}

        self.model.currentIndexChanged.connect(self._model_changed)
        self.weights.currentIndexChanged.connect(self._weights_changed)
        self.freeze.currentIndexChanged.connect(self._freeze_changed)
        self.dataset.currentIndexChanged.connect(self._dataset_changed)
        self.image_size.valueChanged.connect(self.preview_wanted)
        self._show_rows_for_kind()
        self._freeze_changed()

    def _build_data_and_model(self) -> None:
        form = self.form
        self.dataset = _tip(QComboBox(), "The data to learn from. Images: each labelled class becomes one output "
                                         "of the model; unlabelled images are ignored. Tables: the target "
                                         "column(s) chosen on the Datasets page are learnt from the others.")
        form.addRow("Dataset", self.dataset)
        self.model = _tip(QComboBox(), setting_info("model").tooltip)
        self.model_info = QLabel("")
        self.model_info.setWordWrap(True)
        self.model_info.setStyleSheet("color: #555; font-size: 9pt;")
        form.addRow(setting_info("model").label, self.model)
        form.addRow("", self.model_info)
        self.image_size = _spin("image_size", special="model default")
        self.image_size.setSuffix(" px")
        form.addRow(setting_info("image_size").label, self.image_size)
        self.weights = _tip(QComboBox(), setting_info("pretrained").tooltip)
        for start, label in START_LABELS:
            self.weights.addItem(label, start.text)
        self.weights.addItem("A previous run…", FROM_RUN)
        self.parent_run = _tip(QComboBox(), "The finished run whose trained model is the starting point.")
        form.addRow(setting_info("pretrained").label, self.weights)
        form.addRow("", self.parent_run)
        self.freeze = _choices("freeze")
        self.unfreeze_after = _spin("unfreeze_after", special="never")
        self.unfreeze_after.setPrefix("unfreeze after ")
        form.addRow(setting_info("freeze").label, self.freeze)
        form.addRow("", self.unfreeze_after)

    def _build_text(self) -> None:
        """The pretrained encoder of a text dataset: the default, a folder, or a Hub name."""
        info = setting_info("encoder")
        self.encoder = _tip(QLineEdit(), info.tooltip)
        self.encoder.setPlaceholderText("default (all-MiniLM-L6-v2, works offline)")
        pick = _tip(QPushButton("Folder…"), "Pick a Hugging Face model folder (config.json, safetensors, tokenizer).")
        pick.clicked.connect(self._pick_encoder_folder)
        self.encoder_row = QWidget()
        row = QHBoxLayout(self.encoder_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.encoder, 1)
        row.addWidget(pick)
        self.form.addRow(info.label, self.encoder_row)
        self.max_length = _spin("max_length")
        self.max_length.setSuffix(" tokens")
        self.form.addRow(setting_info("max_length").label, self.max_length)

    def _pick_encoder_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Hugging Face model folder", self.encoder.text())
        if folder:
            self.encoder.setText(folder)

    def _build_network(self) -> None:
        """The feed-forward network of a table dataset."""
        info = setting_info("hidden")
        self.hidden = _tip(QLineEdit(",".join(map(str, default("hidden")))), info.tooltip)
        self.hidden.setValidator(QRegularExpressionValidator(QRegularExpression(r"^\s*(\d+\s*(,\s*\d*\s*)*)?$")))
        self.hidden.setPlaceholderText("none (a linear model)")
        self.form.addRow(info.label, self.hidden)
        self.activation = _choices("activation")
        self.form.addRow(setting_info("activation").label, self.activation)
        info = setting_info("dropout")
        self.dropout = _tip(QDoubleSpinBox(), info.tooltip)
        self.dropout.setRange(info.low, info.high)
        self.dropout.setSingleStep(0.05)
        self.dropout.setValue(default("dropout"))
        self.dropout.setSpecialValueText("off")
        self.form.addRow(info.label, self.dropout)
        info = setting_info("batch_norm")
        self.batch_norm = _tip(QCheckBox("after each hidden layer"), info.tooltip)
        self.batch_norm.setChecked(default("batch_norm"))
        self.form.addRow(info.label, self.batch_norm)

    def _build_optimisation(self) -> None:
        self.epochs = _spin("epochs", special="automatic")
        self.form.addRow(setting_info("epochs").label, self.epochs)
        self.batch_size = _spin("batch_size", special="automatic")
        self.form.addRow(setting_info("batch_size").label, self.batch_size)
        info = setting_info("lr")
        self.lr = _tip(QDoubleSpinBox(), info.tooltip)
        self.lr.setDecimals(5)
        self.lr.setRange(info.low, info.high)
        self.lr.setSingleStep(0.0005)
        self.lr.setSpecialValueText("auto")
        self.form.addRow(info.label, self.lr)
        self.optimizer = _choices("optimizer")
        self.form.addRow(setting_info("optimizer").label, self.optimizer)
        self.schedule = _choices("schedule")
        self.form.addRow(setting_info("schedule").label, self.schedule)
        info = setting_info("early_stopping")
        self.early_stopping = _tip(QSpinBox(), info.tooltip + " 0 = off.")
        self.early_stopping.setRange(-1, int(info.high))  # -1: automatic
        self.early_stopping.setValue(-1)
        self.early_stopping.setSpecialValueText("automatic")
        self.early_stopping.setSuffix(" epochs")
        self.form.addRow(info.label, self.early_stopping)

    def _build_augmentation(self) -> None:
        aug_box = QWidget()
        aug_row = QHBoxLayout(aug_box)
        aug_row.setContentsMargins(0, 0, 0, 0)
        self.augment: dict[str, QCheckBox] = {}
        for aug in Augmentation:
            box = _tip(QCheckBox(AUGMENT_LABELS[aug]), AUGMENT_TIPS[aug])
            box.setChecked(aug in default("augment"))
            box.toggled.connect(self.preview_wanted)
            aug_row.addWidget(box)
            self.augment[aug.value] = box
        aug_row.addStretch(1)
        info = setting_info("augment")
        self.augment_row = aug_box
        self.form.addRow(_tip(QLabel(info.label), info.tooltip), aug_box)
        self.preview = PreviewRow("Training images with the chosen augmentation applied, as the model sees them.")
        self.preview_labels = self.preview.labels
        self.preview_again = _tip(QPushButton("↻"), "Show other random augmentations.")
        self.preview_again.setFixedWidth(28)
        self.preview_again.clicked.connect(self.preview_wanted)
        self.preview.row.addWidget(self.preview_again)
        self.preview.row.addStretch(1)
        self.form.addRow(self.preview)  # spans both columns: the row of thumbnails needs the width
        self.kernels = KernelTransformsBox()
        self.form.addRow(self.kernels)

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
        self._show_rows_for_kind()
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
        self.weights.setCurrentIndex(self.weights.findData(FROM_RUN))
        self.parent_run.setCurrentIndex(index)
        model = next((r.model for r in self.choices.runs if r.run_id == run_id), None)
        if model:
            self.model.setCurrentIndex(max(self.model.findData(model), 0))
        return True

    def start_from(self, start: StartFrom) -> None:
        """Select a named start (Automatic, None, ImageNet)."""
        self.weights.setCurrentIndex(self.weights.findData(start.text))

    def _model_changed(self) -> None:
        name = self.model.currentData()
        entry = next((e for e in self.choices.models if e.name == name), None)
        if entry is None:
            self.model_info.setText("Picks a small CNN for images up to 64 px, else MobileNetV3 small from "
                                    "ImageNet weights (the small CNN when those are not available).")
        else:
            pretrained = "ImageNet weights available" if entry.pretrained_available else "trains from scratch"
            self.model_info.setText(f"{entry.description}. Default size {entry.default_image_size} px; {pretrained}.")
        imagenet = self.weights.model().item(self.weights.findData(ImageNet.text))
        if imagenet is not None:
            imagenet.setEnabled(entry is None or entry.pretrained_available)
        self.changed.emit()

    def _dataset_changed(self) -> None:
        self._show_rows_for_kind()
        self.preview_wanted.emit()
        self.changed.emit()

    def dataset_kind(self) -> str:
        """The chosen dataset's kind: "image", "table" or "text"."""
        return self.choices.dataset_kinds.get(self.dataset_id(), IMAGE)

    def _show_rows_for_kind(self) -> None:
        """Only the settings that apply to the chosen dataset's kind are shown."""
        kind = self.dataset_kind()
        for name, widgets in self._rows_by_setting.items():
            for widget in widgets:
                self.form.setRowVisible(widget, applies_to(name, kind))
        self.form.setRowVisible(self.weights, kind == IMAGE)
        self._weights_changed()

    def _weights_changed(self) -> None:
        from_run = self.weights.currentData() == FROM_RUN
        self.model.setEnabled(not from_run)  # the run's architecture is used
        self.form.setRowVisible(self.parent_run, from_run and self.dataset_kind() == IMAGE)
        self.parent_run.setEnabled(from_run and self.parent_run.count() > 0)
        if from_run and self.parent_run.count() == 0:
            self.parent_run.setPlaceholderText("no finished run yet")
        self.changed.emit()

    def _freeze_changed(self) -> None:
        self.unfreeze_after.setEnabled(self.freeze.currentData() == Freeze.BACKBONE)

    # ---- the spec --------------------------------------------------------------------------
    def dataset_id(self) -> int | None:
        return self.dataset.currentData()

    def augmentations(self) -> list[str]:
        return [key for key, box in self.augment.items() if box.isChecked()]

    def start(self) -> StartFrom:
        if self.weights.currentData() == FROM_RUN:
            run_id = self.parent_run.currentData()
            return FromRun(run_id) if run_id is not None else Scratch()
        return parse_start(self.weights.currentData())

    def pretrained(self) -> str:
        """The start as a run stores it (``auto``, a run id, ...)."""
        return self.start().text

    def train_spec(self) -> TrainSpec:
        """The typed settings of the chosen dataset's kind (the other kind's stay at their defaults),
        checked against the TrainSpec ranges (InvalidInputError says what is wrong)."""
        kind = self.dataset_kind()
        values: dict[str, Any] = {
            "epochs": self.epochs.value() or None,
            "batch_size": self.batch_size.value() or None,
            "lr": self.lr.value() or None,
            "early_stopping": self.early_stopping.value() if self.early_stopping.value() >= 0 else None,
            "device": self.device.currentData() or "auto",
        }
        if kind != TEXT:  # texts: AdamW with warm-up then linear decay, as BERT is fine-tuned
            values.update(optimizer=self.optimizer.currentData(), schedule=self.schedule.currentData())
        values.update({TABLE: self._table_values, TEXT: self._text_values}.get(kind, self._image_values)())
        return TrainSpec.from_dict(values, strict=True)

    def _image_values(self) -> dict[str, Any]:
        start = self.start()
        freeze = Freeze(self.freeze.currentData())
        return {
            "model": None if isinstance(start, FromRun) else self.model.currentData() or None,  # a run decides
            "pretrained": start,
            "image_size": self.image_size.value() or None,
            "freeze": freeze,
            "unfreeze_after": self.unfreeze_after.value() if freeze is Freeze.BACKBONE else 0,
            "augment": self.augmentations(),
            "amp": self.amp.currentData(),
            "kernel_transforms": self.kernels.transforms(),
        }

    def _table_values(self) -> dict[str, Any]:
        return {"hidden": self.hidden.text().strip().strip(",") or "none", "activation": self.activation.currentData(),
                "dropout": self.dropout.value(), "batch_norm": self.batch_norm.isChecked()}

    def _text_values(self) -> dict[str, Any]:
        freeze = Freeze(self.freeze.currentData())
        return {"encoder": self.encoder.text().strip() or "default", "max_length": self.max_length.value(),
                "freeze": freeze, "unfreeze_after": self.unfreeze_after.value() if freeze is Freeze.BACKBONE else 0,
                "amp": self.amp.currentData()}

    def spec(self) -> dict[str, Any]:
        """The settings as a run stores them."""
        return self.train_spec().to_dict()

    def preview_size(self) -> int:
        if self.image_size.value():
            return min(self.image_size.value(), 128)
        entry = next((e for e in self.choices.models if e.name == self.model.currentData()), None)
        return min(entry.default_image_size, 128) if entry else 48
