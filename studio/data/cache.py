"""The decoded tensor cache: each image decoded and resized ONCE into a uint8 NCHW .npy file.

Keyed by (dataset content hash = hash of the sorted (sample id, blob) list, image size,
channels), stored under ``lib.cache_dir`` and opened with ``np.load(mmap_mode="r")``; datasets
under ~1 GB are then loaded wholly into memory (on the GPU when training there), so epoch two
onwards never opens an image file.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from studio.core.errors import InvalidInputError
from studio.core.jobs import JobState
from studio.store import images as store_images
from studio.data.preprocess import image_to_tensor, resize_uint8
from studio.data.samples import SampleRef

if TYPE_CHECKING:
    from studio.store.library import Library

IN_MEMORY_LIMIT = 1 << 30  # bytes; larger caches stay memory-mapped and are read per batch


def content_key(refs: Sequence[SampleRef]) -> str:
    digest = hashlib.sha256()
    for sid, blob in sorted((r.id, r.blob) for r in refs):
        digest.update(f"{sid}:{blob};".encode())
    return digest.hexdigest()[:24]


def cache_path(lib: Library, refs: Sequence[SampleRef], image_size: int, channels: int) -> Path:
    return lib.cache_dir / f"images-{content_key(refs)}-{image_size}px-{channels}ch.npy"


def build_cache(
    lib: Library,
    refs: Sequence[SampleRef],
    image_size: int,
    channels: int,
    state: JobState | None = None,
) -> np.ndarray:
    """The cache for ``refs`` in sorted-id order, built when missing; a read-only memmap."""
    path = cache_path(lib, refs, image_size, channels)
    if path.is_file():
        return np.load(path, mmap_mode="r")
    ordered = sorted(refs, key=lambda r: r.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npy")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(ordered), channels, image_size, image_size))
    try:
        report_every = max(64, len(ordered) // 20)
        for i, ref in enumerate(ordered):
            out[i] = decode_resized(lib, ref, image_size, channels).numpy()
            if state is not None and (i % report_every == 0 or i == len(ordered) - 1):
                state.check_cancelled()
                state.set_progress((i + 1) / len(ordered), f"decoding images {i + 1}/{len(ordered)}")
        out.flush()
        del out
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return np.load(path, mmap_mode="r")


def decode_resized(lib: Library, ref: SampleRef, image_size: int, channels: int) -> torch.Tensor:
    blob_path = lib.blobs.path(ref.blob)
    try:
        pil = store_images.open_upright(blob_path)
    except FileNotFoundError:
        raise InvalidInputError(f"sample {ref.id}: its image file {blob_path} is missing") from None
    except Exception as exc:  # a corrupt or unsupported image
        raise InvalidInputError(f"sample {ref.id}: cannot decode its image ({exc})") from None
    return resize_uint8(image_to_tensor(pil, channels), image_size)


class ImageTensors:
    """Cached uint8 images addressable by sample id; in memory (any device) or memory-mapped."""

    def __init__(self, array: np.ndarray, ids: Sequence[int], device: torch.device | str = "cpu"):
        self.ids = sorted(ids)
        self.row_of = {sid: i for i, sid in enumerate(self.ids)}
        self.device = torch.device(device)
        self.in_memory = array.nbytes <= IN_MEMORY_LIMIT
        self._array = array
        # in memory: one writable copy (on the training device); else read per batch from the memmap
        self._tensor = torch.from_numpy(np.array(array)).to(self.device) if self.in_memory else None

    def rows(self, sample_ids: Sequence[int]) -> torch.Tensor:
        return torch.tensor([self.row_of[s] for s in sample_ids], dtype=torch.long)

    def take(self, rows: torch.Tensor) -> torch.Tensor:
        """uint8 NCHW for the given cache rows, on this object's device."""
        if self._tensor is not None:
            return self._tensor[rows.to(self.device)]
        order = rows.numpy()
        batch = torch.from_numpy(np.ascontiguousarray(self._array[np.sort(order)]))
        batch = batch[torch.from_numpy(np.argsort(np.argsort(order)))]
        return batch.to(self.device, non_blocking=True)


def load_images(
    lib: Library,
    refs: Sequence[SampleRef],
    image_size: int,
    channels: int,
    device: torch.device | str = "cpu",
    state: JobState | None = None,
) -> ImageTensors:
    array = build_cache(lib, refs, image_size, channels, state)
    return ImageTensors(array, [r.id for r in refs], device)
