"""Training: the studio's defaults against a plain hand-written PyTorch loop, and engine speed.

Default mode (what a user gets by pressing Train): on three real datasets of different kinds
  - digits: scikit-learn's 1797 handwritten digits (8x8 scans) upscaled to 28x28 grey,
  - shapes: the demo shapes (scripts/make_demo_dataset.py, 64x64 colour), more per class,
  - photos: texture photographs shipped with scikit-image (brick, grass, gravel), 96x96 crops;
    train crops from the top of each photo, test crops from the bottom (never overlapping),
it trains the studio's defaults through the real runner (create_run + run_training, exactly what
`studio train DATASET` does in its worker), and, in the same run, a plain loop: the same
architecture built fresh, the same data decoded with PIL, same image size, batch size, epochs,
AdamW + one-cycle at the same peak rate, no augmentation. Both are scored on the same test split.

--sweep: the runs the defaults were chosen from (augmentation and learning rate per dataset).
--speed: epoch time of the engine vs the plain loop vs torchvision ImageFolder + DataLoader.
--gpu (a CUDA machine): time to 99% test accuracy on the MNIST-like task; resnet18 images/s with
and without AMP.

    python bench/bench_train.py [--sweep] [--speed] [--gpu] [--no-write] [--json OUT]

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


def plain_epoch(model, opt, sched, x: torch.Tensor, y: torch.Tensor, batch: int) -> None:
    """One epoch of the textbook loop over tensors in memory (both references use it)."""
    model.train()
    perm = torch.randperm(len(x))
    for i in range(0, len(x), batch):
        idx = perm[i:i + batch]
        if len(idx) < 2:  # batch norm needs two
            sched.step()
            continue
        loss = F.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        loss.item()


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


# --- defaults vs a plain loop, on three kinds of real data -------------------------------------

PHOTO_TEXTURES = ("brick", "grass", "gravel")


def add_image_dataset(lib: Library, name: str, items: list[tuple[bytes, str, str]]) -> None:
    """(png bytes, class, split) rows as a dataset, stored exactly as an import stores them."""
    from PIL import Image
    import io

    from studio.store.models import Dataset, LabelClass, Sample

    classes = sorted({c for _, c, _ in items})
    with lib.transaction() as s:
        ds = Dataset(name=name, kind="image")
        s.add(ds)
        s.flush()
        ids = {}
        for pos, c in enumerate(classes):
            cls = LabelClass(dataset_id=ds.id, name=c, position=pos)
            s.add(cls)
            s.flush()
            ids[c] = cls.id
        for i, (data, c, split) in enumerate(items):
            im = Image.open(io.BytesIO(data))
            s.add(Sample(dataset_id=ds.id, blob=lib.blobs.put(data), format="png", width=im.width, height=im.height,
                         channels=len(im.getbands()), byte_size=len(data), class_id=ids[c], split=split,
                         source_path=f"{name}/{c}/{i}.png", labelled_by="import"))


def _png(array) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def photo_items(train_per_class: int, test_per_class: int, crop: int = 96, seed: int = 0) -> list[tuple[bytes, str, str]]:
    """Crops of scikit-image's texture photographs (512x512 grey, shipped with the package): train
    crops from the top 55% of each photo, test crops from the bottom 40%, so none overlap."""
    import random

    import skimage.data

    rng = random.Random(seed)
    items = []
    for name in PHOTO_TEXTURES:
        photo = getattr(skimage.data, name)()
        h, w = photo.shape[:2]
        for split, count, (top, bottom) in (("train", train_per_class, (0, int(h * 0.55))),
                                            ("test", test_per_class, (int(h * 0.6), h))):
            for _ in range(count):
                y, x = rng.randint(top, bottom - crop), rng.randint(0, w - crop)
                items.append((_png(photo[y:y + crop, x:x + crop]), name, split))
    return items


def shape_items(per_class: int) -> list[tuple[bytes, str, str]]:
    """The demo shapes generator (scripts/make_demo_dataset.py) with more per class; 60/20/20 split."""
    import importlib.util
    import io
    import zipfile

    spec = importlib.util.spec_from_file_location("make_demo_dataset", ROOT / "scripts" / "make_demo_dataset.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "shapes.zip"
        module.make_zip(path, per_class=per_class, seed=1)  # seed 1: other images than the shipped demo
        with zipfile.ZipFile(path) as zf:
            names = sorted(n for n in zf.namelist() if n.endswith(".png"))
            files = [(zf.read(n), n.split("/")[-2]) for n in names]
    items, seen = [], {}
    for data, cls in files:
        k = seen[cls] = seen.get(cls, -1) + 1
        split = "train" if k % 5 < 3 else ("val" if k % 5 == 3 else "test")
        items.append((data, cls, split))
    return items


def make_datasets(lib: Library, quick: bool = False) -> dict[str, str]:
    """name -> what it is, for the table."""
    side = 16 if quick else 28  # --quick (the sweep on 2 shared cores): a quarter of the pixels
    add_digits_dataset(lib, "digits", upscale=side, splits={"train": 0.7, "val": 0.1, "test": 0.2})
    per_class = 60 if quick else 200
    add_image_dataset(lib, "shapes", shape_items(per_class))
    train_pc, test_pc = (20, 20) if quick else (50, 30)
    add_image_dataset(lib, "photos", photo_items(train_pc, test_pc))
    return {
        "digits": f"scikit-learn digits, {side}x{side} grey, 10 classes",
        "shapes": f"demo shapes, 64x64 colour, 3 classes x {per_class}",
        "photos": f"scikit-image texture photos (brick/grass/gravel), 96x96 grey crops, {train_pc}+{test_pc} per class",
    }


def studio_run(lib: Library, dataset: str, spec: dict | None = None) -> dict:
    """The real runner on ``spec`` (defaults where not given); wall seconds and test accuracy."""
    from studio.train.evaluate import evaluate_run

    t0 = time.perf_counter()
    run_id = create_run(lib, dataset, dict(spec or {}))
    result = run_training(lib, run_id)
    seconds = time.perf_counter() - t0
    with lib.session() as s:
        from studio.store.models import Run

        resolved = dict(s.get(Run, run_id).spec)
    accuracy = evaluate_run(lib, run_id, "test", store=False).accuracy
    print(f"  studio {dataset} {spec or 'defaults'}: test {accuracy:.4f} in {seconds:.1f} s", file=sys.stderr)
    return {"run_id": run_id, "status": result["status"], "seconds": seconds, "test_accuracy": accuracy, "spec": resolved}


def resolved_spec(lib: Library, dataset: str) -> dict:
    """The defaults as a run on ``dataset`` would resolve them, without training (for the plain loop
    going first). pretrained "auto" is decided here as the worker decides it."""
    from studio.store.models import Run
    from studio.train import zoo
    from studio.train.runner import default_lr

    run_id = create_run(lib, dataset, {})
    with lib.session() as s:
        spec = dict(s.get(Run, run_id).spec)
    if spec["pretrained"] == "auto":
        try:
            zoo.imagenet_weights_file(spec["model"])
            spec["pretrained"] = "imagenet"
        except Exception:  # offline, nothing cached: the worker trains the small CNN instead
            spec["pretrained"] = "none"
            if spec.get("auto_model"):
                spec["model"] = zoo.SIMPLE_CNN
                with lib.session() as s:
                    from studio.data.samples import load_view

                    view = load_view(s, dataset)
                spec["image_size"] = min(max(view.median_size, 16), 128)
                spec["mean"], spec["std"] = zoo.default_normalisation(zoo.SIMPLE_CNN, spec["in_channels"])
        spec["lr"] = spec["lr"] or default_lr(spec)
    return spec


def split_tensors(lib: Library, dataset: str, split: str, size: int, channels: int, mean, std):
    """The plain loop's data: each file decoded with PIL, resized (bilinear), normalised."""
    from PIL import Image
    from sqlalchemy import select

    from studio.store.models import Dataset, LabelClass, Sample

    with lib.session() as s:
        ds_id = s.scalar(select(Dataset.id).where(Dataset.name == dataset))
        names = list(s.scalars(select(LabelClass.name).where(LabelClass.dataset_id == ds_id).order_by(LabelClass.position)))
        rows = s.execute(select(Sample.blob, LabelClass.name).join(LabelClass, Sample.class_id == LabelClass.id)
                         .where(Sample.dataset_id == ds_id, Sample.split == split).order_by(Sample.id)).all()
    xs, ys = [], []
    for blob, cls in rows:
        im = Image.open(lib.blobs.path(blob)).convert("L" if channels == 1 else "RGB").resize((size, size), Image.BILINEAR)
        t = torch.frombuffer(bytearray(im.tobytes()), dtype=torch.uint8).view(size, size, channels).permute(2, 0, 1)
        xs.append(t)
        ys.append(names.index(cls))
    x = torch.stack(xs).float().div(255)
    x = (x - torch.tensor(mean).view(1, -1, 1, 1)) / torch.tensor(std).view(1, -1, 1, 1)
    return x, torch.tensor(ys), names


