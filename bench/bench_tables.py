"""Tables: the studio's feed-forward defaults against scikit-learn, and the training loop's speed.

Quality (default mode): real public tables that ship inside packages, each read through the
studio's own reader (CSV written from the package's data where it is not a CSV already):
  - penguins (palmerpenguins, CC0): species (classification) and body mass (regression); missing
    values and category columns,
  - cars (vega_datasets, the UCI Auto MPG data, CC BY 4.0): miles per gallon (regression); missing
    values, a category and a date column,
  - breast cancer, wine (classification), diabetes (regression), linnerud (three targets at once):
    scikit-learn's bundled copies (BSD-3 package; UCI / Efron et al. / Tenenhaus data).
Each table is split into train 60% / validation 20% / test 20% by the studio's split_rows
(stratified per class for classification) with ten seeds: the test sets have 36 to 114 rows,
so one split's score moves by a row or two. The studio's encoder is fitted on the train rows;
every model sees the same encoded features, and every model's weights are fitted on the same
train rows: the studio picks its epoch on the validation rows (as it does on a dataset's
validation split); scikit-learn's MLP and HistGradientBoosting run with their default settings,
which hold out nothing (too few rows for HGB's own early stopping).
All are scored once on test: accuracy for classes, R² for numbers (mean over seeds).

--sweep: the settings the defaults were chosen from, scored on the validation split only.
--speed: 1,000,000 rows x 20 numbers: fit_table against a plain PyTorch loop over preloaded
tensors with the same network, batch size and optimiser; and read_table against pyarrow.csv.

    python bench/bench_tables.py [--sweep 1|2] [--speed [--device cuda]] [--rows N] [--no-write]

Needs scikit-learn, and `pip install --no-deps palmerpenguins vega_datasets` for their tables.
Writes between <!-- bench:tables... --> markers in docs/benchmarks.md, section "## Tables".
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import load_average, machine, replace_marked  # bench/ is sys.path[0]

from studio.data.tables import (
    TableEncoder,
    TableSplit,
    encode_splits,
    infer_schema,
    read_table,
    split_rows,
)
from studio.train.tables import TableTrainSettings, evaluate_table, fit_table
from studio.train.tables.model import TableNet, TableNetConfig

SECTION = "## Tables"
SEEDS = tuple(range(10))  # quality: ten splits; the sweep uses the first two
TOO_SMALL_TO_TUNE_ON = {"linnerud (3 targets)"}  # 20 rows: a validation split of 4 rows is noise


# --- the tables ----------------------------------------------------------------------------

def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)  # finds the folder without importing it (no pandas needed)
    return Path(spec.submodule_search_locations[0]) if spec and spec.submodule_search_locations else None


def _sklearn_csv(folder: Path, loader_name: str) -> Path:
    import sklearn.datasets

    data = getattr(sklearn.datasets, loader_name)()
    targets = data.target.reshape(len(data.target), -1)
    target_names = list(getattr(data, "target_names", [])) if targets.shape[1] > 1 else ["target"]
    columns = {str(n): data.data[:, i] for i, n in enumerate(data.feature_names)}
    columns.update({str(n): targets[:, i] for i, n in enumerate(target_names)})
    path = folder / f"{loader_name}.csv"
    pacsv.write_csv(pa.table(columns), path)
    return path


def tables(folder: Path) -> list[dict]:
    """name, path, targets, ignore, licence of every table that is installed here."""
    out = []
    penguins = _package_dir("palmerpenguins")
    if penguins:
        path = penguins / "data" / "penguins.csv"
        out.append({"name": "penguins species", "path": path, "targets": ["species"], "ignore": [], "licence": "CC0"})
        out.append({"name": "penguins body mass", "path": path, "targets": ["body_mass_g"], "ignore": [],
                    "licence": "CC0"})
    vega = _package_dir("vega_datasets")
    if vega:
        cars = json.loads((vega / "_data" / "cars.json").read_text())
        path = folder / "cars.csv"
        pacsv.write_csv(pa.Table.from_pylist(cars), path)
        out.append({"name": "cars mpg", "path": path, "targets": ["Miles_per_Gallon"], "ignore": ["Name"],
                    "licence": "CC BY 4.0 (UCI Auto MPG)"})
    for loader, name, licence in (("load_breast_cancer", "breast cancer", "CC BY 4.0 (UCI)"),
                                  ("load_wine", "wine", "CC BY 4.0 (UCI)"),
                                  ("load_diabetes", "diabetes", "BSD-3 (scikit-learn)")):
        out.append({"name": name, "path": _sklearn_csv(folder, loader), "targets": ["target"], "ignore": [],
                    "licence": licence})
    out.append({"name": "linnerud (3 targets)", "path": _sklearn_csv(folder, "load_linnerud"),
                "targets": ["Weight", "Waist", "Pulse"], "ignore": [], "licence": "BSD-3 (scikit-learn)"})
    return out


@dataclasses.dataclass
class Prepared:
    encoder: TableEncoder
    train: TableSplit
    val: TableSplit
    test: TableSplit


def prepare(spec: dict, seed: int) -> Prepared:
    table = read_table(spec["path"])
    schema = infer_schema(table, targets=spec["targets"], ignore=spec["ignore"])
    codes = split_rows(table, schema, (0.6, 0.2, 0.2), seed)  # as the studio splits: stratified per class
    encoder, splits = encode_splits(table, schema, *(np.flatnonzero(codes == code) for code in range(3)))
    return Prepared(encoder, *splits)


# --- the three models ----------------------------------------------------------------------

def score_of(encoder: TableEncoder, metrics: dict) -> float:
    return metrics["accuracy"] if encoder.task == "classification" else metrics["r2"]


def studio_scores(data: Prepared, settings: TableTrainSettings) -> tuple[float, float, float]:
    """(validation score, test score, seconds)."""
    start = time.perf_counter()
    result = fit_table(data.encoder, data.train, data.val, settings)
    seconds = time.perf_counter() - start
    return (score_of(data.encoder, evaluate_table(result.model, data.encoder, data.val)),
            score_of(data.encoder, evaluate_table(result.model, data.encoder, data.test)), seconds)


def sklearn_score(data: Prepared, kind: str, seed: int) -> float:
    from sklearn.ensemble import (
        HistGradientBoostingClassifier,
        HistGradientBoostingRegressor,
    )
    from sklearn.metrics import accuracy_score, r2_score
    from sklearn.multioutput import MultiOutputRegressor
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    x_train, y_train = _sklearn_x(data.train), data.train.targets
    classify = data.encoder.task == "classification"
    if kind == "mlp":
        model = MLPClassifier(random_state=seed) if classify else MLPRegressor(random_state=seed)
    else:
        model = HistGradientBoostingClassifier(random_state=seed) if classify else HistGradientBoostingRegressor(random_state=seed)
        if not classify and y_train.shape[1] > 1:
            model = MultiOutputRegressor(model)
    if not classify and y_train.shape[1] == 1:
        y_train = y_train[:, 0]
    model.fit(x_train, y_train)
    predicted = model.predict(_sklearn_x(data.test))
    if classify:
        return float(accuracy_score(data.test.targets, predicted))
    actual = data.encoder.decode(data.test.targets)
    restored = data.encoder.decode(np.asarray(predicted).reshape(len(actual), -1))
    return float(r2_score(actual, restored))  # uniform average over targets, as the studio's r2


PLAIN_EPOCHS, PLAIN_BATCH, PLAIN_LR = 100, 32, 1e-3


def plain_loop_score(data: Prepared, settings: TableTrainSettings, seed: int) -> float:
    """A competent hand-written loop on the same network and encoded features: AdamW at a fixed
    rate, batch 32, 100 epochs, the last epoch's weights (no validation, no schedule)."""
    torch.manual_seed(seed)
    config = TableNetConfig(len(data.encoder.numeric_names), tuple(v for _, v in data.encoder.embedded),
                            data.encoder.output_size, tuple(settings.hidden), settings.activation,
                            settings.dropout, settings.batch_norm)
    model = TableNet(config)
    x, c, y = (torch.as_tensor(a) for a in (data.train.numeric, data.train.categorical, data.train.targets))
    optimizer = torch.optim.AdamW(model.parameters(), lr=PLAIN_LR, weight_decay=settings.weight_decay)
    classify = data.encoder.task == "classification"
    for _ in range(PLAIN_EPOCHS):
        model.train()
        for index in torch.randperm(len(x)).split(PLAIN_BATCH):
            if len(index) < 2 and settings.batch_norm:
                continue
            out = model(x[index], c[index])
            loss = (torch.nn.functional.cross_entropy(out, y[index].long()) if classify
                    else torch.nn.functional.mse_loss(out, y[index]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    metrics = evaluate_table(model.eval(), data.encoder, data.test)
    return score_of(data.encoder, metrics)


def _sklearn_x(split: TableSplit) -> np.ndarray:
    """The encoded features as one matrix (embedded columns, if any, as their index)."""
    return np.concatenate([split.numeric, split.categorical.astype(np.float32)], axis=1)


# --- quality -------------------------------------------------------------------------------

def run_quality(specs: list[dict], settings: TableTrainSettings) -> list[dict]:
    rows = []
    for spec in specs:
        studio, plain, mlp, hgb, seconds = [], [], [], [], []
        for seed in SEEDS:
            data = prepare(spec, seed)
            _, test, took = studio_scores(data, dataclasses.replace(settings, seed=seed))
            studio.append(test)
            seconds.append(took)
            plain.append(plain_loop_score(data, settings, seed))
            mlp.append(sklearn_score(data, "mlp", seed))
            hgb.append(sklearn_score(data, "hgb", seed))
        row = {"table": spec["name"], "licence": spec["licence"], "task": data.encoder.task,
               "rows": len(data.train) + len(data.val) + len(data.test), "metric": "accuracy" if data.encoder.task == "classification" else "R²",
               "studio": statistics.mean(studio), "plain": statistics.mean(plain), "mlp": statistics.mean(mlp),
               "hgb": statistics.mean(hgb), "plain_se": _paired_standard_error(studio, plain),
               "seconds": statistics.mean(seconds),
               "mlp_se": _paired_standard_error(studio, mlp), "hgb_se": _paired_standard_error(studio, hgb)}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def _paired_standard_error(ours: list[float], theirs: list[float]) -> float:
    """Standard error of the mean difference over the same splits: how far the gap is from noise."""
    gaps = [a - b for a, b in zip(ours, theirs)]
    return statistics.stdev(gaps) / len(gaps) ** 0.5 if len(gaps) > 1 else 0.0


def write_quality(rows: list[dict], settings: TableTrainSettings) -> None:
    lines = [(f"`bench/bench_tables.py`: test score (mean of {len(SEEDS)} seeds of 60/20/20 splits, stratified for classes) of the studio's defaults "
             f"({_settings_text(settings)}), a plain hand-written loop on the same network (AdamW at {PLAIN_LR:g}, "
             f"batch {PLAIN_BATCH}, {PLAIN_EPOCHS} epochs, last weights), scikit-learn's `MLPClassifier/MLPRegressor` and "
             "`HistGradientBoostingClassifier/Regressor` with default settings, on the same encoded features; "
             "all fit their weights on the same train rows; the studio's validation split only picks its epoch. "
             "± is the standard error of the mean gap over the same splits."), "",
             "| table (licence) | task, rows | metric | studio | plain loop | sklearn MLP | HGB | studio - plain | studio - MLP | studio - HGB | studio s/fit |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['table']} ({r['licence']}) | {r['task']}, {r['rows']} | {r['metric']} | {r['studio']:.3f} | "
                     f"{r['plain']:.3f} | {r['mlp']:.3f} | {r['hgb']:.3f} | {r['studio'] - r['plain']:+.3f} ± {r['plain_se']:.3f} | "
                     f"{r['studio'] - r['mlp']:+.3f} ± {r['mlp_se']:.3f} | "
                     f"{r['studio'] - r['hgb']:+.3f} ± {r['hgb_se']:.3f} | "
                     f"{r['seconds']:.1f} |")
    judged = [r for r in rows if r["table"] not in TOO_SMALL_TO_TUNE_ON]
    at_least_mlp = [r for r in judged if r["studio"] >= r["mlp"]]
    near_hgb = [r for r in judged if r["studio"] >= r["hgb"] - 0.03]
    at_least_plain = [r for r in judged if r["studio"] >= r["plain"] - 0.005]
    below = "; ".join(f"{r['table']} {r['studio'] - r['mlp']:+.3f}" for r in judged if r not in at_least_mlp)
    lines += ["", (f"Targets (linnerud left out: 20 rows, 4 test rows; it shows that three targets train at once): "
                   f"studio >= MLP on {len(at_least_mlp)} of {len(judged)} tables" + (f" (below: {below})" if below else "")
                   + f"; within 0.03 of HGB on {len(near_hgb)} of {len(judged)}; at least the plain loop (within 0.005) "
                   f"on {len(at_least_plain)} of {len(judged)}."),
              "", (f"Machine: {machine(f'torch {torch.__version__}')}; load average at the end {load_average()}. "
                   f"Measured {time.strftime('%Y-%m-%d')}.")]
    replace_marked("tables", "\n".join(lines), SECTION)


def _settings_text(settings: TableTrainSettings) -> str:
    return (f"hidden {','.join(map(str, settings.hidden))}, {settings.activation}, dropout {settings.dropout:g}, "
            f"batch norm {'on' if settings.batch_norm else 'off'}, AdamW one-cycle peak {settings.lr:g}, "
            f"early stopping {settings.early_stopping} epochs")


# --- sweep ---------------------------------------------------------------------------------

# Round 1: one change at a time from a first guess; round 2: around the best of round 1 (which became the defaults).
SWEEP_ROUNDS = {
    1: ({"dropout": 0.1}, {
        "base": {},
        "hidden 32,16": {"hidden": (32, 16)},
        "hidden 64,32": {"hidden": (64, 32)},
        "hidden 256,128": {"hidden": (256, 128)},
        "hidden 128,64,32": {"hidden": (128, 64, 32)},
        "dropout 0": {"dropout": 0.0},
        "dropout 0.3": {"dropout": 0.3},
        "batch norm": {"batch_norm": True},
        "gelu": {"activation": "gelu"},
        "lr 1e-3": {"lr": 1e-3},
        "lr 1e-2": {"lr": 1e-2},
    }),
    2: ({}, {
        "defaults": {},
        "lr 1e-2": {"lr": 1e-2},
        "dropout 0.5": {"dropout": 0.5},
        "hidden 256,128": {"hidden": (256, 128)},
        "hidden 32,16": {"hidden": (32, 16)},
        "batch norm": {"batch_norm": True},
        "weight decay 1e-2": {"weight_decay": 1e-2},
        "early stopping 15": {"early_stopping": 15},
    }),
}


def run_sweep(specs: list[dict], sweep_round: int) -> list[dict]:
    """Mean validation score over tables and seeds per candidate (the test split is not looked at)."""
    specs = [spec for spec in specs if spec["name"] not in TOO_SMALL_TO_TUNE_ON]
    prepared = [(spec["name"], prepare(spec, seed), seed) for spec in specs for seed in SEEDS[:2]]
    rows = []
    base_change, cases = SWEEP_ROUNDS[sweep_round]
    base = dataclasses.replace(TableTrainSettings(), **base_change)
    for case, change in cases.items():
        settings = dataclasses.replace(base, **change)
        per_table = {}
        for name, data, seed in prepared:
            val, _, _ = studio_scores(data, dataclasses.replace(settings, seed=seed))
            per_table.setdefault(name, []).append(val)
        row = {"case": case, "mean": statistics.mean(statistics.mean(v) for v in per_table.values()),
               "tables": {k: statistics.mean(v) for k, v in per_table.items()}}
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


def write_sweep(rows: list[dict], sweep_round: int) -> None:
    names = list(rows[0]["tables"])
    base_change, _ = SWEEP_ROUNDS[sweep_round]
    base = _settings_text(dataclasses.replace(TableTrainSettings(), **base_change))
    lines = [(f"`bench/bench_tables.py --sweep {sweep_round}`: how the defaults were chosen (round {sweep_round}): "
              f"**validation** score (mean of 2 splits) for one change at a time from {base}; the test split is not "
              "used (nor linnerud, 20 rows)."), "",
             "| case | mean | " + " | ".join(names) + " |", "|---" * (len(names) + 2) + "|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['mean']:.4f} | " + " | ".join(f"{r['tables'][n]:.3f}" for n in names) + " |")
    lines += ["", f"Machine: {machine(f'torch {torch.__version__}')}. Measured {time.strftime('%Y-%m-%d')}."]
    replace_marked(f"tables-sweep-{sweep_round}", "\n".join(lines), SECTION)


# --- speed ---------------------------------------------------------------------------------

def run_speed(rows: int, folder: Path, device: str) -> dict:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((rows, 20)).astype(np.float32)
    y = x @ rng.standard_normal(20).astype(np.float32) + 0.1 * rng.standard_normal(rows).astype(np.float32)
    path = folder / "big.csv"
    pacsv.write_csv(pa.table({**{f"x{i}": x[:, i] for i in range(20)}, "y": y}), path)
    arrow_s = _best_of(lambda: pacsv.read_csv(path))
    studio_read_s = _best_of(lambda: read_table(path))
    studio_import_s = _import_seconds(path, folder)
    table = read_table(path)
    schema = infer_schema(table, targets=["y"])
    encoder, (train,) = encode_splits(table, schema, np.arange(rows))
    settings = TableTrainSettings(epochs=1, early_stopping=0, device=device)
    batch, _ = settings.resolved(rows)
    head = TableSplit(train.numeric[:batch * 4], train.categorical[:batch * 4], train.targets[:batch * 4])
    config = fit_table(encoder, head, None, settings).config  # warm-up: torch's lazy imports, first kernels
    studio_s, plain_s = [], []
    before, peak = _rss_bytes(), _peak_rss_during(lambda: fit_table(encoder, train, None, settings))
    for round_ in range(3):  # best of three, the order alternated: other jobs share the machine
        if round_ % 2:
            plain_s.append(plain_loop_seconds(config, train, batch, settings))
        studio_s.append(_timed(lambda: fit_table(encoder, train, None, settings)))
        if not round_ % 2:
            plain_s.append(plain_loop_seconds(config, train, batch, settings))
    return {"rows": rows, "batch": batch, "arrow_read_s": arrow_s, "studio_read_s": studio_read_s,
            "studio_import_s": studio_import_s,
            "studio_fit_s": min(studio_s), "plain_fit_s": min(plain_s), "threads": torch.get_num_threads(),
            "features_mb": train.numeric.nbytes / 2**20, "fit_extra_mb": (peak - before) / 2**20,
            "device": torch.cuda.get_device_name(0) if device.startswith("cuda") else "CPU"}


def _import_seconds(path: Path, folder: Path) -> float:
    """Best of three full imports into a library: read, infer the columns, split, keep the file
    and an Arrow IPC copy as blobs (what `studio import` and the GUI do)."""
    from studio.data.tables.dataset import import_table
    from studio.store.library import Library

    lib = Library.open(folder / "library", demo=False)
    try:
        return min(_timed(lambda i=i: import_table(lib, f"big {i}", path, targets=["y"])) for i in range(3))
    finally:
        lib.close()


def plain_loop_seconds(config, train: TableSplit, batch: int, settings: TableTrainSettings) -> float:
    """One epoch of a hand-written loop: same network, preloaded tensors, AdamW + one-cycle."""
    torch.manual_seed(0)
    device = torch.device(settings.device)
    start = time.perf_counter()
    model = TableNet(config).to(device)
    x, c, y = (torch.as_tensor(a, device=device) for a in (train.numeric, train.categorical, train.targets))
    steps = -(-len(x) // batch)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=settings.lr, total_steps=steps)
    model.train()
    order = torch.randperm(len(x)).to(device)
    for step in range(steps):
        index = order[step * batch:(step + 1) * batch]
        loss = torch.nn.functional.mse_loss(model(x[index], c[index]), y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
    float(loss.detach())  # wait for the device
    return time.perf_counter() - start


def _rss_bytes() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_rss_during(fn) -> int:
    """The highest resident memory of this process while ``fn`` runs (sampled every 5 ms)."""
    peak, done = [_rss_bytes()], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], _rss_bytes())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        fn()
    finally:
        done.set()
        sampler.join()
    return max(peak[0], _rss_bytes())


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _best_of(fn, rounds: int = 3) -> float:
    return min(_timed(fn) for _ in range(rounds))


def write_speed(r: dict) -> None:
    lines = [(f"`bench/bench_tables.py --speed --rows {r['rows']}`: {r['rows']:,} rows x 20 numbers, one epoch (best of 3), "
             f"batch {r['batch']}, on {r['device']} ({r['threads']} CPU thread(s) for torch in both loops)."), "",
             "| step | studio | plain reference | ratio |", "|---|---|---|---|",
             (f"| read the CSV | {r['studio_read_s']:.2f} s (read_table) | {r['arrow_read_s']:.2f} s (pyarrow.csv.read_csv) | "
             f"{r['studio_read_s'] / r['arrow_read_s']:.2f}x |"),
             (f"| import into the library | {r['studio_import_s']:.2f} s (import_table: read, column types, splits, "
              f"file + Arrow IPC copy stored) | {r['arrow_read_s']:.2f} s (pyarrow.csv.read_csv) | "
              f"{r['studio_import_s'] / r['arrow_read_s']:.2f}x (aim <= 3x) |"),
             (f"| train one epoch | {r['studio_fit_s']:.2f} s (fit_table on the Engine) | {r['plain_fit_s']:.2f} s "
             f"(plain loop over preloaded tensors) | throughput {r['plain_fit_s'] / r['studio_fit_s']:.2f}x (aim >= 0.95x) |"),
             "", (f"Memory: training added {r['fit_extra_mb']:.0f} MiB of resident memory (peak, sampled every 5 ms) "
                  f"to the {r['features_mb']:.0f} MiB float32 feature matrix it trains on, which it uses in place "
                  f"(aim: peak <= 2x the matrix)."),
             "", (f"Machine: {machine(f'torch {torch.__version__}')}; load average at the end {load_average()}. "
             f"Measured {time.strftime('%Y-%m-%d')}.")]
    replace_marked("tables-speed-gpu" if r["device"] != "CPU" else "tables-speed", "\n".join(lines), SECTION)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", type=int, choices=sorted(SWEEP_ROUNDS), help="a round of the validation runs the defaults were chosen from")
    parser.add_argument("--speed", action="store_true", help="training throughput and CSV import speed")
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the --speed table")
    parser.add_argument("--device", default="cpu", help="torch device of the --speed runs (cpu, cuda)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads for both --speed loops (1: the 2 shared cores of the bench machine "
                             "made 2 threads many times slower)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave docs/benchmarks.md alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        if args.speed:
            torch.set_num_threads(args.threads)
            result = run_speed(args.rows, folder, args.device)
            print(json.dumps(result))
            if not args.no_write:
                write_speed(result)
            return
        specs = tables(folder)
        if args.sweep:
            rows = run_sweep(specs, args.sweep)
            if not args.no_write:
                write_sweep(rows, args.sweep)
            return
        settings = TableTrainSettings()
        rows = run_quality(specs, settings)
        if not args.no_write:
            write_quality(rows, settings)


if __name__ == "__main__":
    main()
