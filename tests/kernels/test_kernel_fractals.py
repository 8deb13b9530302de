"""Mandelbrot and Julia against references written here, independent of the kernel's code: a plain
complex NumPy loop for the escape counts, the textbook smooth iteration count and a palette lookup
written per segment for the colours, and a published value (Boll: c = -3/4 + i*eps needs about
pi/eps iterations to escape)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.kernels.api import Grid
from studio.kernels.colour import PALETTES
from studio.kernels.runtime import run_kernel


def numpy_counts(z0: np.ndarray, c: np.ndarray, max_iter: int, radius: float, with_modulus: bool = False):
    """Escape iteration per point (max_iter when bounded), optionally |z| when it escaped."""
    z = z0.copy()
    counts = np.full(z.shape, max_iter)
    modulus = np.zeros(z.shape)
    for i in range(max_iter):
        escaped_now = (np.abs(z) > radius) & (counts == max_iter)
        counts[escaped_now] = i
        modulus[escaped_now] = np.abs(z[escaped_now])
        z = np.where(counts == max_iter, z * z + c, z)
    return (counts, modulus) if with_modulus else counts


def palette_lookup(name: str, t: np.ndarray) -> np.ndarray:
    """Piecewise-linear colour through the palette's stops, one segment at a time."""
    stops = PALETTES[name]
    out = np.zeros(t.shape + (3,))
    for (p0, c0), (p1, c1) in zip(stops, stops[1:]):
        inside = (t >= p0) & (t <= p1)
        w = ((t[inside] - p0) / (p1 - p0))[:, None]
        out[inside] = (1 - w) * np.array(c0) + w * np.array(c1)
    return out


def reference_image(z0, c, *, max_iter, radius, palette="twilight", cycle=64.0):
    """The documented colouring: smooth count nu = n + 1 - log2(ln|z|) at escape, palette position
    frac(sqrt(nu) * 4 / sqrt(cycle)), points that never escape black."""
    counts, modulus = numpy_counts(z0, c, max_iter, radius, with_modulus=True)
    escaped = counts < max_iter
    nu = np.zeros(counts.shape)
    nu[escaped] = counts[escaped] + 1 - np.log2(np.log(modulus[escaped]))
    image = palette_lookup(palette, np.mod(np.sqrt(nu) * 4 / np.sqrt(cycle), 1.0))
    image[~escaped] = 0.0
    return image


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


@pytest.mark.parametrize("name, params", [
    ("mandelbrot", {"max_iter": 100}),
    ("mandelbrot", {"max_iter": 300, "center_x": -0.743643887, "center_y": 0.131825904, "scale": 0.002, "palette": "fire"}),
    ("julia", {"max_iter": 150}),
    ("julia", {"max_iter": 200, "c_re": 0.285, "c_im": 0.01, "scale": 0.9, "palette": "viridis", "colour_cycle": 32.0}),
])
def test_entry_point_image_matches_an_independent_reference(shipped, name, params):
    spec = shipped[name]
    run = run_kernel(spec, params, size=(96, 64))
    p = run.params
    z = plane(96, 64, p["center_x"], p["center_y"], p["scale"])
    radius = spec.fn.__globals__["ESCAPE_RADIUS"]
    if name == "mandelbrot":
        expected = reference_image(np.zeros_like(z), z, max_iter=p["max_iter"], radius=radius, palette=p["palette"],
                                   cycle=p["colour_cycle"])
    else:
        expected = reference_image(z, np.complex128(complex(p["c_re"], p["c_im"])), max_iter=p["max_iter"],
                                   radius=radius, palette=p["palette"], cycle=p["colour_cycle"])
    close = np.abs(run.result.data.numpy() - expected).max(axis=-1) < 2e-3
    assert close.mean() >= 0.995, close.mean()
    assert len(np.unique(expected.reshape(-1, 3), axis=0)) > 200  # a detailed view, not a flat one


def test_mandelbrot_escape_near_the_neck_takes_pi_over_eps_iterations(shipped):
    """Published (D. Boll, 1991): c = -3/4 + i*eps escapes after about pi/eps iterations, so pi
    comes out of the set; the studio's larger escape radius adds only a few iterations."""
    eps = 1e-3
    view = {"center_x": -0.75, "center_y": eps, "scale": 1e-9, "smooth": False}
    inside = run_kernel(shipped["mandelbrot"], view | {"max_iter": 3000}, size=(3, 3)).result.data
    outside = run_kernel(shipped["mandelbrot"], view | {"max_iter": 3300}, size=(3, 3)).result.data
    assert torch.all(inside == 0)  # still iterating at 3000 < pi / eps
    assert torch.all(outside.amax(dim=-1) > 0)  # escaped before 3300
    module = shipped["mandelbrot"].fn.__globals__
    zero = torch.zeros(1, dtype=torch.float64)
    count, _ = module["escape_time"](zero, zero.clone(), torch.tensor([-0.75], dtype=torch.float64),
                                     torch.tensor([eps], dtype=torch.float64), 10_000)
    assert abs(float(count) * eps - np.pi) < 0.01


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
