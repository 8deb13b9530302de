"""Everything labelling, around a sample grid: the class panel beside it, class buttons under
it, number keys / Backspace / drag on it, and the other labelling views as modes of the same
area (Browse, Label one by one, Capture, Problems, Suggestions; Ctrl+1..5). The Datasets page
builds one around its grid; the undo stack is the app session's (the controller's)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.ui.datasets.labelling.capture import CapturePanel
from studio.ui.datasets.labelling.class_panel import ClassButtonBar, ClassPanel
from studio.ui.datasets.labelling.controller import LabellingController
from studio.ui.datasets.labelling.grid_keys import GridLabeller
from studio.ui.datasets.labelling.labelling_view import LabellingView
from studio.ui.datasets.labelling.problems_view import ProblemsView
from studio.ui.datasets.labelling.selection import refresh_sample_rows, selected_sample_ids
from studio.ui.datasets.labelling.suggestions_view import SuggestionsView

MODES = (
    ("browse", "Browse", "Browse the grid; number keys label the selection", "Ctrl+1"),
    ("label", "Label one by one", "One large image at a time; unlabelled first", "Ctrl+2"),
    ("capture", "Capture", "Record webcam frames straight into a class", "Ctrl+3"),
    ("problems", "Problems", "Counts per class and split, small classes, duplicates", "Ctrl+4"),
    ("suggestions", "Suggestions", "A trained model's suggested labels", "Ctrl+5"),
)
SPLIT_ACTIONS = (("train", "Train", "Ctrl+Alt+T"), ("val", "Validation", "Ctrl+Alt+V"),
                 ("test", "Test", "Ctrl+Alt+E"), (None, "No split", "Ctrl+Alt+N"))


class LabellingWorkspace(QWidget):
    """``grid_area`` is the widget holding the grid (page 0); ``dataset_id()`` the current dataset;
    ``on_counts_changed()`` refreshes the page's counts; ``on_samples_added()`` reloads its grid;
    ``select_dataset(id)`` switches the page to another dataset (for reviews); ``split_dataset()``
    opens the page's Split… dialog (the Problems view offers it when nothing is split)."""

    status = Signal(str)
    mode_changed = Signal(str)

    def __init__(self, controller: LabellingController, grid: QAbstractItemView, grid_area: QWidget,
                 dataset_id: Callable[[], int | None], thumbnails=None,
                 on_counts_changed: Callable[[], None] = lambda: None,
                 on_samples_added: Callable[[], None] = lambda: None,
                 select_dataset: Callable[[int], object] = lambda _id: None,
                 split_dataset: Callable[[], object] | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.ctl = controller
        self.grid = grid
        self.dataset_id = dataset_id
        self._counts_changed = on_counts_changed
        self._samples_added = on_samples_added
        self._select_dataset = select_dataset
        self._shown_dataset: int | None = None

        self.labeller = GridLabeller(grid, controller, dataset_id, self)
        self.class_panel = ClassPanel(controller)
        self.class_panel.assign_requested.connect(self.label_selection)
        self.class_buttons = ClassButtonBar(controller)
        self.class_buttons.chosen.connect(self.label_selection)
        self.labelling_view = LabellingView(controller)
        self.labelling_view.closed.connect(lambda: self.set_mode("browse"))
        self.capture = CapturePanel(controller)
        self.problems = ProblemsView(controller)
        self.problems.split_button.setVisible(split_dataset is not None)
        if split_dataset is not None:
            self.problems.split_requested.connect(split_dataset)
        self.suggestions = SuggestionsView(controller, thumbnails)
        self.suggestions.review_requested.connect(self._review_with_run)

        # page 0: grid + class buttons | class panel
        browse = QWidget()
        grid_col = QVBoxLayout()
        grid_col.setContentsMargins(0, 0, 0, 0)
        grid_col.addWidget(grid_area, 1)
        grid_col.addWidget(self.class_buttons)
        side = QWidget()
        side_col = QVBoxLayout(side)
        side_col.setContentsMargins(4, 0, 0, 0)
        heading = QLabel("CLASSES")
        heading.setStyleSheet("color: #5b6670; font-weight: 600; letter-spacing: 1px;")
        side_col.addWidget(heading)
        side_col.addWidget(self.class_panel, 1)
        hint = QLabel("Select tiles, then press 1–9 / 0, click a class button or drag onto a class. "
                      "Backspace removes the label. Ctrl+Z undoes.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #5b6670; font-size: 11px;")
        side_col.addWidget(hint)
        left = QWidget()
        left.setLayout(grid_col)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(side)
        splitter.setStretchFactor(0, 1)
        splitter.setSizes([900, 200])
        splitter.setChildrenCollapsible(False)
        side.setMinimumWidth(180)
        row = QHBoxLayout(browse)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(splitter)

        self.stack = QStackedWidget()
        self.pages = {"browse": browse, "label": self.labelling_view, "capture": self.capture,
                      "problems": self.problems, "suggestions": self.suggestions}
        for w in self.pages.values():
            self.stack.addWidget(w)

        # mode bar: exclusive checkable buttons (tabs) + split menu + undo / redo
        self.mode_actions: dict[str, QAction] = {}
        group = QActionGroup(self)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.setSpacing(2)
        for key, text, tip, shortcut in MODES:
            act = QAction(text, self)
            act.setCheckable(True)
            act.setShortcut(QKeySequence(shortcut))
            act.setToolTip(f"{tip} ({shortcut})")
            act.triggered.connect(lambda _=False, k=key: self.set_mode(k))
            group.addAction(act)
            self.addAction(act)
            self.mode_actions[key] = act
            b = QToolButton()
            b.setDefaultAction(act)
            b.setObjectName(f"mode_{key}")
            b.setAutoRaise(True)
            b.setStyleSheet("QToolButton:checked { background: #d6e4f7; border-radius: 4px; }")
            bar.addWidget(b)
        self.mode_actions["browse"].setChecked(True)
        bar.addStretch(1)
        self.split_menu = QMenu("Move to split", self)
        self.split_actions: dict[str | None, QAction] = {}
        for split, text, shortcut in SPLIT_ACTIONS:
            act = QAction(text, self)
            act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(lambda _=False, sp=split: self.split_selection(sp))
            self.split_menu.addAction(act)
            self.addAction(act)
            self.split_actions[split] = act
        split_button = QToolButton()
        split_button.setText("Move to split")
        split_button.setToolTip("Move the selected samples to train / validation / test")
        split_button.setMenu(self.split_menu)
        split_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        split_button.setAutoRaise(True)
        bar.addWidget(split_button)
        self.undo_action = controller.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcuts([QKeySequence(QKeySequence.StandardKey.Undo)])
        self.redo_action = controller.undo_stack.createRedoAction(self, "&Redo")
        redo_keys = [QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")]
        redo_keys += [k for k in QKeySequence.keyBindings(QKeySequence.StandardKey.Redo) if k not in redo_keys]
        self.redo_action.setShortcuts(redo_keys)  # each key once: a repeated key is "ambiguous"

        self.history_buttons: dict[str, QToolButton] = {}
        for act, name, text in ((self.undo_action, "undo", "↶ Undo"), (self.redo_action, "redo", "↷ Redo")):
            self.addAction(act)
            b = QToolButton()  # a short fixed label; what it would undo goes in the tooltip
            b.setText(text)
            b.setObjectName(f"{name}_button")
            b.setAutoRaise(True)
            b.clicked.connect(act.trigger)
            self.history_buttons[name] = b
            bar.addWidget(b)
        stack = controller.undo_stack
        for signal in (stack.canUndoChanged, stack.canRedoChanged, stack.undoTextChanged, stack.redoTextChanged):
            signal.connect(self._sync_history_buttons)
        self._sync_history_buttons()

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addWidget(self.stack, 1)

        controller.labels_changed.connect(self._on_samples_changed)
        controller.splits_changed.connect(self._on_samples_changed)
        controller.classes_changed.connect(self._on_classes_changed)
        controller.samples_added.connect(self._on_samples_added)
        controller.review_requested.connect(self.review)
        controller.error.connect(self.status.emit)

    def _sync_history_buttons(self, *_args) -> None:
        stack = self.ctl.undo_stack
        try:
            states = (("undo", stack.canUndo(), stack.undoText(), "Ctrl+Z"),
                      ("redo", stack.canRedo(), stack.redoText(), "Ctrl+Shift+Z"))
        except RuntimeError:  # the stack is being destroyed (window closing): nothing to show
            return
        for name, can, text, keys in states:
            b = self.history_buttons[name]
            b.setEnabled(can)
            b.setToolTip(f"{name.capitalize()} {text} ({keys})" if can else f"Nothing to {name}")

    # --- dataset & modes ------------------------------------------------------------------------
    def set_dataset(self, dataset_id: int | None) -> None:
        self._shown_dataset = dataset_id
        for view in (self.class_panel, self.class_buttons, self.capture, self.problems, self.suggestions):
            view.set_dataset(dataset_id)
        if self.mode == "label" and dataset_id is not None and self.labelling_view.dataset_id != dataset_id:
            self.labelling_view.open(dataset_id)

    def reload(self) -> None:
        """Re-read the classes and counts the views show, for changes made outside the
        controller (an import, a split): the class panel, the class buttons, the capture's class
        list and the problems view."""
        if self._shown_dataset is None:
            return
        self.class_panel.refresh()
        self.class_buttons.refresh()
        self.capture.set_dataset(self._shown_dataset)
        if self.problems.isVisible():  # it re-reads when shown
            self.problems.refresh()

    @property
    def mode(self) -> str:
        return next(k for k, w in self.pages.items() if w is self.stack.currentWidget())

    def set_mode(self, mode: str, sample_ids: list[int] | None = None, run_id: int | None = None) -> None:
        ds = self.dataset_id()
        if mode == "label" and ds is not None:
            scope = None
            if sample_ids is None:
                selected = selected_sample_ids(self.grid)
                if len(selected) > 1:  # label the selection (and say so), or all
                    sample_ids, scope = selected, f"Reviewing {len(selected)} selected images"
            title = "Review" if sample_ids is not None else "Labelling"
            self.labelling_view.open(ds, sample_ids, run_id=run_id, title=title, scope=scope)
        if mode == "browse" and self.mode != "browse":
            self._samples_added()  # captured / reviewed samples show up in the grid now
        self.stack.setCurrentWidget(self.pages[mode])
        self.mode_actions[mode].setChecked(True)
        (self.labelling_view if mode == "label" else self.grid if mode == "browse" else self.pages[mode]).setFocus()
        self.mode_changed.emit(mode)

    def review(self, dataset_id: int, sample_ids: list, run_id: int | None = None) -> None:
        """Open exactly ``sample_ids`` of ``dataset_id`` in labelling mode (switching dataset)."""
        if self.dataset_id() != dataset_id:
            self._select_dataset(dataset_id)
        if self.dataset_id() == dataset_id:
            self.set_mode("label", list(sample_ids), run_id)

    def _review_with_run(self, dataset_id: int, sample_ids: list, run_id: int) -> None:
        self.review(dataset_id, sample_ids, run_id)

    # --- actions on the grid's selection ------------------------------------------------------
    def label_selection(self, class_id) -> None:
        ds = self.dataset_id()
        ids = selected_sample_ids(self.grid)
        if ds is None or not ids:
            self.status.emit("Select samples in the grid first.")
            return
        self.ctl.label(ds, ids, class_id)

    def split_selection(self, split: str | None) -> None:
        ds = self.dataset_id()
        ids = selected_sample_ids(self.grid)
        if ds is not None and ids:
            self.ctl.set_split(ds, ids, split)

    # --- keeping views in step ----------------------------------------------------------------
    def _on_samples_changed(self, dataset_id: int, sample_ids: list) -> None:
        if dataset_id == self.dataset_id():
            refresh_sample_rows(self.grid.model(), sample_ids)
            self._counts_changed()

    def _on_classes_changed(self, dataset_id: int) -> None:
        if dataset_id == self.dataset_id():
            model = self.grid.model()
            cached = [sid for page in getattr(model, "_pages", {}).values() for sid in page]
            refresh_sample_rows(model, cached)  # names and colours on the tiles
            self._counts_changed()

    def _on_samples_added(self, dataset_id: int, _ids: list) -> None:
        if dataset_id == self.dataset_id():
            self._counts_changed()
