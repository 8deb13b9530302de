"""The "Split…" dialog: train/val/test percentages (summing to 100) and a seed."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)


class SplitDialog(QDialog):
    def __init__(self, dataset_name: str, samples: int, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Split dataset")
        intro = QLabel(
            f"Assign the {samples:,} samples of “{dataset_name}” at random to training, "
            "validation and test sets. The same seed gives the same split."
        )
        intro.setWordWrap(True)
        self.train = self._percent(80)
        self.val = self._percent(10)
        self.test = self._percent(10)
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setValue(0)
        form = QFormLayout()
        form.addRow("Train:", self.train)
        form.addRow("Validation:", self.val)
        form.addRow("Test:", self.test)
        form.addRow("Seed:", self.seed)
        self.message = QLabel()
        self.message.setObjectName("split_message")
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Split")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        for box in (self.train, self.val, self.test):
            box.valueChanged.connect(self._validate)
        self._validate()
        self.setMinimumWidth(380)

    @staticmethod
    def _percent(value: int) -> QSpinBox:
        box = QSpinBox()
        box.setRange(0, 100)
        box.setSuffix(" %")
        box.setValue(value)
        return box

    def total(self) -> int:
        return self.train.value() + self.val.value() + self.test.value()

    def is_valid(self) -> bool:
        return self.total() == 100

    def _validate(self) -> None:
        ok = self.is_valid()
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(ok)
        if ok:
            self.message.setText("")
            self.message.setStyleSheet("")
        else:
            self.message.setText(f"The three parts must add up to 100 % (now {self.total()} %).")
            self.message.setStyleSheet("color: #b3261e")

    def fractions(self) -> tuple[float, float, float]:
        return (self.train.value() / 100, self.val.value() / 100, self.test.value() / 100)
