"""The module every export wraps around a trained network: uint8 N x H x W x C in,
(probabilities, logits) out, with the studio's preprocessing inside the graph.

Preprocessing (the engine's contract, kept op for op): /255 -> bilinear resize to image_size with
antialias (ONNX Resize ``antialias=1``, opset 18) -> (x - mean) / std.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from studio.train.card import ModelCard


class Preprocess(nn.Module):
    def __init__(self, image_size: int, mean: list[float], std: list[float], in_channels: int):
        super().__init__()
        self.image_size = int(image_size)
        channels = int(in_channels)
        self.register_buffer("mean", torch.tensor(mean[:channels], dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std[:channels], dtype=torch.float32).view(1, -1, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.permute(0, 3, 1, 2).to(torch.float32) / 255.0
        x = F.interpolate(
            x, size=(self.image_size, self.image_size), mode="bilinear", align_corners=False, antialias=True
        )
        return (x - self.mean) / self.std


class ImageClassifier(nn.Module):
    """uint8 images N x H x W x C -> (probabilities N x K, logits N x K)."""

    def __init__(self, network: nn.Module, card: ModelCard):
        super().__init__()
        self.preprocess = Preprocess(card.image_size, card.mean, card.std, card.in_channels)
        self.network = network

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.network(self.preprocess(images)).float()
        return torch.softmax(logits, dim=1), logits


def wrap(network: nn.Module, card: ModelCard) -> ImageClassifier:
    return ImageClassifier(network, card).eval()
