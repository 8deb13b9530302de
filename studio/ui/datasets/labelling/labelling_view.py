"""Labelling mode: one large image (or whole text) at a time. A number key labels it and moves on, the arrows
move, Backspace removes the label, Enter accepts the model's suggestion; unlabelled samples come
first. Images decode and texts are read on worker threads (the next one is fetched ahead), so
keys never wait. A text shows whole, word-wrapped and scrollable, in place of the image."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage, QKeyEvent
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from studio.store import labelling as store_labelling
from studio.store import suggestions as store_suggestions
from studio.store.samples import sample_rows
from studio.ui.datasets.labelling.class_panel import ClassButtonBar
from studio.ui.datasets.labelling.controller import LabellingController
from studio.ui.datasets.labelling.grid_keys import NUMBER_KEYS
from studio.ui.common.sample_view import ImageCanvas, load_upright_image
from studio.ui.common.workers import start_job

CACHE_IMAGES = 12
TEXT_FORMAT = "txt"


def _read_text_blob(lib, blob: str, state=None) -> str:
    """Worker thread: a text sample's whole text."""
    return lib.blobs.read(blob).decode("utf-8")


class LabellingView(QWidget):
    closed = Signal()
    position_changed = Signal(int)

    def __init__(self, controller: LabellingController, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctl = controller
        self.lib = controller.lib
        self.dataset_id: int | None = None
        self.ids: list[int] = []
        self.index = -1
        self.run_id: int | None = None
        self.suggestions: dict[int, store_suggestions.Suggestion] = {}
        self._images: OrderedDict[str, QImage | str] = OrderedDict()  # blob -> image, or a text
        self._loading: set[str] = set()
        self._row = None
        self._scope_all: tuple[int, int | None] | None = None  # (dataset, run) that "Review all" opens
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        # says when only some samples are under review (a selection, a list from another view)
        self.scope_bar = QFrame()
        self.scope_bar.setObjectName("review_scope")
        self.scope_bar.setStyleSheet("QFrame#review_scope { background: #fff4d6; border-radius: 4px; }")
        self.scope_label = QLabel()
        self.scope_label.setStyleSheet("font-weight: 600;")
        self.scope_all_button = QPushButton()
        self.scope_all_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.scope_all_button.clicked.connect(self.review_all)
        scope_row = QHBoxLayout(self.scope_bar)
        scope_row.setContentsMargins(8, 4, 8, 4)
        scope_row.addWidget(self.scope_label, 1)
        scope_row.addWidget(self.scope_all_button)
        self.scope_bar.hide()

        self.canvas = ImageCanvas(self)
        self.canvas.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.text_view = QPlainTextEdit()  # a text sample, whole; keys stay with the view
        self.text_view.setObjectName("labelling_text")
        self.text_view.setReadOnly(True)
        self.text_view.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.text_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.text_view.setStyleSheet("QPlainTextEdit { font-size: 15px; padding: 12px; }")
        self.sample_stack = QStackedWidget()
        self.sample_stack.addWidget(self.canvas)
        self.sample_stack.addWidget(self.text_view)
        self.title = QLabel()
        self.title.setStyleSheet("font-size: 16px; font-weight: 600;")
        self.position_label = QLabel()
        self.class_label = QLabel()
        self.class_label.setTextFormat(Qt.TextFormat.RichText)
        self.class_label.setStyleSheet("font-size: 15px;")
        self.split_label = QLabel()
        self.suggestion_label = QLabel()
        self.suggestion_label.setTextFormat(Qt.TextFormat.RichText)
        self.suggestion_label.setWordWrap(True)
        self.run_combo = QComboBox()
        self.run_combo.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.run_combo.currentIndexChanged.connect(self._on_run_chosen)
        self.accept_button = QPushButton("Accept suggestion (Enter)")
        self.accept_button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.accept_button.clicked.connect(self.accept_suggestion)
        self.prev_button = QPushButton("◀ Previous")
        self.next_button = QPushButton("Next ▶")
        self.done_button = QPushButton("Done (Esc)")
        for b, slot in ((self.prev_button, self.previous), (self.next_button, self.next),
                        (self.done_button, self.closed.emit)):
            b.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            b.clicked.connect(slot)
        help_text = QLabel("<b>1</b>–<b>9</b>, <b>0</b> label and go on · <b>←</b> <b>→</b> move · "
                           "<b>Backspace</b> remove label · <b>Enter</b> accept suggestion · "
                           "<b>Ctrl+Z</b> undo · <b>Esc</b> done")
        help_text.setWordWrap(True)
        help_text.setStyleSheet("color: #5b6670;")

        side = QFrame()
        side.setFixedWidth(290)
        col = QVBoxLayout(side)
        for w in (self.title, self.position_label, self.class_label, self.split_label):
            col.addWidget(w)
        col.addSpacing(12)
        col.addWidget(QLabel("Model suggestions from:"))
        col.addWidget(self.run_combo)
        col.addWidget(self.suggestion_label)
        col.addWidget(self.accept_button)
        col.addStretch(1)
        col.addWidget(help_text)
        nav = QHBoxLayout()
        nav.addWidget(self.prev_button)
        nav.addWidget(self.next_button)
        col.addLayout(nav)
        col.addWidget(self.done_button)

        self.buttons = ClassButtonBar(controller)
        self.buttons.chosen.connect(self._on_button)
        top = QHBoxLayout()
        top.addWidget(self.sample_stack, 1)
        top.addWidget(side)
        layout = QVBoxLayout(self)
        layout.addWidget(self.scope_bar)
        layout.addLayout(top, 1)
        layout.addWidget(self.buttons)
        controller.labels_changed.connect(self._on_labels_changed)
        controller.splits_changed.connect(self._on_labels_changed)
        controller.classes_changed.connect(lambda ds: ds == self.dataset_id and self._show_current())
        controller.undone.connect(lambda command: self._follow_history(command, redone=False))
        controller.redone.connect(lambda command: self._follow_history(command, redone=True))

    # --- opening ------------------------------------------------------------------------------
    def open(self, dataset_id: int, sample_ids: Sequence[int] | None = None, run_id: int | None = None,
             title: str = "Labelling", scope: str | None = None) -> None:
        """Label the dataset's samples, unlabelled ones first, or exactly ``sample_ids`` in their order.

        With ``sample_ids`` a bar above the image says what is under review (``scope``, e.g.
        "Reviewing 12 selected images") and offers to review all the dataset's samples instead."""
        self.dataset_id = dataset_id
        with self.lib.session() as s:
            ordered = store_labelling.labelling_order(s, dataset_id, sample_ids)
            runs = store_suggestions.prediction_runs(s, dataset_id)
        if sample_ids is not None:  # a review list is shown exactly, in its own order
            present = set(ordered)
            ordered = [i for i in dict.fromkeys(int(i) for i in sample_ids) if i in present]
        self.ids = ordered
        self.title.setText(title)
        self._show_scope(dataset_id, sample_ids is not None, run_id, scope)
        self.buttons.set_dataset(dataset_id)
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        self.run_combo.addItem("none", None)
        for r in runs:
            self.run_combo.addItem(f"{r.name} (#{r.run_id}, {r.count} predictions)", r.run_id)
        wanted = run_id if run_id is not None else (runs[0].run_id if runs else None)
        self.run_combo.setCurrentIndex(max(0, self.run_combo.findData(wanted)))
        self.run_combo.blockSignals(False)
        self._load_suggestions(self.run_combo.currentData())
        self._images.clear()
        self.go_to(0)
        self.setFocus()

    def _show_scope(self, dataset_id: int, partial: bool, run_id: int | None, scope: str | None) -> None:
        self._scope_all = (dataset_id, run_id) if partial else None
        self.scope_bar.setVisible(partial)
        if not partial:
            return
        from studio.store.datasets import class_counts, get_dataset, unlabelled_count

        with self.lib.session() as s:
            total = sum(c.count for c in class_counts(s, dataset_id)) + unlabelled_count(s, dataset_id)
            noun = "text" if get_dataset(s, dataset_id).kind == "text" else "image"
        n = len(self.ids)  # the scopes callers write say "images"; a text dataset reviews texts
        self.scope_label.setText((scope or f"Reviewing {n} image{'' if n == 1 else 's'}").replace("image", noun))
        self.scope_label.setToolTip(f"Only these {n} of the dataset's {total:,} samples are shown here.")
        self.scope_all_button.setText(f"Review all {total:,} samples")

    def review_all(self) -> None:
        """Leave a partial review for all the dataset's samples (unlabelled first)."""
        if self._scope_all is not None:
            dataset_id, run_id = self._scope_all
            self.open(dataset_id, None, run_id=run_id)

    def _on_run_chosen(self, _index: int) -> None:
        self._load_suggestions(self.run_combo.currentData())
        self._show_current()

    def _load_suggestions(self, run_id: int | None) -> None:
        self.run_id = run_id
        self.suggestions = {}
        if run_id is not None and self.dataset_id is not None:
            with self.lib.session() as s:
                self.suggestions = {g.sample_id: g for g in store_suggestions.suggestions_for(s, self.dataset_id, run_id)}

    # --- moving -------------------------------------------------------------------------------
    @property
    def current_id(self) -> int | None:
        return self.ids[self.index] if 0 <= self.index < len(self.ids) else None

    def go_to(self, index: int) -> None:
        if not self.ids:
            self.index = -1
        else:
            self.index = max(0, min(len(self.ids) - 1, index))
        self._show_current()
        self.position_changed.emit(self.index)

    def next(self) -> None:
        self.go_to(self.index + 1)

    def previous(self) -> None:
        self.go_to(self.index - 1)

    def _show_current(self) -> None:
        sid = self.current_id
        self.prev_button.setEnabled(self.index > 0)
        self.next_button.setEnabled(0 <= self.index < len(self.ids) - 1)
        if sid is None:
            self._row = None
            self.sample_stack.setCurrentWidget(self.canvas)
            self.canvas.set_image(None, "Nothing to label here.")
            for w in (self.position_label, self.class_label, self.split_label, self.suggestion_label):
                w.setText("")
            self.accept_button.setEnabled(False)
            return
        with self.lib.session() as s:
            rows = sample_rows(s, self.ids[self.index : self.index + 3])
        self._row = rows[0] if rows and rows[0].id == sid else None
        if self._row is None:  # deleted meanwhile
            self.sample_stack.setCurrentWidget(self.canvas)
            self.canvas.set_image(None, f"Sample #{sid} no longer exists.")
            return
        row = self._row
        self.position_label.setText(f"Sample #{row.id} · {self.index + 1} of {len(self.ids)}")
        if row.class_id is not None:
            self.class_label.setText(f'<span style="color:{row.class_colour}">●</span> <b>{row.class_name}</b>'
                                     f' <span style="color:#6b7580">({row.labelled_by or "?"})</span>')
        else:
            self.class_label.setText('<i style="color:#6b7580">unlabelled</i>')
        self.split_label.setText(f"Split: {row.split or 'none'}")
        self._show_suggestion(row)
        is_text = row.format == TEXT_FORMAT
        self.sample_stack.setCurrentWidget(self.text_view if is_text else self.canvas)
        if is_text:
            self._show_text(row.blob)
        else:
            self._show_image(row.blob)
        for ahead in rows[1:]:
            self._fetch(ahead.blob, text=ahead.format == TEXT_FORMAT)

    def _show_suggestion(self, row) -> None:
        g = self.suggestions.get(row.id)
        if g is None:
            self.suggestion_label.setText("<span style='color:#6b7580'>no suggestion for this sample</span>"
                                          if self.run_id is not None else "")
            self.accept_button.setEnabled(False)
            return
        verdict = ""
        if g.class_id is None:
            verdict = " <span style='color:#b35c00'>(no such class here)</span>"
        elif g.disagrees:
            verdict = " <b style='color:#c0392b'>— differs from the label</b>"
        elif row.class_id == g.class_id:
            verdict = " <span style='color:#2e7d32'>— agrees</span>"
        self.suggestion_label.setText(f"Model says <b>{g.class_name}</b> ({g.confidence:.0%}){verdict}")
        self.accept_button.setEnabled(g.class_id is not None and g.class_id != row.class_id)

    # --- images -------------------------------------------------------------------------------
    def _show_image(self, blob: str) -> None:
        image = self._images.get(blob)
        if image is not None:
            self.canvas.set_image(image)
        else:
            self.canvas.set_image(None, "Loading…")
            self._fetch(blob)

    def _show_text(self, blob: str) -> None:
        text = self._images.get(blob)
        self.text_view.setPlainText(text if isinstance(text, str) else "Loading…")
        if text is None:
            self._fetch(blob, text=True)

    def _fetch(self, blob: str, text: bool = False) -> None:
        if blob in self._images or blob in self._loading:
            return
        self._loading.add(blob)
        job = start_job(_read_text_blob if text else load_upright_image, self.lib, blob)
        job.finished.connect(lambda image, blob=blob: self._on_image(blob, image))
        job.failed.connect(lambda msg, blob=blob: self._on_image_failed(blob, msg))

    def _on_image(self, blob: str, image: QImage | str) -> None:
        self._loading.discard(blob)
        self._images[blob] = image
        while len(self._images) > CACHE_IMAGES:
            self._images.popitem(last=False)
        if self._row is not None and self._row.blob == blob:
            if isinstance(image, str):
                self.text_view.setPlainText(image)
            else:
                self.canvas.set_image(image)

    def _on_image_failed(self, blob: str, message: str) -> None:
        self._loading.discard(blob)
        if self._row is not None and self._row.blob == blob:
            if self._row.format == TEXT_FORMAT:
                self.text_view.setPlainText(f"Cannot show this text:\n{message}")
            else:
                self.canvas.set_image(None, f"Cannot show this image:\n{message}")

    # --- labelling ----------------------------------------------------------------------------
    def label_current(self, class_id: int | None, advance: bool = True) -> None:
        sid = self.current_id
        if sid is None or self.dataset_id is None:
            return
        self.ctl.label(self.dataset_id, [sid], class_id)
        if advance:
            self.next()

    def label_current_by_position(self, position: int) -> None:
        sid = self.current_id
        if sid is not None and self.ctl.label_by_position(self.dataset_id, [sid], position):
            self.next()

    def accept_suggestion(self) -> None:
        sid = self.current_id
        g = self.suggestions.get(sid) if sid is not None else None
        if g is None or g.class_id is None:
            return
        # the user looked at this sample and pressed Enter: an explicit choice, so it may replace
        # a human label (in bulk, human labels are never replaced)
        if self.ctl.accept_suggestions(self.dataset_id, self.run_id, [sid], overwrite=True):
            self.next()

    def _on_button(self, class_id) -> None:
        self.label_current(class_id, advance=class_id is not None)
        self.setFocus()

    def _follow_history(self, command, redone: bool) -> None:
        """Ctrl+Z goes back to the image it un-labels (labelling had moved on to the next one);
        redo labels it again and moves on as labelling did."""
        ids = getattr(command, "sample_ids", None)
        if not self.isVisible() or ids is None or command.dataset_id != self.dataset_id:
            return
        where = {sid: i for i, sid in enumerate(self.ids)}
        positions = [where[sid] for sid in ids if sid in where]
        if not positions:
            return
        target = min(positions)
        moved_on = getattr(command, "class_id", None) is not None or getattr(command, "run_id", None) is not None
        if redone and moved_on and len(ids) == 1:
            target += 1
        self.go_to(target)

    def _on_labels_changed(self, dataset_id: int, sample_ids: list) -> None:
        if dataset_id == self.dataset_id and self.current_id in set(sample_ids):
            self._show_current()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key = Qt.Key(event.key())
        mods = event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier
        if mods == Qt.KeyboardModifier.NoModifier and key in NUMBER_KEYS:
            self.label_current_by_position(NUMBER_KEYS[key])
        elif key in (Qt.Key.Key_Right, Qt.Key.Key_Down, Qt.Key.Key_PageDown):
            self.next()
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Up, Qt.Key.Key_PageUp):
            self.previous()
        elif key == Qt.Key.Key_Backspace:
            self.label_current(None, advance=False)
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.accept_suggestion()
        elif key == Qt.Key.Key_Escape:
            self.closed.emit()
        else:
            super().keyPressEvent(event)

