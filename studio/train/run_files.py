"""The files of a run folder, by name (no torch here: listing runs must not load it)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from studio.store.library import Library

WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "model.json"


def run_dir(lib: Library, run_id: int) -> Path:
    return Path(lib.runs_dir) / str(run_id)
