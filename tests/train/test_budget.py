"""The automatic epoch count: small datasets get enough optimizer steps, large ones keep the default."""

from __future__ import annotations

import pytest

from studio.train.budget import MAX_EPOCHS, MIN_STEPS, auto_epochs, steps_per_epoch


def test_steps_per_epoch_counts_a_last_partial_batch():
    assert steps_per_epoch(128, 64) == 2
    assert steps_per_epoch(129, 64) == 3
    assert steps_per_epoch(5, 64) == 1


def test_a_large_dataset_keeps_the_default_epochs():
    assert auto_epochs(1258, 64, default_epochs=10) == 10  # 20 steps an epoch: 200 steps in 10
    assert auto_epochs(50_000, 64, default_epochs=10) == 10


def test_a_small_dataset_gets_at_least_the_minimum_steps():
    epochs = auto_epochs(360, 64, default_epochs=10)  # 6 steps an epoch
    assert epochs == 34 and epochs * steps_per_epoch(360, 64) >= MIN_STEPS
    assert (epochs - 1) * steps_per_epoch(360, 64) < MIN_STEPS  # no more than needed


def test_a_tiny_dataset_is_capped():
    assert auto_epochs(12, 64, default_epochs=10) == MAX_EPOCHS  # 1 step an epoch
    assert auto_epochs(12, 64, default_epochs=10, min_steps=50, max_epochs=30) == 30


def test_never_fewer_than_the_default_and_bad_input_is_refused():
    assert auto_epochs(108, 64, default_epochs=120) == 120
    with pytest.raises(ValueError):
        auto_epochs(0, 64, default_epochs=10)
    with pytest.raises(ValueError):
        steps_per_epoch(10, 0)
