"""The kernel lab runtime (no Qt, no vispy): ``@kernel``, parameter specs, the registry that finds
kernel modules, device placement, optional torch.compile and timing. Kernel authors import
from here: ``from studio.kernels import kernel, Image, Points, Volume, Range, Choice, Colour``."""

from __future__ import annotations

from studio.kernels.api import (
    Choice,
    Color,
    Colour,
    Grid,
    Image,
    Points,
    Range,
    Result,
    Volume,
    compilable,
    kernel,
)

__all__ = ["Choice", "Color", "Colour", "Grid", "Image", "Points", "Range", "Result", "Volume", "compilable", "kernel"]
