"""Escape-time fractals: the Mandelbrot and Julia sets with smooth colouring.

Every pixel iterates z <- z^2 + c until |z| passes the escape radius. Pixels that escaped are
dropped from the working set every CHUNK iterations, so the cost follows the pixels still
iterating (the slow, interesting ones near the boundary), not the whole image. float64 keeps
deep zooms sharp down to a view height of about 1e-12.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from studio.kernels import Choice, Image, Range, compilable, kernel
from studio.kernels.colour import PALETTES, palette

ESCAPE_RADIUS = 256.0  # large radius: the smooth (fractional) count is accurate, no banding
CHUNK = 16  # iterations between compactions of the working set


@compilable
def iterate_fast(zr, zi, cr, ci, steps: int):
    """``steps`` iterations of z <- z^2 + c, in place, with no bookkeeping: six arithmetic passes
    per iteration and no allocations. Orbits that escape run on to inf/nan; escape_time finds
    them afterwards."""
    zr2 = torch.empty_like(zr)
    zi2 = torch.empty_like(zi)
    for _ in range(steps):
        torch.mul(zr, zr, out=zr2)
        torch.mul(zi, zi, out=zi2)
        zi.mul_(zr)
        torch.add(ci, zi, alpha=2.0, out=zi)  # 2 zr zi + ci
        torch.sub(zr2, zi2, out=zr)
        zr.add_(cr)  # zr^2 - zi^2 + cr
    return zr, zi


def iterate_tracked(zr, zi, cr, ci, steps: int, radius2: float):
    """The same iterations (in place), recording for each element the step (0..steps-1) at which
    |z| first passed the radius (``steps`` if it did not) and |z|^2 then. Run only on the elements
    that escaped during a chunk, from the chunk's starting values."""
    escaped_at = torch.full_like(zr, float(steps))
    mag2_at = torch.zeros_like(zr)
    zr2, zi2, mag2 = torch.empty_like(zr), torch.empty_like(zr), torch.empty_like(zr)
    for k in range(steps):
        torch.mul(zr, zr, out=zr2)
        torch.mul(zi, zi, out=zi2)
        torch.add(zr2, zi2, out=mag2)
        new = (mag2 > radius2) & (escaped_at == steps)
        escaped_at.masked_fill_(new, float(k))
        torch.where(new, mag2, mag2_at, out=mag2_at)
        zi.mul_(zr)
        torch.add(ci, zi, alpha=2.0, out=zi)
        torch.sub(zr2, zi2, out=zr)
        zr.add_(cr)
    return zr, zi, escaped_at, mag2_at


def escape_time(zr, zi, cr, ci, max_iter: int, radius: float = ESCAPE_RADIUS):
    """Escape counts (``max_iter`` where the orbit stayed bounded) and |z|^2 at escape, per element.

    z and c are tensors of one shape (c may be a 0-d tensor for Julia sets). Once |z| > 2 an orbit
    only grows, so an element escaped during a chunk exactly when its final |z| is past the radius
    (or inf/nan); those few are replayed with bookkeeping to get the exact step."""
    shape = zr.shape
    radius2 = radius * radius
    zr, zi = zr.reshape(-1).clone(), zi.reshape(-1).clone()  # updated in place below
    cr, ci = cr.expand(shape).reshape(-1), ci.expand(shape).reshape(-1)
    count = torch.full_like(zr, float(max_iter))
    mag2_out = torch.zeros_like(zr)
    index = torch.arange(zr.numel(), device=zr.device)
    done = 0
    while done < max_iter and index.numel() > 0:
        steps = min(CHUNK, max_iter - done)
        zr0, zi0 = zr.clone(), zi.clone()
        zr, zi = iterate_fast(zr, zi, cr, ci, steps)
        suspect = ~(zr * zr + zi * zi <= radius2)  # nan counts as escaped
        if bool(suspect.any()):
            s = suspect.nonzero().squeeze(1)
            tr, ti, escaped_at, mag2_at = iterate_tracked(zr0[s], zi0[s], cr[s], ci[s], steps, radius2)
            escaped = escaped_at < steps
            hit = index[s[escaped]]
            count[hit] = done + escaped_at[escaped]
            mag2_out[hit] = mag2_at[escaped]
            late = s[~escaped]  # passed the radius only with the chunk's last update: next chunk sees it
            zr[late], zi[late] = tr[~escaped], ti[~escaped]
            keep = ~suspect
            keep[late] = True
            index, zr, zi, cr, ci = index[keep], zr[keep], zi[keep], cr[keep], ci[keep]
        done += steps
    return count.reshape(shape), mag2_out.reshape(shape)


def colour_escape(count, mag2, max_iter: int, palette_name: str, smooth: bool, cycle: float):
    """Escape counts -> RGB: a cyclic palette over the (smooth) count, the inside black."""
    inside = count >= max_iter
    nu = count
    if smooth:
        # continuous count: n + 1 - log2(log|z|), exact at the escape radius, no bands
        log_abs = 0.5 * torch.log(mag2.clamp_min(ESCAPE_RADIUS**2))
        nu = count + 1.0 - torch.log2(log_abs)
    rgb = palette(palette_name, (torch.sqrt(nu.clamp_min(0.0)) * 4.0 / math.sqrt(cycle)).float(), cyclic=True)
    return torch.where(inside.unsqueeze(-1), torch.zeros_like(rgb), rgb)


