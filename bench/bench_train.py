"""Training: how the defaults were chosen, and engine speed. (The defaults against a plain loop and
scikit-learn on three kinds of real data: bench/bench_train_defaults.py, whose datasets and runner
calls the sweep reuses.)

--sweep: the runs the defaults were chosen from (augmentation and learning rate per dataset).
--speed: epoch time of the engine vs the plain loop vs torchvision ImageFolder + DataLoader.
--gpu (a CUDA machine): time to 99% test accuracy on the MNIST-like task; resnet18 images/s with
and without AMP.

    python bench/bench_train.py --sweep|--speed|--gpu [--no-write] [--json OUT]

Writes its tables into docs/benchmarks.md between <!-- bench:train-... --> markers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import load_average, replace_marked  # noqa: E402  (bench/ is sys.path[0])
from bench_train_defaults import make_datasets, plain_epoch, studio_run  # noqa: E402
from studio.data.digits import add_digits_dataset  # noqa: E402
from studio.store.library import Library  # noqa: E402
from studio.train.runner import create_run, run_training  # noqa: E402
from studio.train.zoo import build_model  # noqa: E402


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    text = f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__}, {torch.get_num_threads()} threads"
    if torch.cuda.is_available():
        text += f", {torch.cuda.get_device_name(0)}"
    return text


def make_library(root: Path, copies: int, size: int = 28) -> Library:
    lib = Library.open(root / "library")
    t0 = time.perf_counter()
    add_digits_dataset(lib, "mnistish", upscale=size, copies=copies, splits={"train": 0.85, "val": 0.05, "test": 0.10})
    print(f"library built in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    return lib


def clocks() -> tuple[float, float]:
    """(wall, CPU) seconds; CPU = this process's threads + finished child processes (DataLoader
    workers), so time lost to OTHER processes sharing the cores does not count."""
    t = os.times()
    return time.perf_counter(), t.user + t.system + t.children_user + t.children_system


def lap(start: tuple[float, float]) -> tuple[float, float]:
    now = clocks()
    return now[0] - start[0], now[1] - start[1]


def engine_epochs(lib: Library, epochs: int, batch: int, device: str = "cpu", **spec) -> list[tuple[float, float]]:
    """(wall, CPU) seconds of each epoch's training steps, timed by handlers on the engine itself
    (from EPOCH_STARTED to the epoch's last ITERATION_COMPLETED: validation excluded)."""
    from studio.train.engine import Events

    times: list[tuple[float, float]] = []
    marks: dict[str, tuple[float, float]] = {}

    def control(engine):
        engine.on(Events.EPOCH_STARTED, lambda e: marks.update(start=clocks()))
        engine.on(Events.ITERATION_COMPLETED,
                  lambda e: times.append(lap(marks["start"])) if e.state.epoch_iteration == e.state.epoch_length else None)

    run_id = create_run(lib, "mnistish", {"model": "simple-cnn", "image_size": 28, "epochs": epochs, "batch_size": batch,
                                          "augment": "none", "device": device, **spec})
    run_training(lib, run_id, control=control)
    return times


def train_tensors(lib: Library) -> tuple[torch.Tensor, torch.Tensor]:
    """The train split decoded once (the plain loop's preloaded tensors), normalised floats."""
    from studio.data.cache import load_images
    from studio.data.samples import load_view

    with lib.session() as s:
        refs = load_view(s, "mnistish").split("train")
    images = load_images(lib, refs, 28, 1)
    x = images.take(images.rows([r.id for r in refs])).float().div(255).sub(0.5).div(0.5)
    return x, torch.tensor([r.label for r in refs])


def plain_epochs(x: torch.Tensor, y: torch.Tensor, epochs: int, batch: int, lr: float = 3e-3) -> list[float]:
    """The reference: the textbook loop, data already in memory."""
    torch.manual_seed(0)
    model = build_model("simple-cnn", 10, in_channels=1)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * -(-len(x) // batch), pct_start=0.25)
    times = []
    for _ in range(epochs):
        t0 = clocks()
        plain_epoch(model, opt, sched, x, y, batch)
        times.append(lap(t0))
    return times


def export_image_folder(lib: Library, root: Path) -> Path:
    """The same PNG files laid out class/file.png for ImageFolder."""
    from sqlalchemy import select

    from studio.store.models import LabelClass, Sample

    with lib.session() as s:
        rows = s.execute(select(Sample.id, Sample.blob, LabelClass.name).join(LabelClass, Sample.class_id == LabelClass.id)
                         .where(Sample.split == "train")).all()
    for sid, blob, name in rows:
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{sid}.png").write_bytes(lib.blobs.read(blob))
    return root


def image_folder_epochs(root: Path, epochs: int, batch: int, workers: int, lr: float = 3e-3) -> list[float]:
    from torch.utils.data import DataLoader
    from torchvision import datasets, transforms

    tf = transforms.Compose([transforms.Grayscale(1), transforms.ToTensor(), transforms.Normalize([0.5], [0.5])])
    loader = DataLoader(datasets.ImageFolder(str(root), transform=tf), batch_size=batch, shuffle=True,
                        num_workers=workers, drop_last=False)
    torch.manual_seed(0)
    model = build_model("simple-cnn", 10, in_channels=1)
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=epochs * len(loader), pct_start=0.25)
    times = []
    for _ in range(epochs):
        t0 = clocks()
        model.train()
        for xb, yb in loader:
            loss = F.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss.item()
        del xb, yb
        times.append(lap(t0))  # the epoch's workers have exited: their CPU time is counted
    return times


def steady(times: list[tuple[float, float]], which: int) -> float:
    """The fastest steady epoch (each run's first epoch, which pays for start-up, is dropped
    where the run is recorded): other processes share these cores, so the least disturbed epoch
    is the best estimate of the cost itself. which: 0 = wall, 1 = CPU seconds."""
    return min(t[which] for t in times)


def cpu_mode(args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        lib = make_library(Path(tmp), args.copies)
        x, y = train_tensors(lib)
        folder = export_image_folder(lib, Path(tmp) / "imagefolder")
        n = len(x)
        results = {"machine": machine(), "train_images": n, "batch_size": args.batch_size, "epochs": args.epochs}
        # interleave the measurements so load from other processes hits all of them alike
        for rnd in range(args.rounds):  # steady epochs only: each run's first epoch is dropped
            results.setdefault("engine", []).extend(engine_epochs(lib, args.epochs, args.batch_size)[1:])
            results.setdefault("plain", []).extend(plain_epochs(x, y, args.epochs, args.batch_size)[1:])
            results.setdefault("imagefolder", []).extend(image_folder_epochs(folder, args.epochs, args.batch_size, args.workers)[1:])
            print(f"round {rnd + 1}: " + ", ".join(f"{k} {steady(results[k], 0):.2f} s wall / {steady(results[k], 1):.2f} s CPU"
                                                   for k in ("engine", "plain", "imagefolder")), file=sys.stderr)
        lib.close()
    names = ("engine", "plain", "imagefolder")
    wall = {k: steady(results[k], 0) for k in names}
    cpu = {k: steady(results[k], 1) for k in names}
    results.update(wall_s=wall, cpu_s=cpu,
                   engine_vs_plain={"wall": wall["engine"] / wall["plain"], "cpu": cpu["engine"] / cpu["plain"]},
                   imagefolder_vs_engine={"wall": wall["imagefolder"] / wall["engine"], "cpu": cpu["imagefolder"] / cpu["engine"]})
    print(f"steady epoch of {n} images at 28 px, batch {args.batch_size} (fastest of {len(results['engine'])}):")
    for k, label in zip(names, ("studio engine", "plain loop", f"ImageFolder+DataLoader({args.workers} workers)")):
        print(f"  {label:34s} {wall[k]:7.2f} s wall {cpu[k]:7.2f} s CPU")
    print(f"  engine / plain: {results['engine_vs_plain']['wall']:.3f}x wall, {results['engine_vs_plain']['cpu']:.3f}x CPU")
    print(f"  ImageFolder / engine: {results['imagefolder_vs_engine']['wall']:.2f}x wall, {results['imagefolder_vs_engine']['cpu']:.2f}x CPU")
    return results


def gpu_mode(args) -> dict:
    if not torch.cuda.is_available():
        raise SystemExit("--gpu needs CUDA")
    results = {"machine": machine()}
    with tempfile.TemporaryDirectory() as tmp:
        lib = make_library(Path(tmp), args.copies)
        from studio.train.evaluate import evaluate_run

        t0 = time.perf_counter()
        reached = None
        for epochs in (2, 4, 8, 16):  # the shortest schedule that reaches 99% test accuracy
            run_id = create_run(lib, "mnistish", {"model": "simple-cnn", "image_size": 28, "epochs": epochs,
                                                  "batch_size": 256, "augment": "crop", "device": "cuda"})
            t_run = time.perf_counter()
            run_training(lib, run_id)
            seconds = time.perf_counter() - t_run
            acc = evaluate_run(lib, run_id, "test", device="cuda").accuracy
            print(f"{epochs} epochs: test accuracy {acc:.4f} in {seconds:.1f} s", file=sys.stderr)
            if acc >= 0.99:
                reached = {"epochs": epochs, "seconds": seconds, "test_accuracy": acc}
                break
        results["time_to_99"] = reached
        results["search_seconds"] = time.perf_counter() - t0
        lib.close()
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library.open(Path(tmp) / "library")
        add_digits_dataset(lib, "mnistish", upscale=64, copies=2)
        for amp in (True, False):
            rates = []
            run_id = create_run(lib, "mnistish", {"model": "resnet18", "image_size": 224, "epochs": 2, "batch_size": 128,
                                                  "augment": "flip,crop", "device": "cuda", "amp": amp, "log_every": 5})
            run_training(lib, run_id, emit=lambda e: rates.append(e["samples_per_s"]) if e["event"] == "step" and e["epoch"] == 2 else None)
            results[f"resnet18_224_images_per_s_amp_{amp}"] = statistics.median(rates)
        lib.close()
    print(json.dumps(results, indent=2))
    return results


SWEEP = [  # (what is varied, spec on top of the defaults)
    ("defaults", {}),
    ("augment crop", {"augment": "crop"}),
    ("augment flip,crop (the old default)", {"augment": "flip,crop"}),
    ("lr 1e-3", {"lr": 1e-3}),
    ("lr 1e-2", {"lr": 1e-2}),
    ("epochs 20", {"epochs": 20}),
]


def sweep_mode(args) -> dict:
    results: dict = {"machine": machine(), "datasets": {}, "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library.open(Path(tmp) / "library")
        results["datasets"] = make_datasets(lib, quick=args.quick)
        for name in results["datasets"]:
            for label, spec in SWEEP:
                if label == "epochs 20" and name != "digits" and not args.long:
                    continue  # the budget of a few minutes on 2 shared cores
                run = studio_run(lib, name, spec)
                results["rows"].append({"dataset": name, "case": label, "test_accuracy": run["test_accuracy"],
                                        "seconds": run["seconds"], "lr": run["spec"]["lr"], "epochs": run["spec"]["epochs"],
                                        "augment": run["spec"]["augment"]})
        lib.close()
    results["load_average"] = load_average()
    return results


def write_sweep_table(results: dict) -> None:
    sets = "; ".join(f"{k}: {v}" for k, v in results["datasets"].items())
    lines = ["`bench/bench_train.py --sweep --quick`: how the defaults were chosen. Each row is the studio's runner with "
             "the defaults except the one setting named; test accuracy on the held-out test split, wall seconds "
             f"(single runs on shared cores: the first run of each dataset also builds its tensor cache). Data: {sets}.", "",
             "| dataset | case | lr | epochs | augment | test acc | time |", "|---|---|---:|---:|---|---:|---:|"]
    for r in results["rows"]:
        lines.append(f"| {r['dataset']} | {r['case']} | {r['lr']:g} | {r['epochs']} | {','.join(r['augment']) or 'none'} | "
                     f"{r['test_accuracy']:.3f} | {r['seconds']:.1f} s |")
    lines += ["", f"Machine: {results['machine']}; load average at the end {results['load_average']}. "
              f"Measured {time.strftime('%Y-%m-%d')}."]
    replace_marked("train-sweep", "\n".join(lines), "## Training")


def write_speed_table(results: dict, args) -> None:
    wall, cpu = results["wall_s"], results["cpu_s"]
    lines = [f"`bench/bench_train.py --speed --copies {args.copies} --epochs {args.epochs} --rounds {args.rounds}`: "
             f"{results['train_images']:,} digit images (28 px, scikit-learn digits with 1-px shifted copies) stored as "
             f"PNG blobs in a real library; simple-cnn, batch {results['batch_size']}, AdamW + one-cycle, no augmentation, "
             "CPU for all three. Fastest steady epoch (each run's first epoch dropped; validation excluded), wall "
             "and CPU seconds (CPU = this process + finished DataLoader workers).", "",
             "| run | wall | CPU | wall vs plain loop |", "|---|---:|---:|---:|"]
    labels = {"engine": "studio engine (`run_training`: tensor cache, events, DB metrics, heartbeat)",
              "plain": "plain hand-written loop over preloaded float tensors (reference)",
              "imagefolder": f"torchvision ImageFolder + DataLoader ({args.workers} workers) over the same PNGs"}
    for key, label in labels.items():
        lines.append(f"| {label} | {wall[key]:.2f} s | {cpu[key]:.2f} s | {wall[key] / wall['plain']:.2f}x |")
    lines += ["", f"Engine / plain loop: **{results['engine_vs_plain']['wall']:.2f}x wall, "
              f"{results['engine_vs_plain']['cpu']:.2f}x CPU** (aim <= 1.05x). Machine: {results['machine']}; "
              f"load average at the end {load_average()} (other jobs share the 2 cores: single epochs vary a lot, "
              f"read ratios near 1 as \"within noise\"). Measured {time.strftime('%Y-%m-%d')}."]
    replace_marked("train-speed", "\n".join(lines), "## Training")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", action="store_true", help="the runs the defaults were chosen from")
    parser.add_argument("--speed", action="store_true", help="epoch time: engine vs plain loop vs ImageFolder")
    parser.add_argument("--quick", action="store_true", help="smaller shapes/photos sets (a smoke run)")
    parser.add_argument("--long", action="store_true", help="--sweep: also 20 epochs on the photos")
    parser.add_argument("--copies", type=int, default=6, help="--speed: replicas of the 1797 digits (6 -> 10.8k images)")
    parser.add_argument("--epochs", type=int, default=3, help="--speed: epochs per run")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers for the ImageFolder reference")
    parser.add_argument("--gpu", action="store_true")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.gpu:
        results = gpu_mode(args)
    elif args.speed:
        results = cpu_mode(args)
        if not args.no_write:
            write_speed_table(results, args)
    elif args.sweep:
        results = sweep_mode(args)
        if not args.no_write:
            write_sweep_table(results)
    else:
        parser.error("choose --sweep, --speed or --gpu (the defaults table: bench/bench_train_defaults.py)")
    print(json.dumps(results, indent=2, default=str))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
