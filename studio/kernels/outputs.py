"""Save a kernel's result: images as PNG, anything as .npy, point clouds as ASCII/binary PLY."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from studio.core.errors import InvalidInputError
from studio.kernels.api import Image, Points, Result, Volume

SUFFIXES = (".png", ".npy", ".ply")


def save_result(result: Result, path: str | Path) -> Path:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InvalidInputError(f"cannot save as {suffix or 'no suffix'}: use .png, .npy or .ply")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".png":
        _save_png(result, path)
    elif suffix == ".npy":
        np.save(path, result_array(result))
    else:
        if not isinstance(result, Points):
            raise InvalidInputError(f"a .ply file holds points; this kernel makes an {result.kind}")
        save_ply(result, path)
    return path


def result_array(result: Result) -> np.ndarray:
    if isinstance(result, Image):
        return result.data.detach().cpu().numpy()
    if isinstance(result, Volume):
        return result.data.detach().cpu().numpy()
    if isinstance(result, Points):
        cols = [result.positions.detach().float().cpu().numpy()]
        if result.colours is not None:
            cols.append(result.colours.detach().float().cpu().numpy())
        if result.values is not None:
            cols.append(result.values.detach().float().cpu().reshape(-1, 1).numpy())
        return np.concatenate(cols, axis=1)
    raise InvalidInputError(f"unknown result type {type(result).__name__}")


def _save_png(result: Result, path: Path) -> None:
    from PIL import Image as PILImage

    if isinstance(result, Image):
        PILImage.fromarray(result.to_uint8().numpy()).save(path)
    elif isinstance(result, Volume):  # maximum-intensity projection along depth
        mip = result.data.detach().float().amax(dim=0).cpu().numpy()
        lo, hi = float(mip.min()), float(mip.max())
        grey = ((mip - lo) / (hi - lo + 1e-12) * 255).astype(np.uint8)
        PILImage.fromarray(grey).save(path)
    else:
        raise InvalidInputError("a point cloud cannot be saved as .png; use .ply or .npy")


def point_colours_uint8(points: Points) -> np.ndarray | None:
    if points.colours is None:
        return None
    c = points.colours.detach().float().cpu().numpy()[:, :3]
    return (np.clip(c, 0, 1) * 255 + 0.5).astype(np.uint8)


def save_ply(points: Points, path: Path) -> None:
    """Binary little-endian PLY: x y z float, optional red green blue uchar, optional value float."""
    xyz = points.positions.detach().float().cpu().numpy().astype("<f4")
    n = xyz.shape[0]
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    rgb = point_colours_uint8(points)
    if rgb is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    if points.values is not None:
        fields += [("value", "<f4")]
    rows = np.empty(n, dtype=fields)
    rows["x"], rows["y"], rows["z"] = xyz[:, 0], xyz[:, 1], xyz[:, 2]
    if rgb is not None:
        rows["red"], rows["green"], rows["blue"] = rgb[:, 0], rgb[:, 1], rgb[:, 2]
    if points.values is not None:
        rows["value"] = points.values.detach().float().cpu().reshape(-1).numpy()
    ply_types = {"<f4": "float", "u1": "uchar"}
    header = ["ply", "format binary_little_endian 1.0", f"element vertex {n}"]
    header += [f"property {ply_types[t]} {name}" for name, t in fields]
    header.append("end_header")
    with open(path, "wb") as fh:
        fh.write(("\n".join(header) + "\n").encode("ascii"))
        fh.write(rows.tobytes())


def load_ply(path: str | Path) -> dict[str, np.ndarray]:
    """Read back what save_ply writes (for tests and for re-import)."""
    data = Path(path).read_bytes()
    end = data.index(b"end_header\n") + len(b"end_header\n")
    lines = data[:end].decode("ascii").splitlines()
    if lines[0] != "ply" or "binary_little_endian" not in lines[1]:
        raise InvalidInputError(f"{Path(path).name} is not a binary little-endian PLY file")
    n = 0
    fields = []
    for line in lines:
        parts = line.split()
        if parts[:2] == ["element", "vertex"]:
            n = int(parts[2])
        elif parts[:1] == ["property"]:
            fields.append((parts[2], {"float": "<f4", "uchar": "u1"}[parts[1]]))
    rows = np.frombuffer(data[end:], dtype=fields, count=n)
    return {name: rows[name] for name, _ in fields}
