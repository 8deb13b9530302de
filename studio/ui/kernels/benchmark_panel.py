"""The kernel lab's Benchmark tab: time the current kernel on each device (and compiled, when
Compile is ticked) as a background job; rows fill in as each target is measured."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from studio.ui.common.workers import Job

BENCH_REPEATS = 3


def benchmark_job(spec, params: dict, compile_: bool, size, inputs: dict, state):
    from studio.kernels.bench import benchmark_kernel

    return benchmark_kernel(spec, params, compile=compile_, repeats=BENCH_REPEATS, size=size, inputs=inputs, job=state)


def throughput_text(value: float, unit: str) -> str:
    """1.5e9 px/s -> "1.50 Gpx/s"."""
    for prefix, factor in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if value >= factor:
            return f"{value / factor:.2f} {prefix}{unit}"
    return f"{value:.2f} {unit}"


class BenchmarkPanel(QWidget):
    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.button = QPushButton("Benchmark")
        self.button.setToolTip("time the kernel on each device (and compiled, when Compile is ticked)")
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("bench_table")
        self.table.setHorizontalHeaderLabels(["Target", "Time (ms)", "Throughput", "First call (ms)"])
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.status = QLabel("Press Benchmark to time the kernel on each device.")
        self.status.setWordWrap(True)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.status.setMinimumWidth(0)
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(self.button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)

    def follow(self, job: Job, title: str) -> None:
        """Show ``job``'s rows and progress; the button is off until it ends."""
        self.table.setRowCount(0)
        self.button.setEnabled(False)
        self.status.setText("benchmarking…")
        job.partial.connect(self.add_row)
        job.progress.connect(lambda f, m: self.status.setText(f"{m} ({f:.0%})"))
        job.finished.connect(lambda rows: self.status.setText(f"{title}: {len(rows)} targets, median of {BENCH_REPEATS} runs"))
        job.failed.connect(lambda msg: self.status.setText(f"benchmark failed: {msg}"))
        job.done.connect(lambda: self.button.setEnabled(True))

    def add_row(self, row) -> None:
        r = self.table.rowCount()
        self.table.insertRow(r)
        cells = [row.target, f"{row.run_ms:.1f}", throughput_text(row.throughput, row.unit),
                 "" if row.compile_ms is None else f"{row.compile_ms:.0f}"]
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if row.note:
                item.setToolTip(row.note)
            self.table.setItem(r, c, item)
