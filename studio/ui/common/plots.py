"""pyqtgraph plots that stay smooth with 100,000+ points arriving live.

The rules (pyqtgraph's own advice): each curve item is created ONCE; new points go into growable
numpy buffers (amortised O(1) append, no Python lists); the items get ``setData`` from a 40 ms
QTimer and only when something changed - never once per incoming message; each item draws with
``clipToView`` (only the visible x range) and automatic peak downsampling (at most ~2 points per
pixel column, min/max preserved so spikes stay visible).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QWidget

REDRAW_INTERVAL_MS = 40  # 25 redraws a second at most: smooth to the eye, cheap for the CPU

# colour-blind safe (Okabe-Ito) palette: curves stay distinguishable for every user
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000")


class SeriesBuffer:
    """x/y float64 arrays that grow by doubling; ``x``/``y`` are views of the filled part."""

    def __init__(self, capacity: int = 1024) -> None:
        self._x = np.empty(capacity, dtype=np.float64)
        self._y = np.empty(capacity, dtype=np.float64)
        self.size = 0
        self.y_min = np.inf  # running min/max of finite y values: the view's range without a scan
        self.y_max = -np.inf

    def __len__(self) -> int:
        return self.size

    def _reserve(self, needed: int) -> None:
        if needed <= len(self._x):
            return
        capacity = max(needed, 2 * len(self._x))
        for name in ("_x", "_y"):
            old = getattr(self, name)
            new = np.empty(capacity, dtype=np.float64)
            new[: self.size] = old[: self.size]
            setattr(self, name, new)

    def append(self, xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray) -> None:
        xs = np.asarray(xs, dtype=np.float64).ravel()
        ys = np.asarray(ys, dtype=np.float64).ravel()
        if xs.shape != ys.shape:
            raise ValueError(f"x and y differ in length ({len(xs)} != {len(ys)})")
        end = self.size + len(xs)
        self._reserve(end)
        self._x[self.size:end] = xs
        self._y[self.size:end] = ys
        self.size = end
        finite = ys[np.isfinite(ys)]
        if len(finite):
            self.y_min = min(self.y_min, float(finite.min()))
            self.y_max = max(self.y_max, float(finite.max()))

    def set(self, xs: Sequence[float] | np.ndarray, ys: Sequence[float] | np.ndarray) -> None:
        self.clear()
        self.append(xs, ys)

    def clear(self) -> None:
        self.size = 0
        self.y_min = np.inf
        self.y_max = -np.inf

    def truncate_from(self, x: float) -> None:
        """Drop the points at ``x`` and after (x ascending): a resumed run logs them again."""
        keep = int(np.searchsorted(self._x[: self.size], x, side="left"))
        if keep < self.size:
            self.size = keep
            finite = self._y[:keep][np.isfinite(self._y[:keep])]
            self.y_min = float(finite.min()) if len(finite) else np.inf
            self.y_max = float(finite.max()) if len(finite) else -np.inf

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.size]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.size]

    def last(self) -> tuple[float, float] | None:
        if not self.size:
            return None
        return float(self._x[self.size - 1]), float(self._y[self.size - 1])


@dataclass
class _Series:
    item: pg.PlotDataItem
    buffer: SeriesBuffer
    dirty: bool = False


class LivePlot(pg.PlotWidget):
    """A plot with named live series. ``append`` is cheap; drawing happens on a timer."""

    def __init__(self, title: str = "", x_label: str = "", y_label: str = "",
                 parent: QWidget | None = None,
                 fixed_y: tuple[float, float] | None = None) -> None:
        super().__init__(parent=parent, background="w")
        self._series: dict[str, _Series] = {}
        plot = self.getPlotItem()
        if title:
            plot.setTitle(title, color="#333", size="10pt")
        if x_label:
            plot.setLabel("bottom", x_label)
        if y_label:
            plot.setLabel("left", y_label)
        # no showGrid: an axis drawing the grid spans the whole view, so every curve update
        # would repaint (and re-lay-out the text of) both axes
        plot.showGrid(x=False, y=False)
        plot.setDownsampling(auto=True, mode="peak")
        plot.setClipToView(True)
        self._legend = plot.addLegend(offset=(-10, 10), labelTextSize="8pt")
        self.setMinimumHeight(140)
        # The view follows the data itself instead of pyqtgraph's per-frame auto range: each range
        # change regenerates and repaints the axes (tick text is the costliest thing drawn), so
        # it should happen a handful of times per run, not 25 times a second. x grows in 1-2-5
        # steps, y only when data leaves it (or fills < 40% of it). A manual pan/zoom stops the
        # following; the plot's "A" (auto range) button turns it back on.
        self._fixed_y = fixed_y
        self._follow = True
        self._x_upper: float | None = None
        self._x_extent: float | None = None  # the run's last x when known (steps or epochs)
        self._y_range: tuple[float, float] | None = None
        view = plot.getViewBox()
        view.disableAutoRange()
        if fixed_y is not None:
            view.setYRange(*fixed_y, padding=0.02)
        for axis in ("left", "bottom"):
            plot.getAxis(axis).enableAutoSIPrefix(False)  # else every range change relabels
        view.sigRangeChangedManually.connect(self._stop_following)
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_INTERVAL_MS)
        self._timer.timeout.connect(self.flush)
        self._timer.start()

    # ---- series ----------------------------------------------------------------------------
    def add_series(self, key: str, name: str, colour: str, *, width: float = 1.0,
                   symbol: str | None = None, alpha: int = 255, dashed: bool = False) -> None:
        """Create the curve item for ``key`` (once). Keep ``width`` 1 for curves with many points:
        wider pens rasterise several times slower."""
        if key in self._series:
            return
        qcolour = pg.mkColor(colour)
        qcolour.setAlpha(alpha)
        pen = pg.mkPen(qcolour, width=width)
        if dashed:
            from PySide6.QtCore import Qt

            pen.setStyle(Qt.PenStyle.DashLine)
        kwargs: dict = {"pen": pen, "name": name, "skipFiniteCheck": False}
        if symbol:
            kwargs.update(symbol=symbol, symbolSize=6, symbolBrush=qcolour, symbolPen=None)
        item = pg.PlotDataItem(**kwargs)
        # explicit on the item too, in case it was created before the plot's defaults applied
        item.setDownsampling(auto=True, method="peak")
        item.setClipToView(True)
        self.getPlotItem().addItem(item)
        self._series[key] = _Series(item, SeriesBuffer())

    def series_keys(self) -> list[str]:
        return list(self._series)

    def remove_series(self, key: str) -> None:
        series = self._series.pop(key, None)
        if series is not None:
            self.getPlotItem().removeItem(series.item)
            self._legend.removeItem(series.item)

    def append(self, key: str, xs: Iterable[float], ys: Iterable[float]) -> None:
        series = self._series[key]
        series.buffer.append(_as_array(xs), _as_array(ys))
        series.dirty = True

    def set_series(self, key: str, xs: Iterable[float], ys: Iterable[float]) -> None:
        series = self._series[key]
        series.buffer.set(_as_array(xs), _as_array(ys))
        series.dirty = True

    def truncate_from(self, x: float) -> None:
        """Drop every series' points at ``x`` and after (a resumed run replays them)."""
        for series in self._series.values():
            before = len(series.buffer)
            series.buffer.truncate_from(x)
            series.dirty |= len(series.buffer) != before

    def point_count(self, key: str) -> int:
        return len(self._series[key].buffer)

    def data(self, key: str) -> tuple[np.ndarray, np.ndarray]:
        buf = self._series[key].buffer
        return buf.x, buf.y

    def clear_data(self) -> None:
        for series in self._series.values():
            series.buffer.clear()
            series.dirty = True
        self._x_upper = None
        self._x_extent = None
        self._y_range = None
        self._follow = True

    def set_x_extent(self, last_x: float | None) -> None:
        """Where the data will end (a run's last step or epoch), when known: the x axis then spans
        exactly the run instead of growing in 1-2-5 steps past the data."""
        extent = float(last_x) if last_x and last_x > 0 else None
        if extent != self._x_extent:
            self._x_extent = extent
            self._x_upper = None  # re-lay the axis on the next flush
            for series in self._series.values():
                series.dirty = True

    # ---- drawing ---------------------------------------------------------------------------
    def flush(self) -> None:
        """Hand changed buffers to their items (the timer calls this; tests may too)."""
        changed = False
        for series in self._series.values():
            if series.dirty:
                series.dirty = False
                changed = True
                buf = series.buffer
                # views, not copies: pyqtgraph keeps them; later appends write past ``size`` only
                series.item.setData(buf.x, buf.y)
        if changed:
            self._follow_data()

    def _stop_following(self, *_args) -> None:
        self._follow = False

    def stop_updates(self) -> None:
        """Stop the redraw timer (a closing view; benches that drive frames themselves)."""
        self._timer.stop()

    def _follow_data(self) -> None:
        view = self.getPlotItem().getViewBox()
        if any(view.autoRangeEnabled()):  # the user pressed "A": follow again, our way
            view.disableAutoRange()
            self._follow = True
            self._x_upper = None
            self._y_range = None
        if not self._follow:
            return
        filled = [s.buffer for s in self._series.values() if len(s.buffer)]
        if not filled:
            return
        lo = min(float(b.x[0]) for b in filled)
        hi = max(float(b.x[-1]) for b in filled)
        if self._x_extent is not None and hi <= self._x_extent:
            if self._x_upper != self._x_extent:
                self._x_upper = self._x_extent
                view.setXRange(min(lo, 0.0), self._x_upper, padding=0.02)
        elif self._x_upper is None or hi * 1.05 > self._x_upper:  # keep a margin at the right edge
            self._x_upper = nice_ceiling(max(hi * 1.1, lo + 1))
            view.setXRange(min(lo, 0.0), self._x_upper, padding=0.01)
        if self._fixed_y is None:
            self._follow_data_y(view, filled)

    def _follow_data_y(self, view, filled: list[SeriesBuffer]) -> None:
        lows = [b.y_min for b in filled if np.isfinite(b.y_min)]
        highs = [b.y_max for b in filled if np.isfinite(b.y_max)]
        if not lows:
            return
        lo, hi = min(lows), max(highs)
        current = self._y_range
        if current is not None and current[0] <= lo and hi <= current[1]:
            if hi - lo >= 0.4 * (current[1] - current[0]):
                return
        span = (hi - lo) or abs(hi) or 1.0
        bottom = lo - 0.15 * span
        if lo >= 0 and bottom < 0:
            bottom = 0.0  # losses, rates and accuracies are never negative: start the axis at 0
        self._y_range = (bottom, hi + 0.15 * span)
        view.setYRange(*self._y_range, padding=0)


def nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 x 10^k that is >= value (axis limits that change rarely)."""
    if value <= 0:
        return 1.0
    exponent = np.floor(np.log10(value))
    for mantissa in (1.0, 2.0, 5.0, 10.0):
        candidate = mantissa * 10.0 ** exponent
        if candidate >= value * (1 - 1e-12):
            return float(candidate)
    return float(10.0 ** (exponent + 1))


def _as_array(values: Iterable[float]) -> np.ndarray:
    if not isinstance(values, (np.ndarray, list, tuple)):
        values = list(values)
    return np.asarray(values, dtype=np.float64)


def ema(values: np.ndarray, alpha: float | np.ndarray, start: float | None = None) -> tuple[np.ndarray, float]:
    """Exponential moving average of ``values`` continuing from ``start``; returns (ema, last).

    ``alpha`` is the weight of each new value: one number, or one per value (uneven spacing)."""
    alphas = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (len(values),))
    out = np.empty(len(values), dtype=np.float64)
    acc = start
    for i, value in enumerate(values):
        acc = float(value) if acc is None or not np.isfinite(acc) else acc + alphas[i] * (float(value) - acc)
        out[i] = acc
    return out, (acc if acc is not None else float("nan"))
