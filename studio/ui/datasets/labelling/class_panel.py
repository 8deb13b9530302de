"""The classes of the current dataset: manage them (add, rename, recolour, reorder, merge,
delete) and label by dropping grid samples onto one. Also the row of class buttons that labels
the selection (number keys 1-9, 0 do the same)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QToolButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.store import classes as store_classes
from studio.ui.datasets.labelling.controller import LabellingController
from studio.ui.datasets.labelling.selection import ids_from_mime
from studio.ui.common.style import colour_swatch

UNLABELLED = -1  # the tree's "unlabelled" row: dropping there removes labels


def key_for(position: int) -> str:
    """The number key that labels with the class at ``position`` (1..9, then 0), or ''."""
    return str(position + 1) if position < 9 else ("0" if position == 9 else "")


class ClassTree(QTreeWidget):
    """The class list; accepts sample drags from the grid (our mime type only)."""

    samples_dropped = Signal(object, int, list)  # class_id (None = unlabel), dataset_id, ids

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DropOnly)

    def _target(self, event) -> QTreeWidgetItem | None:
        if ids_from_mime(event.mimeData()) is None:
            return None
        return self.itemAt(event.position().toPoint())

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if ids_from_mime(event.mimeData()) is not None:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        item = self._target(event)
        if item is not None:
            self.setCurrentItem(item)
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        item = self._target(event)
        if item is None or not self.drop_on(item, event.mimeData()):
            event.ignore()
            return
        event.acceptProposedAction()

    def drop_on(self, item: QTreeWidgetItem, mime) -> bool:
        """The drop handler (tests call it with the same mime data a drag carries)."""
        payload = ids_from_mime(mime)
        if payload is None:
            return False
        class_id = item.data(0, Qt.ItemDataRole.UserRole)
        self.samples_dropped.emit(None if class_id == UNLABELLED else class_id, *payload)
        return True


class ClassPanel(QWidget):
    """``assign_requested(class_id | None)``: the user double-clicked a class (label the selection)."""

    assign_requested = Signal(object)

    def __init__(self, controller: LabellingController, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctl = controller
        self.dataset_id: int | None = None
        self.classes: list[store_classes.ClassRow] = []
        # dialogs as attributes, so tests (and scripts) can answer them
        self.ask_text = self._ask_text
        self.ask_colour = self._ask_colour
        self.ask_item = self._ask_item
        self.confirm = self._confirm

        self.tree = ClassTree()
        self.tree.setObjectName("class_tree")
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Key", "Class", "Samples"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setIconSize(QSize(14, 14))
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.setToolTip("Drag samples here to label them; double-click a class to label the selection")
        self.tree.samples_dropped.connect(self._on_dropped)
        self.tree.itemDoubleClicked.connect(self._on_double_clicked)
        self.tree.currentItemChanged.connect(lambda *_: self._update_buttons())

        self.buttons: dict[str, QToolButton] = {}
        rows = (QHBoxLayout(), QHBoxLayout())  # two short rows keep the panel narrow
        for row_no, key, text, tip, slot in (
            (0, "add", "+ Add", "Add a class", self.add_class),
            (0, "rename", "Rename", "Rename the selected class", self.rename_class),
            (0, "colour", "Colour", "Change the selected class's colour", self.recolour_class),
            (1, "up", "▲", "Move the class up (its number key changes)", lambda: self.move_class(-1)),
            (1, "down", "▼", "Move the class down", lambda: self.move_class(1)),
            (1, "merge", "Merge…", "Move all samples of this class into another class", self.merge_class),
            (1, "delete", "Delete", "Delete the class (its samples become unlabelled)", self.delete_class),
        ):
            b = QToolButton()
            b.setText(text)
            b.setToolTip(tip)
            b.setAutoRaise(True)
            b.clicked.connect(slot)
            b.setObjectName(f"class_{key}")
            self.buttons[key] = b
            rows[row_no].addWidget(b)
        for row in rows:
            row.setSpacing(1)
            row.addStretch(1)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.tree, 1)
        for row in rows:
            layout.addLayout(row)
        controller.classes_changed.connect(self._on_store_changed)
        controller.labels_changed.connect(lambda ds, _ids: self._on_store_changed(ds))
        self._update_buttons()

    # --- state --------------------------------------------------------------------------------
    def set_dataset(self, dataset_id: int | None) -> None:
        self.dataset_id = dataset_id
        self.refresh()

    def _on_store_changed(self, dataset_id: int) -> None:
        if dataset_id == self.dataset_id:
            self.refresh()

    def refresh(self) -> None:
        current = self.current_class_id()
        self.tree.clear()
        self.classes = []
        if self.dataset_id is not None:
            from studio.store.datasets import unlabelled_count

            with self.ctl.lib.session() as s:
                self.classes = store_classes.list_classes(s, self.dataset_id)
                unlabelled = unlabelled_count(s, self.dataset_id)
            for pos, c in enumerate(self.classes):
                item = QTreeWidgetItem([key_for(pos), c.name, str(c.count)])
                item.setIcon(1, colour_swatch(c.colour))
                item.setData(0, Qt.ItemDataRole.UserRole, c.id)
                item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.tree.addTopLevelItem(item)
                if c.id == current:
                    self.tree.setCurrentItem(item)
            item = QTreeWidgetItem(["⌫", "unlabelled", str(unlabelled)])
            item.setIcon(1, colour_swatch("#bbbbbb"))
            item.setData(0, Qt.ItemDataRole.UserRole, UNLABELLED)
            item.setForeground(1, QColor("#6b7580"))
            item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.tree.addTopLevelItem(item)
        self._update_buttons()

    def current_class_id(self) -> int | None:
        item = self.tree.currentItem()
        cid = item.data(0, Qt.ItemDataRole.UserRole) if item else None
        return None if cid in (None, UNLABELLED) else cid

    def select_class(self, class_id: int) -> None:
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, Qt.ItemDataRole.UserRole) == class_id:
                self.tree.setCurrentItem(item)

    def item_for(self, class_id: int | None) -> QTreeWidgetItem | None:
        wanted = UNLABELLED if class_id is None else class_id
        for i in range(self.tree.topLevelItemCount()):
            item = self.tree.topLevelItem(i)
            if item.data(0, Qt.ItemDataRole.UserRole) == wanted:
                return item
        return None

    def _row(self, class_id: int) -> store_classes.ClassRow:
        return next(c for c in self.classes if c.id == class_id)

    def _update_buttons(self) -> None:
        has_dataset, has_class = self.dataset_id is not None, self.current_class_id() is not None
        self.buttons["add"].setEnabled(has_dataset)
        for key in ("rename", "colour", "up", "down", "delete"):
            self.buttons[key].setEnabled(has_class)
        self.buttons["merge"].setEnabled(has_class and len(self.classes) > 1)

    # --- actions ------------------------------------------------------------------------------
    def _on_dropped(self, class_id, dataset_id: int, sample_ids: list) -> None:
        if dataset_id != self.dataset_id:
            self.ctl.error.emit("those samples belong to another dataset")
            return
        self.ctl.label(dataset_id, sample_ids, class_id)

    def _on_double_clicked(self, item: QTreeWidgetItem, _column: int) -> None:
        cid = item.data(0, Qt.ItemDataRole.UserRole)
        self.assign_requested.emit(None if cid == UNLABELLED else cid)

    def add_class(self) -> int | None:
        if self.dataset_id is None:
            return None
        name = self.ask_text("Add class", "Name of the new class:", "")
        if not name:
            return None
        class_id = self.ctl.add_class(self.dataset_id, name)
        if class_id is not None:
            self.select_class(class_id)
        return class_id

    def rename_class(self) -> None:
        cid = self.current_class_id()
        if cid is None:
            return
        name = self.ask_text("Rename class", "New name:", self._row(cid).name)
        if name and name != self._row(cid).name:
            self.ctl.rename_class(self.dataset_id, cid, name)

    def recolour_class(self) -> None:
        cid = self.current_class_id()
        if cid is None:
            return
        colour = self.ask_colour(self._row(cid).colour)
        if colour:
            self.ctl.recolour_class(self.dataset_id, cid, colour)

    def move_class(self, delta: int) -> None:
        cid = self.current_class_id()
        if cid is not None:
            self.ctl.move_class(self.dataset_id, cid, delta)
            self.select_class(cid)

    def merge_class(self) -> None:
        cid = self.current_class_id()
        if cid is None:
            return
        source = self._row(cid)
        others = [c for c in self.classes if c.id != cid]
        target_name = self.ask_item(
            "Merge classes", f"Move the {source.count} sample(s) of “{source.name}” into:", [c.name for c in others])
        target = next((c for c in others if c.name == target_name), None)
        if target is not None:
            self.ctl.merge_classes(self.dataset_id, cid, target.id)
            self.select_class(target.id)

    def delete_text(self, class_id: int) -> str:
        row = self._row(class_id)
        return (f"Delete the class “{row.name}”?\n\nIts {row.count} sample{'s' if row.count != 1 else ''} "
                "will become unlabelled. You can undo this with Ctrl+Z.")

    def delete_class(self) -> None:
        cid = self.current_class_id()
        if cid is not None and self.confirm("Delete class", self.delete_text(cid)):
            self.ctl.delete_class(self.dataset_id, cid)

    # --- default dialogs ----------------------------------------------------------------------
    def _ask_text(self, title: str, label: str, text: str) -> str | None:
        value, ok = QInputDialog.getText(self, title, label, text=text)
        return value.strip() if ok and value.strip() else None

    def _ask_colour(self, initial: str) -> str | None:
        colour = QColorDialog.getColor(QColor(initial), self, "Class colour")
        return colour.name() if colour.isValid() else None

    def _ask_item(self, title: str, label: str, items: list[str]) -> str | None:
        value, ok = QInputDialog.getItem(self, title, label, items, 0, False)
        return value if ok else None

    def _confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                                      QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes


class ClassButtonBar(QWidget):
    """One button per class ("1 cat", "2 dog", ...) and "Unlabel": ``chosen(class_id | None)``."""

    chosen = Signal(object)

    def __init__(self, controller: LabellingController, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctl = controller
        self.dataset_id: int | None = None
        self.class_buttons: list[QPushButton] = []
        self._shown: tuple | None = None  # (dataset, classes) the buttons were built for
        self._row = QHBoxLayout()
        self._row.setContentsMargins(0, 0, 0, 0)
        self._row.setSpacing(4)
        inner = QWidget()
        inner.setLayout(self._row)
        scroll = QScrollArea()
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setFixedHeight(44)
        self.note: QLabel | None = None  # "No classes yet…" when the dataset has none
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(QLabel("Label as:"))
        layout.addWidget(scroll, 1)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        controller.classes_changed.connect(lambda ds: ds == self.dataset_id and self.refresh())

    def set_dataset(self, dataset_id: int | None) -> None:
        self.dataset_id = dataset_id
        self.refresh()

    def refresh(self) -> None:
        classes = []
        if self.dataset_id is not None:
            with self.ctl.lib.session() as s:
                classes = store_classes.list_classes(s, self.dataset_id)
        shown = (self.dataset_id, [(c.id, c.name, c.colour) for c in classes])
        if shown == self._shown:
            return  # a running import refreshes often: keep the same buttons (no flicker)
        self._shown = shown
        while self._row.count():
            item = self._row.takeAt(0)
            if item.widget():
                item.widget().deleteLater()
        self.class_buttons = []
        self.note = None
        if self.dataset_id is None:
            return
        for pos, c in enumerate(classes):
            key = key_for(pos)
            b = QPushButton(colour_swatch(c.colour), f"{key}  {c.name}" if key else c.name)
            b.setToolTip(f"Label the selection as {c.name}" + (f" (key {key})" if key else ""))
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # keys stay with the grid / labelling view
            b.clicked.connect(lambda _=False, cid=c.id: self.chosen.emit(cid))
            self._row.addWidget(b)
            self.class_buttons.append(b)
        unlabel = QPushButton("⌫  Unlabel")
        unlabel.setToolTip("Remove the label (Backspace)")
        unlabel.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        unlabel.clicked.connect(lambda: self.chosen.emit(None))
        self._row.addWidget(unlabel)
        self.unlabel_button = unlabel
        self.note = None
        if not classes:
            self.note = QLabel("No classes yet: add one in the class panel (+).")
            self.note.setStyleSheet("color: #5b6670;")
            self._row.addWidget(self.note)
        self._row.addStretch(1)
