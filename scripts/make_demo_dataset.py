"""Make resources/demo/shapes.zip: coloured circles, squares and triangles (64x64 PNG, 3 classes).

Deterministic (fixed seed, fixed zip timestamps), so re-running it gives the same bytes.
Usage:  .venv/bin/python scripts/make_demo_dataset.py [--per-class 60] [-o resources/demo/shapes.zip]
"""

from __future__ import annotations

import argparse
import colorsys
import io
import math
import random
import zipfile
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
SIZE = 64
CLASSES = ("circle", "square", "triangle")
ZIP_TIME = (2024, 1, 1, 0, 0, 0)


def _colour(rng: random.Random, lightness: tuple[float, float]) -> tuple[int, int, int]:
    r, g, b = colorsys.hls_to_rgb(rng.random(), rng.uniform(*lightness), rng.uniform(0.45, 0.95))
    return int(r * 255), int(g * 255), int(b * 255)


def _background(rng: random.Random, dark: bool) -> Image.Image:
    """Solid, or a vertical two-colour gradient: variety the network must learn to ignore."""
    band = (0.08, 0.35) if dark else (0.65, 0.92)
    top, bottom = _colour(rng, band), _colour(rng, band)
    if rng.random() < 0.4:
        return Image.new("RGB", (SIZE, SIZE), top)
    grad = Image.linear_gradient("L").resize((SIZE, SIZE))
    return Image.composite(Image.new("RGB", (SIZE, SIZE), bottom), Image.new("RGB", (SIZE, SIZE), top), grad)


def draw_shape(rng: random.Random, shape: str) -> Image.Image:
    dark = rng.random() < 0.5
    img = _background(rng, dark)
    draw = ImageDraw.Draw(img)
    fill = _colour(rng, (0.55, 0.8) if dark else (0.2, 0.45))  # contrast with the background
    r = rng.uniform(13, 24)  # "radius": big enough that the outline, not the noise, dominates
    cx = rng.uniform(r + 2, SIZE - r - 2)
    cy = rng.uniform(r + 2, SIZE - r - 2)
    if shape == "circle":
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
    elif shape == "square":
        angle = math.pi / 4 + rng.uniform(-0.2, 0.2)  # roughly axis-aligned: a square, not a diamond
        corners = [(cx + r * math.cos(angle + k * math.pi / 2), cy + r * math.sin(angle + k * math.pi / 2)) for k in range(4)]
        draw.polygon(corners, fill=fill)
    else:
        angle = -math.pi / 2 + rng.uniform(-0.3, 0.3)  # roughly pointing up
        corners = [(cx + r * math.cos(angle + k * 2 * math.pi / 3), cy + r * math.sin(angle + k * 2 * math.pi / 3)) for k in range(3)]
        draw.polygon(corners, fill=fill)
    return img.filter(ImageFilter.SMOOTH)  # soft edges, like a photo of a drawing


def make_zip(out: Path, per_class: int, seed: int = 0) -> int:
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
    parser.add_argument("--per-class", type=int, default=60)
    parser.add_argument("-o", "--output", type=Path, default=ROOT / "resources" / "demo" / "shapes.zip")
    args = parser.parse_args()
    size = make_zip(args.output, args.per_class)
    print(f"wrote {args.output} ({size / 1024:.0f} KiB, {args.per_class * len(CLASSES)} images)")


if __name__ == "__main__":
    main()
