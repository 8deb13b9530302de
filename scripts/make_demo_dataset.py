"""Make resources/demo/shapes.zip: coloured circles, squares and triangles (64x64 PNG, 3 classes).

Made to be "ready to train": a small CNN from scratch learns it in a few dozen steps, so the
app's default settings give a convincing model. Shapes are large (40-78 % of the image width),
are vivid on a pale background (always darker than it: with one contrast polarity to learn, a
small CNN needs far fewer steps), and are only mildly rotated; colours, size, position and
background vary independently of the class, so colour alone predicts nothing.

Deterministic (fixed seed, fixed zip timestamps), so re-running it gives the same bytes.
Usage:  .venv/bin/python scripts/make_demo_dataset.py [--per-class 150] [-o resources/demo/shapes.zip]
"""

from __future__ import annotations

import argparse
import colorsys
import io
import math
import random
import zipfile
from pathlib import Path

from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
SIZE = 64
SUPERSAMPLE = 4  # draw large, then shrink: smooth anti-aliased edges
CLASSES = ("circle", "square", "triangle")
PER_CLASS = 150
ZIP_TIME = (2024, 1, 1, 0, 0, 0)
MIN_LUMA_GAP = 0.35  # shape vs background, relative luminance (0..1)
# width as a fraction of the image, per class: chosen so the shapes cover similar areas (a
# square fills its width squared, a triangle under half of it), so the amount of shape colour
# in an image says little about the class
EXTENT = {"circle": (0.45, 0.70), "square": (0.40, 0.62), "triangle": (0.52, 0.78)}


def _luma(rgb: tuple[int, int, int]) -> float:
    r, g, b = (c / 255 for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _colour(rng: random.Random, lightness: tuple[float, float], saturation: tuple[float, float]) -> tuple[int, int, int]:
    r, g, b = colorsys.hls_to_rgb(rng.random(), rng.uniform(*lightness), rng.uniform(*saturation))
    return round(r * 255), round(g * 255), round(b * 255)


def _colours(rng: random.Random) -> tuple[tuple[int, int, int], tuple[int, int, int], tuple[int, int, int]]:
    """(background top, background bottom, shape fill): a pale background, solid or a gentle
    gradient, and a vivid darker shape; redrawn until the shape's luminance stands clearly apart
    from both ends of the background."""
    while True:
        top = _colour(rng, (0.82, 0.94), (0.3, 0.8))
        fill = _colour(rng, (0.28, 0.45), (0.6, 0.95))
        shift = rng.uniform(-0.08, 0.08) if rng.random() < 0.5 else 0.0  # same hue, a bit lighter/darker
        bottom = tuple(min(255, max(0, round(c + 255 * shift))) for c in top)
        if min(abs(_luma(fill) - _luma(top)), abs(_luma(fill) - _luma(bottom))) >= MIN_LUMA_GAP:
            return top, bottom, fill


def _background(size: int, top: tuple[int, int, int], bottom: tuple[int, int, int]) -> Image.Image:
    if top == bottom:
        return Image.new("RGB", (size, size), top)
    grad = Image.linear_gradient("L").resize((size, size))
    return Image.composite(Image.new("RGB", (size, size), bottom), Image.new("RGB", (size, size), top), grad)


def _polygon(cx: float, cy: float, radii: list[float], angle: float) -> list[tuple[float, float]]:
    """Vertices at equal angular steps from `angle`, at the given distances from the centre."""
    step = 2 * math.pi / len(radii)
    return [(cx + r * math.cos(angle + k * step), cy + r * math.sin(angle + k * step)) for k, r in enumerate(radii)]


def shape_outline(shape: str, cx: float, cy: float, extent: float, tilt: float) -> list[tuple[float, float]] | None:
    """Vertices of a shape whose width is about `extent`, rotated by `tilt` radians (None: circle)."""
    if shape == "circle":
        return None
    if shape == "square":
        return _polygon(cx, cy, [extent / math.sqrt(2)] * 4, math.pi / 4 + tilt)
    if shape == "triangle":  # pointing up; its centroid sits a bit low, so lift it to look centred
        r = extent / math.sqrt(3)
        return _polygon(cx, cy + r / 4, [r] * 3, -math.pi / 2 + tilt)
    raise ValueError(f"unknown shape {shape!r}")


def draw_shape(rng: random.Random, shape: str) -> Image.Image:
    top, bottom, fill = _colours(rng)
    big = SIZE * SUPERSAMPLE
    img = _background(big, top, bottom)
    extent = rng.uniform(*EXTENT[shape]) * big
    margin = 0.06 * big + extent / 2
    cx, cy = rng.uniform(margin, big - margin), rng.uniform(margin, big - margin)
    tilt = math.radians(rng.uniform(-12, 12))  # mild: a square stays a square, not a diamond
    draw = ImageDraw.Draw(img)
    outline = shape_outline(shape, cx, cy, extent, tilt)
    if outline is None:
        r = extent / 2
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    else:
        draw.polygon(outline, fill=fill)
    return img.reduce(SUPERSAMPLE)  # box filter: anti-aliased edges without ringing halos


def make_zip(out: Path, per_class: int = PER_CLASS, seed: int = 0) -> int:
    rng = random.Random(seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:  # PNG is compressed already
        for shape in CLASSES:
            for i in range(per_class):
                buf = io.BytesIO()
                draw_shape(rng, shape).save(buf, "PNG", optimize=True)
                info = zipfile.ZipInfo(f"shapes/{shape}/{shape}_{i:03d}.png", date_time=ZIP_TIME)
                zf.writestr(info, buf.getvalue())
    return out.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-class", type=int, default=PER_CLASS)
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "resources" / "demo" / "shapes.zip")
    args = parser.parse_args()
    size = make_zip(args.output, args.per_class)
    print(f"wrote {args.output} ({size / 1024:.0f} KiB, {args.per_class * len(CLASSES)} images)")


if __name__ == "__main__":
    main()
