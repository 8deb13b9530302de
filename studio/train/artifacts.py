"""Reading a trained model back: model.safetensors + model.json (the ModelCard) of a run folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from studio.core.errors import InvalidInputError, NotFoundError
from studio.train.card import ModelCard
from studio.train.run_files import CARD_NAME, WEIGHTS_NAME, run_dir
from studio.train.zoo import build_model, load_state_dict_file

if TYPE_CHECKING:
    from studio.store.library import Library

def load_model_files(
    weights_path: str | Path, card_path: str | Path, device: str | torch.device = "cpu"
) -> tuple[nn.Module, ModelCard]:
    """The model (eval mode, on ``device``) and its card from a weights file and a model.json."""
    card_path = Path(card_path)
    if not card_path.is_file():
        raise NotFoundError(f"model card not found: {card_path}")
    try:
        card = ModelCard.load(card_path)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"cannot read model card {card_path} ({exc})") from None
    if card.kind == "text":
        raise InvalidInputError(  # a caller that forgot to ask the card's kind first
            "this is a text model, not an image model: its folder is a Hugging Face folder",
            hint="studio.train.text.inference.load_text_folder loads it")
    model = build_model(card.architecture, len(card.classes), card.in_channels, card.image_size)
    state = load_state_dict_file(weights_path)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        detail = " ".join(line.strip() for line in str(exc).splitlines()[:2])[:300]
        raise InvalidInputError(f"weights do not fit {card.architecture} ({detail})") from None
    return model.to(device).eval(), card


def load_trained_model(
    lib: Library, run_id: int, device: str | torch.device = "cpu"
) -> tuple[nn.Module, ModelCard]:
    """The best weights of a finished or stopped run, in eval mode."""
    folder = run_dir(lib, int(run_id))
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise NotFoundError(f"run {run_id} has no trained model yet ({weights} is missing)")
    return load_model_files(weights, folder / CARD_NAME, device)
