"""Start-up: seconds from launching `studio` to its window's first paint, against a bare PySide6
QMainWindow started the same way in the same run (the floor any Qt app pays: Python, Qt, X).

Each case is a fresh process; its first paint is stamped (wall clock) by the app itself
(studio.ui.shell.app: STUDIO_STARTUP_PROBE names the file to write, then the app quits), so what is
timed is what the user sees. Cases take turns, round by round, so load from other processes hits
them alike. "existing library" opens a library made once before the rounds (the demo dataset in
it, as after a first start); "first start" opens a new, empty library folder each round (the demo
dataset is imported then).

    xvfb-run -a -s "-screen 0 1920x1200x24 +extension GLX" .venv/bin/python bench/bench_startup.py [--rounds 5]

Writes its table into docs/benchmarks.md between <!-- bench:startup --> markers.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from _common import ROOT, load_average, machine, replace_marked  # bench/ is sys.path[0]

REFERENCE = r"""
import sys, time
from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QLabel, QMainWindow

class Probe(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint:
            obj.removeEventFilter(self)
            QTimer.singleShot(0, self.record)
        return False

    def record(self):
        open(sys.argv[1], "w").write(f"{time.time():.6f}\n")
        QApplication.quit()

app = QApplication(sys.argv[:1])
window = QMainWindow()
window.setWindowTitle("reference")
window.setCentralWidget(QLabel("a bare window"))
window.resize(1280, 800)
probe = Probe()
window.installEventFilter(probe)
window.show()
app.exec()
"""


def time_to_paint(argv: list[str], stamp: Path, env: dict[str, str]) -> float:
    stamp.unlink(missing_ok=True)
    t0 = time.time()
    proc = subprocess.run(argv, env={**env, "STUDIO_STARTUP_PROBE": str(stamp)}, capture_output=True, text=True, timeout=300)
    if not stamp.exists():
        raise SystemExit(f"no first paint from {argv[:3]} (exit {proc.returncode}): {proc.stderr[-1500:]}")
    return float(stamp.read_text()) - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    env = {k: v for k, v in os.environ.items() if k != "STUDIO_HOME"}
    times: dict[str, list[float]] = {"reference": [], "existing": [], "first": []}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        ref_script = tmp / "reference.py"
        ref_script.write_text(REFERENCE)
        stamp = tmp / "painted"
        existing = tmp / "existing"
        studio = [sys.executable, "-m", "studio", "--home"]
        time_to_paint(studio + [str(existing)], stamp, env)  # makes the library (and warms the disk cache)
        time_to_paint([sys.executable, str(ref_script), str(stamp)], stamp, env)
        for rnd in range(args.rounds):
            times["reference"].append(time_to_paint([sys.executable, str(ref_script), str(stamp)], stamp, env))
            times["existing"].append(time_to_paint(studio + [str(existing)], stamp, env))
            times["first"].append(time_to_paint(studio + [str(tmp / f"fresh{rnd}")], stamp, env))
            print(f"round {rnd + 1}: " + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in times.items()), file=sys.stderr)
    med = {k: statistics.median(v) for k, v in times.items()}
    result = {"machine": machine("no GPU used"), "rounds": args.rounds, "seconds": times, "median_s": med,
              "load_average": load_average()}
    print(json.dumps(result, indent=2))
    if not args.no_write:
        write_table(result)
    return 0


def write_table(result: dict) -> None:
    med, times = result["median_s"], result["seconds"]
    rows = [("bare PySide6 QMainWindow (reference)", "reference"),
            ("`studio`, existing library (target <= 2 s)", "existing"),
            ("`studio`, first start (new library, demo dataset imported)", "first")]
    lines = [f"`bench/bench_startup.py --rounds {result['rounds']}`: seconds from starting the process to the "
             "window's first paint (stamped by the app), median of the rounds, cases taking turns.", "",
             "| case | median | fastest | slowest | vs reference |", "|---|---:|---:|---:|---:|"]
    for label, key in rows:
        extra = "1.00x" if key == "reference" else f"{med[key] / med['reference']:.2f}x (+{med[key] - med['reference']:.2f} s)"
        lines.append(f"| {label} | **{med[key]:.2f} s** | {min(times[key]):.2f} s | {max(times[key]):.2f} s | {extra} |")
    lines += ["", f"Machine: {result['machine']}; Xvfb; load average at the end {result['load_average']}. "
              f"Measured {date.today().isoformat()}."]
    replace_marked("startup", "\n".join(lines), "## Start-up")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    raise SystemExit(main())
