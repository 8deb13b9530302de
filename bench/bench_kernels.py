"""Kernel speed: the shipped Mandelbrot kernel against its plain NumPy reference, in the same run.

CPU (default): 1920x1080 at 256 iterations, float64 (like NumPy's complex128), eager and through
torch.compile, against the textbook NumPy loop; rounds alternate (NumPy, eager, compiled) and the
best of each counts, so a busy shared machine hurts all three alike.
GPU (--gpu): pixels/s of the same kernel on CUDA (float32 and float64, eager and compiled), and
Mandelbulb grid points/s, each against the CPU NumPy reference figure.

Usage:  .venv/bin/python bench/bench_kernels.py [--gpu] [--rounds 3] [--no-write] [--json FILE]
Writes the figures, with the machine, into the "Kernels" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from studio.kernels.api import Grid  # noqa: E402
from studio.kernels.registry import discover_for_home  # noqa: E402
from studio.kernels.runtime import run_kernel  # noqa: E402

from _common import machine, read_section, replace_section  # noqa: E402  (bench/ is sys.path[0])

SECTION = "## Kernels"
WIDTH, HEIGHT, ITERS = 1920, 1080, 256
TARGET_CPU_RATIO = 2.0
TARGET_GPU_PX = 1e9


def machine_line(gpu: bool) -> str:
    dev = torch.cuda.get_device_name(0) if gpu and torch.cuda.is_available() else "no GPU used"
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    return f"{machine(f'{dev}, torch {torch.__version__}')}; load average during the run {load}"


def time_numpy(spec, params) -> float:
    start = time.perf_counter()
    spec.meta.reference(Grid(WIDTH, HEIGHT), **params)
    return time.perf_counter() - start


def time_kernel(spec, params, device, compile_=False, size=(WIDTH, HEIGHT)) -> tuple[float, float | None, str]:
    run = run_kernel(spec, params, device=device, compile=compile_, size=size)
    return run.run_ms / 1000.0, (run.compile_ms / 1000.0 if run.compile_ms is not None else None), run.note


def bench_cpu(rounds: int, thread_counts: list[int]) -> dict:
    spec = discover_for_home(None).kernels["mandelbrot"]
    params = {"max_iter": ITERS, "precision": "float64"}
    values = spec.default_params() | params
    time_kernel(spec, params, "cpu")  # warm-up: allocator, thread pool
    compile_first = None
    note = ""
    numpy_t: list[float] = []
    eager_t: dict[int, list[float]] = {n: [] for n in thread_counts}
    compiled_t: dict[int, list[float]] = {n: [] for n in thread_counts}
    for _ in range(rounds):
        numpy_t.append(time_numpy(spec, values))
        for n in thread_counts:
            torch.set_num_threads(n)
            eager_t[n].append(time_kernel(spec, params, "cpu")[0])
            t, first, note = time_kernel(spec, params, "cpu", compile_=True)
            if first is not None:  # the first compiled call: compile + one run; run again for the time
                compile_first = first
                t, _, note = time_kernel(spec, params, "cpu", compile_=True)
            compiled_t[n].append(t)
    best_numpy = min(numpy_t)
    rows = [{"threads": n, "eager_s": min(eager_t[n]), "compiled_s": min(compiled_t[n]),
             "ratio_eager": best_numpy / min(eager_t[n]), "ratio_compiled": best_numpy / min(compiled_t[n])}
            for n in thread_counts]
    return {
        "mode": "cpu",
        "size": f"{WIDTH}x{HEIGHT}",
        "iterations": ITERS,
        "rounds": {"numpy": numpy_t, "eager": eager_t, "compiled": compiled_t},
        "numpy_s": best_numpy,
        "rows": rows,
        "compile_first_call_s": compile_first,
        "compile_note": note,
        "machine": machine_line(False),
    }


def bench_gpu(rounds: int) -> dict:
    if not torch.cuda.is_available():
        raise SystemExit("--gpu needs CUDA")
    kernels = discover_for_home(None).kernels
    spec = kernels["mandelbrot"]
    pixels = WIDTH * HEIGHT
    numpy_s = time_numpy(spec, spec.default_params() | {"max_iter": ITERS})
    rows = []
    for precision in ("float32", "float64"):
        for compiled in (False, True):
            params = {"max_iter": ITERS, "precision": precision}
            _, first, note = time_kernel(spec, params, "cuda", compiled)
            best = min(time_kernel(spec, params, "cuda", compiled)[0] for _ in range(max(rounds, 3)))
            rows.append({"target": f"mandelbrot {precision}" + (" compiled" if compiled else ""), "s": best,
                         "rate": pixels / best, "unit": "px/s", "first_call_s": first, "note": note,
                         "vs_numpy": numpy_s / best})
    bulb = kernels["mandelbulb"]
    for res in (128, 256):
        for compiled in (False, True):
            _, first, note = time_kernel(bulb, {}, "cuda", compiled, size=(res,))
            run = run_kernel(bulb, {}, device="cuda", compile=compiled, size=(res,))
            best = min(run.run_ms / 1000.0, *(time_kernel(bulb, {}, "cuda", compiled, size=(res,))[0] for _ in range(2)))
            rows.append({"target": f"mandelbulb {res}^3" + (" compiled" if compiled else ""), "s": best,
                         "rate": res**3 / best, "unit": "grid points/s", "surface_points": run.result.size(),
                         "first_call_s": first, "note": note})
    return {"mode": "gpu", "numpy_cpu_s": numpy_s, "rows": rows, "machine": machine_line(True)}


def cpu_block(r: dict) -> str:
    comp = f"{r['compile_first_call_s']:.1f} s" if r["compile_first_call_s"] is not None else "n/a"
    note = f" Compile note: {r['compile_note']}." if r["compile_note"] else ""
    lines = [
        "### CPU\n",
        f"Mandelbrot {r['size']}, {r['iterations']} iterations, float64 (smooth colouring included in both), "
        f"best of {len(r['rounds']['numpy'])} alternating rounds; reference: the textbook NumPy loop "
        "(`mandelbrot_numpy` in kernels/fractals.py, whole complex128 arrays per iteration, one thread).\n",
        f"| torch threads | NumPy reference | torch eager | torch.compile | eager vs NumPy | compiled vs NumPy (target >= {TARGET_CPU_RATIO:g}x) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for row in r["rows"]:
        lines.append(f"| {row['threads']} | {r['numpy_s']:.2f} s | {row['eager_s']:.2f} s | {row['compiled_s']:.2f} s | "
                     f"**{row['ratio_eager']:.2f}x** | **{row['ratio_compiled']:.2f}x** |")
    if len(r["rows"]) > 1 and r["rows"][-1]["eager_s"] > r["rows"][0]["eager_s"]:
        lines.append("\nMore threads ran slower here: with other processes holding the cores (see the load average), "
                     "torch's intra-op threads wait for each other at every operation; NumPy runs on one thread.")
    lines.append(
        f"\nFirst compiled call (tracing + C++ codegen + one run): {comp}.{note} "
        f"Machine: {r['machine']}. Measured {time.strftime('%Y-%m-%d', time.gmtime())}.\n"
    )
    return "\n".join(lines)


def gpu_block(r: dict) -> str:
    lines = [
        "### GPU\n",
        f"`bench/bench_kernels.py --gpu`: best of 3 after a warm-up call. Mandelbrot {WIDTH}x{HEIGHT}, "
        f"{ITERS} iterations; the CPU NumPy reference took {r['numpy_cpu_s']:.2f} s for the same image. "
        f"Target: > {TARGET_GPU_PX / 1e9:g} Gpx/s.\n",
        "| kernel | time | throughput | vs NumPy (CPU) | first call |",
        "|---|---:|---:|---:|---:|",
    ]
    for row in r["rows"]:
        rate = row["rate"]
        rate_txt = f"{rate / 1e9:.2f} G{row['unit']}" if rate >= 1e9 else f"{rate / 1e6:.1f} M{row['unit']}"
        vs = f"{row['vs_numpy']:.0f}x" if "vs_numpy" in row else (f"{row['surface_points']:,} surface points" if "surface_points" in row else "")
        first = f"{row['first_call_s']:.1f} s" if row["first_call_s"] is not None else ""
        lines.append(f"| {row['target']} | {row['s'] * 1000:.2f} ms | {rate_txt} | {vs} | {first} |")
    lines.append(f"\nMachine: {r['machine']}. Measured {time.strftime('%Y-%m-%d', time.gmtime())}.\n")
    return "\n".join(lines)


def write_section(block: str, subsection: str, path: Path) -> None:
    intro = (f"{SECTION}\n\n`bench/bench_kernels.py`: the shipped Mandelbrot kernel (kernels/fractals.py) "
             "against its plain NumPy reference in the same run; `--gpu` adds CUDA pixels/s and Mandelbulb points/s.\n\n")
    section = read_section(SECTION, path) or intro
    blocks = {}
    for name in ("### CPU", "### GPU"):
        if name in section:
            s = section.index(name)
            e = section.find("\n### ", s + len(name))
            blocks[name] = section[s: e if e != -1 else len(section)].strip("\n") + "\n"
    blocks[subsection] = block.strip("\n") + "\n"
    body = intro + "\n".join(blocks[k] for k in ("### CPU", "### GPU") if k in blocks)
    replace_section(SECTION, body, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gpu", action="store_true", help="measure CUDA pixels/s and Mandelbulb points/s")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", default=f"1,{torch.get_num_threads()}",
                        help="comma-separated torch CPU thread counts to measure (default: 1 and torch's choice)")
    parser.add_argument("--no-write", action="store_true", help="do not touch docs/benchmarks.md")
    parser.add_argument("--json", metavar="FILE", help="also write the raw figures as JSON")
    args = parser.parse_args()
    threads = sorted({int(n) for n in args.threads.split(",") if n.strip()})
    result = bench_gpu(args.rounds) if args.gpu else bench_cpu(args.rounds, threads)
    block = gpu_block(result) if args.gpu else cpu_block(result)
    print(block)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    if not args.no_write:
        write_section(block, "### GPU" if args.gpu else "### CPU", ROOT / "docs" / "benchmarks.md")


if __name__ == "__main__":
    main()
