from __future__ import annotations

import pytest

from studio.kernels.view import pixel_to_plane, zoom_at, zoom_to_region


def test_region_zoom_centres_and_scales(shipped):
    spec = shipped["mandelbrot"]
    params = spec.default_params() | {"center_x": 0.0, "center_y": 0.0, "scale": 1.0}
    # the right half of a 200x100 image, full height: centre moves right by half the width
    new = zoom_to_region(params, spec.meta.view, spec.params, 200, 100, 100, 0, 200, 100)
    assert new["center_x"] == pytest.approx(1.0)
    assert new["center_y"] == pytest.approx(0.0)
    assert new["scale"] == pytest.approx(1.0)  # width 2.0 at aspect 2 needs half-height 0.5, height needs 1
    small = zoom_to_region(params, spec.meta.view, spec.params, 200, 100, 90, 40, 110, 60)
    assert small["scale"] == pytest.approx(0.2) and small["center_x"] == pytest.approx(0.0)


def test_wheel_zoom_keeps_the_point_under_the_cursor(shipped):
    spec = shipped["mandelbrot"]
    params = spec.default_params()
    before = pixel_to_plane(30, 70, 160, 120, params["center_x"], params["center_y"], params["scale"])
    new = zoom_at(params, spec.meta.view, spec.params, 160, 120, 30, 70, 0.5)
    after = pixel_to_plane(30, 70, 160, 120, new["center_x"], new["center_y"], new["scale"])
    assert new["scale"] == pytest.approx(params["scale"] * 0.5)
    assert after == pytest.approx(before)


def test_zoom_stays_within_parameter_ranges(shipped):
    spec = shipped["mandelbrot"]
    params = spec.default_params() | {"scale": 2e-12}
    new = zoom_at(params, spec.meta.view, spec.params, 100, 100, 50, 50, 0.1)
    assert new["scale"] == spec.param("scale").low
