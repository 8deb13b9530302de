"""Mandelbulb surface points and the Lorenz attractor: checked with NumPy written here."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.kernels.runtime import run_kernel


def bulb_inside(p: np.ndarray, power=8.0, iters=8) -> np.ndarray:
    c = p.astype(np.float64)
    v = c.copy()
    inside = np.ones(len(p), bool)
    for _ in range(iters):
        r = np.linalg.norm(v, axis=1)
        inside &= r <= 2.0
        r = np.maximum(r, 1e-12)
        theta = np.arccos(np.clip(v[:, 2] / r, -1, 1)) * power
        phi = np.arctan2(v[:, 1], v[:, 0]) * power
        rn = np.where(inside, r, 0.0) ** power
        v = np.stack([rn * np.sin(theta) * np.cos(phi), rn * np.sin(theta) * np.sin(phi), rn * np.cos(theta)], 1) + c
    return inside


def test_mandelbulb_points_lie_on_the_surface(shipped):
    res = 40
    run = run_kernel(shipped["mandelbulb"], {"max_iter": 8}, size=(res,))
    pts = run.result.positions.numpy()
    step = 2.4 / (res - 1)
    assert 1500 < len(pts) < 0.25 * res**3  # a shell, not the solid
    radius = np.linalg.norm(pts, axis=1)
    assert radius.max() < 1.25 and radius.min() > 0.4  # the power-8 bulb sits within ~1.2
    assert bulb_inside(pts).mean() > 0.99  # every point is inside the set
    # ... and touches the outside: some neighbour one grid step away escapes
    offsets = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]]) * step
    sample = pts[:: max(1, len(pts) // 400)]
    touches = np.zeros(len(sample), bool)
    for off in offsets:
        touches |= ~bulb_inside(sample + off) | (np.abs(sample + off).max(axis=1) > 1.2 + 1e-6)
    assert touches.mean() > 0.99
    colours = run.result.colours
    assert colours.shape == (len(pts), 3) and float(colours.std()) > 0.05


def test_mandelbulb_count_grows_like_a_surface(shipped):
    n20 = run_kernel(shipped["mandelbulb"], {"max_iter": 6}, size=(20,)).result.size()
    n40 = run_kernel(shipped["mandelbulb"], {"max_iter": 6}, size=(40,)).result.size()
    assert 2.5 < n40 / n20 < 6.0  # ~4x for a 2D surface, 8x would be a solid


def test_lorenz_is_finite_bounded_and_on_the_butterfly(shipped):
    run = run_kernel(shipped["lorenz"], {"particles": 16, "steps": 800})
    pts = run.result.positions
    assert pts.shape == (16 * 800, 3)
    assert torch.isfinite(pts).all()
    assert float(pts[:, 0].abs().max()) < 30 and float(pts[:, 1].abs().max()) < 40
    assert 0 < float(pts[:, 2].min()) and float(pts[:, 2].max()) < 60
    assert 20 < float(pts[:, 2].mean()) < 27  # mean height of the attractor at rho=28 is ~23.5
    # both wings are visited
    assert (pts[:, 0] > 5).float().mean() > 0.2 and (pts[:, 0] < -5).float().mean() > 0.2
    assert run.result.values.shape == (16 * 800,)


def test_mandelbulb_volume(shipped):
    run = run_kernel(shipped["mandelbulb_volume"], {"max_iter": 6}, size=(24,))
    vol = run.result.data
    assert vol.shape == (24, 24, 24)
    assert float(vol[12, 12, 12]) == 1.0 and float(vol[0, 0, 0]) < 1.0


@pytest.mark.gpu
def test_point_kernels_on_cuda(shipped):
    cpu = run_kernel(shipped["mandelbulb"], {"max_iter": 8}, size=(48,)).result
    gpu = run_kernel(shipped["mandelbulb"], {"max_iter": 8}, size=(48,), device="cuda").result
    assert gpu.positions.device.type == "cuda"
    assert abs(gpu.size() - cpu.size()) <= 0.02 * cpu.size()  # rounding near the surface may differ
    lorenz = run_kernel(shipped["lorenz"], {"particles": 64, "steps": 400}, device="cuda").result
    assert torch.isfinite(lorenz.positions).all() and float(lorenz.positions[:, 2].max()) < 60
