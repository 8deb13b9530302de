"""The Play page's jobs: plain functions run on the page's one worker thread (so results come
in order). The numbers are those of `studio predict` (same ``open_predictor`` + ``predict_image``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from studio.core.errors import InvalidInputError, NotFoundError
from studio.core.jobs import JobState
from studio.ui.models.play_widgets import array_to_qimage, qimage_to_png

TOP_K = 3


def load_predictor_job(lib, source: str, device: str, trust: bool, state: JobState):
    from studio.export.predictor import open_predictor

    state.set_progress(0.1, "loading the model")
    return open_predictor(source, lib, device=device, trust=trust)


def playable_models_job(lib, state: JobState) -> list:
    """Finished runs, this library's exports and imported models, as ``ModelChoice``s."""
    from studio.export.play import playable_models

    return playable_models(lib)


def cuda_available_job(state: JobState) -> bool:
    import torch

    return bool(torch.cuda.is_available())


def predict_job(predictor, items: list[tuple[int, Any]], state: JobState) -> int:
    """Predict (index, path | uint8 array) items; each result goes out as a partial result
    (index, FilePrediction, thumbnail array) so cards fill in as they are ready."""
    from studio.export.predictor import FilePrediction

    for done, (index, source) in enumerate(items):
        state.check_cancelled()
        if isinstance(source, np.ndarray):
            image = source if predictor.in_channels == 3 else _to_grey(source)
            result, thumb = predictor.predict_image(image, TOP_K, "pasted image"), source
        else:
            try:
                image = predictor.decode(source)
            except (InvalidInputError, NotFoundError) as exc:
                state.set_partial_result((index, FilePrediction(str(source), error=str(exc)), None))
                continue
            result, thumb = predictor.predict_image(image, TOP_K, str(source)), _thumbnail(image)
        state.set_partial_result((index, result, thumb))
        state.set_progress((done + 1) / len(items), f"{done + 1}/{len(items)} images")
    return len(items)


def expand_job(paths: list[str], state: JobState) -> list[Path]:
    from studio.export.images import expand_image_paths

    return expand_image_paths(paths)


def add_to_dataset_job(lib, dataset_id: int, class_id: int, source: Any, state: JobState) -> int:
    """Store a file, or a pasted/camera picture (encoded as PNG here, off the GUI thread), in the
    dataset labelled ``class_id``: the one ``store.adding.add_image`` path, as an import would."""
    from studio.export.play import add_to_dataset

    if isinstance(source, np.ndarray):
        source = qimage_to_png(array_to_qimage(source))
    return add_to_dataset(lib, dataset_id, class_id, source)


def _to_grey(rgb: np.ndarray) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(rgb).convert("L"))[:, :, None]


def _thumbnail(image: np.ndarray, side: int = 96) -> np.ndarray:
    from PIL import Image

    pil = Image.fromarray(image[:, :, 0] if image.shape[2] == 1 else image)
    if max(pil.size) > side:
        pil.thumbnail((side, side))
    array = np.asarray(pil)
    return array[:, :, None] if array.ndim == 2 else array
