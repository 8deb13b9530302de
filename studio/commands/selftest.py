"""`studio self-test`: a short end-to-end check of this installation in a temporary library.

import bundled images -> train one short run on CPU (and on CUDA when present) in a real worker
process -> evaluate -> export ONNX and TorchScript with the parity check -> predict -> run a 2D and
a 3D kernel. One line per step with ok/failed and its time; exit 1 if any step failed. A packaged
app runs the same code, so this proves the bundle's worker, parity child and kernels start.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.commands.common import emit_json

# small enough to finish in about a minute on two CPU cores, big enough to learn the shapes
TRAIN_SPEC = {"model": "simple-cnn", "image_size": 32, "epochs": 3, "batch_size": 32, "pretrained": "none"}
MIN_ACCURACY = 0.6  # three balanced classes: chance is 0.33, the default settings reach 1.0


@dataclass
class StepResult:
    name: str
    ok: bool
    seconds: float
    detail: str

    def line(self) -> str:
        return f"{'ok    ' if self.ok else 'FAILED'}  {self.name:<28} {self.seconds:6.1f} s  {self.detail}"

    def to_json(self) -> dict[str, Any]:
        return {"event": "self-test", "step": self.name, "ok": self.ok, "seconds": round(self.seconds, 2),
                "detail": self.detail}


class SelfTest:
    """The steps share one temporary library; a failed step makes the steps that need it fail too."""

    def __init__(self, home: Path, show: Callable[[StepResult], None]) -> None:
        self.home = home
        self.show = show
        self.results: list[StepResult] = []
        self.lib = None
        self.dataset_id: int | None = None
        self.run_id: int | None = None
        self.exports: dict[str, Path] = {}

    def step(self, name: str, fn: Callable[[], str]) -> bool:
        start = time.perf_counter()
        try:
            detail, ok = fn(), True
        except Exception as exc:  # noqa: BLE001 - a self-test reports every failure as one line
            detail, ok = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}", False
            if "--debug" in sys.argv:
                traceback.print_exc()
        result = StepResult(name, ok, time.perf_counter() - start, detail)
        self.results.append(result)
        self.show(result)
        return ok

    def run_all(self) -> bool:
        if self.step("library", self.open_library) and self.step("import images", self.import_images):
            if self.step("train (cpu)", lambda: self.train("cpu")):
                self.step("evaluate", self.evaluate)
                for fmt in ("onnx", "torchscript"):
                    self.step(f"export {fmt} + parity", lambda fmt=fmt: self.export(fmt))
                self.step("predict", self.predict)
            if _cuda_available():
                self.step("train (cuda)", lambda: self.train("cuda"))
        self.step("kernel 2D (mandelbrot)", lambda: self.kernel("mandelbrot", "image"))
        self.step("kernel 3D (mandelbulb)", lambda: self.kernel("mandelbulb", "points"))
        if self.lib is not None:
            self.lib.close()
        return all(r.ok for r in self.results)

    # ---- steps -----------------------------------------------------------------------------
    def open_library(self) -> str:
        from studio.store.library import Library

        self.lib = Library.open(self.home)
        return str(self.home)

    def import_images(self) -> str:
        from studio.store.datasets import create_dataset
        from studio.store.demo import demo_zip
        from studio.store.importers import import_path
        from studio.store.splits import auto_split

        with self.lib.transaction() as s:
            self.dataset_id = create_dataset(s, "self-test").id
        report = import_path(self.lib, self.dataset_id, demo_zip())
        if report.added < 30:
            raise RuntimeError(f"only {report.added} images imported from the bundled demo")
        with self.lib.transaction() as s:
            auto_split(s, self.dataset_id, (0.8, 0.1, 0.1), seed=0)
        return f"{report.added} bundled images"

    def train(self, device: str) -> str:
        """A real worker process (`<app> worker train`), as the GUI starts it."""
        from studio.commands.train import worker_argv
        from studio.core.run_status import RunStatus
        from studio.store.models import Run
        from studio.train.runner import create_run

        run_id = create_run(self.lib, self.dataset_id, {**TRAIN_SPEC, "device": device})
        proc = subprocess.run(worker_argv(self.home, run_id), stdin=subprocess.DEVNULL, capture_output=True,
                              text=True, timeout=900)
        with self.lib.session() as s:
            run = s.get(Run, run_id)
            status, summary, error = run.status, dict(run.summary or {}), run.error
        if proc.returncode != 0 or status != RunStatus.COMPLETED:
            last = (error or proc.stderr.strip().splitlines()[-1:] or ["no output"])
            raise RuntimeError(f"worker exit {proc.returncode}, run {status}: {last if isinstance(last, str) else last[0]}")
        accuracy = float((summary.get("best") or {}).get("val_accuracy", 0.0))
        if accuracy < MIN_ACCURACY:
            raise RuntimeError(f"validation accuracy {accuracy:.2f} < {MIN_ACCURACY}")
        if device == "cpu":
            self.run_id = run_id
        return f"run {run_id}, val accuracy {accuracy:.2f}"

    def evaluate(self) -> str:
        from studio.train.evaluate import evaluate_run

        report = evaluate_run(self.lib, self.run_id, "test")
        accuracy = float(report.accuracy or 0.0)
        if accuracy < MIN_ACCURACY:
            raise RuntimeError(f"test accuracy {accuracy:.2f} < {MIN_ACCURACY}")
        return f"test accuracy {accuracy:.2f}"

    def export(self, fmt: str) -> str:
        from studio.export.service import export_run

        suffix = {"onnx": ".onnx", "torchscript": ".pt"}[fmt]
        report = export_run(self.lib, self.run_id, fmt, self.home / "exports" / f"self-test-{fmt}{suffix}")
        if not report.ok:
            raise RuntimeError(f"parity failed: {report.parity.get('error') or report.parity}")
        self.exports[fmt] = Path(report.path)
        return f"agreement {report.parity.get('agreement', 0):.0%} on {report.parity.get('n')} images"

    def predict(self) -> str:
        from studio.export.predictor import open_predictor

        if "onnx" not in self.exports:
            raise RuntimeError("no ONNX export to predict with")
        files = _demo_images(self.home / "predict", 6)
        predictor = open_predictor(self.exports["onnx"])
        results = [predictor.predict_file(f, 1) for f in files]
        failed = [r.error for r in results if r.error]
        if failed or not results:
            raise RuntimeError(failed[0] if failed else "no image to predict")
        return ", ".join(r.top[0][0] for r in results)

    def kernel(self, name: str, kind: str) -> str:
        from studio.kernels.registry import find
        from studio.kernels.runtime import run_kernel

        spec = find(name, self.home)
        size = (160, 120) if kind == "image" else (48,)
        run = run_kernel(spec, device="cpu", size=size)
        if run.result.kind != kind:
            raise RuntimeError(f"returned {run.result.kind}, expected {kind}")
        return f"{run.result.kind} {'x'.join(str(v) for v in run.result.shape)} in {run.run_ms:.0f} ms"


def _demo_images(folder: Path, count: int) -> list[Path]:
    """A few of the bundled demo images as files, as a user would pass them to `studio predict`."""
    import zipfile

    from studio.store.demo import demo_zip

    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(demo_zip()) as archive:
        names = [n for n in archive.namelist() if n.lower().endswith(".png")][::50][:count]
        for name in names:
            (folder / Path(name).name).write_bytes(archive.read(name))
    return sorted(folder.glob("*.png"))


def _cuda_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # noqa: BLE001 - no torch CUDA: the CUDA step is skipped
        return False


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("self-test", help="check this installation end to end in a temporary library")
    p.add_argument("--json", action="store_true", help="one JSON object per step")
    p.add_argument("--keep", action="store_true", help="keep the temporary library (its path is printed)")
    p.set_defaults(func=cmd_self_test)


def cmd_self_test(args: argparse.Namespace) -> int:
    home = Path(tempfile.mkdtemp(prefix="studio-self-test-"))

    def show(result: StepResult) -> None:
        if args.json:
            emit_json(result.to_json())
        else:
            print(result.line(), flush=True)

    try:
        ok = SelfTest(home, show).run_all()
    finally:
        if args.keep:
            print(f"library kept in {home}", file=sys.stderr)
        else:
            shutil.rmtree(home, ignore_errors=True)
    if not args.json:
        print("self-test passed" if ok else "self-test FAILED", flush=True)
    return 0 if ok else 1
