"""Length-bucketed batches (every row once per epoch, reproducible per seed) padded to their longest text."""

from __future__ import annotations

import numpy as np

from studio.train.text.batching import LengthBuckets, pad_batch, sorted_batches
from studio.train.text.tokens import TokenizedTexts


def _texts(lengths: list[int]) -> TokenizedTexts:
    """Row i holds the ids 1000*i + 1, 1000*i + 2, ... (so a row's ids tell which row they came from)."""
    lengths_np = np.array(lengths, dtype=np.int32)
    starts = np.zeros(len(lengths), dtype=np.int64)
    starts[1:] = np.cumsum(lengths_np[:-1])
    tokens = np.concatenate([1000 * i + np.arange(1, n + 1) for i, n in enumerate(lengths)]).astype(np.int32)
    return TokenizedTexts(tokens, starts, lengths_np, np.zeros(len(lengths), dtype=bool))


def _padded_tokens(batches: list[np.ndarray], lengths: np.ndarray) -> int:
    return sum(len(rows) * int(lengths[rows].max()) for rows in batches)


def test_every_row_comes_once_per_epoch_in_an_order_set_by_seed_and_epoch():
    lengths = np.random.default_rng(1).integers(3, 200, size=1000)
    buckets = LengthBuckets(lengths, batch_size=16, seed=7)
    epoch1 = buckets.epoch(1)
    assert len(epoch1) == buckets.steps_per_epoch == 63
    assert sorted(np.concatenate(epoch1).tolist()) == list(range(1000))
    assert all(np.array_equal(a, b) for a, b in zip(epoch1, LengthBuckets(lengths, 16, seed=7).epoch(1)))
    assert not np.array_equal(np.concatenate(epoch1), np.concatenate(buckets.epoch(2)))
    assert not np.array_equal(np.concatenate(epoch1), np.concatenate(LengthBuckets(lengths, 16, seed=8).epoch(1)))
    resumed = buckets.epoch(1, skip=10)
    assert all(np.array_equal(a, b) for a, b in zip(resumed, epoch1[10:])) and len(resumed) == len(epoch1) - 10


def test_buckets_need_far_less_padding_than_random_batches():
    lengths = np.random.default_rng(2).integers(3, 200, size=2000)
    bucketed = LengthBuckets(lengths, batch_size=32, seed=0).epoch(1)
    order = np.random.default_rng(0).permutation(2000)
    random_batches = [order[i: i + 32] for i in range(0, 2000, 32)]
    assert _padded_tokens(bucketed, lengths) < 0.6 * _padded_tokens(random_batches, lengths)


def test_a_batch_is_padded_to_its_longest_text_with_a_mask():
    texts = _texts([5, 2, 7, 3])
    input_ids, mask = pad_batch(texts, np.array([1, 3]), pad_id=0)
    assert input_ids.tolist() == [[1001, 1002, 0], [3001, 3002, 3003]]
    assert mask.tolist() == [[1, 1, 0], [1, 1, 1]]
    input_ids, mask = pad_batch(texts, np.array([0, 2]), pad_id=9, multiple_of=8)
    assert input_ids.shape == (2, 8) and input_ids[0, 5:].tolist() == [9, 9, 9]
    assert mask.sum(1).tolist() == [5, 7]


def test_sorted_batches_put_the_longest_texts_first_and_cover_every_row():
    lengths = np.array([4, 9, 1, 9, 6])
    batches = sorted_batches(lengths, 2)
    assert [b.tolist() for b in batches] == [[1, 3], [4, 0], [2]]


def test_under_ddp_each_rank_takes_its_share_and_all_take_the_same_steps():
    lengths = np.random.default_rng(3).integers(3, 100, size=200)  # 13 batches of 16 for 2 ranks
    whole = LengthBuckets(lengths, 16, seed=1).epoch(4)
    ranks = [LengthBuckets(lengths, 16, seed=1, rank=r, world=2) for r in range(2)]
    shares = [r.epoch(4) for r in ranks]
    assert [len(s) for s in shares] == [r.steps_per_epoch for r in ranks] == [7, 7]
    assert all(np.array_equal(a, b) for a, b in zip(shares[0] + shares[1], whole[0::2] + whole[1::2] + whole[:1]))
    assert sorted(np.concatenate(shares[0] + shares[1][:6]).tolist()) == list(range(200))
    assert all(np.array_equal(a, b) for a, b in zip(ranks[1].epoch(4, skip=3), shares[1][3:]))
    tiny = [LengthBuckets(np.array([5]), 16, seed=0, rank=r, world=2).epoch(1) for r in range(2)]
    assert [len(t) for t in tiny] == [1, 1]  # one batch: both ranks still step once
