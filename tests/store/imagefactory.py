"""Real images for the store tests: scikit-learn digits as PNG trees, scikit-image photos.

Imported by the tests as ``from imagefactory import ...`` (tests/store is on sys.path)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image


def digit_png(index: int, size: int = 28) -> bytes:
    """Digit ``index`` of sklearn's digits, upscaled to ``size`` pixels, as PNG bytes."""
    digits = _digits()
    img = Image.fromarray((digits.images[index % len(digits.images)] * 15.9).astype(np.uint8))
    buf = io.BytesIO()
    img.resize((size, size), Image.Resampling.NEAREST).save(buf, "PNG")
    return buf.getvalue()


_DIGITS = None


def _digits():
    global _DIGITS
    if _DIGITS is None:
        from sklearn.datasets import load_digits

        _DIGITS = load_digits()
    return _DIGITS


def digit_label(index: int) -> str:
    return str(_digits().target[index % len(_digits().images)])


def write_digit_tree(root: Path, count: int, *, splits: bool = False, start: int = 0) -> dict[str, int]:
    """root/<label>/<i>.png (or root/<train|test>/<label>/<i>.png); returns files per class."""
    per_class: dict[str, int] = {}
    for i in range(start, start + count):
        label = digit_label(i)
        folder = root / (("test" if i % 5 == 0 else "train") if splits else "") / label
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i:05d}.png").write_bytes(digit_png(i))
        per_class[label] = per_class.get(label, 0) + 1
    return per_class


def photo(name: str = "astronaut") -> Image.Image:
    from skimage import data

    arr = getattr(data, name)()
    return Image.fromarray(arr)


def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()
