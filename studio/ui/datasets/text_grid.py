"""Text cards for the sample grid of a text dataset: the first lines of each text under a strip
in its class colour, with the class name and split, painted by one delegate (no widget per text).

The texts are read off the GUI thread a grid page (``SampleGridModel.PAGE_SIZE`` rows) at a
time, when a card of that page is first painted, and the starts of the last few thousand are
kept; a card says "Loading…" until its page arrives."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from PySide6.QtCore import QEvent, QModelIndex, QObject, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QToolTip

from studio.store.library import Library
from studio.ui.common.sample_grid import UNLABELLED_COLOUR, SampleGridModel, SampleRowRole
from studio.ui.common.workers import start_job

CARD_SIZE = QSize(300, 112)  # a head line and four lines of text
CARD_CHARS = 400  # enough for the lines a card has room for
SPLIT_NAMES = {"train": "train", "val": "validation", "test": "test"}


def read_card_texts(lib: Library, sample_ids: list[int], state: Any = None) -> dict[int, str]:
    """Worker thread: the start of each text (a text deleted meanwhile is left out)."""
    from studio.data.text.samples import text_starts

    return text_starts(lib, sample_ids, CARD_CHARS)


class TextPreviewCache(QObject):
    """The start of each text shown, read a page of the grid at a time; ``ready`` fires when a
    page has arrived (the view repaints)."""

    ready = Signal()
    CAPACITY = 5000

    def __init__(self, lib: Library, model: SampleGridModel, parent: QObject | None = None):
        super().__init__(parent)
        self._lib = lib
        self._model = model
        self._texts: OrderedDict[int, str] = OrderedDict()
        self._pending: set[int] = set()  # first ids of pages being read
        model.modelReset.connect(self._pending.clear)  # late pages of the old rows still fill the cache

    def get(self, row: int) -> str | None:
        sid = self._model.sample_id(row)
        text = self._texts.get(sid)
        if text is not None:
            self._texts.move_to_end(sid)
            return text
        self._request_page(row // SampleGridModel.PAGE_SIZE)
        return None

    def clear(self) -> None:
        self._texts.clear()
        self._pending.clear()

    def _request_page(self, page: int) -> None:
        first = page * SampleGridModel.PAGE_SIZE
        last = min(first + SampleGridModel.PAGE_SIZE, self._model.rowCount())
        ids = [self._model.sample_id(r) for r in range(first, last)]
        if not ids or ids[0] in self._pending:
            return
        self._pending.add(ids[0])
        job = start_job(read_card_texts, self._lib, ids)
        job.finished.connect(lambda texts, key=ids[0]: self._on_page(key, texts))
        job.failed.connect(lambda _message, key=ids[0]: self._pending.discard(key))

    def _on_page(self, key: int, texts: dict[int, str]) -> None:
        self._pending.discard(key)
        self._texts.update(texts)
        while len(self._texts) > self.CAPACITY:
            self._texts.popitem(last=False)
        self.ready.emit()


class TextCardDelegate(QStyledItemDelegate):
    """Paints a card: a strip in the class colour (dashed grey when unlabelled), the class name and
    split on it, and as many lines of the text as fit, word-wrapped."""

    tile_size = CARD_SIZE

    def __init__(self, previews: TextPreviewCache, parent: QObject | None = None):
        super().__init__(parent)
        self.previews = previews

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802
        """As wide as the view's grid cell (the view spreads its columns over its width)."""
        view = self.parent()
        cell = view.gridSize().width() - 4 if isinstance(view, QListView) else 0
        return QSize(max(CARD_SIZE.width(), cell), CARD_SIZE.height())

    def helpEvent(self, event, view, option, index) -> bool:  # noqa: N802
        """A text's tooltip: where it came from and its length (not an image's size)."""
        sample = index.data(SampleRowRole) if index.isValid() else None
        if sample is None or event.type() != QEvent.Type.ToolTip:
            return super().helpEvent(event, view, option, index)
        QToolTip.showText(event.globalPos(), f"#{sample.id} · {sample.class_name or 'unlabelled'} · "
                          f"{SPLIT_NAMES.get(sample.split or '', 'no split')}\n{sample.width:,} characters\n"
                          f"{sample.source_path}", view)
        return True

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        sample = index.data(SampleRowRole)
        if sample is None:
            return
        text = self.previews.get(index.row())
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        card = option.rect.adjusted(4, 4, -4, -4)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        labelled = sample.class_id is not None
        colour = QColor(sample.class_colour) if labelled else QColor(UNLABELLED_COLOUR)
        painter.setBrush(option.palette.highlight().color().lighter(170) if selected else QColor("#ffffff"))
        pen = QPen(colour, 2)
        if not labelled:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.drawRoundedRect(card, 5, 5)

        head = QRect(card.left() + 8, card.top() + 4, card.width() - 16, option.fontMetrics.height() + 4)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawEllipse(QRect(head.left(), head.center().y() - 4, 9, 9))
        font = QFont(option.font)
        font.setBold(labelled)
        font.setItalic(not labelled)
        painter.setFont(font)
        painter.setPen(option.palette.text().color() if labelled else QColor("#6b7580"))
        split = SPLIT_NAMES.get(sample.split or "", "no split")
        painter.drawText(head.adjusted(14, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
                         sample.class_name if labelled else "unlabelled")
        painter.setFont(option.font)
        painter.setPen(QColor("#6b7580"))
        painter.drawText(head, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                         f"{split} · {sample.width:,} chars")

        body = QRect(card.left() + 8, head.bottom() + 4, card.width() - 16, card.bottom() - head.bottom() - 8)
        painter.setPen(option.palette.text().color() if text is not None else QColor("#9aa3ad"))
        painter.drawText(body, _elided_lines(painter, body, text if text is not None else "Loading…"))
        painter.restore()


def _elided_lines(painter: QPainter, rect: QRect, text: str) -> str:
    """``text`` word-wrapped into as many lines as ``rect`` holds, the last one ending in "…" when cut."""
    metrics = painter.fontMetrics()
    rest = " ".join(text.split())
    lines: list[str] = []
    most = max(1, rect.height() // metrics.lineSpacing())
    while rest and len(lines) < most:
        if len(lines) == most - 1:
            lines.append(metrics.elidedText(rest, Qt.TextElideMode.ElideRight, rect.width()))
            break
        fit = _longest_fitting(metrics, rest, rect.width())
        if fit < len(rest) and rest.rfind(" ", 0, fit + 1) > 0:
            fit = rest.rfind(" ", 0, fit + 1)  # break at a space when the line has one
        lines.append(rest[:fit])
        rest = rest[fit:].lstrip()
    return "\n".join(lines)


def _longest_fitting(metrics, text: str, width: int) -> int:
    """The length of the longest start of ``text`` no wider than ``width`` (at least 1)."""
    low, high = 1, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if metrics.horizontalAdvance(text[:middle]) <= width:
            low = middle
        else:
            high = middle - 1
    return low
