"""The "Input pictures" box of the kernel lab: one picker per image input of the current kernel,
offering the bundled pictures, a file, or a random sample of an image dataset of the library.
The chosen pictures are kept per input name, so switching between kernels with the same input
keeps what the user picked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QInputDialog,
    QWidget,
)

from studio.core.errors import StudioError
from studio.kernels.input_images import (
    IMAGE_SUFFIXES,
    bundled_images,
    load_image,
    load_sample_image,
)
from studio.kernels.registry import KernelSpec
from studio.store import picking

CHOOSE_FILE, CHOOSE_SAMPLE, CURRENT = "file", "sample", "current"


class InputPictures(QGroupBox):
    changed = Signal()  # a picture was chosen: run again
    error = Signal(str)  # one line for the user

    def __init__(self, library=None, parent: QWidget | None = None):
        super().__init__("Input pictures", parent)
        self.library = library
        self.form = QFormLayout(self)
        self.inputs: dict[str, Any] = {}  # input name -> H x W x 3 tensor
        self.input_labels: dict[str, str] = {}
        self.input_combos: dict[str, QComboBox] = {}

    def build(self, spec: KernelSpec) -> None:
        """One picker per input of ``spec``; inputs it does not have are forgotten."""
        while self.form.rowCount():
            self.form.removeRow(0)
        self.setVisible(bool(spec.inputs))
        self.input_combos = {}
        self.inputs = {k: v for k, v in self.inputs.items() if k in spec.inputs}
        for name in spec.inputs:
            combo = self._picker(name, spec.meta.samples.get(name))
            if name not in self.inputs and combo.currentData() not in (CHOOSE_FILE, CHOOSE_SAMPLE):
                self._set_from_path(name, combo.currentData(), announce=False)
            self.input_combos[name] = combo
            self.form.addRow(name, combo)

    def _picker(self, name: str, sample: str | None) -> QComboBox:
        combo = QComboBox()
        combo.setObjectName(f"input_{name}")
        combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        combo.setMinimumContentsLength(8)  # long file names must not squeeze the row's label away
        for path in bundled_images():
            combo.addItem(path.name, str(path))
        combo.addItem("File…", CHOOSE_FILE)
        if self.library is not None:
            combo.addItem("Dataset sample…", CHOOSE_SAMPLE)
        if sample and combo.findText(sample) >= 0:
            combo.setCurrentIndex(combo.findText(sample))
        label = self.input_labels.get(name)
        if label and name in self.inputs and combo.findText(label) < 0:
            combo.insertItem(0, label, CURRENT)
            combo.setCurrentIndex(0)
        combo.activated.connect(lambda _index, n=name, c=combo: self._on_choice(n, c))
        return combo

    def _set_from_path(self, name: str, path: str, announce: bool = True) -> bool:
        try:
            self.inputs[name] = load_image(path)
        except StudioError as exc:
            self.error.emit(str(exc))
            return False
        self.input_labels[name] = Path(path).name
        if announce:
            self.changed.emit()
        return True

    def _on_choice(self, name: str, combo: QComboBox) -> None:
        choice = combo.currentData()
        if choice == CHOOSE_FILE:
            pattern = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
            path, _ = QFileDialog.getOpenFileName(self, f"Picture for {name}", "", f"Images ({pattern})")
            if path and self._set_from_path(name, path):
                combo.insertItem(0, Path(path).name, path)
                combo.setCurrentIndex(0)
        elif choice == CHOOSE_SAMPLE:
            self.choose_dataset_sample(name)
        elif choice and choice != CURRENT:
            self._set_from_path(name, choice)

    def choose_dataset_sample(self, name: str, dataset_name: str | None = None) -> None:
        """Use a random picture of a dataset (asked for when not given) as input ``name``."""
        with self.library.session() as s:
            by_name = picking.image_dataset_ids(s)
        if not by_name:
            self.error.emit("the library has no image datasets yet; import one on the Datasets page")
            return
        if dataset_name is None:
            dataset_name, ok = QInputDialog.getItem(self, "Dataset sample", "Dataset:", sorted(by_name), 0, False)
            if not ok:
                return
        sample_id = None
        if dataset_name in by_name:
            with self.library.session() as s:
                sample_id = picking.random_sample_id(s, by_name[dataset_name])
        if sample_id is None:
            self.error.emit(f"dataset {dataset_name!r} has no samples")
            return
        try:
            self.inputs[name] = load_sample_image(self.library, sample_id)
        except StudioError as exc:
            self.error.emit(str(exc))
            return
        label = f"{dataset_name} #{sample_id}"
        self.input_labels[name] = label
        combo = self.input_combos.get(name)
        if combo is not None:
            combo.insertItem(0, label, CURRENT)
            combo.setCurrentIndex(0)
        self.changed.emit()
