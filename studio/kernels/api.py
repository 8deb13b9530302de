"""What a kernel author writes against: ``@kernel``, parameter annotations and typed results.

A kernel is a plain function over torch tensors::

    @kernel(output="image", title="Mandelbrot", reference=mandelbrot_numpy)
    def mandelbrot(grid, *, center_x: Range(-2.5, 1.5) = -0.5, max_iter: Range(16, 4096, int) = 256,
                   palette: Choice("twilight", "fire", "ice") = "twilight", smooth: bool = True) -> Image:

The first positional parameter receives a :class:`Grid` (device, dtype, output size); further
positional parameters are input images (float tensors ``(..., H, W, 3)`` in [0, 1] on the device);
keyword-only parameters with defaults become controls. ``Annotated[float, Range(0, 1)]`` works too.
"""

from __future__ import annotations

import contextvars
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch

from studio.core.errors import InvalidInputError

OUTPUT_KINDS = ("image", "points", "volume")


# --------------------------------------------------------------------------- parameter annotations


@dataclass(frozen=True)
class Range:
    """A number between ``low`` and ``high`` (a slider). ``log=True`` for scales spanning decades."""

    low: float
    high: float
    type: type = float
    step: float | None = None
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"Range needs low < high, got {self.low} .. {self.high}")
        if self.log and self.low <= 0:
            raise ValueError("a log Range needs low > 0")


class Choice:
    """One of a few named options (a combo box)."""

    def __init__(self, *options: str):
        if not options:
            raise ValueError("Choice needs at least one option")
        self.options = tuple(str(o) for o in options)

    def __repr__(self) -> str:
        return f"Choice{self.options!r}"


class Colour:
    """An RGB colour (a colour picker). The kernel receives a tuple of three floats in [0, 1];
    the default may be written as ``"#00b140"`` or a tuple."""


Color = Colour


def parse_colour(value: Any) -> tuple[float, float, float]:
    """'#rrggbb', 'rrggbb', '0,177,64' (0-255) or a sequence of 3 floats in [0, 1] -> RGB floats."""
    if isinstance(value, str):
        text = value.strip().lstrip("#")
        if "," in text:
            parts = [float(p) for p in text.split(",")]
            if len(parts) != 3:
                raise InvalidInputError(f"colour {value!r} needs three components")
            scale = 255.0 if any(p > 1 for p in parts) else 1.0
            return tuple(min(max(p / scale, 0.0), 1.0) for p in parts)  # type: ignore[return-value]
        if len(text) != 6 or any(c not in "0123456789abcdefABCDEF" for c in text):
            raise InvalidInputError(f"colour {value!r} is not #rrggbb")
        return tuple(int(text[i : i + 2], 16) / 255.0 for i in (0, 2, 4))  # type: ignore[return-value]
    try:
        parts = [float(v) for v in value]
    except TypeError:
        raise InvalidInputError(f"colour {value!r} is not #rrggbb or three numbers") from None
    if len(parts) != 3:
        raise InvalidInputError(f"colour {value!r} needs three components")
    return tuple(min(max(p, 0.0), 1.0) for p in parts)  # type: ignore[return-value]


def colour_hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(min(max(c, 0.0), 1.0) * 255):02x}" for c in rgb)


# --------------------------------------------------------------------------- grid and results


@dataclass
class Grid:
    """Where and how big: the runtime passes one as the first argument of every kernel."""

    width: int = 512
    height: int = 512
    depth: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    dtype: torch.dtype = torch.float32

    @property
    def resolution(self) -> int:
        """Edge length of a cubic 3D grid (kernels producing points or volumes use it)."""
        return self.depth

    @property
    def aspect(self) -> float:
        return self.width / max(self.height, 1)

    def pixel_centers(self, center: tuple[float, float], half_height: float, dtype: torch.dtype | None = None):
        """Plane coordinates (x, y) of each pixel centre, each ``(H, W)``, y growing upwards,
        for a view centred on ``center`` that spans ``2 * half_height`` vertically."""
        dtype = dtype or self.dtype
        step = 2.0 * half_height / self.height
        xs = (torch.arange(self.width, device=self.device, dtype=dtype) - (self.width - 1) / 2) * step + center[0]
        ys = ((self.height - 1) / 2 - torch.arange(self.height, device=self.device, dtype=dtype)) * step + center[1]
        return xs.expand(self.height, self.width), ys[:, None].expand(self.height, self.width)


