"""Predict speed of the exports: per-image latency and throughput at batch 1 and batch 64 of the
ONNX (onnxruntime) and TorchScript exports and of the in-studio run predictor, against calling
the plain PyTorch model directly on an already preprocessed float tensor, in the same run.

The exports take uint8 N x H x W x 3 images (here 256 x 256) and resize + normalise inside, so
their figures include preprocessing the reference does not do: the ratio is the whole cost of
"file in, probabilities out" relative to the bare network.

Usage:  .venv/bin/python bench/bench_predict.py [--models simple-cnn:32,mobilenet_v3_small:224] [--device cpu|cuda] [--no-write]
Prints the figures and writes them, with the machine, into the "Predict" section of
docs/benchmarks.md (unless --no-write).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from studio import __version__  # noqa: E402
from studio.data.preprocess import preprocess_batch  # noqa: E402
from studio.export import writers  # noqa: E402
from studio.export.predictor import EngineClassifier, OnnxPredictor, TorchPredictor  # noqa: E402
from studio.export.wrapper import wrap  # noqa: E402
from studio.train.card import IMAGENET_MEAN, IMAGENET_STD, ModelCard  # noqa: E402
from studio.train.zoo import build_model  # noqa: E402

from _common import machine, replace_section  # noqa: E402  (bench/ is sys.path[0])

SECTION = "## Predict"
INPUT_SIDE = 256
CLASSES = 10


def machine_line(device: str) -> str:
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "no GPU used"
    import onnxruntime

    return machine(f"{gpu}, torch {torch.__version__} ({torch.get_num_threads()} threads), "
                   f"onnxruntime {onnxruntime.__version__}")


def timed_round_robin(cases: dict, repeats: int) -> dict[str, float]:
    """Median seconds per case; the cases take turns call by call, so a busy machine (the CPU
    here is shared) slows them alike and the ratios stay fair. Five warm-up calls each (the
    TorchScript executor specialises its graph over the first few calls)."""
    for fn in cases.values():
        for _ in range(5):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, fn in cases.items():
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if torch.cuda.is_available():
                torch.cuda.synchronize()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def bench_model(arch: str, size: int, device: str, repeats: dict[int, int]) -> list[dict]:
    torch.manual_seed(0)
    network = build_model(arch, CLASSES, 3, size).eval()
    mean, std = ([0.5] * 3, [0.5] * 3) if arch == "simple-cnn" else (IMAGENET_MEAN, IMAGENET_STD)
    card = ModelCard(arch, [str(i) for i in range(CLASSES)], size, 3, mean, std, studio_version=__version__)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-predict-") as tmp:
        onnx_path, ts_path = Path(tmp) / "m.onnx", Path(tmp) / "m.pt"
        writers.write_onnx(wrap(network, card), card, onnx_path)
        writers.write_torchscript(wrap(network, card), card, ts_path)
        network = network.to(device)
        onnx = OnnxPredictor(onnx_path, device)
        from studio.export.loading import load_torchscript

        script = TorchPredictor(load_torchscript(ts_path, device, trusted=True), card.classes, 3, device, "ts", "torchscript")
        studio = TorchPredictor(EngineClassifier(network, card), card.classes, 3, device, "run", "run")
        rng = np.random.default_rng(0)
        for batch in (1, 64):
            images = rng.integers(0, 256, (batch, INPUT_SIDE, INPUT_SIDE, 3), dtype=np.uint8)
            ready = preprocess_batch(torch.from_numpy(images).permute(0, 3, 1, 2), card).to(device)

            def plain():
                with torch.inference_mode():
                    torch.softmax(network(ready), dim=1).cpu()

            cases = {"plain torch model (reference)": plain}
            for name, predictor in (("ONNX export (onnxruntime)", onnx), ("TorchScript export", script),
                                    ("studio run predictor", studio)):
                cases[name] = lambda p=predictor: p.predict_batch(images)
            medians = timed_round_robin(cases, repeats[batch])
            reference = medians["plain torch model (reference)"]
            for name, seconds in medians.items():
                rows.append({"model": f"{arch} @{size}", "batch": batch, "case": name,
                             "ms_per_image": seconds * 1000 / batch, "images_per_s": batch / seconds,
                             "ratio": seconds / reference})
    return rows


def table(rows: list[dict]) -> str:
    out = ["| model | batch | case | ms / image | images / s | time vs plain torch |", "|---|---:|---|---:|---:|---:|"]
    for r in rows:
        ratio = "1.00x (reference)" if r["case"].startswith("plain") else f"**{r['ratio']:.2f}x**"
        out.append(f"| {r['model']} | {r['batch']} | {r['case']} | {r['ms_per_image']:.2f} | {r['images_per_s']:.0f} | {ratio} |")
    return "\n".join(out)


def write_section(path: Path, rows: list[dict], device: str) -> None:
    body = (
        f"{SECTION}\n\n"
        "`bench/bench_predict.py`: predicting uint8 256x256 RGB images with the exports (resize to the "
        "model size + normalisation inside the graph, softmax out) and with the studio's run predictor "
        "(the engine's `preprocess_batch` + the network), against the plain PyTorch network called on an "
        "already preprocessed float tensor. Median of repeated calls after warm-up, the cases taking turns "
        "call by call (the CPU is shared with other jobs; turns keep the ratios fair); random weights (speed "
        "does not depend on them).\n\n"
        f"{table(rows)}\n\n"
        f"Machine: {machine_line(device)}. Measured {time.strftime('%Y-%m-%d', time.gmtime())}.\n\n"
        "Reading: the exports' extra cost over the bare network is the in-graph uint8 -> float, "
        "antialiased resize from 256 px and normalisation. onnxruntime's CPU kernels make the ONNX export "
        "as fast as or faster than eager PyTorch; ONNX sessions are made without busy-waiting threads "
        "(`session.intra_op.allow_spinning=0`) so they leave the cores to the GUI and training. The CPU "
        "is shared with other jobs, so single-image figures of the tiny model vary between runs by up to "
        "~2x; compare ratios, not absolute times.\n"
    )
    replace_section(SECTION, body, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="simple-cnn:32,mobilenet_v3_small:224")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=30, help="timed calls at batch 1 (batch 64: a fifth)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    parser.add_argument("--doc", default=str(ROOT / "docs" / "benchmarks.md"))
    args = parser.parse_args()
    rows = []
    for spec in args.models.split(","):
        arch, size = spec.split(":")
        rows += bench_model(arch, int(size), args.device, {1: args.repeats, 64: max(3, args.repeats // 5)})
    print(table(rows))
    print(f"\nMachine: {machine_line(args.device)}")
    if not args.no_write:
        write_section(Path(args.doc), rows, args.device)


if __name__ == "__main__":
    main()
