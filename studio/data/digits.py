"""scikit-learn's digits (1797 8x8 grey images) as a real library dataset, for tests and benchmarks.

Each image is stored as a PNG blob with a Sample row (class, split), exactly as an import would."""

from __future__ import annotations

import io
import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from studio.store.models import Dataset, LabelClass, Sample

if TYPE_CHECKING:
    from studio.store.library import Library


def digit_images(upscale: int = 8, copies: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (N, S, S) images and int labels; ``copies`` > 1 replicates with a 1-px shift each
    (so the copies are distinct files), ``upscale`` > 8 resizes with bilinear filtering."""
    from sklearn.datasets import load_digits  # dev dependency, bundled data (no download)

    digits = load_digits()
    base = np.clip(digits.images * (255.0 / 16.0), 0, 255).astype(np.uint8)
    images, labels = [], []
    shifts = [(0, 0)] + [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
    if copies > len(shifts):
        raise ValueError(f"at most {len(shifts)} distinct copies")
    for dy, dx in shifts[:copies]:
        shifted = np.roll(base, shift=(dy, dx), axis=(1, 2))
        for img in shifted:
            pil = Image.fromarray(img, "L")
            images.append(np.asarray(pil.resize((upscale, upscale), Image.BILINEAR)) if upscale != 8 else img)
        labels.append(digits.target)
    return np.stack(images), np.concatenate(labels)


def add_digits_dataset(
    lib: Library,
    name: str = "digits",
    *,
    digits: Sequence[int] = tuple(range(10)),
    per_class: int | None = None,
    splits: dict[str, float] | None = None,
    upscale: int = 8,
    copies: int = 1,
    seed: int = 0,
) -> int:
    """Add the digits as dataset ``name``; returns its id.

    ``splits`` = fractions per split (default train 0.7 / val 0.15 / test 0.15), stratified and
    deterministic in ``seed``; ``per_class`` keeps that many TRAIN samples per class (val/test
    keep their full share)."""
    splits = splits or {"train": 0.7, "val": 0.15, "test": 0.15}
    images, labels = digit_images(upscale, copies)
    rng = random.Random(seed)
    with lib.transaction() as s:
        ds = Dataset(name=name, kind="image")
        s.add(ds)
        s.flush()
        classes = {}
        for pos, d in enumerate(digits):
            cls = LabelClass(dataset_id=ds.id, name=str(d), position=pos)
            s.add(cls)
            classes[d] = cls
        s.flush()
        for d in digits:
            idx = [int(i) for i in np.flatnonzero(labels == d)]
            rng.shuffle(idx)
            assigned = _assign_splits(idx, splits, per_class)
            for i, split in assigned:
                buf = io.BytesIO()
                Image.fromarray(images[i], "L").save(buf, format="PNG")
                data = buf.getvalue()
                blob = lib.blobs.put(data)
                s.add(Sample(dataset_id=ds.id, blob=blob, format="png", width=upscale, height=upscale, channels=1,
                             byte_size=len(data), class_id=classes[d].id, split=split, source_path=f"digits/{i}.png",
                             labelled_by="import"))
        return ds.id


def _assign_splits(idx: list[int], splits: dict[str, float], per_class: int | None) -> list[tuple[int, str | None]]:
    out: list[tuple[int, str | None]] = []
    start = 0
    names = list(splits)
    for k, split in enumerate(names):
        count = len(idx) - start if k == len(names) - 1 else round(len(idx) * splits[split])
        chunk = idx[start:start + count]
        start += count
        if split == "train" and per_class is not None:
            chunk = chunk[:per_class]
        out.extend((i, split) for i in chunk)
    return out
