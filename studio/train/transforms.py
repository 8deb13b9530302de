"""Kernel-lab image kernels used as batched training transforms (optional: the kernel lab may be absent).

Lives in train, not data: data and kernels are sibling layers that never import each other."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from studio.core.errors import InvalidInputError


def make_kernel_transforms(specs: Sequence[dict] | None) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """One callable over float NCHW [0,1] batches applying each spec in order; None when none asked."""
    if not specs:
        return None
    try:
        from studio.kernels.transforms import make_batch_transform
    except ImportError:
        raise InvalidInputError("kernel transforms need the kernel lab (studio.kernels.transforms), which this install lacks") from None
    transforms = [make_batch_transform(dict(spec)) for spec in specs]

    def apply(x: torch.Tensor) -> torch.Tensor:
        for transform in transforms:
            x = transform(x)
        return x

    return apply
