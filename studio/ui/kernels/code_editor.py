"""A small Python editor: QPlainTextEdit with a line-number gutter, Pygments highlighting and an
error-line marker (the kernel lab points at the line a syntax error or exception came from)."""

from __future__ import annotations

from pygments.lexers import PythonLexer
from pygments.token import Comment, Keyword, Name, Number, Operator, String, Token
from PySide6.QtCore import QRect, QSize, Qt, QTimer
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QPainter,
    QSyntaxHighlighter,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextFormat,
)
from PySide6.QtWidgets import QPlainTextEdit, QTextEdit, QWidget

STYLE = {  # token type -> (colour, bold, italic); first match walking up the token hierarchy wins
    Keyword: ("#7c3aed", True, False),
    Name.Builtin: ("#0e7490", False, False),
    Name.Function: ("#1d4ed8", True, False),
    Name.Class: ("#1d4ed8", True, False),
    Name.Decorator: ("#b45309", False, False),
    String.Doc: ("#6b7280", False, True),
    String: ("#15803d", False, False),
    Number: ("#c2410c", False, False),
    Comment: ("#6b7280", False, True),
    Operator.Word: ("#7c3aed", True, False),
}


def _format(ttype) -> QTextCharFormat | None:
    while ttype is not Token:
        if ttype in STYLE:
            colour, bold, italic = STYLE[ttype]
            fmt = QTextCharFormat()
            fmt.setForeground(QColor(colour))
            if bold:
                fmt.setFontWeight(QFont.Weight.Bold)
            fmt.setFontItalic(italic)
            return fmt
        ttype = ttype.parent
    return None


class PythonHighlighter(QSyntaxHighlighter):
    """Lexes the whole document with Pygments (kernel files are small) so multi-line strings are
    right, then hands each block its precomputed spans."""

    def __init__(self, document: QTextDocument):
        super().__init__(document)
        self._lexer = PythonLexer(stripnl=False, ensurenl=False)
        self._spans: dict[int, list[tuple[int, int, QTextCharFormat]]] = {}
        self._formats: dict = {}
        self._relex()
        document.contentsChange.connect(self._on_change)

    def _on_change(self, *_):
        self._relex()

    def _relex(self) -> None:
        text = self.document().toPlainText()
        spans: dict[int, list[tuple[int, int, QTextCharFormat]]] = {}
        line, col = 0, 0
        for ttype, value in self._lexer.get_tokens(text):
            if ttype not in self._formats:
                self._formats[ttype] = _format(ttype)
            fmt = self._formats[ttype]
            for i, part in enumerate(value.split("\n")):
                if i:
                    line, col = line + 1, 0
                if fmt is not None and part:
                    spans.setdefault(line, []).append((col, len(part), fmt))
                col += len(part)
        self._spans = spans

    def highlightBlock(self, text: str) -> None:
        for start, length, fmt in self._spans.get(self.currentBlock().blockNumber(), ()):
            self.setFormat(start, length, fmt)


class _LineNumbers(QWidget):
    def __init__(self, editor: CodeEditor):
        super().__init__(editor)
        self.editor = editor

    def sizeHint(self) -> QSize:
        return QSize(self.editor.gutter_width(), 0)

    def paintEvent(self, event) -> None:
        self.editor.paint_gutter(event)


class CodeEditor(QPlainTextEdit):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        font.setPointSize(max(font.pointSize(), 10))
        self.setFont(font)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setTabStopDistance(self.fontMetrics().horizontalAdvance(" ") * 4)
        self._gutter = _LineNumbers(self)
        self._error_line: int | None = None
        self.highlighter = PythonHighlighter(self.document())
        self.blockCountChanged.connect(self._update_margins)
        self.updateRequest.connect(self._scroll_gutter)
        self.textChanged.connect(self._clear_error_soon)
        self._update_margins()

    # --- gutter
    def gutter_width(self) -> int:
        digits = max(3, len(str(self.blockCount())))
        return 10 + self.fontMetrics().horizontalAdvance("9") * digits

    def _update_margins(self, *_):
        self.setViewportMargins(self.gutter_width(), 0, 0, 0)

    def _scroll_gutter(self, rect: QRect, dy: int) -> None:
        if dy:
            self._gutter.scroll(0, dy)
        else:
            self._gutter.update(0, rect.y(), self._gutter.width(), rect.height())

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        cr = self.contentsRect()
        self._gutter.setGeometry(QRect(cr.left(), cr.top(), self.gutter_width(), cr.height()))

    def paint_gutter(self, event) -> None:
        painter = QPainter(self._gutter)
        painter.fillRect(event.rect(), QColor("#f1f3f6"))
        block = self.firstVisibleBlock()
        number = block.blockNumber()
        top = round(self.blockBoundingGeometry(block).translated(self.contentOffset()).top())
        bottom = top + round(self.blockBoundingRect(block).height())
        height = self.fontMetrics().height()
        while block.isValid() and top <= event.rect().bottom():
            if block.isVisible() and bottom >= event.rect().top():
                is_error = self._error_line == number + 1
                painter.setPen(QColor("#b91c1c") if is_error else QColor("#8a94a6"))
                painter.drawText(0, top, self._gutter.width() - 5, height, Qt.AlignmentFlag.AlignRight, str(number + 1))
            block = block.next()
            top = bottom
            bottom = top + round(self.blockBoundingRect(block).height())
            number += 1

    # --- error marker
    def mark_error(self, line: int | None) -> None:
        """Highlight ``line`` (1-based) and move the cursor there; None clears the marker."""
        self._error_line = line
        selections = []
        if line is not None and 1 <= line <= self.blockCount():
            sel = QTextEdit.ExtraSelection()
            sel.format.setBackground(QColor("#fde2e2"))
            sel.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
            cursor = QTextCursor(self.document().findBlockByNumber(line - 1))
            sel.cursor = cursor
            selections.append(sel)
            self.setTextCursor(cursor)
            self.centerCursor()
        self.setExtraSelections(selections)
        self._gutter.update()

    @property
    def error_line(self) -> int | None:
        return self._error_line

    def _clear_error_soon(self) -> None:
        if self._error_line is not None:
            QTimer.singleShot(0, lambda: self.mark_error(None))

    def go_to_line(self, line: int) -> None:
        block = self.document().findBlockByNumber(max(line - 1, 0))
        cursor = QTextCursor(block)
        self.setTextCursor(cursor)
        # put the line near the top so the whole function shows
        self.verticalScrollBar().setValue(max(line - 3, 0))
