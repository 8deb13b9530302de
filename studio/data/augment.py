"""Batched augmentation on the training device: flip, random-resized crop, rotation, colour.

Flip, crop and rotation are folded into ONE affine resampling per batch (affine_grid +
grid_sample), so augmenting costs one pass over the batch whatever is switched on. Randomness
comes from a generator the caller seeds per (seed, epoch, batch): resumed runs repeat it.
``preview`` shows what training will see: dataset images decoded, resized and augmented as the
engine does it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

if TYPE_CHECKING:
    from studio.core.jobs import JobState
    from studio.store.library import Library

AUGMENTATIONS = ("flip", "crop", "color", "rotate")
Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def parse_augment(text: str | Sequence[str] | None) -> list[str]:
    from studio.core.errors import InvalidInputError

    if text is None:  # nothing asked: nothing on (the engine's default lives in studio/train/defaults.py)
        return []
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    if names in (["none"], []):
        return []
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise InvalidInputError(f"unknown augmentation {unknown[0]!r} (choose from {', '.join(AUGMENTATIONS)} or none)")
    return names


def _uniform(n: int, low: float, high: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    return torch.rand(n, generator=gen, device=device) * (high - low) + low


def make_augment(names: Sequence[str], crop_scale: tuple[float, float] = (0.6, 1.0), degrees: float = 15.0) -> Augment | None:
    """A function float NCHW [0,1] -> augmented float NCHW, or None when nothing is switched on."""
    names = set(names)
    if not names:
        return None
    geometric = names & {"flip", "crop", "rotate"}

    def augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
        if geometric:
            x = _affine(x, names, gen, crop_scale, degrees)
        if "color" in names:
            x = _colour(x, gen)
        return x

    return augment


def _affine(x: torch.Tensor, names: set[str], gen: torch.Generator, crop_scale: tuple[float, float], degrees: float) -> torch.Tensor:
    n, device = x.shape[0], x.device
    ones = torch.ones(n, device=device)
    sx, sy = ones, ones
    tx, ty = torch.zeros(n, device=device), torch.zeros(n, device=device)
    if "crop" in names:  # area in crop_scale, aspect ratio in [3/4, 4/3], anywhere inside the image
        area = _uniform(n, *crop_scale, gen, device)
        log_ratio = _uniform(n, math.log(3 / 4), math.log(4 / 3), gen, device)
        ratio = torch.exp(log_ratio)
        sx = torch.sqrt(area * ratio).clamp(max=1.0)
        sy = torch.sqrt(area / ratio).clamp(max=1.0)
        tx = (torch.rand(n, generator=gen, device=device) * 2 - 1) * (1 - sx)
        ty = (torch.rand(n, generator=gen, device=device) * 2 - 1) * (1 - sy)
    angle = _uniform(n, -degrees, degrees, gen, device) * (math.pi / 180) if "rotate" in names else torch.zeros(n, device=device)
    flip = torch.where(torch.rand(n, generator=gen, device=device) < 0.5, -1.0, 1.0) if "flip" in names else ones
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([
        torch.stack([cos * sx * flip, -sin * sy, tx], dim=1),
        torch.stack([sin * sx * flip, cos * sy, ty], dim=1),
    ], dim=1).to(x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _colour(x: torch.Tensor, gen: torch.Generator, strength: float = 0.2) -> torch.Tensor:
    n, device = x.shape[0], x.device
    shape = (n, 1, 1, 1)
    brightness = _uniform(n, 1 - strength, 1 + strength, gen, device).view(shape).to(x.dtype)
    contrast = _uniform(n, 1 - strength, 1 + strength, gen, device).view(shape).to(x.dtype)
    x = x * brightness
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * contrast + mean
    if x.shape[1] == 3:
        saturation = _uniform(n, 1 - strength, 1 + strength, gen, device).view(shape).to(x.dtype)
        gray = (x * torch.tensor([0.299, 0.587, 0.114], device=device, dtype=x.dtype).view(1, 3, 1, 1)).sum(1, keepdim=True)
        x = (x - gray) * saturation + gray
    return x.clamp(0, 1)


def preview(lib: Library, dataset_id: int, names: Sequence[str], image_size: int, count: int, seed: int,
            state: JobState | None = None) -> list[np.ndarray]:
    """``count`` labelled images of the dataset (training ones first, spread over the dataset) as the
    engine feeds them: decoded in the dataset's channel mode, resized, augmented with ``names``.
    HxWx3 uint8 each (grey images as three equal channels), for display."""
    from studio.data.cache import decode_resized
    from studio.data.samples import load_view

    with lib.session() as s:
        view = load_view(s, dataset_id)
    labelled = sorted((r for r in view.samples if r.label >= 0), key=lambda r: (r.split != "train", r.id))
    if not labelled or count < 1:
        return []
    picks = [labelled[int(i)] for i in np.linspace(0, len(labelled) - 1, num=min(count, len(labelled)))]
    images = []
    for ref in picks:
        if state is not None:
            state.check_cancelled()
        images.append(decode_resized(lib, ref, image_size, view.channels))
    batch = torch.stack(images).float().div_(255)
    augment = make_augment(names)
    if augment is not None:
        batch = augment(batch, torch.Generator().manual_seed(seed))
    batch = batch.expand(-1, 3, -1, -1) if batch.shape[1] == 1 else batch
    return list(batch.clamp(0, 1).mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy())