def plain_run(lib: Library, dataset: str, spec: dict) -> dict:
    """The reference: the textbook loop with the architecture, size, batch, epochs and peak rate of
    the studio's run (``spec`` = its resolved spec), trained on the train split only."""
    t0 = time.perf_counter()
    size, channels = spec["image_size"], spec["in_channels"]
    x, y, names = split_tensors(lib, dataset, "train", size, channels, spec["mean"], spec["std"])
    xt, yt, _ = split_tensors(lib, dataset, "test", size, channels, spec["mean"], spec["std"])
    torch.manual_seed(0)
    weights = "imagenet" if spec["pretrained"] == "imagenet" else None  # the same start as the studio's run
    model = build_model(spec["model"], len(names), in_channels=channels, weights=weights)
    batch, epochs, lr = spec["batch_size"], spec["epochs"], spec["lr"]
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    steps = epochs * -(-len(x) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps, pct_start=0.25)
    for _ in range(epochs):
        plain_epoch(model, opt, sched, x, y, batch)
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(xt[i:i + 256]).argmax(1) for i in range(0, len(xt), 256)])
    accuracy = float((pred == yt).float().mean())
    seconds = time.perf_counter() - t0
    print(f"  plain  {dataset}: test {accuracy:.4f} in {seconds:.1f} s", file=sys.stderr)
    return {"seconds": seconds, "test_accuracy": accuracy}


