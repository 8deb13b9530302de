"""The main window: a navigation sidebar of pages, menus, a status bar, drag-and-drop import.

Other parts of the studio add their page with::

    window.add_page("train", "Train", icon("train"), TrainPage(lib))

A page is a ``studio.ui.common.page.Page`` (any QWidget works; the hooks below are then
optional): ``on_shown()`` is called each time the page becomes visible (refresh there, cheaply),
``restore_state(settings)`` once it is built. ``window.show_page(key)`` switches pages;
``window.page(key)`` returns a page widget. Before the window closes, each page's
``confirm_close() -> bool`` may veto it (False keeps the window open); then ``save_state`` and
``shutdown()``.

Only the Datasets page is built before the window first paints. The others are reserved in the
sidebar and built the first time they are shown or asked for (``page(key)``, ``window.training``):
the Kernels page needs torch and vispy, the training pages pyqtgraph, and importing those costs
seconds that a user opening the app to label images should not wait for.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QWidget,
)

from studio.store.library import Library
from studio.ui.shell.about import AboutDialog
from studio.ui.datasets.page import DatasetsPage
from studio.ui.common.style import app_icon, icon

ORGANISATION = "ModelStudio"
APPLICATION = "Model Studio"
DEFAULT_SIZE = QSize(1280, 800)


def user_settings() -> QSettings:
    """The user's own settings (organisation "ModelStudio"); only the real app uses them."""
    return QSettings(ORGANISATION, APPLICATION)


def library_settings(lib: Library) -> QSettings:
    """Settings kept in an ini file inside the library: what a window made without explicit
    settings uses, so tests and embedding never touch the user's real settings."""
    return QSettings(str(lib.home / "window.ini"), QSettings.Format.IniFormat)


