"""Labelling speed: label 10,000 selected samples the way the app does it (the undoable command:
set_labels in one transaction, then the grid model re-reads and repaints the changed rows it
holds) against a bare SQL UPDATE of the same rows, in the same run, on the same library file.

Usage:  QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_label.py [--samples 10000] [--repeat 7] [--no-write]
Prints the ratios and writes them, with the machine, into the "Labelling" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from sqlalchemy import insert, select  # noqa: E402

from studio.store import classes as store_classes  # noqa: E402
from studio.store import labelling as store_labelling  # noqa: E402
from studio.store.library import Library  # noqa: E402
from studio.store.models import Dataset, Sample  # noqa: E402

from _common import machine, replace_section  # noqa: E402  (bench/ is sys.path[0])

SECTION = "## Labelling"


def bare_update(db_path: Path, ids: list[int], class_id: int) -> float:
    """The reference: one plain UPDATE ... WHERE id IN (...) and a commit, nothing else."""
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA synchronous=NORMAL")
    marks = ",".join("?" * len(ids))
    t0 = time.perf_counter()
    with con:
        con.execute(f"UPDATE samples SET class_id = ?, labelled_by = 'user' WHERE id IN ({marks})", [class_id, *ids])
    elapsed = time.perf_counter() - t0
    con.close()
    return elapsed


def run(n: int, repeat: int) -> dict:
    from PySide6.QtWidgets import QApplication

    from studio.ui.datasets.labelling.controller import LabellingController
    from studio.ui.datasets.labelling.selection import refresh_sample_rows
    from studio.ui.common.sample_grid import SampleGridModel, ThumbnailCache

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library.open(Path(tmp) / "library")
        with lib.transaction() as s:
            ds = Dataset(name="bench")
            s.add(ds)
            s.flush()
            s.execute(insert(Sample), [{"dataset_id": ds.id, "blob": f"{i:064x}", "source_path": f"/b/{i}.png"}
                                       for i in range(n)])
            a = store_classes.add_class(s, ds.id, "a").id
            b = store_classes.add_class(s, ds.id, "b").id
            dataset_id = ds.id
        with lib.session() as s:
            ids = list(s.scalars(select(Sample.id).where(Sample.dataset_id == dataset_id).order_by(Sample.id)))

        # the grid as a user who scrolled through it leaves it: every page it keeps is in memory
        model = SampleGridModel(lib, ThumbnailCache(lib))
        model.load(dataset_id)
        for row in range(0, min(n, model.PAGE_SIZE * model.MAX_PAGES), model.PAGE_SIZE):
            model.sample_row(row)
        ctl = LabellingController(lib)
        refreshed = []
        ctl.labels_changed.connect(lambda _ds, changed: refreshed.append(refresh_sample_rows(model, changed)))

        bare, store_only, app_path, undo = [], [], [], []
        for i in range(repeat):
            target, other = (a, b) if i % 2 == 0 else (b, a)
            bare.append(bare_update(lib.db_path, ids, target))
            bare_update(lib.db_path, ids, other)  # put them back so the next step changes every row
            t0 = time.perf_counter()
            with lib.transaction() as s:
                prev = store_labelling.set_labels(s, dataset_id, ids, target)
            store_only.append(time.perf_counter() - t0)
            assert len(prev) == n
            with lib.transaction() as s:
                store_labelling.restore_labels(s, prev)
            t0 = time.perf_counter()
            ctl.label(dataset_id, ids, target)  # what a number key does: command + refresh
            app.processEvents()
            app_path.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ctl.undo_stack.undo()
            app.processEvents()
            undo.append(time.perf_counter() - t0)
        assert refreshed and refreshed[0] == min(n, model.PAGE_SIZE * model.MAX_PAGES)
        lib.close()
    med = {k: statistics.median(v) for k, v in
           (("bare_s", bare), ("store_s", store_only), ("app_s", app_path), ("undo_s", undo))}
    return {"samples": n, "repeat": repeat, "rows_refreshed": refreshed[0], **med,
            "store_ratio": med["store_s"] / med["bare_s"], "app_ratio": med["app_s"] / med["bare_s"],
            "undo_ratio": med["undo_s"] / med["bare_s"]}


def write_section(r: dict, path: Path) -> None:
    body = (
        f"{SECTION}\n\n"
        f"`bench/bench_label.py`: label {r['samples']:,} selected samples at once (medians of {r['repeat']} "
        "runs, each changing every row). Reference: a bare `UPDATE samples SET class_id = ? WHERE id IN "
        "(...)` + commit through sqlite3 on the same library file. `set_labels` also reads the previous "
        "labels for undo; the app path is what a number key does: the undoable command (set_labels in one "
        f"transaction) plus the grid model re-reading and repainting the {r['rows_refreshed']:,} changed rows "
        "it holds in memory (no model reset).\n\n"
        "| step | time | ratio to bare UPDATE |\n|---|---:|---:|\n"
        f"| bare SQL UPDATE (reference) | {r['bare_s'] * 1000:.1f} ms | 1.00x |\n"
        f"| `set_labels` (store, keeps undo data) | {r['store_s'] * 1000:.1f} ms | {r['store_ratio']:.2f}x |\n"
        f"| label from the GUI: command + grid refresh | {r['app_s'] * 1000:.1f} ms | **{r['app_ratio']:.2f}x** |\n"
        f"| undo of it (restore + grid refresh) | {r['undo_s'] * 1000:.1f} ms | {r['undo_ratio']:.2f}x |\n\n"
        f"Machine: {machine('no GPU')}. Measured {time.strftime('%Y-%m-%d', time.gmtime())}.\n"
    )
    replace_section(SECTION, body, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    r = run(args.samples, args.repeat)
    print(f"{r['samples']} samples: bare UPDATE {r['bare_s'] * 1000:.1f} ms, set_labels {r['store_s'] * 1000:.1f} ms "
          f"({r['store_ratio']:.2f}x), GUI label {r['app_s'] * 1000:.1f} ms ({r['app_ratio']:.2f}x), "
          f"undo {r['undo_s'] * 1000:.1f} ms ({r['undo_ratio']:.2f}x), {r['rows_refreshed']} grid rows refreshed")
    if not args.no_write:
        write_section(r, ROOT / "docs" / "benchmarks.md")


if __name__ == "__main__":
    main()
