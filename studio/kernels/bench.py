"""Benchmark a kernel on each device (eager and compiled) and against its NumPy reference.
A plain function with a JobState, so the GUI runs it on a worker thread and the CLI inline."""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from studio.core.jobs import JobState
from studio.kernels.api import Grid
from studio.kernels.params import resolve_params
from studio.kernels.registry import KernelSpec
from studio.kernels.runtime import available_devices, make_grid, prepare_inputs, run_kernel


@dataclass
class BenchRow:
    target: str  # "cpu", "cuda (compiled)", "numpy reference"
    run_ms: float
    throughput: float  # output elements per second (pixels, points or voxels)
    unit: str
    compile_ms: float | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


UNITS = {"image": "px/s", "points": "points/s", "volume": "voxels/s"}


def benchmark_kernel(
    spec: KernelSpec,
    params: dict[str, Any] | None = None,
    *,
    devices: list[str] | None = None,
    compile: bool = False,
    repeats: int = 3,
    size: tuple[int, ...] | None = None,
    inputs: dict[str, Any] | None = None,
    reference: bool = True,
    job: JobState | None = None,
) -> list[BenchRow]:
    """Median of ``repeats`` runs per target (after one warm-up run), plus the NumPy reference."""
    job = job or JobState()
    devices = devices or available_devices()
    targets = [(d, False) for d in devices] + ([(d, True) for d in devices] if compile else [])
    has_ref = reference and spec.meta.reference is not None
    total = len(targets) + (1 if has_ref else 0)
    unit = UNITS[spec.output]
    rows: list[BenchRow] = []
    for i, (device, compiled) in enumerate(targets):
        label = f"{device} (compiled)" if compiled else device
        job.set_progress(i / total, f"benchmarking {label}")
        first = run_kernel(spec, params, device=device, compile=compiled, size=size, inputs=inputs)
        times = []
        for _ in range(repeats):
            job.check_cancelled()
            times.append(run_kernel(spec, params, device=device, compile=compiled, size=size, inputs=inputs).run_ms)
        ms = statistics.median(times)
        rows.append(BenchRow(label, ms, first.result.size() / (ms / 1000.0), unit, first.compile_ms, first.note))
        job.set_partial_result(rows[-1])
    if has_ref:
        job.check_cancelled()
        job.set_progress(len(targets) / total, "benchmarking the NumPy reference")
        values = resolve_params(spec.params, params)
        tensors = prepare_inputs(spec, inputs)
        grid: Grid = make_grid(spec, torch.device("cpu"), size, tensors)
        arrays = [tensors[n].numpy() for n in spec.inputs]
        start = time.perf_counter()
        out = spec.meta.reference(grid, *arrays, **values)
        ms = (time.perf_counter() - start) * 1000.0
        count = int(np.asarray(out).shape[0] * np.asarray(out).shape[1]) if spec.output == "image" else len(out)
        rows.append(BenchRow("numpy reference", ms, count / (ms / 1000.0), unit))
        job.set_partial_result(rows[-1])
    job.set_progress(1.0, "done")
    return rows
