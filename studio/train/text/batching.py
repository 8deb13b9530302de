"""Batches of texts: similar lengths together (length bucketing), padded only to the batch's longest.

    order = LengthBuckets(texts.lengths, batch_size=32, seed=0)
    for rows in order.epoch(epoch):              # shuffled per epoch, the same for the same (seed, epoch)
        input_ids, attention_mask = pad_batch(texts, rows, pad_id)

Bucketing as in Hugging Face's LengthGroupedSampler: shuffle, cut into pools of ``POOL_BATCHES``
batches, sort each pool by length, cut it into batches, shuffle the batches. A batch of short texts
then costs a short forward pass, while the order stays random from epoch to epoch.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from studio.train.text.tokens import TokenizedTexts

POOL_BATCHES = 50


class LengthBuckets:
    """Under DDP each of ``world`` processes takes every world-th batch from ``rank`` on; the list is
    padded with its first batches (as DistributedSampler pads) so every rank takes the same steps."""

    def __init__(self, lengths: np.ndarray, batch_size: int, seed: int, rank: int = 0, world: int = 1):
        self.lengths, self.batch_size, self.seed = np.asarray(lengths), batch_size, seed
        self.rank, self.world = rank, world
        self.steps_per_epoch = max(1, math.ceil(math.ceil(len(self.lengths) / batch_size) / world))

    def epoch(self, epoch: int, skip: int = 0) -> list[np.ndarray]:
        """This rank's row batches of ``epoch`` after the first ``skip`` (a resumed run sees the same batches)."""
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(len(self.lengths))
        pool = self.batch_size * POOL_BATCHES
        batches = []
        for start in range(0, len(order), pool):
            rows = order[start: start + pool]
            rows = rows[np.argsort(-self.lengths[rows], kind="stable")]
            batches += [rows[i: i + self.batch_size] for i in range(0, len(rows), self.batch_size)]
        shuffled = [batches[i] for i in rng.permutation(len(batches))]
        padded = (shuffled * self.world)[: self.steps_per_epoch * self.world] if shuffled else []
        return padded[self.rank:: self.world][skip:]


def sorted_batches(lengths: np.ndarray, batch_size: int) -> list[np.ndarray]:
    """Rows longest first, cut into batches: the least padding, for evaluation and prediction."""
    rows = np.argsort(-np.asarray(lengths), kind="stable")
    return [rows[i: i + batch_size] for i in range(0, len(rows), batch_size)]


def pad_batch(texts: TokenizedTexts, rows: np.ndarray, pad_id: int, multiple_of: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """(input_ids, attention_mask), int64 [batch, longest in batch (rounded up to ``multiple_of``)]."""
    lengths = texts.lengths[rows]
    width = int(lengths.max()) if len(rows) else 0
    width = -(-width // multiple_of) * multiple_of
    input_ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    for i, row in enumerate(rows):
        input_ids[i, : lengths[i]] = texts.ids(int(row))
    mask = np.arange(width)[None, :] < lengths[:, None]
    return torch.from_numpy(input_ids), torch.from_numpy(mask.astype(np.int64))
