"""The kernel lab's Source tab: the kernel module's text, where it lives, the error of the last
run (its line marked in the editor) and the buttons to run, start, save and revert source."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from studio.ui.kernels.code_editor import CodeEditor


def _button(text: str, tip: str) -> QPushButton:
    button = QPushButton(text)
    button.setToolTip(tip)
    return button


class SourcePanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.editor = CodeEditor()
        self.editor.setObjectName("kernel_editor")
        self.editor.setMinimumWidth(240)
        self.error_label = QLabel("")
        self.error_label.setObjectName("kernel_error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("QLabel#kernel_error { color: #b91c1c; }")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        self.path_label = QLabel("")
        self.path_label.setStyleSheet("color: #6b7280;")
        # long paths and messages must never force the page wider than the window
        for label in (self.path_label, self.error_label):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            label.setMinimumWidth(0)
        self.run_button = _button("Run ▶", "run the source in the editor (Ctrl+Enter)")
        self.new_button = _button("New…", "start a new kernel from a template")
        self.save_button = _button("Save as…", "save the source into your kernel folder")
        self.revert_button = _button("Revert", "drop unsaved edits")

        header = QHBoxLayout()  # Run sits beside the path: the button row is full at 1280 px
        header.addWidget(self.path_label, 1)
        header.addWidget(self.run_button)
        buttons = QHBoxLayout()
        for w in (self.new_button, self.save_button, self.revert_button):
            buttons.addWidget(w)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.error_label)
        layout.addLayout(buttons)

    def set_source(self, text: str, line: int) -> None:
        """Replace the text (not an edit: no change signals) and scroll to ``line``."""
        self.editor.blockSignals(True)
        self.editor.setPlainText(text)
        self.editor.blockSignals(False)
        self.editor.go_to_line(line)

    def show_error(self, message: str | None, line: int | None = None) -> None:
        if not message:
            self.error_label.hide()
            self.error_label.setText("")
            if self.editor.error_line is not None:
                self.editor.mark_error(None)  # the source was replaced (Revert, another kernel)
            return
        self.error_label.setText(message)
        self.error_label.show()
        if line is not None:
            self.editor.mark_error(line)
