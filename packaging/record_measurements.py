"""Measure the built and installed app and write the figures into packaging/README.md.

    bash packaging/build.sh                                   # writes dist/build-times.txt
    sudo apt install ./dist/model-studio_VERSION_amd64.deb
    xvfb-run -a python packaging/record_measurements.py       # needs a display for the start-up times

Sizes come from dist/, build step times from dist/build-times.txt, and the rest is measured here:
`apt install` time (when --install is given), the installed app's start to its window's first paint
(first launch: new library with the demo dataset; second launch: existing library; the app stamps
the paint time, see studio.ui.shell.app._FirstPaintProbe), and `model-studio self-test` with a clean env.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "dist"
README = ROOT / "packaging" / "README.md"
APP = "/usr/bin/model-studio"
MARK = re.compile(r"(<!-- bench:packaging -->\n).*?(<!-- /bench:packaging -->)", re.S)


def du(path: Path) -> int:
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True).stdout.split()[0])


def gb(n: int) -> str:
    return f"{n / 1e9:.2f} GB"


def first_paint(home: Path) -> float:
    """Seconds from starting the installed app to its window's first paint."""
    stamp = Path(tempfile.mkdtemp()) / "paint"
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin", "DISPLAY": os.environ["DISPLAY"],
           **({"XAUTHORITY": os.environ["XAUTHORITY"]} if os.environ.get("XAUTHORITY") else {}),
           "STUDIO_STARTUP_PROBE": str(stamp)}
    start = time.time()
    subprocess.run([APP], env=env, timeout=600, capture_output=True)
    return float(stamp.read_text()) - start


def self_test_seconds(home: Path) -> tuple[float, bool]:
    start = time.perf_counter()
    proc = subprocess.run(["env", "-i", f"HOME={home}", "PATH=/usr/bin:/bin", APP, "self-test"],
                          capture_output=True, text=True, timeout=1800)
    return time.perf_counter() - start, proc.returncode == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help="install the .deb with apt first (timed)")
    args = parser.parse_args()
    debs = sorted(DIST.glob("model-studio_*.deb"))
    tars = sorted(DIST.glob("model-studio-*.tar.gz"))
    times = dict(line.split() for line in (DIST / "build-times.txt").read_text().splitlines() if line.strip()) \
        if (DIST / "build-times.txt").is_file() else {}
    rows = []
    bundle = DIST / "ModelStudio"
    internal = bundle / "_internal"
    cuda_part = sum(du(internal / name) for name in ("nvidia", "triton") if (internal / name).exists())
    rows.append(("PyInstaller bundle (`dist/ModelStudio`)", times.get("bundle"), gb(du(bundle))))
    rows.append(("  of which CUDA libraries + triton (`_internal/nvidia`, `_internal/triton`)", None, gb(cuda_part)))
    if debs:
        rows.append(("`.deb` (dpkg-deb, gzip -1)", times.get("deb"), gb(debs[-1].stat().st_size)))
    if tars:
        rows.append(("tarball (gzip -1)", times.get("tarball"), gb(tars[-1].stat().st_size)))
    if args.install and debs:
        start = time.perf_counter()
        subprocess.run(["apt-get", "install", "-y", "-q", str(debs[-1])], check=True, capture_output=True,
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        rows.append(("`apt install` of the .deb", f"{time.perf_counter() - start:.0f}", ""))
    if Path(APP).exists():
        home = Path(tempfile.mkdtemp())
        if os.environ.get("DISPLAY"):
            rows.append(("installed app, start to first paint, first launch (new library + demo)",
                         f"{first_paint(home):.1f}", ""))
            rows.append(("installed app, start to first paint, existing library", f"{first_paint(home):.1f}", ""))
        seconds, ok = self_test_seconds(Path(tempfile.mkdtemp()))
        rows.append((f"`model-studio self-test`, clean env, CPU ({'passed' if ok else 'FAILED'})", f"{seconds:.0f}", ""))
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    lines = [f"Machine: {os.cpu_count()} CPUs {platform.machine()}, {platform.platform()}, Python "
             f"{platform.python_version()}; load average at the end {load} (other jobs shared the cores). "
             f"Written by `packaging/record_measurements.py` on {date.today()}.", "",
             "| step | seconds | size |", "|---|---:|---:|"]
    for name, seconds, size in rows:
        lines.append(f"| {name} | {seconds if seconds is not None else ''} | {size} |")
    text = README.read_text()
    README.write_text(MARK.sub(lambda m: m.group(1) + "\n".join(lines) + "\n" + m.group(2), text))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
