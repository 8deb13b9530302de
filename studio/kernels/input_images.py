"""Input pictures for image kernels: files, dataset samples (through the store) and the small
pictures bundled in resources/images. All become float tensors H x W x 3 in [0, 1]."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from studio.core.errors import InvalidInputError, NotFoundError, StudioError
from studio.core.paths import resources_dir
from studio.store.images import IMAGE_SUFFIXES, open_upright


def bundled_images_dir() -> Path:
    return resources_dir() / "images"


def bundled_images() -> list[Path]:
    folder = bundled_images_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)


def bundled_image(name: str) -> Path:
    path = bundled_images_dir() / name
    if not path.is_file():
        raise NotFoundError(f"no bundled picture {name!r} in {bundled_images_dir()}")
    return path


def load_image(path: str | Path) -> torch.Tensor:
    """A picture file -> float32 tensor H x W x 3 in [0, 1] (alpha dropped, grey expanded)."""
    from PIL import UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"image file not found: {path}")
    try:
        img = open_upright(path)  # EXIF-upright, alpha flattened, clear errors
        rgb = np.asarray(img.convert("RGB"), dtype=np.uint8)
    except StudioError as exc:  # the store's reason ("not an image file (text?)"), with the file name
        raise InvalidInputError(f"cannot read {path.name} as an image: {exc}") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot read {path.name} as an image ({exc.__class__.__name__})") from None
    return torch.from_numpy(rgb.copy()).float().div_(255.0)


def load_sample_image(library, sample_id: int) -> torch.Tensor:
    """A dataset sample's picture, read from the blob store."""
    from studio.store.picking import sample_blob

    with library.session() as session:
        blob = sample_blob(session, sample_id)
    return load_image(library.blobs.path(blob))


def resize_image(image: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """Resize an H x W x 3 image (antialiased bilinear) on its device."""
    if image.shape[0] == height and image.shape[1] == width:
        return image
    nchw = image.permute(2, 0, 1)[None]
    out = torch.nn.functional.interpolate(nchw, size=(height, width), mode="bilinear", align_corners=False, antialias=True)
    return out[0].permute(1, 2, 0).clamp_(0, 1).contiguous()
