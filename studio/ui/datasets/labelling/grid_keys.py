"""Labelling on any sample grid (a QAbstractItemView whose model has ``sample_id(row)``):
number keys 1-9, 0 label the selection with the class in that position, Backspace removes the
label; dragging a selection carries its sample
ids (to drop on a class). Installed as an event filter, so the grid widget stays as it is."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QItemSelectionModel, QObject, QPoint, Qt
from PySide6.QtGui import QDrag, QKeyEvent, QMouseEvent
from PySide6.QtWidgets import QAbstractItemView, QApplication

from studio.ui.datasets.labelling.controller import LabellingController
from studio.ui.datasets.labelling.selection import ids_to_mime, selected_sample_ids

NUMBER_KEYS = {getattr(Qt.Key, f"Key_{d}"): (d - 1 if d else 9) for d in range(10)}  # key -> position


class GridLabeller(QObject):
    def __init__(self, view: QAbstractItemView, controller: LabellingController,
                 dataset_id: Callable[[], int | None], parent: QObject | None = None):
        super().__init__(parent or view)
        self.view = view
        self.ctl = controller
        self.dataset_id = dataset_id
        self._press_pos: QPoint | None = None
        self._press_on_selected = False
        view.installEventFilter(self)
        view.viewport().installEventFilter(self)

    # --- keys --------------------------------------------------------------------------------
    def handle_key(self, event: QKeyEvent) -> bool:
        ds = self.dataset_id()
        if ds is None:
            return False
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        key = Qt.Key(event.key())
        if mods == Qt.KeyboardModifier.NoModifier and key in NUMBER_KEYS:
            ids = selected_sample_ids(self.view)
            if ids:
                self.ctl.label_by_position(ds, ids, NUMBER_KEYS[key])
            return True
        if mods == Qt.KeyboardModifier.NoModifier and key == Qt.Key.Key_Backspace:
            self.ctl.label(ds, selected_sample_ids(self.view), None)
            return True
        return False

    # --- drag ---------------------------------------------------------------------------------
    def start_drag(self) -> None:
        ds, ids = self.dataset_id(), selected_sample_ids(self.view)
        if ds is None or not ids:
            return
        drag = QDrag(self.view)
        drag.setMimeData(ids_to_mime(ds, ids))
        drag.exec(Qt.DropAction.CopyAction)

    def _mouse(self, event: QMouseEvent) -> bool:
        """Returns True for the events it consumed."""
        kind = event.type()
        if kind == QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton:
            index = self.view.indexAt(event.position().toPoint())
            self._press_pos = event.position().toPoint() if index.isValid() else None
            plain = event.modifiers() == Qt.KeyboardModifier.NoModifier
            # a plain press on a selected tile may start dragging the whole selection: keep the
            # selection until we know it was a click (then it selects just that tile)
            self._press_on_selected = plain and index.isValid() and self.view.selectionModel().isSelected(index)
            return self._press_on_selected
        if kind == QEvent.Type.MouseMove and self._press_pos is not None:
            if event.buttons() & Qt.MouseButton.LeftButton and (
                event.position().toPoint() - self._press_pos
            ).manhattanLength() >= QApplication.startDragDistance():
                self._press_pos = None
                self._press_on_selected = False
                self.start_drag()
                return True
            return self._press_on_selected
        if kind == QEvent.Type.MouseButtonRelease and self._press_pos is not None:
            consumed = self._press_on_selected
            if consumed:  # a click without a drag: select just that tile
                index = self.view.indexAt(self._press_pos)
                self.view.setCurrentIndex(index)
                self.view.selectionModel().select(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)
            self._press_pos = None
            self._press_on_selected = False
            return consumed
        return False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if watched is self.view and event.type() == QEvent.Type.KeyPress:
            return self.handle_key(event)
        if watched is self.view.viewport() and event.type() in (
            QEvent.Type.MouseButtonPress, QEvent.Type.MouseMove, QEvent.Type.MouseButtonRelease
        ):
            return self._mouse(event)
        return False
