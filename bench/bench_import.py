"""Import speed: `import_path` of 10,000 small PNGs against a plain `shutil.copytree` of the tree.

Usage:  .venv/bin/python bench/bench_import.py [--files 10000] [--repeat 3] [--dir D]... [--no-write]
Measures on a real disk (the temp dir) and on tmpfs (/dev/shm), prints the ratios and writes them,
with the machine, into the "Import" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from studio.core.jobs import JobState  # noqa: E402
from studio.store.datasets import create_dataset  # noqa: E402
from studio.store.importers import import_path  # noqa: E402
from studio.store.library import Library  # noqa: E402

from _common import machine, replace_section  # noqa: E402  (bench/ is sys.path[0])

SECTION = "## Import"
TARGET_RATIO = 4.0


def make_tree(root: Path, n_files: int) -> None:
    """Digits upscaled to 28x28 in class folders; each copy gets a little noise so every file is
    distinct (duplicates would be skipped before decoding and flatter the importer)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    rng = np.random.default_rng(0)
    for i in range(n_files):
        k = i % len(digits.images)
        base = np.kron(digits.images[k], np.ones((4, 4)))[2:30, 2:30] * 15.0
        pixels = np.clip(base + rng.integers(0, 12, base.shape), 0, 255).astype(np.uint8)
        folder = root / str(digits.target[k])
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(folder / f"{i:05d}.png")


def warm_page_cache(path: Path) -> None:
    """Read every file once so both runs start with a warm page cache (fair comparison)."""
    for dirpath, _, files in os.walk(path):
        for f in files:
            with open(os.path.join(dirpath, f), "rb") as fh:
                fh.read()


def run(n_files: int, repeat: int, workdir: str | None) -> dict:
    """Alternate copy and import ``repeat`` times (fresh targets each time) and keep the best of
    each: on a shared, busy machine the minimum is the least disturbed measurement."""
    copies, imports, copy_cpu, import_cpu = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="bench_import_", dir=workdir) as tmp:
        tmp = Path(tmp)
        src = tmp / "src"
        make_tree(src, n_files)
        warm_page_cache(src)
        for round_ in range(repeat):
            target = tmp / f"copy{round_}"
            t0, c0 = time.perf_counter(), cpu_seconds()
            shutil.copytree(src, target)
            copies.append(time.perf_counter() - t0)
            copy_cpu.append(cpu_seconds() - c0)
            shutil.rmtree(target)

            lib = Library.open(tmp / f"lib{round_}")
            with lib.transaction() as s:
                ds = create_dataset(s, "bench").id
            t0, c0 = time.perf_counter(), cpu_seconds()
            report = import_path(lib, ds, src, JobState())
            imports.append(time.perf_counter() - t0)
            import_cpu.append(cpu_seconds() - c0)  # the worker processes' CPU included
            lib.close()
            assert report.added == n_files and not report.rejected, report.to_dict()
            shutil.rmtree(tmp / f"lib{round_}")
            print(f"round {round_ + 1}: copytree {copies[-1]:.2f} s, import {imports[-1]:.2f} s", flush=True)
    copy_s, import_s = min(copies), min(imports)
    return {"files": n_files, "copy_s": copy_s, "import_s": import_s, "ratio": import_s / copy_s,
            "copies": copies, "imports": imports,
            "cpu_ratio": min(import_cpu) / max(min(copy_cpu), 1e-3),
            "copy_cpu": min(copy_cpu), "import_cpu": min(import_cpu), "load": os.getloadavg()[0]}


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads) and of its finished children (the
    import's worker processes): what the work cost, whatever the load."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def write_section(results: list[dict], path: Path) -> None:
    from studio.core.limits import limits
    from studio.store.importers import _worker_count

    workers = _worker_count(limits())
    first = results[0]
    rows = "".join(
        f"| {r['where']} | {r['files']:,} | {r['copy_s']:.2f} s | {r['import_s']:.2f} s | **{r['ratio']:.2f}x** | "
        f"{r['copy_cpu']:.2f} s / {r['import_cpu']:.2f} s = {r['cpu_ratio']:.1f}x |\n"
        for r in results
    )
    rounds = "; ".join(
        f"{r['where']}: copytree {', '.join(f'{t:.2f}' for t in r['copies'])} s, import "
        f"{', '.join(f'{t:.2f}' for t in r['imports'])} s"
        for r in results
    )
    body = (
        f"{SECTION}\n\n"
        f"`bench/bench_import.py`: import {first['files']:,} PNGs (28x28 grey digits, 10 class folders) into a "
        "fresh library with `import_path` (read + SHA-256 + full decode to validate + blob write, in a pool "
        f"of {workers} worker processes; rows inserted 500 per transaction by the main process; the "
        "perceptual hash is computed later, when near-duplicates are first looked for) against "
        "`shutil.copytree` of the same tree, source and target on the same file system, both from a warm "
        f"page cache; best of {len(first['copies'])} alternating rounds.\n\n"
        f"| file system | files | copytree | import_path | wall ratio (target <= {TARGET_RATIO:g}x) | CPU time copy / import |\n"
        "|---|---:|---:|---:|---:|---:|\n"
        f"{rows}\n"
        f"All rounds: {rounds}. CPU time is user + system of all threads and of the worker processes "
        f"({min(r['import_cpu'] for r in results) / first['files'] * 1000:.2f} ms of CPU per file at best). "
        f"Load average at the end: {max(r['load'] for r in results):.1f}; the {os.cpu_count()} cores are "
        "shared with other jobs, so timings vary between runs.\n\n"
        f"Machine: {machine('no GPU used')}. Measured {time.strftime('%Y-%m-%d', time.gmtime())}.\n"
    )
    replace_section(SECTION, body, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of copy + import (best of each)")
    parser.add_argument("--dir", action="append", default=None,
                        help="file system(s) to measure on (default: the system temp dir, and /dev/shm if present)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    dirs = args.dir or [tempfile.gettempdir()] + (["/dev/shm"] if os.path.isdir("/dev/shm") else [])
    results = []
    for where in dirs:
        print(f"-- {where}", flush=True)
        result = run(args.files, args.repeat, where)
        result["where"] = "tmpfs (RAM)" if where.startswith("/dev/shm") else f"disk ({where})"
        results.append(result)
        print(
            f"{result['files']} files on {result['where']}: copytree {result['copy_s']:.2f} s, import "
            f"{result['import_s']:.2f} s, ratio {result['ratio']:.2f}x (target <= {TARGET_RATIO:g}x); "
            f"CPU time ratio {result['cpu_ratio']:.1f}x", flush=True
        )
    if not args.no_write:
        write_section(results, ROOT / "docs" / "benchmarks.md")


if __name__ == "__main__":
    main()
