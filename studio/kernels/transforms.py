"""Image kernels as training transforms: a batch of pictures in, the same batch filtered out,
on whatever device the batch lives (the training engine calls this for ``kernel_transforms``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from studio.core.errors import InvalidInputError
from studio.kernels.api import Grid, as_result
from studio.kernels.input_images import bundled_image, load_image, resize_image
from studio.kernels.params import resolve_params
from studio.kernels.registry import discover_for_home, find

LUMA = (0.299, 0.587, 0.114)


def make_batch_transform(spec: dict[str, Any], home: str | Path | None = None) -> Callable[[torch.Tensor], torch.Tensor]:
    """``{"kernel": name, "params": {...}, "inputs": {name: path}}`` -> ``fn(batch) -> batch``.

    ``batch`` is float N x C x H x W in [0, 1] (C = 1 or 3) on any device; the kernel's first input
    receives it as N x H x W x 3; further inputs (e.g. a background) come from ``inputs`` or the
    kernel's bundled sample, resized to the batch. Parameters are checked once, here."""
    if not isinstance(spec, dict) or "kernel" not in spec:
        raise InvalidInputError('a kernel transform needs {"kernel": name, "params": {...}}')
    kernel_spec = find(str(spec["kernel"]), report=discover_for_home(Path(home) if home else None))
    if kernel_spec.output != "image" or not kernel_spec.inputs:
        raise InvalidInputError(f"kernel {kernel_spec.name} does not take an input image; it cannot be a transform")
    params = resolve_params(kernel_spec.params, spec.get("params") or {})
    extra_given = dict(spec.get("inputs") or {})
    extras = {}
    for name in kernel_spec.inputs[1:]:
        source = extra_given.get(name) or kernel_spec.meta.samples.get(name)
        if source is None:
            raise InvalidInputError(f"kernel {kernel_spec.name} needs an image for its input {name!r}")
        path = Path(source)
        extras[name] = load_image(path if path.is_file() else bundled_image(str(source)))

    def transform(batch: torch.Tensor) -> torch.Tensor:
        if batch.ndim != 4 or batch.shape[1] not in (1, 3):
            raise InvalidInputError(f"a kernel transform needs an N x 1|3 x H x W batch, got {tuple(batch.shape)}")
        n, c, h, w = batch.shape
        rgb = batch.expand(n, 3, h, w) if c == 1 else batch
        nhwc = rgb.permute(0, 2, 3, 1).float()
        others = [resize_image(extras[name], w, h).to(batch.device) for name in kernel_spec.inputs[1:]]
        grid = Grid(width=w, height=h, device=batch.device, dtype=nhwc.dtype)
        with torch.no_grad():
            out = as_result(kernel_spec.fn(grid, nhwc, *others, **params), "image").data
        if out.dtype == torch.uint8:
            out = out.float() / 255.0
        if out.shape[:3] != (n, h, w):
            raise InvalidInputError(f"kernel {kernel_spec.name} changed the batch shape to {tuple(out.shape)}")
        if out.ndim == 3:
            out = out[..., None]
        out = out[..., :3].permute(0, 3, 1, 2)
        if c == 1:
            weights = torch.tensor(LUMA, device=out.device, dtype=out.dtype).view(1, 3, 1, 1)
            out = (out * weights).sum(dim=1, keepdim=True)
        return out.to(batch.dtype).contiguous()

    transform.kernel_name = kernel_spec.name  # type: ignore[attr-defined]
    return transform
