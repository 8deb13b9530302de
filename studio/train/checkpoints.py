"""Resumable checkpoints: model, optimizer, scheduler, scaler, RNG states, epoch and step.

Written to a temp file then os.replace'd, so a crash or a full disk mid-write leaves the previous
checkpoint whole. Read ONLY with torch.load(weights_only=True): RNG states are stored as tensors
and plain types so no pickled code is ever needed.
"""

from __future__ import annotations

import errno
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

from studio.core.errors import InvalidInputError

CHECKPOINT_NAME = "checkpoint.pt"


class CheckpointWriteError(OSError):
    """Saving failed (e.g. disk full); the previous checkpoint on disk is untouched."""


def rng_state() -> dict[str, Any]:
    py_version, py_state, py_gauss = random.getstate()
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    state: dict[str, Any] = {
        "python": {"version": py_version, "state": torch.tensor(py_state, dtype=torch.int64), "gauss": py_gauss},
        "numpy": {"name": np_name, "keys": torch.from_numpy(np_keys.astype(np.int64)), "pos": int(np_pos),
                  "has_gauss": int(np_has_gauss), "gauss": float(np_gauss)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    py = state["python"]
    random.setstate((py["version"], tuple(int(v) for v in py["state"].tolist()), py["gauss"]))
    npy = state["numpy"]
    np.random.set_state((npy["name"], npy["keys"].numpy().astype(np.uint32), npy["pos"], npy["has_gauss"], npy["gauss"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Atomically write ``payload`` (tensors and plain types only) to ``path``."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        reason = "the disk is full" if exc.errno == errno.ENOSPC else (exc.strerror or str(exc))
        raise CheckpointWriteError(exc.errno, f"cannot save checkpoint in {path.parent}: {reason}") from exc


def load_checkpoint(path: Path, device: str | torch.device = "cpu") -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise InvalidInputError(f"no checkpoint to resume from ({path} is missing)")
    try:
        return torch.load(path, map_location=device, weights_only=True)
    except Exception as exc:
        raise InvalidInputError(f"cannot read checkpoint {path} ({str(exc).splitlines()[0][:200]})") from None
