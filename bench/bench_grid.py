"""Sample grid speed: opening a 100,000-sample dataset in the Datasets page's grid (ids query +
model reset + first layout + first paint with its page of rows), against the bare reference of
fetching the same 100,000 ids with the sqlite3 module; plus the cost of a scroll jump.

Usage:  xvfb-run -a .venv/bin/python bench/bench_grid.py [--samples 100000] [--no-write]
Prints the figures and writes them, with the machine, into the "Sample grid" section of
docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from PIL import Image  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from sqlalchemy import insert  # noqa: E402

from studio.store.library import Library  # noqa: E402
from studio.store.models import Dataset, Sample  # noqa: E402
from studio.store.samples import SampleFilter  # noqa: E402
from studio.ui.common.sample_grid import SampleGridModel, SampleGridView, ThumbnailCache  # noqa: E402

from _common import machine, replace_section  # noqa: E402  (bench/ is sys.path[0])

SECTION = "## Sample grid"
REPEATS = 5


def make_library(home: Path, n: int) -> tuple[Library, int]:
    """n samples; every blob file is a hard link to one real 64x64 PNG (unique names, as the
    schema requires, yet real images for the thumbnailer)."""
    lib = Library.open(home)
    buf = BytesIO()
    Image.new("RGB", (64, 64), (60, 120, 200)).save(buf, format="PNG")
    data = buf.getvalue()
    real = lib.blobs.put(data)
    with lib.transaction() as s:
        ds = Dataset(name="bench")
        s.add(ds)
        s.flush()
        ds_id = ds.id
    rows = []
    source = lib.blobs.path(real)
    for i in range(n):
        digest = real if i == 0 else f"{i:064x}"
        if i:
            if i % 50_000 == 0:  # file systems cap the links to one inode (ext4: 65,000)
                source = home / f"source-{i}.png"
                source.write_bytes(data)
            target = lib.blobs.path(digest)
            target.parent.mkdir(exist_ok=True)
            os.link(source, target)
        rows.append({"dataset_id": ds_id, "blob": digest, "format": "png", "width": 64, "height": 64,
                     "channels": 3, "byte_size": len(data), "source_path": f"/data/{i}.png",
                     "labelled_by": "import"})
    with lib.engine.begin() as conn:
        conn.execute(insert(Sample), rows)
    return lib, ds_id


def reference_ids(db: Path, ds_id: int) -> float:
    t0 = time.perf_counter()
    con = sqlite3.connect(db)
    ids = [r[0] for r in con.execute("SELECT id FROM samples WHERE dataset_id = ? ORDER BY id", (ds_id,))]
    con.close()
    assert ids
    return time.perf_counter() - t0


def open_grid(app: QApplication, lib: Library, ds_id: int) -> tuple[float, SampleGridView, SampleGridModel, ThumbnailCache]:
    cache = ThumbnailCache(lib)
    model = SampleGridModel(lib, cache)
    view = SampleGridView()
    view.resize(1100, 700)
    t0 = time.perf_counter()
    model.load(ds_id, SampleFilter())
    view.setModel(model)
    view.show()
    app.processEvents()
    view.viewport().repaint()  # synchronous: the first screen of tiles is painted
    elapsed = time.perf_counter() - t0
    assert model.pages_fetched >= 1
    return elapsed, view, model, cache


def scroll_jumps(app: QApplication, view: SampleGridView, jumps: int = 30) -> list[float]:
    """Jump to evenly spread positions (each needs a new page of rows from the DB) and paint."""
    bar = view.verticalScrollBar()
    times = []
    for k in range(jumps):
        t0 = time.perf_counter()
        bar.setValue(int(bar.maximum() * (k + 1) / jumps))
        view.viewport().repaint()
        times.append(time.perf_counter() - t0)
        app.processEvents()
    return times


def scroll_steps(app: QApplication, view: SampleGridView, steps: int = 150, pixels: int = 60) -> list[float]:
    """Wheel-like scrolling: down ``steps`` small steps then back up, each step painted."""
    bar = view.verticalScrollBar()
    bar.setValue(bar.maximum() // 3)
    app.processEvents()
    times = []
    for direction in (1, -1):
        for _ in range(steps):
            t0 = time.perf_counter()
            bar.setValue(bar.value() + direction * pixels)
            view.viewport().repaint()
            times.append(time.perf_counter() - t0)
            app.processEvents()
    return times


def run(n: int) -> dict:
    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        lib, ds_id = make_library(Path(tmp) / "lib", n)
        try:
            ref = min(reference_ids(lib.db_path, ds_id) for _ in range(REPEATS))
            opens, jumps, steps = [], [], []
            for _ in range(REPEATS):
                elapsed, view, model, cache = open_grid(app, lib, ds_id)
                opens.append(elapsed)
                for _ in range(50):  # let the batched layout finish
                    app.processEvents()
                jumps += scroll_jumps(app, view)
                steps += scroll_steps(app, view)
                view.close()
                cache.clear()
                cache.wait(10000)
            grid = min(opens)
        finally:
            lib.close()
    return {
        "samples": n, "reference_s": ref, "grid_s": grid, "ratio": grid / ref,
        "jump_median_ms": statistics.median(jumps) * 1000, "jump_max_ms": max(jumps) * 1000,
        "step_median_ms": statistics.median(steps) * 1000,
        "step_p95_ms": sorted(steps)[int(len(steps) * 0.95)] * 1000,
    }


def write_section(r: dict, path: Path) -> None:
    body = (
        f"{SECTION}\n\n"
        f"`bench/bench_grid.py`: open a {r['samples']:,}-sample dataset in the Datasets page grid "
        "(id query, model reset, layout, first screen painted with its page of rows; in the app the "
        "id query runs on a worker thread, here inline so the whole is timed; thumbnails load "
        "afterwards off the GUI thread) against fetching the same ids with the bare `sqlite3` "
        f"module. Best of {REPEATS}. A scroll step = 60 px of wheel scrolling, the whole viewport "
        "repainted; a scroll jump = the scroll bar dragged to a new place (a new page of rows from "
        "the DB), painted. Both on the GUI thread, where a frame budget is ~16-50 ms.\n\n"
        "| samples | sqlite3 ids | grid open | ratio | scroll step median / p95 | scroll jump median / max |\n"
        "|---:|---:|---:|---:|---:|---:|\n"
        f"| {r['samples']:,} | {r['reference_s'] * 1000:.0f} ms | {r['grid_s'] * 1000:.0f} ms | "
        f"**{r['ratio']:.1f}x** | {r['step_median_ms']:.1f} / {r['step_p95_ms']:.1f} ms | "
        f"{r['jump_median_ms']:.1f} / {r['jump_max_ms']:.1f} ms |\n\n"
        f"Machine: {machine('no GPU used')}. Measured {time.strftime('%Y-%m-%d', time.gmtime())}.\n"
    )
    replace_section(SECTION, body, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    r = run(args.samples)
    print(
        f"{r['samples']:,} samples: sqlite3 ids {r['reference_s'] * 1000:.0f} ms, grid open "
        f"{r['grid_s'] * 1000:.0f} ms, ratio {r['ratio']:.1f}x; scroll step median "
        f"{r['step_median_ms']:.1f} ms, p95 {r['step_p95_ms']:.1f} ms; scroll jump median "
        f"{r['jump_median_ms']:.1f} ms, max {r['jump_max_ms']:.1f} ms"
    )
    if not args.no_write:
        write_section(r, ROOT / "docs" / "benchmarks.md")


if __name__ == "__main__":
    main()
