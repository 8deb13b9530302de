"""Mandelbrot and Julia escape counts against an independent NumPy loop (written here, not shared)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.kernels.api import Grid
from studio.kernels.runtime import run_kernel


def numpy_counts(z0: np.ndarray, c: np.ndarray, max_iter: int, radius: float) -> np.ndarray:
    z = z0.copy()
    counts = np.full(z.shape, max_iter)
    for i in range(max_iter):
        escaped_now = (np.abs(z) > radius) & (counts == max_iter)
        counts[escaped_now] = i
        z = np.where(counts == max_iter, z * z + c, z)
    return counts


def plane(width, height, cx, cy, half_height):
    step = 2 * half_height / height
    xs = cx + (np.arange(width) - (width - 1) / 2) * step
    ys = cy + ((height - 1) / 2 - np.arange(height)) * step
    return xs[None, :] + 1j * ys[:, None]


def kernel_counts(spec, grid, **params):
    module = spec.fn.__globals__
    x, y = grid.pixel_centers((params["cx"], params["cy"]), params["scale"], dtype=torch.float64)
    if spec.name == "mandelbrot":
        zero = torch.zeros_like(x)
        counts, _ = module["escape_time"](zero, zero, x, y, params["max_iter"])
    else:
        cr = torch.tensor(params["c"].real, dtype=torch.float64)
        ci = torch.tensor(params["c"].imag, dtype=torch.float64)
        counts, _ = module["escape_time"](x.clone(), y.clone(), cr, ci, params["max_iter"])
    return counts.numpy().astype(int), module["ESCAPE_RADIUS"]


@pytest.mark.parametrize(
    "name, cx, cy, scale, c",
    [
        ("mandelbrot", -0.5, 0.0, 1.2, None),
        ("mandelbrot", -0.743643887, 0.131825904, 0.002, None),  # seahorse valley, zoomed
        ("julia", 0.0, 0.0, 1.3, complex(-0.8, 0.156)),
    ],
)
def test_escape_counts_match_numpy(shipped, name, cx, cy, scale, c):
    spec = shipped[name]
    grid = Grid(width=160, height=120)
    ours, radius = kernel_counts(spec, grid, cx=cx, cy=cy, scale=scale, max_iter=200, c=c)
    z = plane(160, 120, cx, cy, scale)
    expected = numpy_counts(np.zeros_like(z), z, 200, radius) if c is None else numpy_counts(z, np.complex128(c), 200, radius)
    agreement = (ours == expected).mean()
    assert agreement >= 0.999, agreement
    assert len(np.unique(expected)) > 20  # the view is not trivially uniform


def test_mandelbrot_image_is_coloured_and_inside_is_black(shipped):
    run = run_kernel(shipped["mandelbrot"], {"max_iter": 64}, size=(120, 90))
    img = run.result.data
    assert img.shape == (90, 120, 3) and img.dtype == torch.float32
    assert float(img.min()) >= 0.0 and float(img.max()) <= 1.0
    # the centre of the main cardioid (c = -0.25) is inside the set
    x = round((-0.25 - -0.5) / (2 * 1.2 / 90) + (120 - 1) / 2)
    assert torch.all(img[45, x] == 0)
    assert float(img.std()) > 0.05


def test_mandelbrot_matches_its_numpy_reference_image(shipped):
    spec = shipped["mandelbrot"]
    run = run_kernel(spec, {"max_iter": 100}, size=(96, 64))
    ref = spec.meta.reference(Grid(96, 64), **run.params)
    close = np.abs(run.result.data.numpy() - ref).max(axis=-1) < 2e-3
    assert close.mean() >= 0.999


def test_deep_zoom_stays_sharp_in_float64(shipped):
    params = {"center_x": -0.743643887037151, "center_y": 0.131825904205330, "scale": 1e-10, "max_iter": 1500}
    img64 = run_kernel(shipped["mandelbrot"], params | {"precision": "float64"}, size=(64, 48)).result.data
    img32 = run_kernel(shipped["mandelbrot"], params | {"precision": "float32"}, size=(64, 48)).result.data
    # float64 resolves detail; float32 collapses neighbouring pixels to the same value (blocky)
    distinct64 = len(torch.unique(img64.reshape(-1, 3), dim=0))
    distinct32 = len(torch.unique(img32.reshape(-1, 3), dim=0))
    assert distinct64 > 500
    assert distinct64 > 4 * distinct32


@pytest.mark.gpu
def test_mandelbrot_cuda_matches_cpu(shipped):
    spec = shipped["mandelbrot"]
    cpu = run_kernel(spec, {"max_iter": 128}, size=(320, 240), device="cpu").result.data
    gpu = run_kernel(spec, {"max_iter": 128}, size=(320, 240), device="cuda").result.data.cpu()
    assert (np.abs(cpu.numpy() - gpu.numpy()).max(axis=-1) < 2e-3).mean() >= 0.999
