"""Mandelbulb surface points and volume, and the Lorenz attractor, against references written here:
a NumPy Mandelbulb iteration, SciPy's adaptive high-order integrator for the Lorenz equations, and
the published fixed points of the Lorenz system (sqrt(beta (rho - 1)), same, rho - 1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.kernels.runtime import run_kernel


def bulb_counts(p: np.ndarray, power=8.0, iters=8) -> np.ndarray:
    """Iterations before |v| > 2 (``iters`` if never) of v <- v^power + c, White & Nylander's
    spherical power, one whole array at a time."""
    c = p.astype(np.float64)
    v = c.copy()
    counts = np.full(len(p), iters)
    for i in range(iters):
        r = np.linalg.norm(v, axis=1)
        counts[(r > 2.0) & (counts == iters)] = i
        live = counts == iters
        r = np.maximum(r, 1e-12)
        theta = np.arccos(np.clip(v[:, 2] / r, -1, 1)) * power
        phi = np.arctan2(v[:, 1], v[:, 0]) * power
        rn = np.where(live, r, 0.0) ** power
        v = np.where(live[:, None], np.stack([rn * np.sin(theta) * np.cos(phi), rn * np.sin(theta) * np.sin(phi),
                                               rn * np.cos(theta)], 1) + c, v)
    return counts


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


def lorenz(_t, p, sigma, rho, beta):
    x, y, z = p
    return [sigma * (y - x), x * (rho - z) - y, x * y - beta * z]


@pytest.mark.parametrize("sigma, rho, beta", [(10.0, 28.0, 8.0 / 3.0), (14.0, 45.0, 4.0)])
def test_lorenz_trajectories_match_an_adaptive_integrator(shipped, sigma, rho, beta):
    """Each particle's track, from its first point on, against SciPy's DOP853 at tight tolerance
    (a different method: adaptive 8th-order Runge-Kutta in float64), over 2 time units, before
    chaos (Lyapunov exponent ~0.9) can amplify float32 rounding past the tolerance."""
    from scipy.integrate import solve_ivp

    particles, steps, dt = 6, 400, 0.005
    run = run_kernel(shipped["lorenz"], {"sigma": sigma, "rho": rho, "beta": beta, "particles": particles,
                                         "steps": steps, "dt": dt, "burn_in": 100})
    track = run.result.positions.numpy().reshape(steps, particles, 3).astype(np.float64)
    times = dt * np.arange(steps)
    for j in range(particles):
        ref = solve_ivp(lorenz, (0, times[-1]), track[0, j], method="DOP853", t_eval=times, rtol=1e-12, atol=1e-12,
                        args=(sigma, rho, beta)).y.T
        np.testing.assert_allclose(track[:, j], ref, atol=2e-2, rtol=0)
        assert np.abs(ref[-1] - ref[0]).max() > 1.0  # the particle really travelled


@pytest.mark.parametrize("rho", [5.0, 10.0])
def test_lorenz_settles_on_the_published_fixed_points_below_the_chaotic_range(shipped, rho):
    """For 1 < rho < 13.93 every orbit ends on C+- = (+-sqrt(beta (rho-1)), +-sqrt(beta (rho-1)), rho-1)."""
    beta = 8.0 / 3.0
    run = run_kernel(shipped["lorenz"], {"rho": rho, "beta": beta, "particles": 12, "steps": 50, "dt": 0.02,
                                         "burn_in": 2000})
    last = run.result.positions.numpy().reshape(50, 12, 3)[-1]
    a = np.sqrt(beta * (rho - 1))
    for x, y, z in last:
        np.testing.assert_allclose([abs(x), abs(y), z], [a, a, rho - 1], atol=1e-3)
        assert np.sign(x) == np.sign(y)


@pytest.mark.parametrize("power, max_iter, res", [(8.0, 6, 24), (3.0, 10, 20)])
def test_mandelbulb_volume_matches_a_numpy_reference(shipped, power, max_iter, res):
    """Voxel (z, y, x) of the volume holds (escape count - 1) / (max_iter - 1), floored at 0, over
    a res^3 grid spanning [-1.2, 1.2]^3; counts from the NumPy iteration above."""
    vol = run_kernel(shipped["mandelbulb_volume"], {"power": power, "max_iter": max_iter}, size=(res,)).result.data.numpy()
    assert vol.shape == (res, res, res)
    axis = np.linspace(-1.2, 1.2, res)
    z, y, x = np.meshgrid(axis, axis, axis, indexing="ij")
    counts = bulb_counts(np.stack([x.ravel(), y.ravel(), z.ravel()], 1), power, max_iter).reshape(res, res, res)
    expected = np.maximum((counts - 1) / (max_iter - 1), 0.0)
    same = np.abs(vol - expected) < 1e-6
    assert same.mean() > 0.995, same.mean()  # float32 vs float64 may flip a voxel on the boundary
    assert np.abs(vol - expected)[~same].max(initial=0) <= 1.0 / (max_iter - 1) + 1e-6  # ...by one iteration
    assert (expected == 1.0).sum() > 20 and (expected == 0.0).sum() > 20  # inside and outside both present


@pytest.mark.gpu
def test_point_kernels_on_cuda(shipped):
    cpu = run_kernel(shipped["mandelbulb"], {"max_iter": 8}, size=(48,)).result
    gpu = run_kernel(shipped["mandelbulb"], {"max_iter": 8}, size=(48,), device="cuda").result
    assert gpu.positions.device.type == "cuda"
    assert abs(gpu.size() - cpu.size()) <= 0.02 * cpu.size()  # rounding near the surface may differ
    lorenz = run_kernel(shipped["lorenz"], {"particles": 64, "steps": 400}, device="cuda").result
    assert torch.isfinite(lorenz.positions).all() and float(lorenz.positions[:, 2].max()) < 60
