"""Zoom gestures on an image turned into new view parameters (centre x, centre y, half-height),
for kernels that declare ``view=(...)``. Pure arithmetic in float64 so deep zooms keep precision."""

from __future__ import annotations

from typing import Any

from studio.kernels.params import ParamSpec


def pixel_to_plane(px: float, py: float, width: int, height: int, cx: float, cy: float, scale: float) -> tuple[float, float]:
    """Image pixel coordinates (row 0 at the top, pixel centres at .5) -> plane coordinates,
    matching Grid.pixel_centers."""
    step = 2.0 * scale / height
    return cx + (px - 0.5 - (width - 1) / 2) * step, cy + ((height - 1) / 2 - (py - 0.5)) * step


def _clamped(spec: ParamSpec | None, value: float) -> float:
    if spec is None or spec.low is None or spec.high is None:
        return value
    return min(max(value, spec.low), spec.high)


def zoom_to_region(params: dict[str, Any], view: tuple[str, str, str], specs: list[ParamSpec], width: int, height: int,
                   x0: float, y0: float, x1: float, y1: float) -> dict[str, Any]:
    """New params so that the rectangle (image pixels) fills the view, keeping the aspect ratio."""
    kx, ky, ks = view
    by = {s.name: s for s in specs}
    cx, cy, scale = float(params[kx]), float(params[ky]), float(params[ks])
    ax, ay = pixel_to_plane(x0, y0, width, height, cx, cy, scale)
    bx, by_ = pixel_to_plane(x1, y1, width, height, cx, cy, scale)
    half_h = max(abs(by_ - ay) / 2, abs(bx - ax) / 2 / (width / height))
    return params | {
        kx: _clamped(by.get(kx), (ax + bx) / 2),
        ky: _clamped(by.get(ky), (ay + by_) / 2),
        ks: _clamped(by.get(ks), half_h),
    }


def zoom_at(params: dict[str, Any], view: tuple[str, str, str], specs: list[ParamSpec], width: int, height: int,
            px: float, py: float, factor: float) -> dict[str, Any]:
    """Zoom by ``factor`` (<1 zooms in) keeping the plane point under the cursor in place."""
    kx, ky, ks = view
    by = {s.name: s for s in specs}
    cx, cy, scale = float(params[kx]), float(params[ky]), float(params[ks])
    fx, fy = pixel_to_plane(px, py, width, height, cx, cy, scale)
    new_scale = _clamped(by.get(ks), scale * factor)
    ratio = new_scale / scale
    return params | {
        kx: _clamped(by.get(kx), fx + (cx - fx) * ratio),
        ky: _clamped(by.get(ky), fy + (cy - fy) * ratio),
        ks: new_scale,
    }
