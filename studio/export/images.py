"""Decoding files into the uint8 H x W x C arrays every predictor takes (the store's
``open_upright``, then "L" or "RGB": the preprocessing contract's first steps)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from studio.core.errors import InvalidInputError, NotFoundError
from studio.store.images import IMAGE_SUFFIXES, open_upright


def decode_image(source: bytes | str | Path, in_channels: int = 3) -> np.ndarray:
    """File or bytes -> uint8 array H x W x C, upright, "L" for 1 channel else "RGB"."""
    if not isinstance(source, bytes):
        source = Path(source)
        if not source.is_file():
            raise NotFoundError(f"no such image file: {source}")
    name = "image bytes" if isinstance(source, bytes) else str(source)
    try:
        img = open_upright(source).convert("L" if in_channels == 1 else "RGB")
    except InvalidInputError as exc:
        raise InvalidInputError(f"cannot read {name}: {exc}") from None
    except OSError as exc:
        raise InvalidInputError(f"cannot read {name} ({exc.strerror or type(exc).__name__})") from None
    array = np.asarray(img, dtype=np.uint8)
    return array[:, :, None] if array.ndim == 2 else array


def expand_image_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Files as given; folders expand (recursively, sorted) to the images inside them."""
    out: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise InvalidInputError(f"no images in folder {path}")
            out.extend(found)
        elif path.is_file():
            out.append(path)
        else:
            raise NotFoundError(f"no such file or folder: {path}")
    return out


def group_by_shape(images: list[np.ndarray]) -> dict[tuple[int, ...], list[int]]:
    """Indices of same-shaped images, so they can be stacked into one batch."""
    groups: dict[tuple[int, ...], list[int]] = {}
    for index, image in enumerate(images):
        groups.setdefault(tuple(image.shape), []).append(index)
    return groups
