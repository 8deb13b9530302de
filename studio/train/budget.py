"""How many epochs a run gets when the user leaves the count to the studio.

An epoch is one pass over the training images, so a fixed epoch count gives a tiny dataset very
few optimizer steps: 108 images at batch 64 are 2 steps an epoch, 20 steps in 10 epochs, and a
network from random weights is still near chance after them (docs/benchmarks.md, "train-budget").
So the automatic count gives every run at least ``MIN_STEPS`` steps, never fewer epochs than the
default count, and at most ``MAX_EPOCHS`` epochs (a few dozen images must not become thousands of
passes over the same pictures). Pure and import-free (the caller passes the default count), so the
spec, the CLI and the GUI can all call it, and show the number before a run starts.
"""

from __future__ import annotations

import math

MIN_STEPS = 200
MAX_EPOCHS = 100


def steps_per_epoch(n_train: int, batch_size: int) -> int:
    """Optimizer steps in one epoch (a last partial batch is a step)."""
    if n_train < 1 or batch_size < 1:
        raise ValueError(f"need at least one training image and a batch size of 1 or more, not {n_train}, {batch_size}")
    return math.ceil(n_train / batch_size)


def auto_epochs(
    n_train: int, batch_size: int, default_epochs: int, min_steps: int = MIN_STEPS, max_epochs: int = MAX_EPOCHS
) -> int:
    """Epochs for ``n_train`` training images (after any validation hold-out) at ``batch_size``:
    ``default_epochs``, or more so that the run makes at least ``min_steps`` steps, but no more
    than ``max_epochs`` (and never fewer than ``default_epochs``)."""
    wanted = math.ceil(min_steps / steps_per_epoch(n_train, batch_size))
    return max(default_epochs, min(max_epochs, wanted))
