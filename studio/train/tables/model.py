"""The feed-forward network for tables: numeric inputs plus one embedding per high-cardinality
category column, then hidden layers (Linear -> [BatchNorm] -> activation -> [Dropout]) and a head.

The whole architecture is a small JSON-able dict (``TableNetConfig.to_json``) so a run record or a
model card can rebuild it without code."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
MAX_EMBEDDING_SIZE = 16


def embedding_size(vocabulary: int) -> int:
    """Width of a category's embedding: grows slowly with the number of values (fast.ai's rule
    of thumb 1.6 * n^0.56), at most 16, so 10,000 values cost 10,001 x 16 floats."""
    return max(2, min(MAX_EMBEDDING_SIZE, round(1.6 * vocabulary ** 0.56)))


@dataclass(frozen=True)
class TableNetConfig:
    numeric_width: int
    vocabularies: tuple[int, ...]  # one per embedded column, 0 = missing/unseen included
    output_size: int
    hidden: tuple[int, ...]
    activation: str = "relu"
    dropout: float = 0.0
    batch_norm: bool = False

    def to_json(self) -> dict:
        return {**asdict(self), "vocabularies": list(self.vocabularies), "hidden": list(self.hidden)}

    @classmethod
    def from_json(cls, data: dict) -> TableNetConfig:
        return cls(**{**data, "vocabularies": tuple(data["vocabularies"]), "hidden": tuple(data["hidden"])})


class TableNet(nn.Module):
    def __init__(self, config: TableNetConfig):
        super().__init__()
        if config.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, not {config.activation!r}")
        self.config = config
        self.embeddings = nn.ModuleList(nn.Embedding(v, embedding_size(v)) for v in config.vocabularies)
        width = config.numeric_width + sum(embedding_size(v) for v in config.vocabularies)
        layers: list[nn.Module] = []
        for size in config.hidden:
            layers.append(nn.Linear(width, size))
            if config.batch_norm:
                layers.append(nn.BatchNorm1d(size))
            layers.append(ACTIVATIONS[config.activation]())
            if config.dropout > 0:
                layers.append(nn.Dropout(config.dropout))
            width = size
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(width, config.output_size)

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        if self.embeddings:
            embedded = [embedding(categorical[:, i]) for i, embedding in enumerate(self.embeddings)]
            numeric = torch.cat([numeric, *embedded], dim=1)
        return self.head(self.body(numeric))
