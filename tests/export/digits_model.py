"""A real model for the export tests: simple-cnn trained on scikit-learn's digits (8x8 grey,
upscaled to 16), once per test session, through the engine's `studio train` when it is there.

Fixtures for tests/export (via its conftest) and tests/commands/test_export_cli.py; the trained
library is cached here so both share one training run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

TRAIN_PER_CLASS = 60
TEST_PER_CLASS = 15


def write_digits(root: Path) -> Path:
    """scikit-learn digits as PNG files in train/<digit>/ and test/<digit>/ folders."""
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    counts: dict[tuple[str, int], int] = {}
    for index, (pixels, target) in enumerate(zip(digits.images, digits.target)):
        train_n = counts.get(("train", target), 0)
        split = "train" if train_n < TRAIN_PER_CLASS else "test"
        if split == "test" and counts.get(("test", target), 0) >= TEST_PER_CLASS:
            continue
        counts[(split, target)] = counts.get((split, target), 0) + 1
        folder = root / split / str(target)
        folder.mkdir(parents=True, exist_ok=True)
        image = np.clip(pixels * (255.0 / 16.0), 0, 255).astype(np.uint8)
        Image.fromarray(image, "L").save(folder / f"{index:04d}.png")
    return root


def engine_cli_ready() -> bool:
    from studio.cli import build_parser

    return "train" in build_parser()._subparsers._group_actions[0].choices


def train_with_cli(home: Path, dataset: str) -> int:
    env = {**os.environ, "STUDIO_HOME": str(home)}
    proc = subprocess.run(
        [sys.executable, "-m", "studio", "--home", str(home), "train", dataset, "--model", "simple-cnn",
         "--epochs", "12", "--image-size", "16", "--device", "cpu", "--json"],
        capture_output=True, text=True, env=env, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return int(next(e for e in events if e.get("event") == "done")["run_id"])


def train_in_process(lib, dataset_id: int) -> int:
    """Stand-in for `studio train` until the engine's CLI exists: the same contract files."""
    import torch
    from safetensors.torch import save_file
    from sqlalchemy import select

    from studio import __version__
    from studio.data.preprocess import preprocess_batch
    from studio.export.images import decode_image
    from studio.store.models import LabelClass, Run, Sample
    from studio.train.card import ModelCard
    from studio.train.zoo import build_model

    torch.manual_seed(0)
    with lib.session() as s:
        classes = s.scalars(select(LabelClass).where(LabelClass.dataset_id == dataset_id).order_by(LabelClass.position)).all()
        names = [c.name for c in classes]
        index = {c.id: i for i, c in enumerate(classes)}
        rows = s.execute(select(Sample.blob, Sample.class_id).where(Sample.dataset_id == dataset_id, Sample.split == "train")).all()
    card = ModelCard("simple-cnn", names, 16, in_channels=1, mean=[0.5], std=[0.5], dataset={"name": "digits"},
                     training={"epochs": 15}, studio_version=__version__)
    x = torch.from_numpy(np.stack([decode_image(lib.blobs.read(b), 1) for b, _ in rows])).permute(0, 3, 1, 2)
    y = torch.tensor([index[c] for _, c in rows])
    x = preprocess_batch(x, card)
    model = build_model("simple-cnn", len(names), 1, 16)
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    for _ in range(15):
        for batch in torch.randperm(len(x)).split(64):
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[batch]), y[batch]).backward()
            opt.step()
    with lib.transaction() as s:
        run = Run(dataset_id=dataset_id, model="simple-cnn", classes=names, status="completed", name="digits")
        s.add(run)
        s.flush()
        run_id = run.id
    folder = lib.runs_dir / str(run_id)
    folder.mkdir(parents=True)
    save_file(model.state_dict(), str(folder / "model.safetensors"))
    card.run_id = run_id
    card.save(folder / "model.json")
    return run_id


_SHARED: dict[str, object] = {}


def _once(key: str, make):
    if key not in _SHARED:
        _SHARED[key] = make()
    return _SHARED[key]


@pytest.fixture(scope="session")
def digits_home(tmp_path_factory) -> Path:
    return _once("home", lambda: _make_digits_home(tmp_path_factory))


def _make_digits_home(tmp_path_factory) -> Path:
    from studio.store.datasets import create_dataset
    from studio.store.importers import import_path
    from studio.store.library import Library

    home = tmp_path_factory.mktemp("digits-library")
    folder = write_digits(tmp_path_factory.mktemp("digits-files"))
    lib = Library.open(home)
    with lib.transaction() as s:
        dataset_id = create_dataset(s, "digits").id
    import_path(lib, dataset_id, folder)
    lib.close()
    return home


@pytest.fixture(scope="session")
def digits_run(digits_home) -> tuple[Path, int]:
    """(library home, run id) of a finished simple-cnn run on digits."""
    return _once("run", lambda: _train(digits_home))


def _train(digits_home: Path) -> tuple[Path, int]:
    from studio.store.library import Library

    if engine_cli_ready():
        return digits_home, train_with_cli(digits_home, "digits")
    lib = Library.open(digits_home)
    try:
        from studio.store.datasets import get_dataset

        with lib.session() as s:
            dataset_id = get_dataset(s, "digits").id
        return digits_home, train_in_process(lib, dataset_id)
    finally:
        lib.close()


@pytest.fixture
def digits_lib(digits_run):
    from studio.store.library import Library

    lib = Library.open(digits_run[0])
    yield lib
    lib.close()


@pytest.fixture(scope="session")
def digit_files(tmp_path_factory) -> list[Path]:
    """A few digit images (not in the library) to predict, one per class, plus a colour one."""
    return _once("files", lambda: _make_digit_files(tmp_path_factory))


def _make_digit_files(tmp_path_factory) -> list[Path]:
    from PIL import Image
    from sklearn.datasets import load_digits

    root = tmp_path_factory.mktemp("digit-files")
    digits = load_digits()
    files = []
    for target in range(10):
        index = int(np.flatnonzero(digits.target == target)[-1])
        image = np.clip(digits.images[index] * 16, 0, 255).astype(np.uint8)
        path = root / f"digit{target}.png"
        Image.fromarray(image, "L").resize((24, 24), Image.NEAREST).save(path)
        files.append(path)
    grey = np.asarray(Image.open(files[9]))  # the 9 again, stored as RGB
    Image.fromarray(np.stack([grey] * 3, axis=-1), "RGB").save(root / "colour.png")
    files.append(root / "colour.png")
    return files


SUFFIX = {"onnx": ".onnx", "torchscript": ".pt", "safetensors": ".safetensors"}


@pytest.fixture(scope="session")
def digits_exports(digits_run, tmp_path_factory):
    """The run exported once in each format: {format: ExportReport}."""
    return _once("exports", lambda: _export_all(digits_run, tmp_path_factory))


def _export_all(digits_run, tmp_path_factory):
    from studio.export.service import export_run
    from studio.store.library import Library

    home, run_id = digits_run
    lib = Library.open(home)
    out = tmp_path_factory.mktemp("exports")
    try:
        return {fmt: export_run(lib, run_id, fmt, out / fmt / f"model{SUFFIX[fmt]}") for fmt in SUFFIX}
    finally:
        lib.close()
