"""Kernel-lab image kernels used as batched training transforms (optional: the kernel lab may be absent).

Kernels come from the shipped folder and the library's own ``<home>/kernels``: every caller passes
the library home, so the worker process finds the user's kernels as the GUI and the CLI do.

Lives in train, not data: data and kernels are sibling layers that never import each other."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from studio.core.errors import InvalidInputError
from studio.train.spec import KernelTransform


def _kernel_lab():
    try:
        from studio.kernels import registry, transforms
    except ImportError:
        raise InvalidInputError("kernel transforms need the kernel lab (studio.kernels), which this install lacks") from None
    return registry, transforms


def check_kernel_transforms(transforms: Sequence[KernelTransform], home: str | Path | None) -> list[dict[str, Any]]:
    """Each transform's kernel found and its parameters converted by the kernel's typed parameters
    (defaults filled in), as stored in a run: ``[{"kernel": name, "params": {...}}]``. Unknown
    kernels, unknown parameters and values out of range are errors that name the kernel."""
    if not transforms:
        return []
    registry, _ = _kernel_lab()
    from studio.kernels.params import resolve_params

    report = registry.discover_for_home(Path(home) if home else None)
    checked = []
    for transform in transforms:
        kernel = registry.find(transform.kernel, report=report)
        if kernel.output != "image" or not kernel.inputs:
            raise InvalidInputError(f"kernel {kernel.name} does not take an input image; it cannot be a training transform")
        try:
            values = resolve_params(kernel.params, dict(transform.params))
        except InvalidInputError as exc:
            raise InvalidInputError(f"kernel {kernel.name}: {exc}") from None
        checked.append({"kernel": kernel.name, "params": {p.name: p.display(values[p.name]) for p in kernel.params}})
    return checked


def make_kernel_transforms(specs: Sequence[dict] | None, home: str | Path | None = None
                           ) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """One callable over float NCHW [0,1] batches applying each spec in order; None when none asked."""
    if not specs:
        return None
    _, transforms_module = _kernel_lab()
    transforms = [transforms_module.make_batch_transform(dict(spec), home) for spec in specs]

    def apply(x: torch.Tensor) -> torch.Tensor:
        for transform in transforms:
            x = transform(x)
        return x

    return apply


def transform_kernels(home: str | Path | None, state: Any = None) -> list:
    """The kernels that can filter a training batch (image kernels taking an input image), by name."""
    registry, _ = _kernel_lab()
    report = registry.discover_for_home(Path(home) if home else None)
    return sorted((k for k in report.kernels.values() if k.output == "image" and k.inputs), key=lambda k: k.name)


def preview_kernel_transforms(images: Sequence[np.ndarray], specs: Sequence[dict], home: str | Path | None,
                              state: Any = None) -> list[np.ndarray]:
    """H x W x 3 uint8 pictures (the augmentation preview) through the kernel transforms as a
    training batch goes through them; grey pictures go as a one-channel batch, as in training."""
    if not images or not specs:
        return list(images)
    apply = make_kernel_transforms(specs, home)
    batch = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div_(255)
    grey = bool((batch[:, :1] == batch).all())
    out = apply(batch[:, :1] if grey else batch).clamp(0, 1)
    if grey:
        out = out.expand(-1, 3, -1, -1)
    return list(out.mul(255).round().to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy())
