"""The input form of a table model on the Play page: one field per feature column, generated from
the model (``TablePredictor.fields``): numbers with the training range beside them, drop-downs
for categories and yes/no, a text field for dates. An empty field or "(missing)" is a missing
value, which the model handles as it did in training."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QWidget,
)

MISSING = "(missing)"
HINT_WIDTH = 230
TYPE_TO_FIND = 30  # a category with more values than this gets a search-as-you-type field
ERROR_STYLE = "QLineEdit { border: 1px solid #b3261e; border-radius: 3px; }"


def format_number(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:.6g}"


class FeatureForm(QWidget):
    """``changed`` fires on every edit; ``values()`` gives {column: value or None}."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.layout_ = QFormLayout(self)
        self.layout_.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.fields: list = []
        self.editors: dict[str, QWidget] = {}

    def set_fields(self, fields: list) -> None:
        while self.layout_.rowCount():
            self.layout_.removeRow(0)
        self.fields, self.editors = list(fields), {}
        for field in self.fields:
            editor, hint = self._editor(field)
            self.editors[field.name] = editor
            row = QHBoxLayout()
            row.addWidget(editor, 1)
            note = QLabel(hint)  # always there, of one width, so the fields line up
            note.setStyleSheet("color: #5b6670;")
            note.setFixedWidth(HINT_WIDTH)
            row.addWidget(note)
            self.layout_.addRow(field.name, row)
        self.reset()

    def _editor(self, field) -> tuple[QWidget, str]:
        if field.type in ("category", "boolean"):
            combo = QComboBox()
            choices = field.categories if field.type == "category" else ["yes", "no"]
            combo.addItems([*choices, MISSING])
            combo.currentIndexChanged.connect(lambda _i: self.changed.emit())
            if len(choices) > TYPE_TO_FIND:  # too many to scroll: type to find one (or a new value)
                combo.setEditable(True)
                combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
                combo.completer().setFilterMode(Qt.MatchFlag.MatchContains)
                combo.completer().setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
                combo.lineEdit().editingFinished.connect(self.changed.emit)
            hint = f"{len(field.categories):,} values seen in training" if field.type == "category" else ""
            return combo, hint
        edit = QLineEdit()
        edit.setPlaceholderText("missing" if field.type == "number" else "YYYY-MM-DD HH:MM:SS, or empty = missing")
        edit.textChanged.connect(lambda _t, edit=edit: self._edited(edit))
        hint = ""
        if field.type == "number" and field.low is not None:
            hint = f"training range {format_number(field.low)} to {format_number(field.high)}"
            edit.setToolTip(f"The train rows held values from {format_number(field.low)} to {format_number(field.high)}; "
                            "far outside that range the model guesses.")
        return edit, hint

    def _edited(self, edit: QLineEdit) -> None:
        edit.setStyleSheet("" if self._parse_ok(edit) else ERROR_STYLE)
        self.changed.emit()

    def _parse_ok(self, edit: QLineEdit) -> bool:
        field = next(f for f in self.fields if self.editors.get(f.name) is edit)
        try:
            self._value(field, edit)
        except ValueError:
            return False
        return True

    def reset(self) -> None:
        """Typical values: the training mean of each number, the most frequent category."""
        self.blockSignals(True)
        for field in self.fields:
            self.set_value(field.name, field.default)
        self.blockSignals(False)
        self.changed.emit()

    def set_value(self, name: str, value: Any) -> None:
        editor = self.editors[name]
        field = next(f for f in self.fields if f.name == name)
        if isinstance(editor, QComboBox):
            if field.type == "boolean" and value is not None:
                value = "yes" if value in (True, "yes") else "no"
            index = editor.findText(MISSING if value is None else str(value))
            if index < 0 and editor.isEditable() and value is not None:
                editor.setCurrentText(str(value))  # a value never seen in training: the model knows it as such
            else:
                editor.setCurrentIndex(index if index >= 0 else editor.count() - 1)
        else:
            editor.setText(format_number(value) if isinstance(value, float) else "" if value is None else str(value))

    def values(self) -> dict[str, Any]:
        """{column: value} with None for missing; raises ValueError naming a field that is not a number."""
        return {field.name: self._value(field, self.editors[field.name]) for field in self.fields}

    def problems(self) -> list[str]:
        return [f.name for f in self.fields if isinstance(self.editors[f.name], QLineEdit)
                and not self._parse_ok(self.editors[f.name])]

    @staticmethod
    def _value(field, editor: QWidget) -> Any:
        if isinstance(editor, QComboBox):
            text = editor.currentText()
            if text == MISSING:
                return None
            return text == "yes" if field.type == "boolean" else text
        text = editor.text().strip()
        if not text:
            return None
        try:
            if field.type == "number":
                return float(text)
            datetime.fromisoformat(text)  # what the model reads must be a date and time
        except ValueError:
            raise ValueError(f"{field.name}: {text!r} is not a {'number' if field.type == 'number' else 'date'}") from None
        return text
