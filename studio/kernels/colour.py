"""Colour helpers for kernel authors: sRGB <-> linear light and smooth palettes, all in torch so
they run on the kernel's device."""

from __future__ import annotations

import torch

# stops (position 0..1, RGB 0..1); chosen to loop smoothly where noted so iteration bands blend
PALETTES: dict[str, list[tuple[float, tuple[float, float, float]]]] = {
    # a cyclic blue-white-purple ramp (like matplotlib's twilight)
    "twilight": [
        (0.00, (0.886, 0.851, 0.886)),
        (0.25, (0.384, 0.549, 0.769)),
        (0.50, (0.184, 0.078, 0.212)),
        (0.75, (0.663, 0.290, 0.259)),
        (1.00, (0.886, 0.851, 0.886)),
    ],
    "fire": [
        (0.00, (0.02, 0.0, 0.03)),
        (0.25, (0.45, 0.02, 0.10)),
        (0.50, (0.90, 0.30, 0.02)),
        (0.75, (1.00, 0.80, 0.20)),
        (1.00, (1.00, 1.00, 0.90)),
    ],
    "ice": [
        (0.00, (0.00, 0.02, 0.10)),
        (0.30, (0.05, 0.25, 0.55)),
        (0.60, (0.30, 0.70, 0.90)),
        (0.85, (0.80, 0.95, 1.00)),
        (1.00, (1.00, 1.00, 1.00)),
    ],
    "viridis": [
        (0.00, (0.267, 0.005, 0.329)),
        (0.25, (0.229, 0.322, 0.546)),
        (0.50, (0.128, 0.567, 0.551)),
        (0.75, (0.369, 0.789, 0.383)),
        (1.00, (0.993, 0.906, 0.144)),
    ],
}


def palette(name: str, t: torch.Tensor, cyclic: bool = False) -> torch.Tensor:
    """Map ``t`` (any shape, ~0..1; wrapped when ``cyclic``) to RGB, shape ``t.shape + (3,)``."""
    stops = PALETTES[name]
    pos = torch.tensor([s[0] for s in stops], device=t.device, dtype=t.dtype)
    cols = torch.tensor([s[1] for s in stops], device=t.device, dtype=t.dtype)
    t = torch.remainder(t, 1.0) if cyclic else t.clamp(0.0, 1.0)
    idx = torch.bucketize(t.contiguous(), pos[1:-1])  # segment index 0..len-2
    lo, hi = pos[idx], pos[idx + 1]
    w = ((t - lo) / (hi - lo)).unsqueeze(-1)
    return cols[idx] * (1 - w) + cols[idx + 1] * w


def srgb_to_linear(c: torch.Tensor) -> torch.Tensor:
    return torch.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055).clamp_min(0) ** 2.4)


def linear_to_srgb(c: torch.Tensor) -> torch.Tensor:
    c = c.clamp(0.0, 1.0)
    return torch.where(c <= 0.0031308, c * 12.92, 1.055 * c ** (1 / 2.4) - 0.055)
