"""The one preprocessing contract shared by training, evaluation, prediction and export.

decode (open_upright) -> "L" if in_channels == 1 else "RGB" -> uint8 CHW tensor -> float / 255
-> resize to image_size x image_size (bilinear, align_corners=False, antialias=True)
-> (x - mean) / std. Export bakes exactly this into its files: change it nowhere else.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def image_to_tensor(pil: Image.Image, in_channels: int | None = None) -> torch.Tensor:
    """A PIL image as a uint8 CHW tensor; converted to "L" (1 channel) or "RGB" (3 channels).

    With ``in_channels=None`` an "L" image stays grayscale and everything else becomes RGB."""
    if in_channels is None:
        in_channels = 1 if pil.mode == "L" else 3
    mode = "L" if in_channels == 1 else "RGB"
    if pil.mode != mode:
        pil = pil.convert(mode)
    array = np.asarray(pil, dtype=np.uint8)
    if array.ndim == 2:
        array = array[:, :, None]
    return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()


def resize_float(batch: torch.Tensor, image_size: int) -> torch.Tensor:
    """Float NCHW in [0, 1] resized to image_size x image_size (no-op when already that size)."""
    if batch.shape[-2:] == (image_size, image_size):
        return batch
    return F.interpolate(batch, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True)


def resize_uint8(image: torch.Tensor, image_size: int) -> torch.Tensor:
    """uint8 CHW resized with the contract's resize, rounded back to uint8 (for the tensor cache)."""
    x = image.unsqueeze(0).float().div_(255)
    x = resize_float(x, image_size)
    return x.mul_(255).round_().clamp_(0, 255).to(torch.uint8)[0]


def _card_field(card: Any, name: str) -> Any:
    return card[name] if isinstance(card, dict) else getattr(card, name)


def normalise(batch: torch.Tensor, mean: list[float], std: list[float]) -> torch.Tensor:
    m = torch.tensor(mean, dtype=batch.dtype, device=batch.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=batch.dtype, device=batch.device).view(1, -1, 1, 1)
    return (batch - m) / s


def preprocess_batch(batch: torch.Tensor, card: Any) -> torch.Tensor:
    """uint8 NCHW (any size) -> float NCHW at card.image_size, normalised with card.mean/std."""
    x = batch.float().div_(255) if batch.dtype == torch.uint8 else batch.float()
    x = resize_float(x, int(_card_field(card, "image_size")))
    return normalise(x, _card_field(card, "mean"), _card_field(card, "std"))
