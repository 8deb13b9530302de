"""vispy adapters for kernel results: one per result type, each owning visuals created once and
updated with set_data. A KernelCanvas holds one SceneCanvas and one ViewBox and swaps the active
adapter's visual and camera in, so switching kernels never rebuilds GL state.

No PySide6 import here: the canvas's ``native`` widget is what the Qt page embeds."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from vispy import scene
from vispy.color import get_colormap

from studio.core.gl_safety import load_before_opengl
from studio.kernels.api import Image, Points, Result, Volume

BACKGROUND = "#16181d"
COLORMAPS = ("viridis", "hot", "ice", "cool", "autumn", "winter", "grays")
CAMERAS = ("turntable", "arcball", "fly")


def normalise(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float32).reshape(-1)
    if values.size == 0:
        return values
    lo, hi = np.percentile(values, [1, 99]) if values.size > 100 else (values.min(), values.max())
    return np.clip((values - lo) / (hi - lo + 1e-12), 0.0, 1.0)


class ImageView:
    """An image with pan/zoom, or, for kernels with view parameters, drag-a-rectangle / wheel
    gestures reported back as regions (the page turns them into new centre/scale values)."""

    def __init__(self) -> None:
        self.visual = scene.visuals.Image(np.zeros((2, 2, 3), np.uint8), interpolation="nearest", method="auto")
        self.camera = scene.PanZoomCamera(aspect=1)
        self.camera.flip = (False, True, False)  # row 0 at the top, like every picture
        self.rect = scene.visuals.Rectangle(center=(0, 0), width=1, height=1, color=(1, 1, 1, 0.15),
                                            border_color=(1, 1, 1, 0.9))
        self.rect.visible = False
        self.shape: tuple[int, int] | None = None
        self.on_region: Callable[[float, float, float, float], None] | None = None
        self.on_wheel: Callable[[float, float, float], None] | None = None
        self._drag_start: tuple[float, float] | None = None
        self._canvas = None

    # --- data
    def set_data(self, result: Image) -> None:
        rgb = result.to_uint8().numpy()
        self.visual.set_data(rgb)
        shape = rgb.shape[:2]
        if shape != self.shape:
            self.shape = shape
            self.reset_view()
        self.visual.update()

    def reset_view(self) -> None:
        if self.shape:
            h, w = self.shape
            self.camera.set_range(x=(0, w), y=(0, h), margin=0.02)

    # --- region zoom (fractals)
    def set_region_zoom(self, on_region, on_wheel) -> None:
        """Enable (callbacks) or disable (None) gesture zoom that changes kernel parameters."""
        self.on_region, self.on_wheel = on_region, on_wheel
        self.camera.interactive = on_region is None

    def image_coords(self, canvas_pos) -> tuple[float, float]:
        tr = self._canvas.scene.node_transform(self.visual)
        x, y = tr.map(canvas_pos)[:2]
        return float(x), float(y)

    def _press(self, event) -> None:
        if self.on_region is None or event.button != 1:
            return
        self._drag_start = self.image_coords(event.pos)

    def _move(self, event) -> None:
        if self._drag_start is None or not event.is_dragging:
            return
        x0, y0 = self._drag_start
        x1, y1 = self.image_coords(event.pos)
        if abs(x1 - x0) > 1 and abs(y1 - y0) > 1:
            self.rect.center = ((x0 + x1) / 2, (y0 + y1) / 2)
            self.rect.width, self.rect.height = abs(x1 - x0), abs(y1 - y0)
            self.rect.visible = True

    def _release(self, event) -> None:
        if self._drag_start is None:
            return
        x0, y0 = self._drag_start
        x1, y1 = self.image_coords(event.pos)
        self._drag_start = None
        self.rect.visible = False
        if self.on_region is not None and abs(x1 - x0) > 3 and abs(y1 - y0) > 3:
            self.on_region(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

    def _wheel(self, event) -> None:
        if self.on_wheel is None:
            return
        x, y = self.image_coords(event.pos)
        factor = 0.8 ** float(event.delta[1])  # wheel up: zoom in
        self.on_wheel(x, y, factor)

    def attach(self, view, canvas) -> None:
        self._canvas = canvas
        self.visual.parent = view.scene
        self.rect.parent = view.scene
        self.rect.order = -1  # drawn over the image
        view.camera = self.camera
        canvas.events.mouse_press.connect(self._press)
        canvas.events.mouse_move.connect(self._move)
        canvas.events.mouse_release.connect(self._release)
        canvas.events.mouse_wheel.connect(self._wheel)

    def detach(self, canvas) -> None:
        self.visual.parent = None
        self.rect.parent = None
        for name, cb in (("mouse_press", self._press), ("mouse_move", self._move),
                         ("mouse_release", self._release), ("mouse_wheel", self._wheel)):
            getattr(canvas.events, name).disconnect(cb)


class PointsView:
    """A point cloud with a turntable/arcball camera, point size and colour-by-value."""

    def __init__(self) -> None:
        self.visual = scene.visuals.Markers(pos=np.zeros((1, 3), np.float32), size=0.0)  # empty Markers has no bounds
        self.visual.set_gl_state("translucent", depth_test=True)
        self.cameras = {
            "turntable": scene.TurntableCamera(fov=45, elevation=25, azimuth=35),
            "arcball": scene.ArcballCamera(fov=45),
            "fly": scene.FlyCamera(fov=60),
        }
        self.camera_name = "turntable"
        self.point_size = 3.0
        self.colour_by_value = False
        self.colormap = "viridis"
        self._result: Points | None = None
        self._extent: tuple[np.ndarray, float] | None = None
        self._view = None

    @property
    def camera(self):
        return self.cameras[self.camera_name]

    def set_data(self, result: Points) -> None:
        self._result = result
        pos = result.positions.detach().float().cpu().numpy()
        first = self._extent is None
        if len(pos):
            lo, hi = pos.min(axis=0), pos.max(axis=0)
            extent = ((lo + hi) / 2, float(np.max(hi - lo)) or 1.0)
            if first or abs(extent[1] - self._extent[1]) > 0.5 * self._extent[1]:
                self._extent = extent
                self.reset_view()
        self._refresh(pos)

    def colours(self) -> np.ndarray:
        r = self._result
        n = r.positions.shape[0]
        if self.colour_by_value or r.colours is None:
            if r.values is not None:
                values = r.values.detach().float().cpu().numpy()
            else:  # no values: colour by height so depth still reads
                values = r.positions[:, 2].detach().float().cpu().numpy()
            return np.asarray(get_colormap(self.colormap).map(normalise(values)[:, None]), np.float32).reshape(n, 4)
        c = r.colours.detach().float().cpu().numpy()
        if c.shape[1] == 3:
            c = np.concatenate([c, np.ones((n, 1), np.float32)], axis=1)
        return np.clip(c, 0, 1)

    def _refresh(self, pos: np.ndarray | None = None) -> None:
        if self._result is None:
            return
        if pos is None:
            pos = self._result.positions.detach().float().cpu().numpy()
        hint = self._result.point_size
        # a kernel that knows its spacing (voxels) gets solid, lit spheres sized in scene units;
        # otherwise fixed-size dots in pixels. The point-size control scales either (3 = as given).
        scene_units = hint is not None
        self.visual.scaling = "scene" if scene_units else "fixed"
        self.visual.spherical = scene_units
        size = hint * self.point_size / 3.0 if scene_units else self.point_size
        self.visual.set_data(pos, face_color=self.colours(), size=size, edge_width=0)

    def set_point_size(self, size: float) -> None:
        self.point_size = float(size)
        self._refresh()

    def set_colour_by_value(self, on: bool, colormap: str | None = None) -> None:
        self.colour_by_value = bool(on)
        if colormap:
            self.colormap = colormap
        self._refresh()

    def set_camera(self, name: str) -> None:
        self.camera_name = name
        if self._view is not None:
            self._view.camera = self.camera
            self.reset_view()

    def reset_view(self) -> None:
        if self._extent is None:
            return
        center, size = self._extent
        cam = self.camera
        cam.center = tuple(float(c) for c in center)
        if hasattr(cam, "scale_factor"):
            cam.scale_factor = size * 1.6
        if isinstance(cam, scene.FlyCamera):
            cam.set_range()

    def attach(self, view, canvas) -> None:
        self._view = view
        self.visual.parent = view.scene
        view.camera = self.camera
        self.reset_view()

    def detach(self, canvas) -> None:
        self.visual.parent = None


class VolumeView:
    """A scalar volume, maximum-intensity or translucent rendering through a colour map."""

    def __init__(self) -> None:
        self.visual = scene.visuals.Volume(np.zeros((2, 2, 2), np.float32), method="mip", cmap="hot")
        self.camera = scene.TurntableCamera(fov=45, elevation=25, azimuth=35)
        self.shape: tuple[int, ...] | None = None

    def set_data(self, result: Volume) -> None:
        vol = result.data.detach().float().cpu().numpy()
        lo, hi = float(vol.min()), float(vol.max())
        self.visual.set_data(vol, clim=(lo, hi if hi > lo else lo + 1.0))
        if vol.shape != self.shape:
            self.shape = vol.shape
            self.reset_view()

    def set_method(self, method: str) -> None:
        self.visual.method = method

    def set_colormap(self, name: str) -> None:
        self.visual.cmap = name

    def reset_view(self) -> None:
        if self.shape:
            d, h, w = self.shape
            self.camera.center = (w / 2, h / 2, d / 2)
            self.camera.scale_factor = max(self.shape) * 1.8

    def attach(self, view, canvas) -> None:
        self.visual.parent = view.scene
        view.camera = self.camera
        self.reset_view()

    def detach(self, canvas) -> None:
        self.visual.parent = None


class KernelCanvas:
    """One SceneCanvas + ViewBox; ``show(result)`` puts it in the matching adapter."""

    def __init__(self, size: tuple[int, int] = (800, 600), parent=None) -> None:
        load_before_opengl()  # triton's LLVM must load before Mesa's: see studio.core.gl_safety
        self.canvas = scene.SceneCanvas(keys=None, size=size, bgcolor=BACKGROUND, show=False, parent=parent)
        self.view = self.canvas.central_widget.add_view()
        self.image = ImageView()
        self.points = PointsView()
        self.volume = VolumeView()
        self.active = None

    @property
    def native(self):
        return self.canvas.native

    def adapter_for(self, kind: str):
        return {"image": self.image, "points": self.points, "volume": self.volume}[kind]

    def show(self, result: Result) -> None:
        adapter = self.adapter_for(result.kind)
        if adapter is not self.active:
            if self.active is not None:
                self.active.detach(self.canvas)
            adapter.attach(self.view, self.canvas)
            self.active = adapter
        adapter.set_data(result)  # type: ignore[arg-type]
        self.canvas.update()

    def reset_view(self) -> None:
        if self.active is not None:
            self.active.reset_view()
            self.canvas.update()

    def render(self) -> np.ndarray:
        """Draw now and read the pixels back (H x W x 4 uint8): for screenshots and tests."""
        return self.canvas.render()

    def close(self) -> None:
        self.canvas.close()