class MainWindow(QMainWindow):
    def __init__(self, lib: Library, settings: QSettings | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        self.lib = lib
        self.settings = settings if settings is not None else library_settings(lib)
        self.setWindowTitle("Model Studio")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self._pages: dict[str, QWidget] = {}
        self._builders: dict[str, Callable[[], None]] = {}  # reserved pages not built yet
        self._training = None
        self.about_dialog: AboutDialog | None = None

        self.nav = QListWidget()
        self.nav.setObjectName("navigation")
        self.nav.setIconSize(QSize(22, 22))
        self.nav.setFixedWidth(150)
        self.nav.setSpacing(2)
        self.nav.setStyleSheet(
            "QListWidget#navigation { border: none; background: #eef1f4; padding-top: 8px; }"
            "QListWidget#navigation::item { padding: 8px 6px; border-radius: 6px; margin: 0 6px; }"
            "QListWidget#navigation::item:selected { background: #d6e4f7; color: #14324f; }"
        )
        self.nav.currentRowChanged.connect(self._on_nav_row)
        self.stack = QStackedWidget()
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.datasets = DatasetsPage(lib)
        self._build_status_bar()
        self._build_menus()
        self.add_page("datasets", "Datasets", icon("datasets"), self.datasets)
        self.datasets.status.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.datasets.counts_changed.connect(self._update_sample_count)
        self.datasets.dataset_changed.connect(self._remember_dataset)
        # labelling: ``window.labelling.review(dataset_id, sample_ids)`` opens those samples in
        # labelling mode (the Evaluate page's "Review in labelling" calls it)
        self.labelling = self.datasets.labelling.ctl
        self.labelling.review_requested.connect(lambda *_: self.show_page("datasets"))
        for key, title in (("train", "Train"), ("runs", "Runs"), ("evaluate", "Evaluate")):
            self.reserve_page(key, title, icon(key), self._build_training)  # one builder: they are wired together
        self.reserve_page("kernels", "Kernels", icon("kernels"), lambda: self.add_page("kernels", "Kernels", None, _kernels_page(lib)))
        self.reserve_page("play", "Play", icon("play"), lambda: self.add_page("play", "Play", None, _play_page(lib)))
        self.reserve_page("export", "Export", icon("export"), lambda: self.add_page("export", "Export", None, _export_page(lib)))
        self._restore_settings()
        self._update_sample_count()

    # --- pages ----------------------------------------------------------------------------
    def add_page(self, key: str, title: str, icon: QIcon | None, widget: QWidget) -> None:
        """Add a page to the sidebar (in call order), or fill the slot reserved for ``key``.
        ``key`` must be unique."""
        placeholder = self._pages.get(key)
        if placeholder is not None and key in self._builders:
            del self._builders[key]
            index = self.stack.indexOf(placeholder)
            showing = self.stack.currentWidget() is placeholder
            self.stack.insertWidget(index, widget)
            self.stack.removeWidget(placeholder)
            placeholder.deleteLater()
            self._pages[key] = widget
            if showing:
                self.stack.setCurrentWidget(widget)
            return
        if key in self._pages:
            raise ValueError(f"a page with key {key!r} already exists")
        self._pages[key] = widget
        self.stack.addWidget(widget)
        self._add_nav_item(key, title, icon)

    def reserve_page(self, key: str, title: str, icon: QIcon | None, build: Callable[[], None]) -> None:
        """A sidebar entry now; ``build()`` (which calls ``add_page(key, ...)``) runs the first
        time the page is shown or asked for."""
        if key in self._pages:
            raise ValueError(f"a page with key {key!r} already exists")
        self._pages[key] = QWidget()
        self._builders[key] = build
        self.stack.addWidget(self._pages[key])
        self._add_nav_item(key, title, icon)

    def _add_nav_item(self, key: str, title: str, icon: QIcon | None) -> None:
        item = QListWidgetItem(icon or QIcon(), title)
        item.setData(Qt.ItemDataRole.UserRole, key)
        item.setSizeHint(QSize(0, 40))
        self.nav.addItem(item)
        if self.nav.currentRow() < 0:
            self.nav.setCurrentRow(0)

    def _ensure_built(self, key: str) -> QWidget:
        build = self._builders.get(key)
        if build is not None:
            self.setCursor(Qt.CursorShape.WaitCursor)
            try:
                build()
            finally:
                self.unsetCursor()
            if key in self._builders:
                raise RuntimeError(f"building page {key!r} did not add it")
            restore = getattr(self._pages[key], "restore_state", None)
            if callable(restore):  # e.g. where the user left the Kernels page's panel dividers
                restore(self.settings)
        return self._pages[key]

    def is_page_built(self, key: str) -> bool:
        return key in self._pages and key not in self._builders

    def page(self, key: str) -> QWidget:
        return self._ensure_built(key)

    @property
    def training(self):
        """The Train, Runs and Evaluate pages (``TrainingPages``), built on first use."""
        if self._training is None:
            self._ensure_built("train")
        return self._training

    def _build_training(self) -> None:
        from studio.ui.training.install import install_training_pages  # pyqtgraph: only when needed

        self._training = install_training_pages(self, self.lib, review=self.labelling.review)

    def page_keys(self) -> list[str]:
        return list(self._pages)

    def current_page_key(self) -> str | None:
        item = self.nav.currentItem()
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def show_page(self, key: str) -> None:
        for row in range(self.nav.count()):
            if self.nav.item(row).data(Qt.ItemDataRole.UserRole) == key:
                self.nav.setCurrentRow(row)
                return
        raise KeyError(key)

    def _on_nav_row(self, row: int) -> None:
        if row < 0:
            return
        key = self.nav.item(row).data(Qt.ItemDataRole.UserRole)
        widget = self._ensure_built(key)
        self.stack.setCurrentWidget(widget)
        on_shown = getattr(widget, "on_shown", None)
        if callable(on_shown):
            on_shown()

    # --- menus and status bar -------------------------------------------------------------
    def _build_menus(self) -> None:
        page = self.datasets
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(page.new_action)
        file_menu.addMenu(page.import_menu)
        file_menu.addSeparator()
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence("Ctrl+Q"))
        self.quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        self.quit_action.triggered.connect(self.close)
        file_menu.addAction(self.quit_action)

        edit_menu = self.menuBar().addMenu("&Edit")  # one undo history for the whole session
        edit_menu.addActions([page.labelling.undo_action, page.labelling.redo_action])
        edit_menu.addSeparator()
        edit_menu.addMenu(page.labelling.split_menu)

        dataset_menu = self.menuBar().addMenu("&Dataset")
        dataset_menu.addActions([page.rename_action, page.delete_action])
        dataset_menu.addSeparator()
        dataset_menu.addAction(page.split_action)

        help_menu = self.menuBar().addMenu("&Help")
        self.about_action = QAction(icon("about"), "&About Model Studio", self)
        self.about_action.setShortcut(QKeySequence("F1"))
        self.about_action.setMenuRole(QAction.MenuRole.AboutRole)
        self.about_action.triggered.connect(self.show_about)
        help_menu.addAction(self.about_action)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.count_label = QLabel()
        self.count_label.setObjectName("sample_count")
        self.library_label = QLabel()
        self.library_label.setObjectName("library_path")
        self.library_label.setStyleSheet("color: #5b6670")
        self._set_elided_library_path()
        bar.addPermanentWidget(self.datasets.import_panel)
        bar.addPermanentWidget(self.count_label)
        bar.addPermanentWidget(self.library_label)

    def _set_elided_library_path(self) -> None:
        path = str(self.lib.home)
        metrics = self.library_label.fontMetrics()
        self.library_label.setText(f"Library: {metrics.elidedText(path, Qt.TextElideMode.ElideMiddle, 380)}")
        self.library_label.setToolTip(path)

    def _update_sample_count(self) -> None:
        ds = self.datasets.current_summary
        noun = {"table": "rows", "text": "texts"}.get(ds.kind, "samples") if ds is not None else "samples"
        self.count_label.setText(f"{ds.samples:,} {noun} in “{ds.name}”" if ds else "No dataset")

    def show_about(self) -> AboutDialog:
        self.about_dialog = AboutDialog(self.lib, self)
        self.about_dialog.show()
        return self.about_dialog

    # --- drag and drop import -------------------------------------------------------------
    @staticmethod
    def _local_paths(event: QDragEnterEvent | QDropEvent) -> list[Path]:
        mime = event.mimeData()
        if not mime.hasUrls():
            return []
        return [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if self._local_paths(event):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:  # noqa: N802
        event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = self._local_paths(event)
        if not paths:
            event.ignore()
            return
        event.acceptProposedAction()
        self.show_page("datasets")
        self.datasets.import_paths(paths)

    # --- settings -------------------------------------------------------------------------
    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(DEFAULT_SIZE)
        last = self.settings.value("datasets/last_id")
        try:
            last_id = int(last) if last is not None else None
        except (TypeError, ValueError):
            last_id = None
        if last_id is not None:
            self.datasets.select_dataset(last_id)

    def _remember_dataset(self, dataset_id: int | None) -> None:
        if dataset_id is not None:
            self.settings.setValue("datasets/last_id", int(dataset_id))

    def save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        for widget in self._built_pages():
            save_state = getattr(widget, "save_state", None)
            if callable(save_state):
                save_state(self.settings)
        if self.datasets.current_id is not None:
            self.settings.setValue("datasets/last_id", int(self.datasets.current_id))
        self.settings.sync()

    def _built_pages(self) -> list[QWidget]:
        return [w for key, w in self._pages.items() if key not in self._builders]

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        for widget in self._built_pages():  # a page may veto ("training is running: stop it?")
            confirm_close = getattr(widget, "confirm_close", None)
            if callable(confirm_close) and not confirm_close():
                event.ignore()
                return
        self.save_settings()
        for widget in self._built_pages():
            shutdown = getattr(widget, "shutdown", None)
            if callable(shutdown):
                shutdown()
        super().closeEvent(event)


def _kernels_page(lib: Library) -> QWidget:
    from studio.ui.kernels.page import KernelsPage  # torch + vispy

    return KernelsPage(lib)


def _play_page(lib: Library) -> QWidget:
    from studio.ui.models.play_page import PlayPage

    return PlayPage(lib)


def _export_page(lib: Library) -> QWidget:
    from studio.ui.models.export_page import ExportPage

    return ExportPage(lib)
