"""Run a kernel: place it on a device, optionally through torch.compile, time it properly (CUDA
and MPS are asynchronous, so the clock stops only after synchronising) and return a typed result.

``run_kernel`` is a plain function (Orange3 style) used by the CLI, the GUI worker and the
benchmarks alike."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch

from studio.core.errors import InvalidInputError
from studio.kernels.api import Grid, Result, as_result, compiling, uses_compilable
from studio.kernels.input_images import bundled_image, load_image, resize_image
from studio.kernels.params import resolve_params
from studio.kernels.registry import KernelError, KernelSpec, error_from_exception

DEFAULT_IMAGE_SIZE = (640, 480)
DEFAULT_RESOLUTION = 96


def available_devices() -> list[str]:
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def resolve_device(name: str | None) -> torch.device:
    name = (name or "cpu").lower()
    if name == "auto":
        return torch.device(available_devices()[-1] if len(available_devices()) > 1 else "cpu")
    if name not in ("cpu", "cuda", "mps"):
        raise InvalidInputError(f"unknown device {name!r} (use cpu, cuda or mps)")
    if name not in available_devices():
        raise InvalidInputError(f"device {name!r} is not available here (available: {', '.join(available_devices())})")
    return torch.device(name)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


@dataclass
class RunResult:
    kernel: str
    result: Result
    device: str
    run_ms: float
    compile_ms: float | None = None  # first compiled call (tracing + codegen + one run)
    compiled: bool = False
    note: str = ""  # e.g. why compile fell back to eager
    params: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.kernel,
            "output": self.result.kind,
            "shape": list(self.result.shape),
            "device": self.device,
            "compiled": self.compiled,
            "run_ms": round(self.run_ms, 3),
            "compile_ms": None if self.compile_ms is None else round(self.compile_ms, 1),
            "note": self.note,
        }


# compiled functions, one per (kernel function, device type): compiling is expensive, keep it
_COMPILED: dict[tuple[int, str], Any] = {}
_COMPILE_FAILED: dict[tuple[int, str], str] = {}


def make_grid(spec: KernelSpec, device: torch.device, size: tuple[int, ...] | None, inputs: dict[str, torch.Tensor]) -> Grid:
    if spec.output == "image" or spec.inputs:
        if size and len(size) >= 2:
            width, height = int(size[0]), int(size[1])
        elif inputs:
            first = inputs[spec.inputs[0]]
            height, width = int(first.shape[-3]), int(first.shape[-2])
        else:
            width, height = (spec.meta.default_size or DEFAULT_IMAGE_SIZE)[:2]
        if not (1 <= width <= 16384 and 1 <= height <= 16384):
            raise InvalidInputError(f"size {width}x{height} is out of range (1..16384 per side)")
        return Grid(width=width, height=height, depth=1, device=device)
    res = int(size[0]) if size else int((spec.meta.default_size or (DEFAULT_RESOLUTION,))[0])
    if not 2 <= res <= 1024:
        raise InvalidInputError(f"resolution {res} is out of range (2..1024)")
    return Grid(width=res, height=res, depth=res, device=device)


def prepare_inputs(spec: KernelSpec, given: dict[str, Any] | None) -> dict[str, torch.Tensor]:
    """Each declared input as an H x W x 3 tensor: given tensors or paths, else the bundled sample."""
    given = dict(given or {})
    unknown = set(given) - set(spec.inputs)
    if unknown:
        raise InvalidInputError(f"kernel {spec.name} has no input {sorted(unknown)[0]!r} (inputs: {', '.join(spec.inputs) or 'none'})")
    out = {}
    for name in spec.inputs:
        value = given.get(name)
        if value is None:
            sample = spec.meta.samples.get(name)
            if sample is None:
                raise InvalidInputError(f"kernel {spec.name} needs an input image {name!r}")
            value = bundled_image(sample)
        out[name] = value if isinstance(value, torch.Tensor) else load_image(value)
    return out


def _call(fn, grid: Grid, inputs: list[torch.Tensor], params: dict[str, Any]):
    with torch.no_grad():
        return fn(grid, *inputs, **params)


def _timed(fn, grid, inputs, params, device) -> tuple[Any, float]:
    synchronize(device)
    start = time.perf_counter()
    value = _call(fn, grid, inputs, params)
    synchronize(device)
    return value, (time.perf_counter() - start) * 1000.0


def compiled_function(spec: KernelSpec, device: torch.device):
    """The kernel as it runs compiled: its ``@compilable`` hot functions compiled (the kernel body
    eager) when it has any, else the whole kernel through torch.compile."""
    key = (id(spec.fn), device.type)
    if key not in _COMPILED:
        if uses_compilable(spec.fn.__globals__):
            def with_compiled_parts(*args, **kwargs):
                with compiling():
                    return spec.fn(*args, **kwargs)

            _COMPILED[key] = with_compiled_parts
        else:
            _COMPILED[key] = torch.compile(spec.fn, dynamic=True)
    return _COMPILED[key]


def run_kernel(
    spec: KernelSpec,
    params: dict[str, Any] | None = None,
    *,
    device: str | torch.device | None = "cpu",
    compile: bool = False,
    size: tuple[int, ...] | None = None,
    inputs: dict[str, Any] | None = None,
) -> RunResult:
    """Run ``spec`` once with checked parameters. Errors in the kernel become a KernelError that
    names the line of the kernel source."""
    dev = device if isinstance(device, torch.device) else resolve_device(device)
    values = resolve_params(spec.params, params)
    tensors = prepare_inputs(spec, inputs)
    grid = make_grid(spec, dev, size, tensors)
    ordered = [resize_image(tensors[n], grid.width, grid.height).to(dev) for n in spec.inputs]
    compile_ms = None
    note = ""
    compiled = False
    try:
        fn = spec.fn
        key = (id(spec.fn), dev.type)
        if compile and key in _COMPILE_FAILED:
            note = _COMPILE_FAILED[key]
        elif compile:
            first_time = key not in _COMPILED
            try:
                fn = compiled_function(spec, dev)
                value, first_ms = _timed(fn, grid, ordered, values, dev)
                compiled = True
                if first_time:
                    compile_ms = first_ms
                else:
                    run_ms = first_ms
            except Exception as exc:  # inductor needs a C++ compiler etc.: fall back, say so
                if _is_kernel_bug(exc, spec):
                    raise
                note = f"torch.compile failed ({type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}); ran eagerly"
                _COMPILE_FAILED[key] = note
                _COMPILED.pop(key, None)
                fn = spec.fn
                compiled = False
        if not compiled or compile_ms is not None:
            value, run_ms = _timed(fn, grid, ordered, values, dev)
        result = as_result(value, spec.output)
    except KernelError:
        raise
    except InvalidInputError as exc:
        raise KernelError(str(exc), path=str(spec.path), line=spec.line) from None
    except Exception as exc:
        raise error_from_exception(exc, spec.path) from None
    return RunResult(spec.name, result, str(dev.type), run_ms, compile_ms, compiled, note, values)


def _is_kernel_bug(exc: Exception, spec: KernelSpec) -> bool:
    """An exception raised by the kernel's own code (not by the compiler) is the author's to see."""
    import traceback

    frames = traceback.extract_tb(exc.__traceback__)
    return bool(frames) and frames[-1].filename == str(spec.path) and not type(exc).__module__.startswith("torch._")