def sklearn_run(lib: Library, dataset: str, spec: dict) -> dict:
    """The classical baseline: scikit-learn's logistic regression on the pixels (at most 32 px a
    side, standardised), trained on the same train split, scored on the same test split."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    t0 = time.perf_counter()
    size, channels = min(spec["image_size"], 32), spec["in_channels"]
    x, y, _ = split_tensors(lib, dataset, "train", size, channels, spec["mean"], spec["std"])
    xt, yt, _ = split_tensors(lib, dataset, "test", size, channels, spec["mean"], spec["std"])
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.1))
    model.fit(x.flatten(1).numpy(), y.numpy())
    accuracy = float((model.predict(xt.flatten(1).numpy()) == yt.numpy()).mean())
    seconds = time.perf_counter() - t0
    print(f"  sklearn {dataset}: test {accuracy:.4f} in {seconds:.1f} s", file=sys.stderr)
    return {"seconds": seconds, "test_accuracy": accuracy}


def defaults_mode(args) -> dict:
    results: dict = {"machine": machine(), "datasets": {}, "rows": []}
    with tempfile.TemporaryDirectory() as tmp:
        lib = Library.open(Path(tmp) / "library")
        results["datasets"] = make_datasets(lib, quick=args.quick)
        warm = studio_run(lib, "digits", {"epochs": 1})  # the process's first training pays torch's warm-up
        plain_run(lib, "digits", {**warm["spec"], "epochs": 1})
        for i, name in enumerate(results["datasets"]):
            if i % 2:  # take turns going first, so drifting load from other jobs hits both alike
                studio = studio_run(lib, name)
                plain = plain_run(lib, name, studio["spec"])
            else:
                spec = resolved_spec(lib, name)
                plain = plain_run(lib, name, spec)
                studio = studio_run(lib, name)
                assert studio["spec"]["model"] == spec["model"] and studio["spec"]["image_size"] == spec["image_size"]
            results["rows"].append({"dataset": name, "studio": studio, "plain": plain,
                                    "sklearn": sklearn_run(lib, name, studio["spec"])})
        lib.close()
    results["load_average"] = load_average()
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


def write_defaults_table(results: dict) -> None:
    lines = ["`bench/bench_train.py`: pressing Train with the defaults (the real runner, as `studio train DATASET` "
             "runs it) against a plain hand-written loop with the same architecture, image size, batch size, epochs "
             "and peak rate (AdamW + one-cycle, no augmentation, data decoded with PIL), on the same data, in one "
             "run. Test accuracy on the same held-out test split; time = wall seconds of the whole run (decode, "
             "train, and for the studio also per-epoch validation, checkpoints and DB metrics).", "",
             "| dataset | studio defaults (model, start, epochs, lr, augment) | studio test acc | plain loop test acc | "
             "scikit-learn test acc | studio time | plain time | time ratio |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in results["rows"]:
        spec, st, pl = row["studio"]["spec"], row["studio"], row["plain"]
        setting = (f"{spec['model']} @{spec['image_size']} px, {spec['start']}, {spec['epochs']} ep, lr {spec['lr']:g}, "
                   f"augment {','.join(spec['augment']) or 'none'}")
        sk = row.get("sklearn", {}).get("test_accuracy")
        lines.append(f"| {row['dataset']}: {results['datasets'][row['dataset']]} | {setting} | **{st['test_accuracy']:.3f}** | "
                     f"{pl['test_accuracy']:.3f} | {'' if sk is None else f'{sk:.3f}'} | {st['seconds']:.1f} s | "
                     f"{pl['seconds']:.1f} s | {st['seconds'] / pl['seconds']:.2f}x |")
    lines += ["", "scikit-learn: `LogisticRegression(C=0.1)` on standardised pixels (at most 32 px a side), the "
              "classical baseline, same train and test splits."]
    lines += ["", f"Machine: {results['machine']}; load average at the end {results['load_average']} (the 2 cores are "
              f"shared with other jobs: times vary between runs, accuracies do not depend on load). "
              f"Measured {time.strftime('%Y-%m-%d')}."]
    replace_marked("train-defaults", "\n".join(lines), "## Training")


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
        results = defaults_mode(args)
        if not args.no_write:
            write_defaults_table(results)
    print(json.dumps(results, indent=2, default=str))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