class Result:
    kind = ""

    def to(self, device: torch.device | str) -> Result:  # pragma: no cover - overridden
        raise NotImplementedError

    def size(self) -> int:
        """How many output elements (pixels, points, voxels): the unit of throughput."""
        raise NotImplementedError

    @property
    def shape(self) -> tuple[int, ...]:
        raise NotImplementedError


@dataclass
class Image(Result):
    """H x W (grey) or H x W x 3/4, float in [0, 1] or uint8."""

    data: torch.Tensor
    kind = "image"

    def __post_init__(self) -> None:
        d = self.data
        if not isinstance(d, torch.Tensor):
            raise InvalidInputError("an image kernel must return a torch tensor")
        # (..., H, W, C) is allowed so the same kernel filters a batch when used as a transform
        if d.ndim < 2 or (d.ndim >= 3 and d.shape[-1] not in (1, 3, 4)):
            raise InvalidInputError(f"an image must be HxW or HxWx3/4, got shape {tuple(d.shape)}")

    def to(self, device) -> Image:
        return Image(self.data.to(device))

    def size(self) -> int:
        return int(self.data.shape[0] * self.data.shape[1]) if self.data.ndim == 2 else int(self.data[..., 0].numel())

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)

    def to_uint8(self) -> torch.Tensor:
        """H x W x 3/4 uint8 on the CPU (grey is repeated to RGB)."""
        d = self.data.detach()
        if d.ndim > 3:
            raise InvalidInputError(f"cannot show a batch of images {tuple(d.shape)} as one picture")
        if d.dtype != torch.uint8:
            d = (d.float().clamp(0, 1) * 255 + 0.5).to(torch.uint8)
        if d.ndim == 2:
            d = d[:, :, None]
        if d.shape[2] == 1:
            d = d.expand(-1, -1, 3)
        return d.cpu().contiguous()


@dataclass
class Points(Result):
    """N x 3 positions, optional colours (N x 3/4 in [0, 1]) or values (N) for a colour map."""

    positions: torch.Tensor
    colours: torch.Tensor | None = None
    values: torch.Tensor | None = None
    point_size: float | None = None  # suggested diameter in scene units (e.g. the voxel step)
    kind = "points"

    def __post_init__(self) -> None:
        p = self.positions
        if not isinstance(p, torch.Tensor) or p.ndim != 2 or p.shape[1] != 3:
            raise InvalidInputError(f"points need an N x 3 tensor of positions, got {getattr(p, 'shape', p)}")
        n = p.shape[0]
        if self.colours is not None and (self.colours.shape[0] != n or self.colours.shape[-1] not in (3, 4)):
            raise InvalidInputError(f"point colours must be N x 3/4 with N={n}, got {tuple(self.colours.shape)}")
        if self.values is not None and self.values.reshape(-1).shape[0] != n:
            raise InvalidInputError(f"point values must have N={n} entries, got {tuple(self.values.shape)}")

    def to(self, device) -> Points:
        move = lambda t: None if t is None else t.to(device)  # noqa: E731
        return Points(self.positions.to(device), move(self.colours), move(self.values), self.point_size)

    def size(self) -> int:
        return int(self.positions.shape[0])

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.positions.shape)


@dataclass
class Volume(Result):
    """D x H x W scalar field (rendered with a colour map)."""

    data: torch.Tensor
    kind = "volume"

    def __post_init__(self) -> None:
        if not isinstance(self.data, torch.Tensor) or self.data.ndim != 3:
            raise InvalidInputError(f"a volume must be a D x H x W tensor, got {getattr(self.data, 'shape', None)}")

    def to(self, device) -> Volume:
        return Volume(self.data.to(device))

    def size(self) -> int:
        return int(self.data.numel())

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.data.shape)


RESULT_TYPES: dict[str, type[Result]] = {"image": Image, "points": Points, "volume": Volume}


