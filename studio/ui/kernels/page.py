"""The kernel lab page: pick a kernel, move its controls, watch the output live (vispy), edit its
source and run it, switch devices, compile, benchmark, export.

Thin Qt over studio.kernels (runtime, no Qt) and studio.render (vispy adapters). Kernel runs go to
one worker thread that only computes the newest request (LatestOnlyRunner), so dragging a slider
never queues stale frames; results come back through a queued signal."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QInputDialog,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from studio.core.errors import StudioError
from studio.kernels.input_images import IMAGE_SUFFIXES, bundled_images, load_image, load_sample_image
from studio.kernels.registry import (
    KernelError,
    KernelSpec,
    discover_for_home,
    load_module_source,
    new_kernel_source,
    save_user_kernel,
)
from studio.kernels.runtime import RunResult, available_devices, run_kernel
from studio.kernels.scheduler import LatestOnlyRunner
from studio.kernels.view import zoom_at, zoom_to_region
from studio.render.kernel_views import CAMERAS, COLORMAPS, KernelCanvas
from studio.ui.kernels.code_editor import CodeEditor
from studio.ui.common.param_controls import ParamPanel

IMAGE_SIZES = ("640x480", "800x600", "1280x720", "1920x1080", "320x240")
RESOLUTIONS = ("48", "64", "80", "96", "128", "160")
ROLE_NAME = Qt.ItemDataRole.UserRole


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


def describe_result(result) -> str:
    """"image 800×600 RGB", "points 250,000", "volume 64×64×64" (width before height, as users say it)."""
    shape = tuple(int(v) for v in result.shape)
    if result.kind == "image":
        channels = shape[2] if len(shape) == 3 else 1
        mode = {1: "grey", 3: "RGB", 4: "RGBA"}.get(channels, f"{channels} channels")
        return f"image {shape[1]}×{shape[0]} {mode}"
    if result.kind == "points":
        return f"points {shape[0]:,}"
    return f"{result.kind} " + "×".join(str(v) for v in shape)


class KernelsPage(QWidget):
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
        self.inputs: dict[str, Any] = {}  # input name -> tensor
        self.input_labels: dict[str, str] = {}
        self.last_run: RunResult | None = None
        self._shown_id = 0
        self._bench_job = None
        self._stale = True  # controls changed while hidden: run when shown
        self._colormap_by_kind = {"points": "viridis", "volume": "hot"}

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
        # left: kernel list, inputs, parameters
        self.kernel_list = QListWidget()
        self.kernel_list.setObjectName("kernel_list")
        self.kernel_list.currentItemChanged.connect(self._on_kernel_item)
        self.params = ParamPanel()
        self.params.changed.connect(self._on_params_changed)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self.params)
        self.inputs_box = QGroupBox("Input pictures")
        self.inputs_form = QFormLayout(self.inputs_box)
        params_box = QGroupBox("Parameters")
        pl = QVBoxLayout(params_box)
        pl.setContentsMargins(2, 2, 2, 2)
        pl.addWidget(scroll)
        left = QSplitter(Qt.Orientation.Vertical)
        left.addWidget(self.kernel_list)
        lower = QWidget()
        ll = QVBoxLayout(lower)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.inputs_box)
        ll.addWidget(params_box, 1)
        left.addWidget(lower)
        left.setSizes([200, 500])

        # centre: run toolbar, canvas, view options, status
        self.device_combo = QComboBox()
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
        self.size_combo = QComboBox()
        self.size_combo.setToolTip("output size (images) or grid resolution (3D)")
        self.size_combo.currentIndexChanged.connect(lambda *_: self.request_run())
        self.run_button = QPushButton("Run ▶")
        self.run_button.setToolTip("run the source in the editor (Ctrl+Enter)")
        self.run_button.clicked.connect(self.run_source)
        self.bench_button = QPushButton("Benchmark")
        self.bench_button.clicked.connect(self.start_benchmark)
        self.export_button = QPushButton("Export…")
        self.export_button.clicked.connect(self.export_dialog)
        self.reset_button = QPushButton("Reset view")
        self.reset_button.clicked.connect(self.reset_view)
        bar = QHBoxLayout()  # short: the canvas column must stay narrow enough for a readable editor
        self.device_combo.setToolTip("where the kernel runs")
        self.size_label = QLabel("Size")
        for w in (self.device_combo, self.compile_check, self.size_label, self.size_combo):
            bar.addWidget(w)
        bar.addStretch(1)
        for w in (self.export_button, self.reset_button):
            bar.addWidget(w)

        self.view = KernelCanvas(size=(640, 480))
        self.view.image.set_region_zoom(None, None)
        self.canvas_widget = self.view.native
        self.canvas_widget.setMinimumSize(320, 240)

        self.view_options = self._build_view_options()
        self.status_label = QLabel("")
        self.status_label.setObjectName("kernel_status")
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        centre = QWidget()
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(4, 4, 4, 4)
        cl.addLayout(bar)
        cl.addWidget(self.canvas_widget, 1)
        cl.addWidget(self.view_options)
        cl.addWidget(self.status_label)

        # right: source editor and benchmark table
        self.editor = CodeEditor()
        self.editor.setObjectName("kernel_editor")
        self.error_label = QLabel("")
        self.error_label.setObjectName("kernel_error")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("QLabel#kernel_error { color: #b91c1c; }")
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.hide()
        self.source_path_label = QLabel("")
        self.source_path_label.setStyleSheet("color: #6b7280;")
        self.new_button = QPushButton("New…")
        self.new_button.setToolTip("start a new kernel from a template")
        self.new_button.clicked.connect(self.new_kernel_dialog)
        self.save_button = QPushButton("Save as…")
        self.save_button.setToolTip("save the source into your kernel folder")
        self.save_button.clicked.connect(self.save_as_dialog)
        self.revert_button = QPushButton("Revert")
        self.revert_button.setToolTip("drop unsaved edits")
        self.revert_button.clicked.connect(self.revert_source)
        buttons = QHBoxLayout()
        for w in (self.new_button, self.save_button, self.revert_button):
            buttons.addWidget(w)
        buttons.addStretch(1)
        header = QHBoxLayout()  # Run sits beside the path: the button row is full at 1280 px
        self.source_path_label.setMinimumWidth(1)
        self.source_path_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        header.addWidget(self.source_path_label, 1)
        header.addWidget(self.run_button)
        src = QWidget()
        sl = QVBoxLayout(src)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addLayout(header)
        sl.addWidget(self.editor, 1)
        sl.addWidget(self.error_label)
        sl.addLayout(buttons)
        self.bench_table = QTableWidget(0, 4)
        self.bench_table.setObjectName("bench_table")
        self.bench_table.setHorizontalHeaderLabels(["Target", "Time (ms)", "Throughput", "First call (ms)"])
        self.bench_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.bench_table.verticalHeader().hide()
        self.bench_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.bench_status = QLabel("Press Benchmark to time the kernel on each device.")
        self.bench_status.setWordWrap(True)
        bench = QWidget()
        bl = QVBoxLayout(bench)
        bench_row = QHBoxLayout()
        self.bench_button.setToolTip("time the kernel on each device (and compiled, when Compile is ticked)")
        bench_row.addWidget(self.bench_button)
        bench_row.addStretch(1)
        bl.addLayout(bench_row)
        bl.addWidget(self.bench_table, 1)
        bl.addWidget(self.bench_status)
        self.tabs = QTabWidget()
        self.tabs.addTab(src, "Source")
        self.tabs.addTab(bench, "Benchmark")

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(centre)
        split.addWidget(self.tabs)
        split.setStretchFactor(1, 1)
        split.setStretchFactor(2, 1)
        split.setChildrenCollapsible(True)  # drag a panel shut to give the others its room
        self.editor.setMinimumWidth(240)
        left.setMinimumWidth(180)
        self.splitter = split
        self._sized = False  # the first show lays the panels out by the page's real width
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)
        self.setStyleSheet("QPushButton { padding: 4px 10px; }")  # no 80 px minimum per button
        # long texts (paths, timings, hints) must never force the page wider than the window
        for label in (self.status_label, self.zoom_hint, self.source_path_label, self.bench_status, self.error_label):
            label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
            label.setMinimumWidth(0)

        QShortcut(QKeySequence("Ctrl+Return"), self, activated=self.run_source)
        QShortcut(QKeySequence("Ctrl+Enter"), self, activated=self.run_source)

    def _build_view_options(self) -> QWidget:
        box = QWidget()
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 0, 0)
        self.point_size = QDoubleSpinBox()
        self.point_size.setRange(0.5, 20.0)
        self.point_size.setValue(3.0)
        self.point_size.setSingleStep(0.5)
        self.point_size.valueChanged.connect(self._apply_view_options)
        self.camera_combo = QComboBox()
        self.camera_combo.addItems(list(CAMERAS))
        self.camera_combo.currentTextChanged.connect(self._apply_view_options)
        self.by_value = QCheckBox("Colour by value")
        self.by_value.toggled.connect(self._apply_view_options)
        self.colormap_combo = QComboBox()
        self.colormap_combo.addItems(list(COLORMAPS))
        self.colormap_combo.currentTextChanged.connect(self._apply_view_options)
        self.volume_method = QComboBox()
        self.volume_method.addItems(["mip", "translucent", "additive", "iso"])
        self.volume_method.currentTextChanged.connect(self._apply_view_options)
        self.point_widgets = [QLabel("Point size"), self.point_size, QLabel("Camera"), self.camera_combo, self.by_value]
        self.volume_widgets = [QLabel("Rendering"), self.volume_method]
        self.zoom_hint = QLabel("Drag a rectangle to zoom in, wheel to zoom at the cursor; Reset view to start again.")
        self.zoom_hint.setStyleSheet("color: #6b7280;")
        for w in self.point_widgets + self.volume_widgets + [QLabel("Colour map"), self.colormap_combo, self.zoom_hint]:
            row.addWidget(w)
        self.colormap_label = row.itemAt(row.count() - 3).widget()
        row.addStretch(1)
        return box

    def _update_view_options(self) -> None:
        kind = self.current.output if self.current else "image"
        if kind in self._colormap_by_kind:  # each view keeps its own colour map (dark-to-bright for volumes)
            self.colormap_combo.blockSignals(True)
            self.colormap_combo.setCurrentText(self._colormap_by_kind[kind])
            self.colormap_combo.blockSignals(False)
        for w in self.point_widgets:
            w.setVisible(kind == "points")
        for w in self.volume_widgets:
            w.setVisible(kind == "volume")
        self.colormap_label.setVisible(kind != "image")
        self.colormap_combo.setVisible(kind != "image")
        self.zoom_hint.setVisible(kind == "image" and self.current is not None and self.current.meta.view is not None)

    def _apply_view_options(self, *_):
        kind = self.current.output if self.current else "image"
        if kind in self._colormap_by_kind:
            self._colormap_by_kind[kind] = self.colormap_combo.currentText()
        self.view.points.point_size = self.point_size.value()
        self.view.points.colour_by_value = self.by_value.isChecked()
        self.view.points.colormap = self._colormap_by_kind["points"]
        if self.view.points.camera_name != self.camera_combo.currentText():
            self.view.points.set_camera(self.camera_combo.currentText())
        self.view.points._refresh()
        self.view.volume.set_method(self.volume_method.currentText())
        self.view.volume.set_colormap(self._colormap_by_kind["volume"])
        self.view.canvas.update()

    # ------------------------------------------------------------------ kernels
    def reload_kernels(self, select: str | None = None) -> None:
        report = discover_for_home(self.home)
        self.kernels = dict(report.kernels)
        previous = select or (self.current.name if self.current else None)
        self.kernel_list.blockSignals(True)
        self.kernel_list.clear()
        for origin, heading in (("shipped", "Shipped"), ("user", "My kernels")):
            specs = [s for s in self.kernels.values() if s.origin == origin]
            if not specs and origin == "shipped":
                continue
            header = QListWidgetItem(heading.upper())
            header.setFlags(Qt.ItemFlag.NoItemFlags)
            header.setForeground(QColor("#6b7280"))
            self.kernel_list.addItem(header)
            for spec in sorted(specs, key=lambda s: s.title.lower()):
                item = QListWidgetItem(f"  {spec.title}")
                item.setData(ROLE_NAME, spec.name)
                item.setToolTip(f"{spec.name} · {spec.output} · {spec.path}")
                self.kernel_list.addItem(item)
        for err in report.errors:
            item = QListWidgetItem(f"  ⚠ {Path(err.path or '').name}")
            item.setForeground(QColor("#b91c1c"))
            item.setToolTip(str(err))
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.kernel_list.addItem(item)
        self.kernel_list.blockSignals(False)
        target = previous if previous in self.kernels else ("mandelbrot" if "mandelbrot" in self.kernels else None)
        if target is None and self.kernels:
            target = next(iter(self.kernels))
        if target:
            self.select_kernel(target)

    def kernel_names(self) -> list[str]:
        return [self.kernel_list.item(i).data(ROLE_NAME) for i in range(self.kernel_list.count())
                if self.kernel_list.item(i).data(ROLE_NAME)]

    def select_kernel(self, name: str) -> None:
        for i in range(self.kernel_list.count()):
            if self.kernel_list.item(i).data(ROLE_NAME) == name:
                self.kernel_list.setCurrentRow(i)
                return

    def _on_kernel_item(self, item: QListWidgetItem | None, _previous=None) -> None:
        name = item.data(ROLE_NAME) if item else None
        if name and name in self.kernels:
            self._activate(self.kernels[name])

    def _activate(self, spec: KernelSpec, keep_values: bool = False) -> None:
        old = self.values if keep_values else {}
        self.current = spec
        self.values = spec.default_params() | {k: v for k, v in old.items() if k in spec.default_params()}
        self.params.build(spec.params, self.values)
        key = str(spec.path)
        if not keep_values:
            text = self.sources.get(key)
            if text is None:
                try:
                    text = spec.path.read_text(encoding="utf-8")
                except OSError:
                    text = ""
            self.editor.blockSignals(True)
            self.editor.setPlainText(text)
            self.editor.blockSignals(False)
            self.editor.go_to_line(spec.line)
        self.source_path_label.setText(f"{spec.path}  ({spec.origin})")
        self._show_error(None)
        self._fill_sizes(spec)
        self._build_inputs(spec)
        self._update_view_options()
        self.view.image.set_region_zoom(
            self._on_region if spec.meta.view else None, self._on_wheel if spec.meta.view else None
        )
        self.request_run()

    def _fill_sizes(self, spec: KernelSpec) -> None:
        self.size_combo.blockSignals(True)
        self.size_combo.clear()
        if spec.output == "image" and spec.inputs:
            self.size_combo.addItem("input size", None)
            for s in IMAGE_SIZES:
                self.size_combo.addItem(s, tuple(int(v) for v in s.split("x")))
        elif spec.output == "image":
            default = spec.meta.default_size or (640, 480)
            label = f"{default[0]}x{default[1]}"
            self.size_combo.addItem(label, tuple(default[:2]))
            for s in IMAGE_SIZES:
                if s != label:
                    self.size_combo.addItem(s, tuple(int(v) for v in s.split("x")))
        else:
            default = str((spec.meta.default_size or (64,))[0])
            self.size_combo.addItem(default, (int(default),))
            for s in RESOLUTIONS:
                if s != default:
                    self.size_combo.addItem(s, (int(s),))
        self.size_combo.setCurrentIndex(0)
        self.size_combo.blockSignals(False)
        # a point kernel that declares no size (e.g. an attractor) does not use the grid's size
        uses_size = not (spec.output == "points" and spec.meta.default_size is None)
        self.size_combo.setVisible(uses_size)
        self.size_label.setVisible(uses_size)

    # ------------------------------------------------------------------ inputs
    def _build_inputs(self, spec: KernelSpec) -> None:
        while self.inputs_form.rowCount():
            self.inputs_form.removeRow(0)
        self.inputs_box.setVisible(bool(spec.inputs))
        self.input_combos: dict[str, QComboBox] = {}
        self.inputs = {k: v for k, v in self.inputs.items() if k in spec.inputs}
        for name in spec.inputs:
            combo = QComboBox()
            combo.setObjectName(f"input_{name}")
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(8)  # long file names must not squeeze the row's label away
            for path in bundled_images():
                combo.addItem(path.name, str(path))
            combo.addItem("File…", "file")
            if self.library is not None:
                combo.addItem("Dataset sample…", "sample")
            sample = spec.meta.samples.get(name)
            if sample and combo.findText(sample) >= 0:
                combo.setCurrentIndex(combo.findText(sample))
            label = self.input_labels.get(name)
            if label and name in self.inputs and combo.findText(label) < 0:
                combo.insertItem(0, label, "current")
                combo.setCurrentIndex(0)
            combo.activated.connect(lambda index, n=name, c=combo: self._on_input_choice(n, c))
            if name not in self.inputs and combo.currentData() not in ("file", "sample"):
                self._set_input_from_path(name, combo.currentData(), announce=False)
            self.input_combos[name] = combo
            self.inputs_form.addRow(name, combo)

    def _set_input_from_path(self, name: str, path: str, announce: bool = True) -> bool:
        try:
            self.inputs[name] = load_image(path)
        except StudioError as exc:
            self._show_error(str(exc))
            return False
        self.input_labels[name] = Path(path).name
        if announce:
            self.request_run()
        return True

    def _on_input_choice(self, name: str, combo: QComboBox) -> None:
        choice = combo.currentData()
        if choice == "file":
            pattern = " ".join(f"*{s}" for s in IMAGE_SUFFIXES)
            path, _ = QFileDialog.getOpenFileName(self, f"Picture for {name}", "", f"Images ({pattern})")
            if path and self._set_input_from_path(name, path):
                combo.insertItem(0, Path(path).name, path)
                combo.setCurrentIndex(0)
        elif choice == "sample":
            self.choose_dataset_sample(name)
        elif choice and choice != "current":
            self._set_input_from_path(name, choice)

    def choose_dataset_sample(self, name: str, dataset_name: str | None = None) -> None:
        """Use a random picture of a dataset (asked for when not given) as input ``name``."""
        from studio.store.datasets import list_datasets
        from studio.store.samples import sample_ids

        with self.library.session() as s:
            by_name = {d.name: d.id for d in list_datasets(s) if d.kind == "image"}
        datasets = sorted(by_name)
        if not datasets:
            self._show_error("the library has no image datasets yet; import one on the Datasets page")
            return
        if dataset_name is None:
            dataset_name, ok = QInputDialog.getItem(self, "Dataset sample", "Dataset:", datasets, 0, False)
            if not ok:
                return
        with self.library.session() as s:
            ids = sample_ids(s, by_name[dataset_name]) if dataset_name in by_name else []
        if not ids:
            self._show_error(f"dataset {dataset_name!r} has no samples")
            return
        sample_id = random.choice(ids)
        try:
            self.inputs[name] = load_sample_image(self.library, sample_id)
        except StudioError as exc:
            self._show_error(str(exc))
            return
        label = f"{dataset_name} #{sample_id}"
        self.input_labels[name] = label
        combo = self.input_combos.get(name)
        if combo is not None:
            combo.insertItem(0, label, "current")
            combo.setCurrentIndex(0)
        self.request_run()

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
        inputs = dict(self.inputs)
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
        if not message:
            self.error_label.hide()
            self.error_label.setText("")
            if self.editor.error_line is not None:
                self.editor.mark_error(None)  # the source was replaced (Revert, another kernel)
            return
        self.error_label.setText(message)
        self.error_label.show()
        self.tabs.setCurrentIndex(0)
        if line is not None:
            self.editor.mark_error(line)

    def wait_idle(self, timeout: float = 30.0) -> bool:
        return self.runner.wait_idle(timeout)

    # ------------------------------------------------------------------ editing
    def run_source(self) -> None:
        """Load the editor's text as the current kernel's module and run it (errors point to a line)."""
        if self.current is None:
            return
        path = self.current.path
        source = self.editor.toPlainText()
        self.sources[str(path)] = source
        try:
            _, specs = load_module_source(source, path, self.current.origin if self.current.origin != "shipped" else "edited")
        except KernelError as exc:
            self._show_error(str(exc), exc.line)
            self.status_label.setText("failed")
            self.failed.emit(str(exc))
            return
        if not specs:
            self._show_error("this module has no function marked @kernel")
            return
        for spec in specs:
            spec.origin = self.kernels.get(spec.name, spec).origin
            self.kernels[spec.name] = spec
        chosen = next((s for s in specs if s.name == self.current.name), specs[0])
        self._activate_edited(chosen)

    def _activate_edited(self, spec: KernelSpec) -> None:
        # keep values the user moved; a control still at its old default follows an edited default
        old_defaults = self.current.default_params() if self.current else {}
        kept = {k: v for k, v in self.values.items() if k in spec.default_params() and old_defaults.get(k) != v}
        self.current = spec
        self.values = spec.default_params() | kept
        self.params.build(spec.params, self.values)
        self._build_inputs(spec)
        self._update_view_options()
        self.view.image.set_region_zoom(self._on_region if spec.meta.view else None, self._on_wheel if spec.meta.view else None)
        self._show_error(None)
        self.request_run()

    def revert_source(self) -> None:
        if self.current is None:
            return
        self.sources.pop(str(self.current.path), None)
        self.reload_kernels(self.current.name)

    def save_source_as(self, file_stem: str) -> Path:
        """Save the editor's text into <home>/kernels/<file_stem>.py and select it."""
        if self.home is None:
            raise StudioError("no library is open, so there is no user kernel folder")
        target = save_user_kernel(self.home, file_stem, self.editor.toPlainText())
        self.sources.pop(str(target), None)
        name = self.current.name if self.current else None
        self.reload_kernels()
        user = [s for s in self.kernels.values() if s.path == target]
        if user:
            self.select_kernel(next((s.name for s in user if s.name == name), user[0].name))
        return target

    def save_as_dialog(self) -> None:
        default = self.current.path.stem if self.current else "my_kernel"
        if self.current and self.current.origin == "shipped":
            default = f"my_{default}"
        stem, ok = QInputDialog.getText(self, "Save kernel as", "File name in your kernel folder (without .py):", text=default)
        if not ok or not stem.strip():
            return
        try:
            target = self.save_source_as(stem.strip())
        except KernelError as exc:
            self._show_error(str(exc), exc.line)
            return
        except StudioError as exc:
            self._show_error(str(exc))
            return
        self.status_label.setText(f"saved {target}")

    def new_kernel(self, name: str) -> None:
        """Put a template kernel in the editor (not saved yet) and run it."""
        if self.home is None:
            raise StudioError("no library is open, so there is no user kernel folder")
        source = new_kernel_source(name)
        path = self.home / "kernels" / f"{name}.py"
        _, specs = load_module_source(source, path, "user")
        spec = specs[0]
        self.kernels[spec.name] = spec
        self.sources[str(path)] = source
        item = QListWidgetItem(f"  {spec.title} (unsaved)")
        item.setData(ROLE_NAME, spec.name)
        self.kernel_list.addItem(item)
        self.kernel_list.setCurrentItem(item)

    def new_kernel_dialog(self) -> None:
        name, ok = QInputDialog.getText(self, "New kernel", "Kernel name (letters, digits, _):", text="my_kernel")
        if not ok or not name.strip():
            return
        try:
            self.new_kernel(name.strip())
        except StudioError as exc:
            self._show_error(str(exc))

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
        from studio.kernels.bench import benchmark_kernel
        from studio.ui.common.workers import start_job

        if self.current is None or self._bench_job is not None:
            return None
        spec, params, size, inputs = self.current, dict(self.values), self.size_combo.currentData(), dict(self.inputs)
        compile_ = self.compile_check.isChecked()

        def job_fn(state):
            return benchmark_kernel(spec, params, compile=compile_, repeats=3, size=size, inputs=inputs, job=state)

        self.bench_table.setRowCount(0)
        self.tabs.setCurrentIndex(1)
        self.bench_button.setEnabled(False)
        self.bench_status.setText("benchmarking…")
        job = start_job(job_fn)
        job.partial.connect(self._add_bench_row)
        job.progress.connect(lambda f, m: self.bench_status.setText(f"{m} ({f:.0%})"))
        job.finished.connect(lambda rows: self.bench_status.setText(f"{spec.title}: {len(rows)} targets, median of 3 runs"))
        job.failed.connect(lambda msg: self.bench_status.setText(f"benchmark failed: {msg}"))
        job.done.connect(self._bench_done)
        self._bench_job = job
        return job

    def _add_bench_row(self, row) -> None:
        r = self.bench_table.rowCount()
        self.bench_table.insertRow(r)
        scaled = row.throughput
        prefix = ""
        for p, f in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
            if scaled >= f:
                scaled, prefix = scaled / f, p
                break
        cells = [row.target, f"{row.run_ms:.1f}", f"{scaled:.2f} {prefix}{row.unit}",
                 "" if row.compile_ms is None else f"{row.compile_ms:.0f}"]
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if row.note:
                item.setToolTip(row.note)
            self.bench_table.setItem(r, c, item)

    def _bench_done(self) -> None:
        self._bench_job = None
        self.bench_button.setEnabled(True)

    def export_to(self, path: str | Path) -> Path:
        from studio.kernels.outputs import save_result

        if self.last_run is None:
            raise StudioError("nothing to export yet: run a kernel first")
        return save_result(self.last_run.result, path)

    def export_dialog(self) -> None:
        if self.last_run is None:
            return
        kind = self.last_run.result.kind
        filters = {"image": "PNG image (*.png);;NumPy array (*.npy)",
                   "points": "PLY point cloud (*.ply);;NumPy array (*.npy)",
                   "volume": "NumPy array (*.npy);;PNG projection (*.png)"}[kind]
        path, _ = QFileDialog.getSaveFileName(self, "Export output", f"{self.last_run.kernel}", filters)
        if not path:
            return
        if not Path(path).suffix:
            path += {"image": ".png", "points": ".ply", "volume": ".npy"}[kind]
        try:
            saved = self.export_to(path)
        except StudioError as exc:
            QMessageBox.warning(self, "Export", str(exc))
            return
        self.status_label.setText(f"exported {saved}")

    # ------------------------------------------------------------------ lifecycle
    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        if not self._sized:
            self._sized = True
            self.splitter.setSizes(default_panel_sizes(self.splitter.width()))
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
        """Stop the runner thread and release the GL canvas (safe to call twice)."""
        if getattr(self, "_shut", False):
            return
        self._shut = True
        if self._bench_job is not None:
            self._bench_job.cancel()
        self.runner.close()
        self.view.close()

    def closeEvent(self, event) -> None:  # noqa: N802
        self.shutdown()
        super().closeEvent(event)
