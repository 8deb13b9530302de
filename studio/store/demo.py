"""The shipped demo dataset: coloured shapes (circle, square, triangle), made by
scripts/make_demo_dataset.py into resources/demo/shapes.zip."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from studio.core.errors import NotFoundError
from studio.core.paths import resources_dir
from studio.store.datasets import create_dataset
from studio.store.importers import import_path
from studio.store.models import Dataset
from studio.store.splits import auto_split

DEMO_NAME = "Demo shapes"


def demo_zip() -> Path:
    return resources_dir() / "demo" / "shapes.zip"


def add_demo_dataset(lib) -> int:
    """Import the demo shapes as dataset "Demo shapes" and split it 80/10/10; returns its id.
    If a dataset of that name exists already, it is returned as is."""
    path = demo_zip()
    if not path.exists():
        raise NotFoundError(f"demo dataset missing from this installation: {path}")
    with lib.transaction() as s:
        existing = s.scalar(select(Dataset.id).where(Dataset.name == DEMO_NAME))
        if existing is not None:
            return existing
        dataset_id = create_dataset(s, DEMO_NAME).id
    import_path(lib, dataset_id, path)
    with lib.transaction() as s:
        auto_split(s, dataset_id, (0.8, 0.1, 0.1), seed=0)
    return dataset_id
