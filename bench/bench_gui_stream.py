"""Does the live training view keep the GUI responsive while a REAL training worker streams?

A real library with a real dataset (scikit-learn digits, 28x28, 6 shifted copies: ~7.5k train
images) and a real training run of the studio's simple-cnn, started as the Train page starts it:
the worker process `studio worker train --run ID` (RunProcess), logging every step (log_every=1,
the fastest stream the engine makes). Its JSON lines feed the REAL RunProcess + LiveTrainingView,
shown on screen. A 10 ms QTimer probe on the GUI thread records how late each tick fires: that
lateness is the time the event loop was blocked (a stall). Reference, same script, same probe,
same kind of run: a real worker read by a bare QProcess that throws the bytes away (no parsing,
no plotting). Cases take turns: reference, live view, live view with 100,000 earlier steps
already plotted. Each case stops its worker (the Stop request) after --seconds of streaming.

    xvfb-run -a -s "-screen 0 1920x1200x24 +extension GLX" .venv/bin/python bench/bench_gui_stream.py --seconds 30

Writes its table into docs/benchmarks.md between <!-- bench:gui-stream --> markers.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import load_average, machine, replace_marked  # noqa: E402  (bench/ is sys.path[0])

PROBE_MS = 10


class Probe:
    """A PreciseTimer ticking every PROBE_MS; lateness of each tick = event-loop stall."""

    def __init__(self) -> None:
        from PySide6.QtCore import QElapsedTimer, Qt, QTimer

        self.times: list[float] = []
        self._clock = QElapsedTimer()
        self._timer = QTimer()
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(PROBE_MS)
        self._timer.timeout.connect(self._tick)

    def start(self) -> None:
        self._clock.start()
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _tick(self) -> None:
        self.times.append(self._clock.nsecsElapsed() / 1e6)

    def stalls_ms(self) -> np.ndarray:
        gaps = np.diff(np.asarray(self.times))
        return np.clip(gaps - PROBE_MS, 0, None)


def prefill_events(count: int) -> list[dict]:
    """``count`` earlier steps, as if the run had been going for a while (history to redraw)."""
    import math
    import random

    return [{"event": "step", "step": s - count, "epoch": 1, "loss": 2.3 * math.exp(-s / 30000) + 0.05 * random.random(),
             "lr": 1e-3, "samples_per_s": 6400.0} for s in range(1, count + 1)]


def make_library(root: Path):
    from studio.data.digits import add_digits_dataset
    from studio.store.library import Library

    lib = Library.open(root / "library")
    add_digits_dataset(lib, "digits", upscale=28, copies=6)
    return lib


def new_run(lib, epochs: int) -> int:
    from studio.train.runner import create_run

    # 16 px, batch 16: many small steps, the most lines per second this engine streams on a CPU
    return create_run(lib, "digits", {"model": "simple-cnn", "image_size": 16, "batch_size": 16, "epochs": epochs,
                                      "log_every": 1, "device": "cpu"})


def run_case(lib, seconds: float, live: bool, prefill: int = 0, epochs: int = 50) -> dict:
    """One real worker, streamed for ``seconds`` after its first step, then asked to stop."""
    from PySide6.QtCore import QEventLoop, QProcess, QTimer

    from studio.ui.common.run_process import RunProcess, worker_train_argv
    from studio.ui.training.live_view import LiveTrainingView

    run_id = new_run(lib, epochs)
    argv = worker_train_argv(lib.home, run_id)
    loop = QEventLoop()
    probe = Probe()
    received = {"bytes": 0, "steps": 0, "first_step": None}
    view = None

    def first_step_seen() -> None:
        if received["first_step"] is None:
            received["first_step"] = time.perf_counter()
            probe.start()  # measure while steps stream, not while the worker imports torch
            QTimer.singleShot(int(seconds * 1000), stop)

    if live:
        view = LiveTrainingView()
        view.resize(1280, 800)
        view.show()
        proc = RunProcess()
        view.attach(proc, "bench")
        if prefill:
            view.feed(prefill_events(prefill))

        def count(events: list) -> None:
            steps = sum(1 for e in events if e.get("event") == "step")
            received["steps"] += steps
            if steps:
                first_step_seen()

        proc.events.connect(count)
        proc.finished.connect(lambda *_: loop.quit())
        stop = proc.request_stop
        proc.start(argv)
    else:
        proc = QProcess()

        def drain() -> None:
            data = bytes(proc.readAllStandardOutput())
            received["bytes"] += len(data)
            received["steps"] += data.count(b'"event": "step"')
            if b'"event": "step"' in data:
                first_step_seen()

        def stop() -> None:
            proc.write(b"stop\n")

        proc.readyReadStandardOutput.connect(drain)
        proc.finished.connect(lambda *_: loop.quit())
        proc.start(argv[0], argv[1:])
    loop.exec()
    streamed = time.perf_counter() - (received["first_step"] or time.perf_counter())
    probe.stop()
    stalls = probe.stalls_ms()
    case = "bare QProcess (reference)" if not live else ("live view" + (f", {prefill:,} steps already plotted" if prefill else ""))
    result = {
        "case": case,
        "seconds_streamed": round(streamed, 1),
        "steps_received": received["steps"],
        "steps_per_s": round(received["steps"] / streamed, 1) if streamed else None,
        "probe_ticks": len(probe.times),
        "max_stall_ms": round(float(stalls.max()), 1) if len(stalls) else None,
        "p99_stall_ms": round(float(np.percentile(stalls, 99)), 1) if len(stalls) else None,
        "stalls_over_50ms": int((stalls > 50).sum()),
        # when they happened (seconds after streaming began): a one-off at 0 s is the first redraw
        "stalls_over_50ms_at_s": [round(probe.times[i] / 1000, 1) for i in np.flatnonzero(stalls > 50)[:10]],
    }
    if live:
        assert view is not None
        view.loss_plot.flush()
        result["points_plotted"] = view.loss_plot.point_count("step_loss") - prefill
        result["points_held"] = view.loss_plot.point_count("step_loss")
        view.close()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="streaming time per case")
    parser.add_argument("--prefill", type=int, default=100_000, help="steps already plotted in the third case")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])  # noqa: F841 - the event loop's owner
    with tempfile.TemporaryDirectory() as tmp:
        lib = make_library(Path(tmp))
        cases = [run_case(lib, args.seconds, live=False),
                 run_case(lib, args.seconds, live=True),
                 run_case(lib, args.seconds, live=True, prefill=args.prefill)]
        lib.close()
    out = {"machine": machine("no GPU used"), "cases": cases, "load_average": load_average()}
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    if not args.no_write:
        write_table(out, args.seconds)
    lost = [c for c in cases[1:] if c["points_plotted"] != c["steps_received"]]
    if lost:
        print(f"WARNING: steps received but not plotted: {lost}", file=sys.stderr)
        return 1
    return 0


def write_table(out: dict, seconds: float) -> None:
    ref = out["cases"][0]
    lines = [f"`bench/bench_gui_stream.py --seconds {seconds:g}`: a REAL training worker (simple-cnn on ~7.5k "
             "digits at 16 px, batch 16, CPU, logging every step) streams its JSON lines into the real RunProcess + "
             "LiveTrainingView on screen; a 10 ms probe timer on the GUI thread measures how late each tick fires "
             "(an event-loop stall) while steps stream. Reference in the same run: the same kind of worker read "
             "by a bare QProcess that discards the bytes. Target: no stall over 50 ms.", "",
             "| case | steps streamed | steps/s | max stall | p99 stall | stalls > 50 ms | p99 vs reference | plotted |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for c in out["cases"]:
        ratio = f"{c['p99_stall_ms'] / ref['p99_stall_ms']:.1f}x" if ref["p99_stall_ms"] else "–"
        plotted = (f"{c['points_plotted']:,} / {c['steps_received']:,}" + (f" ({c['points_held']:,} held)" if c.get("points_held", 0) > c["points_plotted"] else "")
                   if "points_plotted" in c else "–")
        at = f" (at {', '.join(str(t) for t in c['stalls_over_50ms_at_s'])} s)" if c["stalls_over_50ms"] else ""
        lines.append(f"| {c['case']} | {c['steps_received']:,} | {c['steps_per_s']} | {c['max_stall_ms']} ms | "
                     f"{c['p99_stall_ms']} ms | {c['stalls_over_50ms']}{at} | {ratio} | {plotted} |")
    lines += ["", f"Machine: {out['machine']}; Xvfb (software rendering); load average at the end {out['load_average']} "
              f"(the worker and the GUI share the 2 cores with other jobs). Measured {date.today().isoformat()}."]
    replace_marked("gui-stream", "\n".join(lines), "## Training GUI")


if __name__ == "__main__":
    raise SystemExit(main())
