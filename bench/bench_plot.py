"""Redraw time of the live loss plot holding 1,000,000 points.

Case "live": studio.ui.common.plots.LivePlot (peak downsampling, clipToView, data following) with 1M
points; each frame appends 200 new points (what 200 steps/s deliver per second... per frame it is
fewer, so this is pessimistic), hands them over with ``flush()`` and repaints the plot synchronously.
Reference, same run, same widget size: a bare pyqtgraph PlotWidget whose PlotDataItem gets
``setData`` of the same 1M points (no downsampling, no clipping, pyqtgraph's auto range) and repaints.
The figure is the ratio reference / live (how many times faster the live plot redraws).

    xvfb-run -a -s "-screen 0 1920x1200x24 +extension GLX" .venv/bin/python bench/bench_plot.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import load_average, machine, replace_marked  # noqa: E402  (bench/ is sys.path[0])


def loss_curve(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = np.arange(1, n + 1, dtype=np.float64)
    y = 2.3 * np.exp(-x / (n / 8)) + 0.1 * rng.random(n) + 0.05
    return x, y


def time_frames(frame, repeats: int) -> list[float]:
    frame()  # warm-up: first paint builds caches
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        frame()
        times.append((time.perf_counter() - t0) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()

    import pyqtgraph as pg
    from PySide6.QtWidgets import QApplication

    from studio.ui.common.plots import LivePlot

    app = QApplication.instance() or QApplication([])
    x, y = loss_curve(args.points)
    size = (1200, 450)

    live = LivePlot("Loss", "step", "loss")
    live.add_series("loss", "step loss", "#0072B2", width=1)
    live.stop_updates()  # frames are driven by the bench, not the timer
    live.resize(*size)
    live.show()
    live.append("loss", x, y)
    next_x = [float(args.points)]

    def live_frame() -> None:
        new_x = next_x[0] + np.arange(1, 201, dtype=np.float64)
        next_x[0] = float(new_x[-1])
        live.append("loss", new_x, np.full(200, 0.06))
        live.flush()
        live.viewport().repaint()

    bare = pg.PlotWidget(background="w")
    item = pg.PlotDataItem(pen=pg.mkPen("#0072B2", width=1))
    bare.addItem(item)
    bare.resize(*size)
    bare.show()

    def bare_frame() -> None:
        item.setData(x, y)
        bare.viewport().repaint()

    for _ in range(10):
        app.processEvents()
    live_ms = time_frames(live_frame, args.repeats)
    bare_ms = time_frames(bare_frame, args.repeats)
    out = {
        "machine": machine("no GPU used"),
        "points": args.points,
        "widget_px": list(size),
        "live_median_ms": round(statistics.median(live_ms), 1),
        "live_max_ms": round(max(live_ms), 1),
        "bare_median_ms": round(statistics.median(bare_ms), 1),
        "bare_max_ms": round(max(bare_ms), 1),
        "speedup_bare_over_live": round(statistics.median(bare_ms) / statistics.median(live_ms), 1),
        "live_points_held": live.point_count("loss"),
    }
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    if not args.no_write:
        write_table(out, args.repeats)
    live.close()
    bare.close()
    return 0


def write_table(out: dict, repeats: int) -> None:
    from datetime import date

    lines = [f"`bench/bench_plot.py`: one frame = append 200 points, hand the buffers to the curve, repaint the "
             f"{out['widget_px'][0]}x{out['widget_px'][1]} plot synchronously; median and max of {repeats} frames with "
             f"{out['points']:,} points held. Reference in the same run: a bare pyqtgraph `PlotDataItem.setData` of the "
             "same points (no downsampling or clipping), then repaint.", "",
             "| `LivePlot` median / max | bare `setData` median / max (reference) | ratio |", "|---|---|---|",
             f"| {out['live_median_ms']} ms / {out['live_max_ms']} ms | {out['bare_median_ms']} ms / {out['bare_max_ms']} ms | "
             f"{out['speedup_bare_over_live']}x faster |", "",
             f"Machine: {out['machine']}; Xvfb; load average at the end {load_average()}. Measured {date.today().isoformat()}."]
    replace_marked("plot-redraw", "\n".join(lines), "## Training GUI")


if __name__ == "__main__":
    raise SystemExit(main())
