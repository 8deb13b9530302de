"""Controls generated from a kernel's parameter specs: sliders with value boxes (linear or log),
spin boxes, check boxes, combo boxes, colour pickers. ``changed`` carries the full value dict each
time the user moves something; ``set_values`` updates the widgets without emitting."""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QWidget,
)

from studio.kernels.api import colour_hex, parse_colour
from studio.kernels.params import BOOL, CHOICE, COLOUR, FLOAT, INT, SLIDER, ParamSpec

SLIDER_STEPS = 1000


class CompactDoubleSpinBox(QDoubleSpinBox):
    """Shows values with up to 15 significant digits ("%g"): -0.743643887037151 and 1e-10 both
    fit and keep the precision deep zooms need, 0.5 stays 0.5."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setDecimals(17)

    def textFromValue(self, value: float) -> str:  # noqa: N802 - Qt override
        return f"{value:.15g}"

    def valueFromText(self, text: str) -> float:  # noqa: N802
        try:
            return float(text)
        except ValueError:
            return self.value()

    def validate(self, text: str, pos: int):
        from PySide6.QtGui import QValidator

        stripped = text.strip()
        if stripped in ("", "-", "+", ".", "-.", "e", "-e") or stripped.endswith(("e", "e-", "e+")):
            return QValidator.State.Intermediate, text, pos
        try:
            float(stripped)
        except ValueError:
            return QValidator.State.Invalid, text, pos
        return QValidator.State.Acceptable, text, pos


def slider_precision(value: float, low: float, high: float, log: bool) -> float:
    """A slider position only means as many digits as one slider step: round to those, so a
    slider shows 0 rather than 1.6e-16 and -0.6663 rather than -0.666288000000001."""
    if log:
        return float(f"{value:.4g}")
    step = (high - low) / SLIDER_STEPS
    decimals = max(0, 1 - math.floor(math.log10(step))) if step > 0 else 6
    return round(value, decimals) + 0.0  # + 0.0: no "-0"


class SliderControl(QWidget):
    """A slider (0..SLIDER_STEPS, mapped linearly or logarithmically) beside an exact value box."""

    valueChanged = Signal(object)  # noqa: N815 - Qt naming

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None):
        super().__init__(parent)
        self.spec = spec
        self.is_int = spec.type is int
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, SLIDER_STEPS)
        if self.is_int:
            self.box: QSpinBox | QDoubleSpinBox = QSpinBox()
            self.box.setRange(int(spec.low), int(spec.high))
        else:
            self.box = CompactDoubleSpinBox()
            self.box.setRange(spec.low, spec.high)
            self.box.setSingleStep(spec.step or (spec.high - spec.low) / 100)
            if spec.log:
                self.box.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        self.box.setKeyboardTracking(False)
        # room for ~10 characters; a longer deep-zoom coordinate scrolls and shows whole in the tooltip
        self.box.setFixedWidth(self.box.fontMetrics().horizontalAdvance("-0.74364388") + 22)
        self.slider.setMinimumWidth(30)
        row.addWidget(self.slider, 1)
        row.addWidget(self.box)
        self._syncing = False
        self.slider.valueChanged.connect(self._from_slider)
        self.box.valueChanged.connect(self._from_box)
        self.set_value(spec.default)

    def _to_pos(self, value: float) -> int:
        lo, hi = self.spec.low, self.spec.high
        if self.spec.log:
            t = (math.log(max(value, lo)) - math.log(lo)) / (math.log(hi) - math.log(lo))
        else:
            t = (value - lo) / (hi - lo)
        return round(min(max(t, 0.0), 1.0) * SLIDER_STEPS)

    def _from_pos(self, pos: int) -> float:
        lo, hi = self.spec.low, self.spec.high
        t = pos / SLIDER_STEPS
        value = math.exp(math.log(lo) + t * (math.log(hi) - math.log(lo))) if self.spec.log else lo + t * (hi - lo)
        if self.is_int:
            return round(value)
        return min(max(slider_precision(value, lo, hi, self.spec.log), lo), hi)

    def value(self) -> Any:
        return int(self.box.value()) if self.is_int else float(self.box.value())

    def set_value(self, value: Any) -> None:
        self._syncing = True
        try:
            self.box.setValue(value)
            self.slider.setValue(self._to_pos(float(value)))
        finally:
            self._syncing = False

    def _from_slider(self, pos: int) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            self.box.setValue(self._from_pos(pos))
        finally:
            self._syncing = False
        self.valueChanged.emit(self.value())

    def _from_box(self, _value) -> None:
        self.box.setToolTip(self.box.textFromValue(self.box.value()))
        if self._syncing:
            return
        self._syncing = True
        try:
            self.slider.setValue(self._to_pos(float(self.box.value())))
        finally:
            self._syncing = False
        self.valueChanged.emit(self.value())


class ColourControl(QPushButton):
    valueChanged = Signal(object)  # noqa: N815

    def __init__(self, spec: ParamSpec, parent: QWidget | None = None):
        super().__init__(parent)
        self._rgb = spec.default
        self.clicked.connect(self._pick)
        self._paint()

    def _paint(self) -> None:
        hexcode = colour_hex(self._rgb)
        text_colour = "#000" if sum(self._rgb) > 1.5 else "#fff"
        self.setText(hexcode)
        self.setStyleSheet(f"QPushButton {{ background: {hexcode}; color: {text_colour}; padding: 3px 10px; }}")

    def value(self) -> tuple[float, float, float]:
        return self._rgb

    def set_value(self, value) -> None:
        self._rgb = parse_colour(value)
        self._paint()

    def _pick(self) -> None:
        colour = QColorDialog.getColor(QColor(colour_hex(self._rgb)), self, "Pick a colour")
        if colour.isValid():
            self.set_value(colour.name())
            self.valueChanged.emit(self._rgb)


class ParamPanel(QWidget):
    changed = Signal(dict)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.form = QFormLayout(self)
        self.form.setContentsMargins(4, 4, 4, 4)
        self.form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.specs: list[ParamSpec] = []
        self.widgets: dict[str, QWidget] = {}
        self._quiet = False

    def build(self, specs: list[ParamSpec], values: dict[str, Any] | None = None) -> None:
        while self.form.rowCount():
            self.form.removeRow(0)
        self.specs = list(specs)
        self.widgets = {}
        for spec in specs:
            widget = self._make(spec)
            widget.setToolTip(f"{spec.name} ({spec.control}" + (f", {spec.low:g} .. {spec.high:g}" if spec.low is not None else "") + ")")
            widget.setObjectName(f"param_{spec.name}")
            self.widgets[spec.name] = widget
            self.form.addRow(spec.label, widget)
        if values:
            self.set_values(values)

    def _make(self, spec: ParamSpec) -> QWidget:
        if spec.control == SLIDER:
            w = SliderControl(spec)
            w.valueChanged.connect(self._emit)
        elif spec.control == INT:
            w = QSpinBox()
            w.setRange(-(2**31), 2**31 - 1)
            w.setValue(spec.default)
            w.setKeyboardTracking(False)
            w.valueChanged.connect(self._emit)
        elif spec.control == FLOAT:
            w = QDoubleSpinBox()
            w.setRange(-1e12, 1e12)
            w.setDecimals(6)
            w.setValue(spec.default)
            w.setKeyboardTracking(False)
            w.valueChanged.connect(self._emit)
        elif spec.control == BOOL:
            w = QCheckBox()
            w.setChecked(spec.default)
            w.toggled.connect(self._emit)
        elif spec.control == CHOICE:
            w = QComboBox()
            w.addItems(list(spec.options))
            w.setCurrentText(spec.default)
            w.currentTextChanged.connect(self._emit)
        elif spec.control == COLOUR:
            w = ColourControl(spec)
            w.valueChanged.connect(self._emit)
        else:
            w = QLineEdit(str(spec.default))
            w.editingFinished.connect(self._emit)
        return w

    def values(self) -> dict[str, Any]:
        out = {}
        for spec in self.specs:
            w = self.widgets[spec.name]
            if isinstance(w, (SliderControl, ColourControl)):
                out[spec.name] = w.value()
            elif isinstance(w, QCheckBox):
                out[spec.name] = w.isChecked()
            elif isinstance(w, QComboBox):
                out[spec.name] = w.currentText()
            elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
                out[spec.name] = w.value()
            else:
                out[spec.name] = w.text()
        return out

    def set_values(self, values: dict[str, Any]) -> None:
        self._quiet = True
        try:
            for name, value in values.items():
                w = self.widgets.get(name)
                if w is None:
                    continue
                if isinstance(w, (SliderControl, ColourControl)):
                    w.set_value(value)
                elif isinstance(w, QCheckBox):
                    w.setChecked(bool(value))
                elif isinstance(w, QComboBox):
                    w.setCurrentText(str(value))
                elif isinstance(w, (QSpinBox, QDoubleSpinBox)):
                    w.setValue(value)
                else:
                    w.setText(str(value))
        finally:
            self._quiet = False

    def _emit(self, *_):
        if not self._quiet:
            self.changed.emit(self.values())
