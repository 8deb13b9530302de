"""The thumbnail grid: one QListView + one QAbstractListModel + one painting delegate.

No widget per image. The model holds only the list of sample ids of the current filter (one
cheap query); rows are fetched from the DB in pages, on demand, when the view asks for an item's
data (only visible items are asked), and the last few pages are kept. Thumbnails are made on a
small thread pool (``ThumbnailCache``: most recently requested first, so the tiles on screen win
while scrolling fast) and kept in an LRU of QImages; a placeholder is painted until they arrive.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict, deque
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QPoint,
    QRect,
    QRunnable,
    QSize,
    Qt,
    QThreadPool,
    Signal,
)
from PySide6.QtGui import QColor, QFont, QImage, QKeyEvent, QPainter, QPen, QPixmap, QPixmapCache, QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QListView, QStyle, QStyledItemDelegate, QStyleOptionViewItem

from studio.store import samples as store_samples
from studio.store.library import Library
from studio.ui.common.style import icons_dir
from studio.ui.common.workers import start_job

log = logging.getLogger(__name__)

THUMB_SIZE = 128
TILE_SIZE = QSize(THUMB_SIZE + 20, THUMB_SIZE + 40)
UNLABELLED_COLOUR = "#9aa3ad"

SampleIdRole = Qt.ItemDataRole.UserRole + 1
SampleRowRole = Qt.ItemDataRole.UserRole + 2
ThumbnailStateRole = Qt.ItemDataRole.UserRole + 3  # "ready" | "loading" | "missing"


class ThumbnailCache(QObject):
    """Makes thumbnails off the GUI thread and keeps the last ``capacity`` as QImages.

    ``get(blob)`` answers at once: the image, or None after queueing a request. ``ready(blob)``
    fires on the GUI thread when a requested thumbnail is in the cache (or known missing)."""

    ready = Signal(str)
    _loaded = Signal(str, QImage, bool)  # worker -> GUI thread (queued)

    MAX_PENDING = 400  # older requests were scrolled away; they are asked again if seen again

    def __init__(self, lib: Library, capacity: int = 800, threads: int = 2, parent: QObject | None = None):
        super().__init__(parent)
        self._lib = lib
        self._capacity = capacity
        self._images: OrderedDict[str, QImage] = OrderedDict()
        self._missing: set[str] = set()
        self._pending: deque[str] = deque()
        self._queued: set[str] = set()  # pending or being made
        self._lock = threading.Lock()
        self._workers = 0
        self._max_workers = threads
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(threads)
        self._loaded.connect(self._on_loaded)

    def get(self, blob: str) -> QImage | None:
        image = self._images.get(blob)
        if image is not None:
            self._images.move_to_end(blob)
            return image
        if blob not in self._missing:
            self._request(blob)
        return None

    def is_missing(self, blob: str) -> bool:
        return blob in self._missing

    def clear(self) -> None:
        with self._lock:
            self._pending.clear()
            self._queued.clear()
        self._images.clear()
        self._missing.clear()

    def wait(self, msecs: int = 5000) -> bool:
        """Block until the pool is idle (for shutdown and tests)."""
        return self._pool.waitForDone(msecs)

    def _request(self, blob: str) -> None:
        with self._lock:
            if blob in self._queued:
                return
            self._queued.add(blob)
            self._pending.append(blob)
            while len(self._pending) > self.MAX_PENDING:
                self._queued.discard(self._pending.popleft())
            start = self._workers < self._max_workers
            if start:
                self._workers += 1
        if start:
            self._pool.start(_ThumbnailRunnable(self))

    def _next_request(self) -> str | None:
        with self._lock:
            if self._pending:
                return self._pending.pop()  # newest first: what is on screen now
            self._workers -= 1
            return None

    def _make(self, blob: str) -> None:
        """Worker thread: make (or find) the thumbnail file and decode it."""
        from studio.store.thumbnails import thumbnail_path

        try:
            path = thumbnail_path(self._lib, blob, size=THUMB_SIZE)
            image = QImage(str(path))
        except Exception as exc:  # noqa: BLE001 - a broken or missing blob shows as "missing"
            log.debug("no thumbnail for %s: %s", blob, exc)
            image = QImage()
        self._loaded.emit(blob, image, image.isNull())

    def _on_loaded(self, blob: str, image: QImage, missing: bool) -> None:
        with self._lock:
            self._queued.discard(blob)
        if missing:
            self._missing.add(blob)
        else:
            self._images[blob] = image
            while len(self._images) > self._capacity:
                self._images.popitem(last=False)
        self.ready.emit(blob)


class _ThumbnailRunnable(QRunnable):
    def __init__(self, cache: ThumbnailCache):
        super().__init__()
        self._cache = cache

    def run(self) -> None:
        try:
            while (blob := self._cache._next_request()) is not None:
                self._cache._make(blob)
        except RuntimeError:  # the cache (and its view) went away meanwhile: nothing to deliver
            pass


def _load_ids(lib: Library, dataset_id: int, flt: Any, generation: int, only: list[int] | None = None,
              state: Any = None) -> tuple[int, list[int]]:
    """Worker thread: the ids of a filter (100,000 of them take longer than a frame); with
    ``only``, those of ``only`` that match the filter, in ``only``'s order (a search's ranking)."""
    with lib.session() as s:
        ids = store_samples.sample_ids(s, dataset_id, flt)
    if only is not None:
        matching = set(ids)
        ids = [i for i in only if i in matching]
    return generation, list(ids)


class SampleGridModel(QAbstractListModel):
    """Rows = the ids of one dataset's samples under a SampleFilter, fetched in pages.

    ``load(ds, flt)`` reads the ids at once; ``load(ds, flt, background=True)`` reads them on a
    worker thread (100,000 ids take longer than a frame) and resets the model when they arrive,
    the old rows staying on screen meanwhile. Either way ``loaded`` fires after the reset, and a
    newer ``load()`` wins over an older one still running. ``only_ids`` (None: all) narrows every
    load to those ids, in their order (a word search's matches)."""

    loaded = Signal()
    load_failed = Signal(str)

    PAGE_SIZE = 200
    MAX_PAGES = 40  # pages of rows kept in memory (8,000 rows)

    def __init__(self, lib: Library, thumbnails: ThumbnailCache, parent: QObject | None = None):
        super().__init__(parent)
        self._lib = lib
        self._thumbs = thumbnails
        self._ids: list[int] = []
        self._pages: OrderedDict[int, dict[int, Any]] = OrderedDict()
        self._blob_rows: dict[str, set[int]] = {}
        self.dataset_id: int | None = None
        self.filter = store_samples.SampleFilter()
        self.pages_fetched = 0  # DB page queries so far (tests check laziness with it)
        self.loading = False
        self.only_ids: list[int] | None = None
        self._generation = 0
        thumbnails.ready.connect(self._on_thumbnail_ready)

    # loading
    def load(self, dataset_id: int | None, flt: Any | None = None, *, background: bool = False) -> None:
        """Show ``dataset_id``'s samples matching ``flt`` (None: no dataset, empty grid)."""
        flt = flt if flt is not None else store_samples.SampleFilter()
        self._generation += 1
        self.dataset_id = dataset_id
        self.filter = flt
        if dataset_id is None:
            self._on_ids((self._generation, []))
            return
        if not background:
            self._on_ids(_load_ids(self._lib, dataset_id, flt, self._generation, self.only_ids))
            return
        self.loading = True
        job = start_job(_load_ids, self._lib, dataset_id, flt, self._generation, self.only_ids)
        job.finished.connect(self._on_ids)
        job.failed.connect(self._on_load_failed)

    def _on_ids(self, result: tuple[int, list[int]]) -> None:
        generation, ids = result
        if generation != self._generation:
            return  # a newer load() is under way
        self.beginResetModel()
        self._ids = ids
        self._pages.clear()
        self._blob_rows.clear()
        self.endResetModel()
        self.loading = False
        self.loaded.emit()

    def _on_load_failed(self, message: str) -> None:
        self.loading = False
        self.load_failed.emit(message)

    def reload(self, *, background: bool = False) -> None:
        self.load(self.dataset_id, self.filter, background=background)

    # Qt model API
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._ids)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._ids):
            return None
        row = index.row()
        if role == SampleIdRole:
            return self._ids[row]
        sample = self.sample_row(row)
        if sample is None:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return sample.class_name or "unlabelled"
        if role == SampleRowRole:
            return sample
        if role == Qt.ItemDataRole.DecorationRole:
            self._blob_rows.setdefault(sample.blob, set()).add(row)
            return self._thumbs.get(sample.blob)
        if role == ThumbnailStateRole:
            if sample.blob in self._thumbs._images:
                return "ready"
            return "missing" if self._thumbs.is_missing(sample.blob) else "loading"
        if role == Qt.ItemDataRole.ToolTipRole:
            split = sample.split or "no split"
            return (
                f"#{sample.id} · {sample.class_name or 'unlabelled'} · {split}\n"
                f"{sample.width}×{sample.height} {sample.format.upper()}\n{sample.source_path}"
            )
        return None

    # rows
    def sample_id(self, row: int) -> int:
        return self._ids[row]

    def row_of(self, sample_id: int) -> int:
        try:
            return self._ids.index(sample_id)
        except ValueError:
            return -1

    def sample_row(self, row: int) -> Any | None:
        """The SampleRow at ``row``, fetching its page from the DB when needed."""
        page_no = row // self.PAGE_SIZE
        page = self._pages.get(page_no)
        if page is None:
            page = self._fetch_page(page_no)
        else:
            self._pages.move_to_end(page_no)
        return page.get(self._ids[row])

    def _fetch_page(self, page_no: int) -> dict[int, Any]:
        ids = self._ids[page_no * self.PAGE_SIZE : (page_no + 1) * self.PAGE_SIZE]
        with self._lib.session() as s:
            rows = store_samples.sample_rows(s, ids)
        page = {r.id: r for r in rows}
        self.pages_fetched += 1
        self._pages[page_no] = page
        while len(self._pages) > self.MAX_PAGES:
            self._pages.popitem(last=False)
        return page

    def _on_thumbnail_ready(self, blob: str) -> None:
        for row in self._blob_rows.pop(blob, ()):
            if row < len(self._ids):
                idx = self.index(row)
                self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])


