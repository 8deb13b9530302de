"""The Mandelbulb: the 3D power-n analogue of the Mandelbrot set, in spherical coordinates.

Every voxel of a cubic grid over [-1.2, 1.2]^3 iterates v <- v^n + c; voxels whose orbit stays
bounded are inside. The point cloud is the inside voxels that touch the outside (the surface),
coloured by an orbit trap: how close the orbit came to the origin.
"""

from __future__ import annotations

import torch

from studio.kernels import Choice, Points, Range, Volume, compilable, kernel
from studio.kernels.colour import palette

EXTENT = 1.2
BAILOUT = 2.0


def bulb_escape(x, y, z, power: float, max_iter: int):
    """Per point: iterations before |v| > BAILOUT (max_iter if never) and the orbit trap min |v|.
    Points drop out of the working set as they escape."""
    n = x.numel()
    cx, cy, cz = x.reshape(-1), y.reshape(-1), z.reshape(-1)
    vx, vy, vz = cx.clone(), cy.clone(), cz.clone()
    count = torch.full((n,), max_iter, dtype=torch.int32, device=x.device)
    trap = torch.full((n,), float("inf"), dtype=x.dtype, device=x.device)
    index = torch.arange(n, device=x.device)
    for i in range(max_iter):
        r = torch.sqrt(vx * vx + vy * vy + vz * vz)
        trap[index] = torch.minimum(trap[index], r)
        out = r > BAILOUT
        if bool(out.any()):
            count[index[out]] = i
            keep = ~out
            index, r, vx, vy, vz, cx, cy, cz = (t[keep] for t in (index, r, vx, vy, vz, cx, cy, cz))
        if index.numel() == 0:
            break
        vx, vy, vz = bulb_step(vx, vy, vz, r, cx, cy, cz, power)
    return count.reshape(x.shape), trap.reshape(x.shape)


@compilable
def bulb_step(vx, vy, vz, r, cx, cy, cz, power: float):
    """v <- v^power + c in spherical coordinates (White and Nylander's formula)."""
    theta = torch.acos((vz / r.clamp_min(1e-12)).clamp(-1.0, 1.0)) * power
    phi = torch.atan2(vy, vx) * power
    rn = r**power
    sin_t = torch.sin(theta)
    return rn * sin_t * torch.cos(phi) + cx, rn * sin_t * torch.sin(phi) + cy, rn * torch.cos(theta) + cz


def axis(grid):
    return torch.linspace(-EXTENT, EXTENT, grid.resolution, device=grid.device, dtype=torch.float32)


def surface_mask(inside: torch.Tensor) -> torch.Tensor:
    """Inside voxels with at least one of their 6 neighbours outside (the grid border counts as outside)."""
    padded = torch.nn.functional.pad(inside.float()[None, None], (1, 1, 1, 1, 1, 1))[0, 0] > 0.5
    all_in = inside.clone()
    d, h, w = inside.shape
    for dz, dy, dx in ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1)):
        all_in &= padded[1 + dz : 1 + dz + d, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
    return inside & ~all_in


@kernel(output="points", title="Mandelbulb", size=(80,))
def mandelbulb(
    grid,
    *,
    power: Range(2.0, 12.0) = 8.0,
    max_iter: Range(2, 30, int) = 10,
    palette_name: Choice("fire", "ice", "twilight", "viridis") = "fire",
    trap_contrast: Range(0.2, 4.0) = 1.5,
    shading: Range(0.0, 1.0) = 0.6,
) -> Points:
    """Surface points of the power-n Mandelbulb on a resolution^3 grid, coloured by orbit trap."""
    a = axis(grid)
    z, y, x = torch.meshgrid(a, a, a, indexing="ij")
    count, trap = bulb_escape(x, y, z, power, max_iter)
    inside = count >= max_iter
    surface = surface_mask(inside)
    positions = torch.stack([x[surface], y[surface], z[surface]], dim=1)
    values = trap[surface]
    if values.numel() > 1:
        lo, hi = torch.quantile(values.float(), torch.tensor([0.02, 0.98], device=values.device))
    else:
        lo, hi = torch.tensor(0.0), torch.tensor(1.0)
    t = ((values - lo) / (hi - lo + 1e-9)).clamp(0, 1) ** (1.0 / trap_contrast)
    light = lambert(inside, surface)
    colours = palette(palette_name, t) * ((1.0 - shading) + shading * light)[:, None]
    return Points(positions, colours=colours, values=values, point_size=1.25 * 2 * EXTENT / (grid.resolution - 1))


def lambert(inside: torch.Tensor, surface: torch.Tensor) -> torch.Tensor:
    """Diffuse light per surface voxel from a fixed direction; the normal is the gradient of the
    box-blurred inside mask (points outwards), so the bulb's shape reads even as a point cloud."""
    blurred = torch.nn.functional.avg_pool3d(inside.float()[None, None], 3, stride=1, padding=1)[0, 0]
    gz, gy, gx = torch.gradient(blurred)
    normal = -torch.stack([gx[surface], gy[surface], gz[surface]], dim=1)
    normal = normal / normal.norm(dim=1, keepdim=True).clamp_min(1e-6)
    to_light = torch.tensor([0.45, 0.55, 0.70], device=inside.device)
    return (normal @ (to_light / to_light.norm())).clamp_min(0.0)


@kernel(output="volume", title="Mandelbulb (volume)", size=(64,))
def mandelbulb_volume(grid, *, power: Range(2.0, 12.0) = 8.0, max_iter: Range(2, 30, int) = 8) -> Volume:
    """Escape iterations of the Mandelbulb on a resolution^3 grid, as a volume (bright = inside)."""
    a = axis(grid)
    z, y, x = torch.meshgrid(a, a, a, indexing="ij")
    count, _ = bulb_escape(x, y, z, power, max_iter)
    # 0 for points that leave at once (most of the cube), 1 inside: the set stands out in MIP renders
    return Volume(((count.float() - 1) / (max_iter - 1)).clamp_min(0.0))
