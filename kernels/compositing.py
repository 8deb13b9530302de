"""Green-screen (chroma key) compositing of a foreground over a background.

Keying works on chroma (the Cb/Cr plane of YCbCr), so shadows and highlights on the screen key
out like the screen itself: alpha rises from 0 to 1 as a pixel's chroma moves away from the key's
by more than ``tolerance``, over a ramp of width ``softness``. Spill suppression removes the part
of each foreground pixel's chroma that points towards the key colour (green fringes on hair and
edges), keeping its brightness.
"""

from __future__ import annotations

import torch

from studio.kernels import Choice, Colour, Image, Range, kernel

# BT.601 full-range RGB -> YCbCr (rows: Y, Cb, Cr)
RGB_TO_YCBCR = torch.tensor(
    [[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]], dtype=torch.float64
)


def chroma_key(foreground, key_rgb, tolerance: float, softness: float, spill: float):
    """(alpha (..., H, W, 1), despilled foreground (..., H, W, 3)) for RGB images in [0, 1]."""
    to_ycc = RGB_TO_YCBCR.to(foreground.dtype).to(foreground.device)  # MPS has no float64
    from_ycc = torch.linalg.inv(RGB_TO_YCBCR).to(foreground.dtype).to(foreground.device)
    key = torch.tensor(key_rgb, device=foreground.device, dtype=foreground.dtype) @ to_ycc.T
    ycc = foreground @ to_ycc.T
    chroma = ycc[..., 1:]
    distance = (chroma - key[1:]).norm(dim=-1, keepdim=True)
    alpha = ((distance - tolerance) / max(softness, 1e-6)).clamp(0.0, 1.0)
    key_dir = key[1:] / key[1:].norm().clamp_min(1e-6)
    towards_key = (chroma * key_dir).sum(dim=-1, keepdim=True).clamp_min(0.0)
    chroma = chroma - spill * towards_key * key_dir
    despilled = torch.cat([ycc[..., :1], chroma], dim=-1) @ from_ycc.T
    return alpha, despilled.clamp(0.0, 1.0)


@kernel(
    output="image",
    title="Green-screen compositing",
    samples={"foreground": "greenscreen_foreground.png", "background": "coffee.jpg"},
)
def green_screen(
    grid,
    foreground,
    background,
    *,
    key: Colour = "#00b140",
    tolerance: Range(0.0, 0.6) = 0.2,
    softness: Range(0.001, 0.5) = 0.08,
    spill: Range(0.0, 1.0) = 0.8,
    show: Choice("composite", "alpha", "foreground") = "composite",
) -> Image:
    """Key out the screen colour of the foreground and put the background behind it."""
    alpha, despilled = chroma_key(foreground, key, tolerance, softness, spill)
    if show == "alpha":
        return Image(alpha.expand_as(foreground).contiguous())
    if show == "foreground":
        return Image(torch.cat([despilled, alpha], dim=-1))
    return Image(despilled * alpha + background * (1.0 - alpha))