class SampleTileDelegate(QStyledItemDelegate):
    """Paints a tile: the thumbnail framed in the class colour, the class name under it."""

    def __init__(self, parent: QObject | None = None):
        super().__init__(parent)
        self._placeholder = QImage(str(icons_dir() / "placeholder.svg"))
        QPixmapCache.setCacheLimit(max(QPixmapCache.cacheLimit(), 64 * 1024))  # KB: ~500 tiles

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex) -> QSize:  # noqa: N802
        return self.tile_size

    tile_size = TILE_SIZE

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        """Draw the tile from a cached pixmap: one blit per tile while scrolling, the dozen
        painter calls that compose it happen only when something on it changed."""
        sample = index.data(SampleRowRole)
        image = index.data(Qt.ItemDataRole.DecorationRole)
        state = "ready" if isinstance(image, QImage) and not image.isNull() else index.data(ThumbnailStateRole)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        size = option.rect.size()
        dpr = painter.device().devicePixelRatioF() if painter.device() else 1.0
        key = (
            f"tile:{sample.id}:{sample.blob[:16]}:{sample.class_id}:{sample.class_colour}:{sample.class_name}"
            f":{state}:{int(selected)}:{size.width()}x{size.height()}@{dpr:g}"
            if sample is not None else ""
        )
        pixmap = QPixmapCache.find(key) if key else None
        if pixmap is None or pixmap.isNull():
            pixmap = QPixmap(size * dpr)
            pixmap.setDevicePixelRatio(dpr)
            pixmap.fill(Qt.GlobalColor.transparent)
            tile_painter = QPainter(pixmap)
            self._compose(tile_painter, QRect(QPoint(0, 0), size), option, sample, image, state, selected)
            tile_painter.end()
            if key:
                QPixmapCache.insert(key, pixmap)
        painter.drawPixmap(option.rect.topLeft(), pixmap)

    def _compose(self, painter: QPainter, rect: QRect, option: QStyleOptionViewItem, sample: Any,
                 image: Any, state: str | None, selected: bool) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        palette = option.palette
        tile = rect.adjusted(3, 3, -3, -3)
        if selected:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(palette.highlight().color().lighter(160))
            painter.drawRoundedRect(tile, 6, 6)
        box = QRect(tile.left() + (tile.width() - THUMB_SIZE) // 2, tile.top() + 4, THUMB_SIZE, THUMB_SIZE)
        labelled = sample is not None and sample.class_id is not None
        colour = QColor(sample.class_colour) if labelled else QColor(UNLABELLED_COLOUR)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor("#f1f3f5"))
        painter.drawRoundedRect(box, 4, 4)

        if state == "ready":
            painter.drawImage(_fit(image.size(), box.adjusted(3, 3, -3, -3)), image)
        else:
            painter.setOpacity(0.7)
            painter.drawImage(box.adjusted(32, 32, -32, -32), self._placeholder)
            painter.setOpacity(1.0)
            if state == "missing":
                painter.setPen(QColor("#b3261e"))
                painter.drawText(box.adjusted(0, 0, 0, -8), Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom,
                                 "cannot be shown")

        pen = QPen(colour, 3)
        if not labelled:
            pen.setStyle(Qt.PenStyle.DashLine)
            pen.setWidth(2)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRoundedRect(box.adjusted(1, 1, -1, -1), 4, 4)

        text_rect = QRect(tile.left() + 4, box.bottom() + 4, tile.width() - 8, tile.bottom() - box.bottom() - 4)
        name = sample.class_name if labelled else "unlabelled"
        font = QFont(option.font)
        font.setItalic(not labelled)
        painter.setFont(font)
        painter.setPen(palette.text().color() if labelled else QColor("#6b7580"))
        elided = painter.fontMetrics().elidedText(name, Qt.TextElideMode.ElideRight, text_rect.width() - 14)
        painter.drawText(text_rect.adjusted(14, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, elided)
        dot = QRect(text_rect.left(), text_rect.top() + (text_rect.height() - 9) // 2, 9, 9)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(colour)
        painter.drawEllipse(dot)


def _fit(size: QSize, box: QRect) -> QRect:
    """``size`` scaled to fit in ``box`` keeping its aspect ratio, centred."""
    scaled = size.scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
    return QRect(
        box.left() + (box.width() - scaled.width()) // 2,
        box.top() + (box.height() - scaled.height()) // 2,
        scaled.width(),
        scaled.height(),
    )


class SampleGridView(QListView):
    """The grid. Emits ``open_requested(row)`` on double-click, Enter or Space."""

    open_requested = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setMovement(QListView.Movement.Static)  # tiles are not dragged around
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setUniformItemSizes(True)  # one size for all: layout needs no per-item query
        # lay out in slices between events: 100,000 tiles show at once, the scroll range grows
        self.setLayoutMode(QListView.LayoutMode.Batched)
        self.setBatchSize(1000)
        self.setGridSize(TILE_SIZE + QSize(4, 4))
        # always there, so spreading the columns (below) never toggles it and loops
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.setSpacing(0)
        self.setWrapping(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.verticalScrollBar().setSingleStep(24)
        self.image_delegate = SampleTileDelegate(self)
        self.setItemDelegate(self.image_delegate)
        self.setDragEnabled(False)
        self.doubleClicked.connect(lambda idx: self.open_requested.emit(idx.row()))

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        """Spread the columns over the whole width instead of leaving a gap at the right."""
        self._spread_columns()
        super().resizeEvent(event)

    def use_delegate(self, delegate: QStyledItemDelegate) -> None:
        """Paint the items with ``delegate`` (its ``tile_size`` sets the grid): thumbnails or text cards."""
        if self.itemDelegate() is not delegate:
            self.setItemDelegate(delegate)
            self._spread_columns()

    def _spread_columns(self) -> None:
        # Qt wraps an icon row when it would reach the viewport's last pixel, so keep a margin
        width = self.viewport().width() - 2
        cell = getattr(self.itemDelegate(), "tile_size", TILE_SIZE) + QSize(4, 4)
        columns = max(1, width // cell.width())
        spread = QSize(max(cell.width(), width // columns), cell.height())
        if spread != self.gridSize():
            self.setGridSize(spread)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space):
            idx = self.currentIndex()
            if idx.isValid():
                self.open_requested.emit(idx.row())
                return
        super().keyPressEvent(event)