def _plane(grid, center_x, center_y, scale, precision):
    dtype = torch.float64 if precision == "float64" and grid.device.type != "mps" else torch.float32
    return grid.pixel_centers((center_x, center_y), scale, dtype=dtype)


# ------------------------------------------------------------------ plain NumPy references


def _numpy_plane(width, height, center_x, center_y, scale):
    step = 2.0 * scale / height
    xs = (np.arange(width) - (width - 1) / 2) * step + center_x
    ys = ((height - 1) / 2 - np.arange(height)) * step + center_y
    return xs[None, :] + 1j * ys[:, None]


def numpy_escape_time(z, c, max_iter, radius=ESCAPE_RADIUS):
    """The textbook NumPy loop (as in the NumPy quickstart): whole arrays every iteration."""
    z = z.astype(np.complex128).copy()
    c = np.broadcast_to(c, z.shape)
    count = np.full(z.shape, float(max_iter))
    mag2_out = np.zeros(z.shape)
    for i in range(max_iter):
        mag2 = z.real * z.real + z.imag * z.imag
        new = (mag2 > radius * radius) & (count == max_iter)
        count[new] = i
        mag2_out[new] = mag2[new]
        bounded = count == max_iter
        z[bounded] = z[bounded] ** 2 + c[bounded]
    return count, mag2_out


def _numpy_colour(count, mag2, max_iter, palette_name, smooth, cycle):
    nu = count
    if smooth:
        log_abs = 0.5 * np.log(np.maximum(mag2, ESCAPE_RADIUS**2))
        nu = count + 1.0 - np.log2(log_abs)
    t = np.mod(np.sqrt(np.maximum(nu, 0.0)) * 4.0 / math.sqrt(cycle), 1.0)
    stops = PALETTES[palette_name]
    pos = [s[0] for s in stops]
    rgb = np.stack([np.interp(t, pos, [s[1][ch] for s in stops]) for ch in range(3)], axis=-1)
    rgb[count >= max_iter] = 0.0
    return rgb.astype(np.float32)


def mandelbrot_numpy(grid, *, center_x=-0.5, center_y=0.0, scale=1.2, max_iter=256, palette="twilight",
                     smooth=True, colour_cycle=64.0, precision="float64"):
    c = _numpy_plane(grid.width, grid.height, center_x, center_y, scale)
    count, mag2 = numpy_escape_time(np.zeros_like(c), c, max_iter)
    return _numpy_colour(count, mag2, max_iter, palette, smooth, colour_cycle)


def julia_numpy(grid, *, c_re=-0.8, c_im=0.156, center_x=0.0, center_y=0.0, scale=1.2, max_iter=256,
                palette="ice", smooth=True, colour_cycle=64.0, precision="float64"):
    z = _numpy_plane(grid.width, grid.height, center_x, center_y, scale)
    count, mag2 = numpy_escape_time(z, np.complex128(complex(c_re, c_im)), max_iter)
    return _numpy_colour(count, mag2, max_iter, palette, smooth, colour_cycle)


# ------------------------------------------------------------------ the kernels


@kernel(output="image", title="Mandelbrot", reference=mandelbrot_numpy,
        view=("center_x", "center_y", "scale"), size=(800, 600))
def mandelbrot(
    grid,
    *,
    center_x: Range(-2.5, 1.5) = -0.5,
    center_y: Range(-1.5, 1.5) = 0.0,
    scale: Range(1e-12, 2.0, log=True) = 1.2,
    max_iter: Range(16, 4096, int) = 256,
    palette: Choice("twilight", "fire", "ice", "viridis") = "twilight",
    smooth: bool = True,
    colour_cycle: Range(4.0, 1024.0, log=True) = 64.0,
    precision: Choice("float64", "float32") = "float64",
) -> Image:
    """The Mandelbrot set: c is the pixel, z starts at 0. Drag a rectangle to zoom in.

    ``scale`` is half the view height in the complex plane."""
    cr, ci = _plane(grid, center_x, center_y, scale, precision)
    zero = torch.zeros_like(cr)
    count, mag2 = escape_time(zero, zero, cr, ci, max_iter)
    return Image(colour_escape(count, mag2, max_iter, palette, smooth, colour_cycle))


@kernel(output="image", title="Julia set", reference=julia_numpy,
        view=("center_x", "center_y", "scale"), size=(800, 600))
def julia(
    grid,
    *,
    c_re: Range(-1.5, 1.5) = -0.8,
    c_im: Range(-1.5, 1.5) = 0.156,
    center_x: Range(-2.0, 2.0) = 0.0,
    center_y: Range(-2.0, 2.0) = 0.0,
    scale: Range(1e-12, 2.0, log=True) = 1.2,
    max_iter: Range(16, 4096, int) = 256,
    palette: Choice("twilight", "fire", "ice", "viridis") = "ice",
    smooth: bool = True,
    colour_cycle: Range(4.0, 1024.0, log=True) = 64.0,
    precision: Choice("float64", "float32") = "float64",
) -> Image:
    """A Julia set: c is fixed (move c_re / c_im), z starts at the pixel."""
    zr, zi = _plane(grid, center_x, center_y, scale, precision)
    cr = torch.tensor(c_re, dtype=zr.dtype, device=zr.device)
    ci = torch.tensor(c_im, dtype=zr.dtype, device=zr.device)
    count, mag2 = escape_time(zr.clone(), zi.clone(), cr, ci, max_iter)
    return Image(colour_escape(count, mag2, max_iter, palette, smooth, colour_cycle))
