"""Loading trained networks safely: runs of this library, safetensors + card, plain state dicts.

Untrusted files are never unpickled: weights come from safetensors, or from
``torch.load(weights_only=True)`` which refuses any pickle that would run code. TorchScript is a
code-executing format, so it is loaded only when the caller says the file is trusted.
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from pathlib import Path

from studio.core.errors import InvalidInputError, NotFoundError
from studio.export.cards import load_card_file
from studio.train.card import ModelCard
from studio.train.run_files import WEIGHTS_NAME, run_dir

TORCHSCRIPT_HINT = "TorchScript can run code when loaded; use it only if you trust where it came from"


def card_path_for(model_path: Path) -> Path:
    """The model card that travels beside a model file: ``model.onnx`` -> ``model.json``."""
    return Path(model_path).with_suffix(".json")


def read_card(path: Path) -> ModelCard:
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"no model card {path.name} beside the model (needed for classes and input size)")
    return load_card_file(path)  # every field type- and bounds-checked: the card is untrusted


def load_run(lib, run_id: int, device: str = "cpu"):
    """(network in eval mode, ModelCard) of a finished run of this library."""
    folder = run_dir(lib, run_id)
    if not (folder / WEIGHTS_NAME).is_file():
        from studio.store.models import Run

        with lib.session() as s:
            exists = s.get(Run, run_id) is not None
        if not exists:
            raise NotFoundError(f"no run {run_id}")
        raise NotFoundError(f"run {run_id} has no trained model yet (train it to the end, or stop it to keep its best weights)")
    from studio.train.artifacts import load_trained_model

    return load_trained_model(lib, run_id, device=device)


def load_weights_and_card(weights_path: Path, card_path: Path, device: str = "cpu"):
    """(network, card) from a safetensors (or weights-only .pt) file and its model card."""
    read_card(card_path)  # one clear message when the card is missing or broken
    if Path(weights_path).suffix.lower() != ".safetensors":
        safe_torch_load(weights_path)  # refuse code-carrying pickles before anything else
    from studio.train.artifacts import load_model_files

    return load_model_files(Path(weights_path), Path(card_path), device=device)


def is_torchscript(path: Path) -> bool:
    """TorchScript archives are zips holding a ``code/`` folder (plain torch.save zips do not)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any("/code/" in name or name.startswith("code/") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def safe_torch_load(path: Path):
    """``torch.load(weights_only=True)``: tensors and plain containers only, never code."""
    import torch

    try:
        return torch.load(Path(path), map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, AttributeError, EOFError, ValueError) as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InvalidInputError(
            f"refusing to load {Path(path).name}: it is not a plain weights file and unpickling it could run code"
            f" ({first_line[:160]})",
            hint="use safetensors, or a state dict saved with torch.save",
        ) from exc


def load_torchscript(path: Path, device: str = "cpu", *, trusted: bool):
    if not trusted:
        raise InvalidInputError(
            f"{Path(path).name} is TorchScript, which can run code when loaded",
            hint="load it only if you trust where it came from: pass --trust, or confirm in the app",
        )
    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch marks TorchScript deprecated
            return torch.jit.load(str(path), map_location=device).eval()
    except RuntimeError as exc:
        raise InvalidInputError(f"cannot load {Path(path).name} as TorchScript ({str(exc).splitlines()[0][:160]})") from exc
