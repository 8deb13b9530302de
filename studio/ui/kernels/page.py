"""The kernel lab page: pick a kernel, move its controls, watch the output live (vispy), edit its
source and run it, switch devices, compile, benchmark, export.

Thin Qt over studio.kernels (runtime, no Qt) and studio.render (vispy adapters). Kernel runs go to
one worker thread that only computes the newest request (LatestOnlyRunner), so dragging a slider
never queues stale frames; results come back through a queued signal. The panels live beside
this module: the kernel list, the input pictures, the view options, the source and benchmark tabs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import StudioError
from studio.kernels.registry import (
    KernelSpec,
    discover_for_home,
)
from studio.kernels.runtime import RunResult, available_devices, run_kernel
from studio.kernels.scheduler import LatestOnlyRunner
from studio.kernels.view import zoom_at, zoom_to_region
from studio.render.kernel_views import KernelCanvas
from studio.ui.common.page import Page
from studio.ui.common.param_controls import ParamPanel
from studio.ui.kernels.benchmark_panel import BenchmarkPanel, benchmark_job
from studio.ui.kernels.editing import SourceEditing
from studio.ui.kernels.input_pictures import InputPictures
from studio.ui.kernels.kernel_list import KernelList
from studio.ui.kernels.sizes import describe_result, size_choices, uses_size
from studio.ui.kernels.source_panel import SourcePanel
from studio.ui.kernels.view_options import ViewOptions

EXPORT_FILTERS = {"image": "PNG image (*.png);;NumPy array (*.npy)",
                  "points": "PLY point cloud (*.ply);;NumPy array (*.npy)",
                  "volume": "NumPy array (*.npy);;PNG projection (*.png)"}
EXPORT_SUFFIXES = {"image": ".png", "points": ".ply", "volume": ".npy"}


class _Bridge(QObject):
    """Signals emitted on the runner thread, delivered queued on the GUI thread."""

    result = Signal(int, object)
    error = Signal(int, object)


def default_panel_sizes(width: int) -> list[int]:
    """Kernel list + parameters | canvas | source editor: the editor gets as much as the canvas, so
    kernel source lines (~80 characters) read whole at 1280 px."""
    left = max(200, min(260, round(width * 0.22)))
    rest = max(width - left, 2)
    return [left, rest // 2, rest - rest // 2]


class KernelsPage(SourceEditing, Page):
    ran = Signal(object)  # RunResult shown (tests and the status bar listen)
    failed = Signal(str)

    def __init__(self, library=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.library = library
        self.home: Path | None = Path(library.home) if library is not None else None
        self.kernels: dict[str, KernelSpec] = {}
        self.sources: dict[str, str] = {}  # edited source per kernel module path (unsaved edits)
        self.current: KernelSpec | None = None
        self.values: dict[str, Any] = {}
        self.last_run: RunResult | None = None
        self._shown_id = 0
        self._stale = True  # controls changed while hidden: run when shown
        self._sized = False  # the first show lays the panels out by the page's real width
        self._shut = False

        self._bridge = _Bridge()
        self._bridge.result.connect(self._on_result)
        self._bridge.error.connect(self._on_error)
        self.runner = LatestOnlyRunner(self._bridge.result.emit, self._bridge.error.emit)

        self._build()
        self.reload_kernels()
        # hidden option widgets changed the layouts before any event loop pass: recompute now,
        # or the first show would use the stale (wide) minimum and push the window wider
        self.view_options.layout().activate()
        self.layout().activate()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self._build_left())
        self.splitter.addWidget(self._build_centre())
        self.splitter.addWidget(self._build_tabs())
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 1)
        self.splitter.setChildrenCollapsible(True)  # drag a panel shut to give the others its room
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
        self.setStyleSheet("QPushButton { padding: 4px 10px; }")  # no 80 px minimum per button
        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.run_source)
        QShortcut(QKeySequence("Ctrl+Enter"), self, activated=self.run_source)

    def _build_left(self) -> QWidget:
        """Kernel list above; input pictures and parameters below."""
        self.kernel_list = KernelList()
        self.kernel_list.currentItemChanged.connect(self._on_kernel_item)
        self.input_pictures = InputPictures(self.library)
        self.input_pictures.changed.connect(self.request_run)
        self.input_pictures.error.connect(self._show_error)
        self.params = ParamPanel()
        self.params.changed.connect(self._on_params_changed)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.params)
        params_box = QGroupBox("Parameters")
        box = QVBoxLayout(params_box)
        box.setContentsMargins(2, 2, 2, 2)
        box.addWidget(scroll)
        lower = QWidget()
        column = QVBoxLayout(lower)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.input_pictures)
        column.addWidget(params_box, 1)
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.kernel_list)
        left.addWidget(lower)
        left.setSizes([200, 500])
        left.setMinimumWidth(180)
        return left

    def _build_centre(self) -> QWidget:
        """Run toolbar, canvas, view options, status line."""
        self.device_combo = QComboBox()
        self.device_combo.setToolTip("where the kernel runs")
        for name in ("cpu", "cuda", "mps"):
            self.device_combo.addItem(name.upper() if name != "cpu" else "CPU", name)
            if name not in available_devices():
                item = self.device_combo.model().item(self.device_combo.count() - 1)
                item.setEnabled(False)
                item.setToolTip(f"{name} is not available on this machine")
        self.device_combo.currentIndexChanged.connect(lambda *_: self.request_run())
        self.compile_check = QCheckBox("Compile")
        self.compile_check.setToolTip("run through torch.compile (the first run compiles; its time is shown apart)")
        self.compile_check.toggled.connect(lambda *_: self.request_run())
        self.size_label = QLabel("Size")
        self.size_combo = QComboBox()
        self.size_combo.setToolTip("output size (images) or grid resolution (3D)")
        self.size_combo.currentIndexChanged.connect(lambda *_: self.request_run())
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self.export_dialog)
        self.reset_button = QPushButton("Reset view")
        self.reset_button.clicked.connect(self.reset_view)
        bar = QHBoxLayout()  # short: the canvas column must stay narrow enough for a readable editor
        for w in (self.device_combo, self.compile_check, self.size_label, self.size_combo):
            bar.addWidget(w)
        bar.addStretch(1)
        for w in (self.export_button, self.reset_button):
            bar.addWidget(w)

        self.view = KernelCanvas(size=(640, 480))
        self.view.image.set_region_zoom(None, None)
        self.canvas_widget = self.view.native
        self.canvas_widget.setMinimumSize(320, 240)
        self.view_options = ViewOptions()
        self.view_options.changed.connect(lambda: self.view_options.apply_to(self.view))
        self.status_label = QLabel("")
        self.status_label.setObjectName("kernel_status")
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status_label.setMinimumWidth(0)
        centre = QWidget()
        column = QVBoxLayout(centre)
        column.setContentsMargins(4, 4, 4, 4)
        column.addLayout(bar)
        column.addWidget(self.canvas_widget, 1)
        column.addWidget(self.view_options)
        column.addWidget(self.status_label)
        return centre

    def _build_tabs(self) -> QWidget:
        """Source editor and benchmark table."""
        self.source = SourcePanel()
        self.editor = self.source.editor
        self.error_label = self.source.error_label
        self.revert_button = self.source.revert_button
        self.source.run_button.clicked.connect(self.run_source)
        self.source.new_button.clicked.connect(self.new_kernel_dialog)
        self.source.save_button.clicked.connect(self.save_as_dialog)
        self.revert_button.clicked.connect(self.revert_source)
        self.bench = BenchmarkPanel()
        self.bench.button.clicked.connect(self.start_benchmark)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.source, "Source")
        self.tabs.addTab(self.bench, "Benchmark")
        return self.tabs

    def _update_view_options(self) -> None:
        spec = self.current
        self.view_options.show_for(spec.output if spec else "image", spec is not None and spec.meta.view is not None)

    # ------------------------------------------------------------------ kernels
    def reload_kernels(self, select: str | None = None) -> None:
        report = discover_for_home(self.home)
        self.kernels = dict(report.kernels)
        previous = select or (self.current.name if self.current else None)
        self.kernel_list.fill(self.kernels, report.errors)
        target = previous if previous in self.kernels else ("mandelbrot" if "mandelbrot" in self.kernels else None)
        if target is None and self.kernels:
            target = next(iter(self.kernels))
        if target:
            self.select_kernel(target)

    def kernel_names(self) -> list[str]:
        return self.kernel_list.names()

    def select_kernel(self, name: str) -> None:
        self.kernel_list.select(name)

    def _on_kernel_item(self, item: QListWidgetItem | None, _previous=None) -> None:
        name = KernelList.name_of(item)
        if name and name in self.kernels:
            self._activate(self.kernels[name])

    def _activate(self, spec: KernelSpec) -> None:
        self.current = spec
        self.values = spec.default_params()
        self.params.build(spec.params, self.values)
        text = self.sources.get(str(spec.path))
        if text is None:
            try:
                text = spec.path.read_text(encoding="utf-8")
            except OSError:
                text = ""
        self.source.set_source(text, spec.line)
        self.source.path_label.setText(f"{spec.path}  ({spec.origin})")
        self._show_error(None)
        self._fill_sizes(spec)
        self._show_kernel(spec)

    def _show_kernel(self, spec: KernelSpec) -> None:
        """Inputs, view options and zoom gestures of the current kernel; then run it."""
        self.input_pictures.build(spec)
        self._update_view_options()
        zoomable = bool(spec.meta.view)
        self.view.image.set_region_zoom(self._on_region if zoomable else None, self._on_wheel if zoomable else None)
        self.request_run()

    def _fill_sizes(self, spec: KernelSpec) -> None:
        self.size_combo.blockSignals(True)
        self.size_combo.clear()
        for label, size in size_choices(spec):
            self.size_combo.addItem(label, size)
        self.size_combo.setCurrentIndex(0)
        self.size_combo.blockSignals(False)
        self.size_combo.setVisible(uses_size(spec))
        self.size_label.setVisible(uses_size(spec))

    # ------------------------------------------------------------------ running
    def _on_params_changed(self, values: dict) -> None:
        self.values = values
        self.request_run()

    def request_run(self) -> int | None:
        """Queue a run of the current kernel with the current controls (latest request wins)."""
        spec = self.current
        if spec is None:
            return None
        if not self.isVisible():  # a hidden page computes nothing; showEvent catches up
            self._stale = True
            return None
        self._stale = False
        params = dict(self.values)
        device = self.device_combo.currentData() or "cpu"
        compile_ = self.compile_check.isChecked()
        size = self.size_combo.currentData()
        inputs = dict(self.input_pictures.inputs)
        self.status_label.setText("running…")
        return self.runner.submit(lambda: run_kernel(spec, params, device=device, compile=compile_, size=size, inputs=inputs))

    def _on_result(self, request_id: int, run: RunResult) -> None:
        if request_id < self._shown_id:
            return  # an older frame than the one on screen
        self._shown_id = request_id
        self.last_run = run
        try:
            self.view.show(run.result)
        except StudioError as exc:
            self._show_error(str(exc))
            return
        self._show_error(None)
        timing = f"{run.kernel} · {run.device}{' compiled' if run.compiled else ''} · {run.run_ms:.1f} ms"
        if run.compile_ms is not None:
            timing += f" · first compiled call {run.compile_ms / 1000:.1f} s"
        text = f"{timing} · {describe_result(run.result)}"
        if run.note:
            text += f" · {run.note}"
        self.status_label.setText(text)
        self.ran.emit(run)

    def _on_error(self, request_id: int, exc: BaseException) -> None:
        if request_id < self._shown_id:
            return
        self._shown_id = request_id
        message = str(exc) if isinstance(exc, StudioError) else f"{type(exc).__name__}: {exc}"
        self._show_error(message, getattr(exc, "line", None))
        self.status_label.setText("failed")
        self.failed.emit(message)

    def _show_error(self, message: str | None, line: int | None = None) -> None:
        self.source.show_error(message, line)
        if message:
            self.tabs.setCurrentIndex(0)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        return self.runner.wait_idle(timeout)

    # ------------------------------------------------------------------ zoom gestures
    def _image_size(self) -> tuple[int, int] | None:
        if self.last_run is None or self.last_run.result.kind != "image":
            return None
        h, w = self.last_run.result.shape[:2]
        return w, h

    def _on_region(self, x0: float, y0: float, x1: float, y1: float) -> None:
        size = self._image_size()
        if size is None or self.current is None or not self.current.meta.view:
            return
        self.values = zoom_to_region(self.values, self.current.meta.view, self.current.params, size[0], size[1], x0, y0, x1, y1)
        self.params.set_values(self.values)
        self.request_run()

    def _on_wheel(self, x: float, y: float, factor: float) -> None:
        size = self._image_size()
        if size is None or self.current is None or not self.current.meta.view:
            return
        self.values = zoom_at(self.values, self.current.meta.view, self.current.params, size[0], size[1], x, y, factor)
        self.params.set_values(self.values)
        self.request_run()

    def reset_view(self) -> None:
        if self.current is not None and self.current.meta.view:
            defaults = self.current.default_params()
            self.values = self.values | {k: defaults[k] for k in self.current.meta.view}
            self.params.set_values(self.values)
            self.request_run()
        self.view.reset_view()


    # ------------------------------------------------------------------ benchmark and export
    def start_benchmark(self):
        if self.current is None or self.job("benchmark") is not None:
            return None
        spec = self.current
        job = self.run_job("benchmark", benchmark_job, spec, dict(self.values), self.compile_check.isChecked(),
                           self.size_combo.currentData(), dict(self.input_pictures.inputs))
        self.tabs.setCurrentIndex(1)
        self.bench.follow(job, spec.title)
        return job

    def export_to(self, path: str | Path) -> Path:
        from studio.kernels.outputs import save_result

        if self.last_run is None:
            raise StudioError("nothing to export yet: run a kernel first")
        return save_result(self.last_run.result, path)

    def export_dialog(self) -> None:
        if self.last_run is None:
            return
        kind = self.last_run.result.kind
        path, _ = QFileDialog.getSaveFileName(self, "Export output", f"{self.last_run.kernel}", EXPORT_FILTERS[kind])
        if not path:
            return
        if not Path(path).suffix:
            path += EXPORT_SUFFIXES[kind]
        try:
            saved = self.export_to(path)
        except StudioError as exc:
            QMessageBox.warning(self, "Export", str(exc))
            return
        self.status_label.setText(f"exported {saved}")

    # ------------------------------------------------------------------ lifecycle
    def on_first_show(self) -> None:
        if not self._sized:
            self._sized = True
            self.splitter.setSizes(default_panel_sizes(self.splitter.width()))

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._stale:
            self.request_run()

    def save_state(self, settings) -> None:
        """Remember where the user put the panel dividers (the main window calls this on close)."""
        settings.setValue("kernels/splitter", self.splitter.saveState())

    def restore_state(self, settings) -> None:
        state = settings.value("kernels/splitter")
        if state is not None and self.splitter.restoreState(state):
            self._sized = True

    def shutdown(self) -> None:
        """Stop the benchmark and the runner thread, release the GL canvas (safe to call twice)."""
        if self._shut:
            return
        self._shut = True
        super().shutdown()
        self.runner.close()
        self.view.close()

    def closeEvent(self, event) -> None:
        self.shutdown()
        super().closeEvent(event)
