"""The parity check: the exported file, loaded back by its own runtime in a fresh process,
against the in-studio model on the run's held-out samples (test split, else val)."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from studio.core.errors import InvalidInputError
from studio.core.jobs import JobState
from studio.export.images import decode_image, group_by_shape

MAX_PROB_DIFF = 1e-4  # fp32: anything above means the file computes something else
MAX_SAMPLES = 512
CHILD_TIMEOUT_S = 600


def held_out_images(lib, run_id: int | None, in_channels: int, image_size: int, limit: int = MAX_SAMPLES):
    """(split name, uint8 images) of the run's dataset: test, else val, else train; a run with
    no dataset left gets a fixed set of random images (parity of the numbers still holds)."""
    from sqlalchemy import select

    from studio.store.models import Run, Sample

    dataset_id = None
    if run_id is not None:
        with lib.session() as s:
            run = s.get(Run, run_id)
            dataset_id = run.dataset_id if run else None
    if dataset_id is not None:
        for split in ("test", "val", "train"):
            with lib.session() as s:
                blobs = s.scalars(
                    select(Sample.blob).where(Sample.dataset_id == dataset_id, Sample.split == split)
                    .order_by(Sample.id).limit(limit)
                ).all()
            if blobs:
                images = []
                for blob in blobs:
                    try:
                        images.append(decode_image(lib.blobs.read(blob), in_channels))
                    except (InvalidInputError, OSError):
                        continue  # a damaged blob is the store's business; parity uses the rest
                if images:
                    return split, images
    generator = np.random.default_rng(0)
    return "random", [generator.integers(0, 256, (image_size, image_size, in_channels), dtype=np.uint8) for _ in range(32)]


def child_command(fmt: str, model_path: Path, inputs: Path, outputs: Path) -> list[str]:
    """The runtime-only script, in a fresh interpreter (-I: no user site, no PYTHONPATH, no cwd).
    A frozen app has no interpreter to give a script to, so it goes through its own CLI."""
    if getattr(sys, "frozen", False):
        from studio.core.paths import worker_command

        return worker_command() + ["export-parity-child", fmt, str(model_path), str(inputs), str(outputs)]
    script = Path(__file__).with_name("parity_child.py")
    return [sys.executable, "-I", str(script), fmt, str(model_path), str(inputs), str(outputs)]


def run_in_fresh_process(fmt: str, model_path: Path, images: list[np.ndarray]) -> tuple[np.ndarray, dict[str, Any]]:
    groups = group_by_shape(images)
    with tempfile.TemporaryDirectory(prefix="studio-parity-") as tmp:
        inputs, outputs = Path(tmp) / "inputs.npz", Path(tmp) / "outputs.npz"
        np.savez(inputs, **{f"batch{i}": np.stack([images[j] for j in idx]) for i, idx in enumerate(groups.values())})
        proc = subprocess.run(
            child_command(fmt, model_path, inputs, outputs), capture_output=True, text=True, timeout=CHILD_TIMEOUT_S
        )
        if proc.returncode != 0 or not outputs.exists():
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]
            return np.zeros((0,)), {"error": f"the exported file failed to run in a fresh process: {tail}"}
        with np.load(outputs) as out:
            probs = None
            for i, idx in enumerate(groups.values()):
                batch = out[f"batch{i}"]
                if probs is None:
                    probs = np.zeros((len(images), batch.shape[1]), dtype=np.float32)
                probs[idx] = batch
            info = {"runtime": str(out["runtime"]), "studio_loaded": bool(out["studio_loaded"])}
    return probs, info


def probability_agreement(got: np.ndarray, expected: np.ndarray) -> dict[str, Any]:
    """Class probabilities of an export against the studio's, row by row: the same top class on
    every row and no probability further off than MAX_PROB_DIFF (images, table classes, texts)."""
    agree = int((got.argmax(axis=1) == expected.argmax(axis=1)).sum())
    diff = float(np.abs(got - expected).max()) if len(got) else 0.0
    return {"threshold": MAX_PROB_DIFF, "agreement": agree / max(len(got), 1), "top1_agree": agree,
            "max_prob_diff": diff, "ok": bool(len(got) and agree == len(got) and diff < MAX_PROB_DIFF)}


def check_parity(reference, fmt: str, model_path: Path, split: str, images: list[np.ndarray],
                 state: JobState | None = None) -> dict[str, Any]:
    """Compare the file's probabilities (fresh process) to the in-studio ``reference`` Predictor."""
    state = state or JobState()
    started = time.perf_counter()
    state.set_progress(0.0, f"predicting {len(images)} {split} images in the studio")
    expected = reference.predict(images)
    state.check_cancelled()
    state.set_progress(0.4, f"loading the {fmt} file in a fresh process")
    got, info = run_in_fresh_process(fmt, model_path, images)
    report: dict[str, Any] = {"split": split, "n": len(images), "threshold": MAX_PROB_DIFF, **info}
    if "error" in info or got.shape != expected.shape:
        report.update(agreement=0.0, max_prob_diff=None, ok=False)
        report.setdefault("error", f"the file gives {got.shape[-1] if got.ndim == 2 else 0} outputs, "
                          f"the studio {expected.shape[1]}")
    else:
        report.update(probability_agreement(got, expected))
    report["seconds"] = round(time.perf_counter() - started, 3)
    state.set_progress(1.0, "parity checked")
    return report
