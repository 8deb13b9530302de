"""Batched augmentation on the training device: flip, random-resized crop, rotation, colour.

Flip, crop and rotation are folded into ONE affine resampling per batch (affine_grid +
grid_sample), so augmenting costs one pass over the batch whatever is switched on. Randomness
comes from a generator the caller seeds per (seed, epoch, batch): resumed runs repeat it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

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
        n, device = x.shape[0], x.device
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
