"""Batches from the tensor cache; the order of each epoch is a function of (seed, epoch).

So a run resumed at an epoch boundary (or after a known number of batches) sees exactly the
batches an uninterrupted run would. With ``world > 1`` each rank takes its own shard of every
epoch's permutation (the DistributedSampler idea, on cached tensors).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch

from studio.data.cache import ImageTensors


def epoch_seed(seed: int, epoch: int, batch: int = -1) -> int:
    """A distinct 63-bit seed per (seed, epoch[, batch]) that does not depend on process state."""
    return (seed * 1_000_003 + epoch * 7_919 + (batch + 1) * 104_729) % (2**63 - 1)


@dataclass
class Batch:
    images: torch.Tensor  # uint8 NCHW on the training device
    labels: torch.Tensor  # long N on the training device
    index: int  # batch number within the epoch


class BatchLoader:
    def __init__(
        self,
        images: ImageTensors,
        sample_ids: list[int],
        labels: list[int],
        batch_size: int,
        *,
        shuffle: bool = True,
        seed: int = 0,
        rank: int = 0,
        world: int = 1,
    ):
        self.images = images
        self.rows = images.rows(sample_ids)
        self.labels = torch.tensor(labels, dtype=torch.long)
        self.labels_on_device = self.labels.to(images.device)
        self.batch_size = max(1, int(batch_size))
        self.shuffle = shuffle
        self.seed = seed
        self.rank, self.world = rank, world

    def __len__(self) -> int:
        n = len(self._shard(torch.arange(len(self.rows))))
        full, rest = divmod(n, self.batch_size)
        return full + (1 if rest > 1 or (rest == 1 and not self.shuffle) else 0)

    def _shard(self, order: torch.Tensor) -> torch.Tensor:
        if self.world == 1:
            return order
        usable = len(order) - len(order) % self.world  # equal batch counts on every rank
        return order[:usable][self.rank :: self.world]

    def epoch(self, epoch: int, start_batch: int = 0) -> Iterator[Batch]:
        """The batches of ``epoch`` (1-based), skipping the first ``start_batch`` ones."""
        if self.shuffle:
            gen = torch.Generator().manual_seed(epoch_seed(self.seed, epoch))
            order = torch.randperm(len(self.rows), generator=gen)
        else:
            order = torch.arange(len(self.rows))
        order = self._shard(order)
        for index in range(start_batch, len(self)):
            pick = order[index * self.batch_size : (index + 1) * self.batch_size]
            yield Batch(self.images.take(self.rows[pick]), self.labels_on_device[pick.to(self.images.device)], index)
