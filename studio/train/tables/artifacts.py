"""A trained table model on disk: model.safetensors (the TableNet's weights) and model.json (the
ModelCard, kind "table", whose ``table`` section holds the encoder, the network's shape and the
schema), in a run folder or beside an export. Never a pickle: weights are read with safetensors.

    save_table_model(folder, model, encoder, schema, card)
    parts = load_table_model(folder)        # parts.model, parts.encoder, parts.schema, parts.card
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from studio.core.errors import InvalidInputError, NotFoundError
from studio.data.tables.encoding import TableEncoder
from studio.data.tables.schema import TableSchema
from studio.train.card import ModelCard
from studio.train.run_files import CARD_NAME, WEIGHTS_NAME
from studio.train.tables.model import TableNet, TableNetConfig

TABLE_KIND = "table"


@dataclass
class TableModelParts:
    model: TableNet
    encoder: TableEncoder
    schema: TableSchema
    card: ModelCard


def is_table_card(card: ModelCard) -> bool:
    return card.kind == TABLE_KIND


def table_card(model: TableNet, encoder: TableEncoder, schema: TableSchema, **fields) -> ModelCard:
    """A card for a table model: class names (classification) or target names (regression) as
    ``classes``, and what is needed to rebuild the network and its input encoding."""
    classes = list(encoder.class_names) if encoder.task == "classification" else [t["name"] for t in encoder.targets]
    return ModelCard(architecture="table-mlp", classes=classes, image_size=0, in_channels=0, mean=[], std=[],
                     kind=TABLE_KIND, table={"encoder": encoder.to_json(), "net": model.config.to_json(),
                                             "schema": schema.to_json()}, **fields)


def save_table_model(folder: Path, model: TableNet, encoder: TableEncoder, schema: TableSchema,
                     card: ModelCard | None = None) -> ModelCard:
    """Write the weights and the card (each whole or not at all); returns the card written."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if card is None or not card.table:
        extra = {} if card is None else {k: getattr(card, k) for k in ("run_id", "dataset", "metrics", "training",
                                                                        "studio_version")}
        card = table_card(model, encoder, schema, **extra)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = folder / (WEIGHTS_NAME + ".tmp")
    save_file(weights, str(tmp))
    tmp.replace(folder / WEIGHTS_NAME)
    card.save(folder / CARD_NAME)
    return card


def load_table_model(folder: Path, device: str | torch.device = "cpu") -> TableModelParts:
    """The model (eval mode, on ``device``), its encoder, schema and card from a folder."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    card_path, weights_path = folder / CARD_NAME, folder / WEIGHTS_NAME
    if not card_path.is_file() or not weights_path.is_file():
        raise NotFoundError(f"no trained table model in {folder} (model.json and model.safetensors)")
    try:
        card = ModelCard.load(card_path)
    except (ValueError, TypeError) as exc:
        raise InvalidInputError(f"cannot read model card {card_path} ({exc})") from None
    if not is_table_card(card):
        raise InvalidInputError(f"{folder} holds an {card.kind} model, not a table model")
    try:
        config = TableNetConfig.from_json(card.table["net"])
        encoder = TableEncoder.from_json(card.table["encoder"])
        schema = TableSchema.from_json(card.table["schema"])
        model = TableNet(config)
        model.load_state_dict(load_file(str(weights_path)))
    except (KeyError, TypeError, ValueError, RuntimeError, SafetensorError) as exc:
        detail = " ".join(str(exc).split())[:300]
        raise InvalidInputError(f"the table model in {folder} cannot be read ({detail})") from None
    return TableModelParts(model.to(device).eval(), encoder, schema, card)
