"""The vispy views draw real pixels under Xvfb (read back with canvas.render())."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.kernels.api import Image, Points, Volume

pytestmark = pytest.mark.gui


@pytest.fixture
def kcanvas(qapp):
    from studio.render.kernel_views import KernelCanvas

    canvas = KernelCanvas(size=(400, 300))
    yield canvas
    canvas.close()


def save(pixels: np.ndarray, path) -> None:
    from PIL import Image as PILImage

    PILImage.fromarray(pixels).save(path)


def not_blank(pixels: np.ndarray) -> float:
    return float(pixels[..., :3].astype(np.float32).std())


def test_image_view_renders(kcanvas, shipped_kernels, artifacts):
    from studio.kernels.runtime import run_kernel

    run = run_kernel(shipped_kernels["julia"], {"max_iter": 64}, size=(160, 120))
    kcanvas.show(run.result)
    pixels = kcanvas.render()
    save(pixels, artifacts / "render_image_julia.png")
    assert pixels.shape[2] == 4 and not_blank(pixels) > 20
    # the picture is upright: the top-left image pixel shows at the top of the canvas
    marker = torch.zeros(60, 80, 3)
    marker[:10, :10] = 1.0
    kcanvas.show(Image(marker))
    pixels = kcanvas.render()
    rows = np.where(pixels[..., 0].max(axis=1) > 200)[0]
    assert rows.size and rows.mean() < pixels.shape[0] / 2


def test_points_view_renders_and_colours_by_value(kcanvas, shipped_kernels, artifacts):
    from studio.kernels.runtime import run_kernel

    run = run_kernel(shipped_kernels["lorenz"], {"particles": 16, "steps": 600})
    kcanvas.show(run.result)
    pixels = kcanvas.render()
    save(pixels, artifacts / "render_points_lorenz.png")
    assert not_blank(pixels) > 5
    kcanvas.points.set_colour_by_value(True, "hot")
    kcanvas.points.set_point_size(6)
    kcanvas.points.set_camera("arcball")
    assert not_blank(kcanvas.render()) > 5


def test_mandelbulb_points_render(kcanvas, shipped_kernels, artifacts):
    from studio.kernels.runtime import run_kernel

    run = run_kernel(shipped_kernels["mandelbulb"], {"max_iter": 8}, size=(64,))
    kcanvas.show(run.result)
    pixels = kcanvas.render()
    save(pixels, artifacts / "render_points_mandelbulb.png")
    assert not_blank(pixels) > 5


def test_volume_view_renders(kcanvas, artifacts):
    z, y, x = np.mgrid[-1:1:32j, -1:1:32j, -1:1:32j]
    vol = torch.from_numpy(np.exp(-(x**2 + y**2 + z**2) * 4).astype(np.float32))
    kcanvas.show(Volume(vol))
    pixels = kcanvas.render()
    save(pixels, artifacts / "render_volume.png")
    assert not_blank(pixels) > 5


def test_switching_views_reuses_visuals(kcanvas):
    img = Image(torch.rand(20, 30, 3))
    pts = Points(torch.rand(100, 3))
    kcanvas.show(img)
    first_visual = kcanvas.image.visual
    kcanvas.show(pts)
    kcanvas.show(img)
    assert kcanvas.image.visual is first_visual and kcanvas.active is kcanvas.image
    assert kcanvas.points.visual.parent is None


def test_drag_and_wheel_report_image_regions(kcanvas):
    from types import SimpleNamespace

    kcanvas.show(Image(torch.rand(100, 200, 3)))
    kcanvas.render()
    regions, wheels = [], []
    kcanvas.image.set_region_zoom(lambda *r: regions.append(r), lambda *a: wheels.append(a))
    assert not kcanvas.image.camera.interactive  # gestures change parameters, not the camera
    w, h = kcanvas.canvas.size
    x, y = kcanvas.image.image_coords((w / 2, h / 2))
    assert abs(x - 100) < 3 and abs(y - 50) < 3  # canvas centre = image centre
    top_left = kcanvas.image.image_coords((w / 2 - 50, h / 2 - 20))
    assert top_left[0] < x and top_left[1] < y  # row 0 is at the top
    kcanvas.image._press(SimpleNamespace(pos=(w / 2 - 50, h / 2 - 20), button=1))
    kcanvas.image._move(SimpleNamespace(pos=(w / 2 + 50, h / 2 + 20), is_dragging=True))
    assert kcanvas.image.rect.visible
    kcanvas.image._release(SimpleNamespace(pos=(w / 2 + 50, h / 2 + 20)))
    (x0, y0, x1, y1), = regions
    assert x0 < 100 < x1 and y0 < 50 < y1
    kcanvas.image._wheel(SimpleNamespace(pos=(w / 2, h / 2), delta=(0, 1)))
    assert wheels and wheels[0][2] < 1.0  # wheel up zooms in
    kcanvas.image.set_region_zoom(None, None)
    assert kcanvas.image.camera.interactive
