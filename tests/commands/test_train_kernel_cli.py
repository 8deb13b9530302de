"""`studio train --kernel NAME[:key=value,...]`: image kernels as training transforms, end to end."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from studio.store.library import Library

# A user kernel (in <home>/kernels, found by the worker process too) that logs every batch it
# filters next to its own file and flattens each picture to one grey level: a model trained
# through it sees identical inputs and cannot learn, which the run's metrics show.
MARKER_KERNEL = '''
from pathlib import Path

import torch

from studio.kernels import Image, Range, kernel


@kernel(output="image", title="Batch marker")
def batch_marker(grid, image, *, level: Range(0.0, 1.0) = 0.5) -> Image:
    """Logs the batch shape, then makes every pixel ``level``."""
    with open(Path(__file__).with_name("batch_marker.log"), "a") as log:
        log.write(f"{image.shape[0]} {image.shape[1]} {image.shape[2]} {image.shape[3]}\\n")
    return Image(torch.full_like(image, level))
'''


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    from studio.data.digits import add_digits_dataset

    home = tmp_path_factory.mktemp("kernel_cli") / "library"
    lib = Library.open(home)
    add_digits_dataset(lib, "digits", per_class=20, splits={"train": 0.8, "test": 0.2})
    lib.close()
    (home / "kernels").mkdir()
    (home / "kernels" / "marker.py").write_text(MARKER_KERNEL)
    return home


def studio(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", "--home", str(home), *args],
                          check=False, capture_output=True, text=True, timeout=600)


def test_a_run_trains_through_a_user_kernel_in_the_worker(home):
    proc = studio(home, "train", "digits", "--model", "simple-cnn", "--image-size", "8", "--epochs", "2",
                  "--batch-size", "16", "--device", "cpu", "--kernel", "batch_marker:level=0.25", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    done = events[-1]
    assert done["event"] == "done" and done["status"] == "completed"
    batches = [tuple(map(int, line.split())) for line in (home / "kernels" / "batch_marker.log").read_text().splitlines()]
    # every training step went through the kernel, at the run's image size, as an N x H x W x 3 batch
    assert len(batches) == done["steps"] and all(b[1:] == (8, 8, 3) for b in batches)
    assert max(b[0] for b in batches) == 16
    # flattened inputs: all pictures of a batch look the same, so training accuracy stays at chance level
    last_epoch = [e for e in events if e["event"] == "epoch"][-1]
    assert last_epoch["train_accuracy"] < 0.3
    shown = json.loads(studio(home, "runs", "show", str(done["run_id"]), "--json").stdout)
    assert shown["spec"]["kernel_transforms"] == [{"kernel": "batch_marker", "params": {"level": 0.25}}]


@pytest.mark.parametrize("kernel, message", [
    ("nope", "no kernel named 'nope'"),
    ("batch_marker:level=3", "kernel batch_marker: parameter 'level' must be between 0 and 1; got 3"),
    ("batch_marker:strength=1", "kernel batch_marker: unknown parameter 'strength' (known: level)"),
    ("batch_marker:level", "kernel parameter 'level' must be written key=value"),
    ("mandelbrot", "kernel mandelbrot does not take an input image"),
])
def test_a_bad_kernel_argument_is_one_clear_line(home, kernel, message):
    proc = studio(home, "train", "digits", "--epochs", "1", "--kernel", kernel)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]
    assert proc.stderr.startswith("studio: error: ") and message in proc.stderr
