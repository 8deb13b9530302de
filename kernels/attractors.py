"""The Lorenz attractor as a point cloud: many particles integrated side by side (RK4), every
step of every trajectory after a short burn-in becomes a point coloured by its speed."""

from __future__ import annotations

import torch

from studio.kernels import Points, Range, kernel


def lorenz_velocity(p: torch.Tensor, sigma: float, rho: float, beta: float) -> torch.Tensor:
    x, y, z = p[:, 0], p[:, 1], p[:, 2]
    return torch.stack([sigma * (y - x), x * (rho - z) - y, x * y - beta * z], dim=1)


def rk4_step(p, dt, sigma, rho, beta):
    k1 = lorenz_velocity(p, sigma, rho, beta)
    k2 = lorenz_velocity(p + 0.5 * dt * k1, sigma, rho, beta)
    k3 = lorenz_velocity(p + 0.5 * dt * k2, sigma, rho, beta)
    k4 = lorenz_velocity(p + dt * k3, sigma, rho, beta)
    return p + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)


@kernel(output="points", title="Lorenz attractor")
def lorenz(
    grid,
    *,
    sigma: Range(1.0, 20.0) = 10.0,
    rho: Range(1.0, 60.0) = 28.0,
    beta: Range(0.1, 5.0) = 8.0 / 3.0,
    particles: Range(1, 4096, int) = 128,
    steps: Range(50, 20000, int) = 1500,
    dt: Range(0.001, 0.02) = 0.006,
    burn_in: Range(0, 2000, int) = 200,
    seed: Range(0, 9999, int) = 1,
) -> Points:
    """Lorenz's 1963 convection model; the classic butterfly at sigma=10, rho=28, beta=8/3."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    start = torch.tensor([1.0, 1.0, 25.0]) + torch.randn(particles, 3, generator=gen) * 5.0
    p = start.to(grid.device, torch.float32)
    for _ in range(burn_in):
        p = rk4_step(p, dt, sigma, rho, beta)
    track = torch.empty(steps, particles, 3, device=grid.device)
    for i in range(steps):
        p = rk4_step(p, dt, sigma, rho, beta)
        track[i] = p
    positions = track.reshape(-1, 3)
    speed = lorenz_velocity(positions, sigma, rho, beta).norm(dim=1)
    return Points(positions, values=speed)
