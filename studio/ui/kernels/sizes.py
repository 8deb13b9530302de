"""What the kernel lab's Size box offers for a kernel, and how a result's size reads."""

from __future__ import annotations

from studio.kernels.registry import KernelSpec

IMAGE_SIZES = ("640x480", "800x600", "1280x720", "1920x1080", "320x240")
RESOLUTIONS = ("48", "64", "80", "96", "128", "160")

SizeChoice = tuple[str, tuple[int, ...] | None]  # (label, size passed to run_kernel)


def size_choices(spec: KernelSpec) -> list[SizeChoice]:
    """Image kernels with an input first offer the input's own size; other image kernels their
    default size; 3D kernels their default grid resolution. The first choice is the default."""
    def wh(text: str) -> tuple[int, int]:
        w, h = text.split("x")
        return int(w), int(h)

    if spec.output == "image" and spec.inputs:
        return [("input size", None)] + [(s, wh(s)) for s in IMAGE_SIZES]
    if spec.output == "image":
        default = spec.meta.default_size or (640, 480)
        label = f"{default[0]}x{default[1]}"
        return [(label, tuple(default[:2]))] + [(s, wh(s)) for s in IMAGE_SIZES if s != label]
    default = str((spec.meta.default_size or (64,))[0])
    return [(default, (int(default),))] + [(s, (int(s),)) for s in RESOLUTIONS if s != default]


def uses_size(spec: KernelSpec) -> bool:
    """A point kernel that declares no size (e.g. an attractor) does not use the grid's size."""
    return not (spec.output == "points" and spec.meta.default_size is None)


def describe_result(result) -> str:
    """"image 800×600 RGB", "points 250,000", "volume 64×64×64" (width before height, as users say it)."""
    shape = tuple(int(v) for v in result.shape)
    if result.kind == "image":
        channels = shape[2] if len(shape) == 3 else 1
        mode = {1: "grey", 3: "RGB", 4: "RGBA"}.get(channels, f"{channels} channels")
        return f"image {shape[1]}×{shape[0]} {mode}"
    if result.kind == "points":
        return f"points {shape[0]:,}"
    return f"{result.kind} " + "×".join(str(v) for v in shape)
