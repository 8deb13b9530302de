"""Does the live training view keep the GUI responsive under a fast worker?

A fake worker (a tiny python script, below) prints 200 `step` JSON lines a second (plus an
`epoch` line every 500 steps) for --seconds. It feeds the REAL RunProcess + LiveTrainingView,
shown on screen. A 10 ms QTimer probe on the GUI thread records how late each tick fires: that
lateness is the time the event loop was blocked (a stall). Reference, same script, same probe:
the same worker read by a bare QProcess that throws the bytes away (no parsing, no plotting).

    xvfb-run -a -s "-screen 0 1920x1200x24 +extension GLX" .venv/bin/python bench/bench_gui_stream.py --seconds 60

Writes the figures to stdout (and --json FILE); docs/benchmarks.md "Training GUI" records them.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import machine  # noqa: E402  (bench/ is sys.path[0])

FAKE_WORKER = r'''
import json, math, random, sys, time
rate, seconds, steps_per_epoch = float(sys.argv[1]), float(sys.argv[2]), 500
total = int(rate * seconds)
epochs = max(1, math.ceil(total / steps_per_epoch))
print(json.dumps({"event": "start", "run_id": 1, "epochs": epochs, "steps_per_epoch": steps_per_epoch,
                  "model": "fake", "dataset": "bench", "device": "cpu"}), flush=True)
t0 = time.perf_counter()
for step in range(1, total + 1):
    target = t0 + step / rate
    delay = target - time.perf_counter()
    if delay > 0:
        time.sleep(delay)
    loss = 2.3 * math.exp(-step / 3000) + 0.05 * random.random()
    print(json.dumps({"event": "step", "step": step, "epoch": (step - 1) // steps_per_epoch + 1,
                      "loss": loss, "lr": 1e-3 * (1 + math.cos(math.pi * step / total)) / 2,
                      "samples_per_s": 6400.0}), flush=True)
    if step % steps_per_epoch == 0:
        e = step // steps_per_epoch
        print(json.dumps({"event": "epoch", "epoch": e, "train_loss": loss, "train_accuracy": 1 - loss / 3,
                          "val_loss": loss * 1.1, "val_accuracy": 1 - loss / 2.5,
                          "eta_s": (total - step) / rate, "seconds": steps_per_epoch / rate}), flush=True)
print(json.dumps({"event": "done", "run_id": 1, "status": "completed", "metrics": {}}), flush=True)
'''

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


def run_case(app, script: Path, rate: float, seconds: float, live: bool, prefill: int = 0) -> dict:
    from PySide6.QtCore import QEventLoop, QProcess

    from studio.ui.run_process import RunProcess
    from studio.ui.train_live import LiveTrainingView

    argv = [sys.executable, "-u", str(script), str(rate), str(seconds)]
    loop = QEventLoop()
    probe = Probe()
    received = {"bytes": 0, "events": 0}
    view = None
    if live:
        view = LiveTrainingView()
        view.resize(1280, 800)
        view.show()
        proc = RunProcess()
        view.attach(proc, "bench")
        if prefill:
            view.feed(prefill_events(prefill))

        def count(events: list) -> None:
            received["events"] += len(events)

        proc.events.connect(count)
        proc.finished.connect(lambda *_: loop.quit())
        probe.start()
        proc.start(argv)
    else:
        proc = QProcess()

        def drain() -> None:
            received["bytes"] += len(proc.readAllStandardOutput())

        proc.readyReadStandardOutput.connect(drain)
        proc.finished.connect(lambda *_: loop.quit())
        probe.start()
        proc.start(argv[0], argv[1:])
    t0 = time.perf_counter()
    loop.exec()
    wall = time.perf_counter() - t0
    probe.stop()
    stalls = probe.stalls_ms()
    result = {
        "case": "live view" if live else "bare QProcess (reference)",
        "seconds": round(wall, 1),
        "probe_ticks": len(probe.times),
        "max_stall_ms": round(float(stalls.max()), 1) if len(stalls) else None,
        "p99_stall_ms": round(float(np.percentile(stalls, 99)), 1) if len(stalls) else None,
        "stalls_over_50ms": int((stalls > 50).sum()),
        # when they happened (seconds after the start): a one-off at 0 s is the first redraw
        "stalls_over_50ms_at_s": [round(probe.times[i] / 1000, 1) for i in np.flatnonzero(stalls > 50)[:10]],
    }
    if live:
        assert view is not None
        view.loss_plot.flush()
        result["events"] = received["events"]
        result["points_plotted"] = view.loss_plot.point_count("step_loss") - prefill
        result["points_held"] = view.loss_plot.point_count("step_loss")
        view.close()
    else:
        result["bytes"] = received["bytes"]
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=200.0, help="step lines per second")
    parser.add_argument("--prefill", type=int, default=0,
                        help="steps already in the plot before streaming starts (e.g. 100000)")
    parser.add_argument("--json", type=Path, help="also write the result here")
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "fake_worker.py"
        script.write_text(FAKE_WORKER)
        reference = run_case(app, script, args.rate, args.seconds, live=False)
        live = run_case(app, script, args.rate, args.seconds, live=True, prefill=args.prefill)
    expected = int(args.rate * args.seconds)
    out = {
        "machine": machine("no GPU used"),
        "rate_lines_per_s": args.rate,
        "prefilled_steps": args.prefill,
        "expected_steps": expected,
        "reference": reference,
        "live": live,
        "p99_ratio_live_vs_reference": (
            round(live["p99_stall_ms"] / reference["p99_stall_ms"], 2)
            if reference["p99_stall_ms"] else None
        ),
    }
    print(json.dumps(out, indent=2))
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))
    if live.get("points_plotted") != expected:
        print(f"WARNING: plotted {live.get('points_plotted')} of {expected} steps", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