def as_result(value: Any, kind: str) -> Result:
    """Accept what a kernel returned: the declared Result type, or a bare tensor for image/volume."""
    if isinstance(value, Result):
        if value.kind != kind:
            raise InvalidInputError(f"kernel declared output {kind!r} but returned {value.kind!r}")
        return value
    if isinstance(value, torch.Tensor):
        if kind == "points":
            return Points(value)
        return RESULT_TYPES[kind](value)
    raise InvalidInputError(f"kernel returned {type(value).__name__}; expected {RESULT_TYPES[kind].__name__}")


# --------------------------------------------------------------------------- the decorator


@dataclass
class KernelMeta:
    """What ``@kernel`` records on the function; the registry turns it into a KernelSpec."""

    output: str
    title: str
    description: str
    reference: Callable[..., Any] | None
    view: tuple[str, str, str] | None  # (center_x, center_y, half-height) params for zoom gestures
    default_size: tuple[int, ...] | None
    samples: dict[str, str] = field(default_factory=dict)  # input name -> bundled picture file
    tags: tuple[str, ...] = ()


def kernel(
    fn: Callable | None = None,
    *,
    output: str | None = None,
    title: str | None = None,
    description: str | None = None,
    reference: Callable[..., Any] | None = None,
    view: tuple[str, str, str] | None = None,
    size: tuple[int, ...] | None = None,
    samples: dict[str, str] | None = None,
    tags: tuple[str, ...] = (),
):
    """Mark a function as a kernel. ``output`` is image | points | volume (or taken from the return
    annotation); ``reference`` is a plain NumPy version with the same parameters (for benchmarks);
    ``view`` names the parameters that a zoom gesture on the image changes; ``size`` the default
    (width, height) or (resolution,); ``samples`` a bundled picture (resources/images) per input."""

    def mark(f: Callable) -> Callable:
        kind = output or _kind_from_annotation(f)
        if kind not in OUTPUT_KINDS:
            raise ValueError(f"@kernel output must be one of {OUTPUT_KINDS}, got {kind!r}")
        doc = (f.__doc__ or "").strip()
        f.__kernel__ = KernelMeta(  # type: ignore[attr-defined]
            output=kind,
            title=title or f.__name__.replace("_", " ").capitalize(),
            description=description if description is not None else doc.split("\n\n")[0].replace("\n", " "),
            reference=reference,
            view=tuple(view) if view else None,  # type: ignore[arg-type]
            default_size=tuple(size) if size else None,
            samples=dict(samples or {}),
            tags=tuple(tags),
        )
        return f

    return mark(fn) if fn is not None else mark


def _kind_from_annotation(f: Callable) -> str | None:
    ann = f.__annotations__.get("return")
    if isinstance(ann, str):
        return ann.strip().lower() if ann.strip().lower() in OUTPUT_KINDS else None
    if isinstance(ann, type) and issubclass(ann, Result):
        return ann.kind
    return None


# --------------------------------------------------------------------------- compile hot loops

_COMPILING: contextvars.ContextVar[bool] = contextvars.ContextVar("studio_kernel_compiling", default=False)


def compilable(fn: Callable) -> Callable:
    """Mark a kernel's hot inner function (e.g. one chunk of an iteration loop) for torch.compile.

    When the runtime runs a kernel with compile on, marked functions run through
    ``torch.compile(fn, dynamic=True)`` and the kernel body itself stays eager: fusing one short,
    branch-free loop body compiles in seconds, while tracing a whole kernel with data-dependent
    loops would unroll them. Without compile the function runs as written."""
    compiled: list[Callable] = []

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if not _COMPILING.get():
            return fn(*args, **kwargs)
        if not compiled:
            compiled.append(torch.compile(fn, dynamic=True))
        return compiled[0](*args, **kwargs)

    wrapper.__compilable__ = True  # type: ignore[attr-defined]
    return wrapper


def uses_compilable(module_globals: dict) -> bool:
    return any(getattr(v, "__compilable__", False) for v in module_globals.values())


class compiling:
    """Context manager the runtime uses to switch ``@compilable`` functions to compiled mode."""

    def __enter__(self):
        self._token = _COMPILING.set(True)
        return self

    def __exit__(self, *exc):
        _COMPILING.reset(self._token)
        return False
