"""A trained table model saved to a folder reads back with the same predictions; bad files are refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.core.errors import InvalidInputError, NotFoundError
from studio.data.tables.demos import DEMO_TABLES
from studio.data.tables.encoding import encode_splits
from studio.data.tables.reading import read_table
from studio.data.tables.schema import infer_schema
from studio.data.tables.splits import split_rows
from studio.train.tables.artifacts import is_table_card, load_table_model, save_table_model
from studio.train.tables.fit import TableTrainSettings, fit_table, predict_outputs


def test_saved_table_model_loads_with_identical_outputs_and_card(tmp_path):
    table = read_table(DEMO_TABLES["penguins"].path)
    schema = infer_schema(table, targets=["species"])
    codes = split_rows(table, schema)
    encoder, (train, test) = encode_splits(table, schema, np.flatnonzero(codes == 0), np.flatnonzero(codes == 2))
    model = fit_table(encoder, train, None, TableTrainSettings(epochs=3)).model
    card = save_table_model(tmp_path, model, encoder, schema)
    parts = load_table_model(tmp_path)
    assert is_table_card(parts.card) and parts.card.classes == encoder.class_names == card.classes
    assert parts.schema.to_json() == schema.to_json()
    assert torch.equal(torch.as_tensor(predict_outputs(parts.model, test.numeric, test.categorical)),
                       torch.as_tensor(predict_outputs(model, test.numeric, test.categorical)))


def test_missing_or_pickled_weights_are_refused(tmp_path):
    with pytest.raises(NotFoundError):
        load_table_model(tmp_path)
    table = read_table(DEMO_TABLES["xor"].path)
    schema = infer_schema(table)
    encoder, (train,) = encode_splits(table, schema, np.arange(table.num_rows))
    save_table_model(tmp_path, fit_table(encoder, train, None, TableTrainSettings(epochs=1)).model, encoder, schema)
    torch.save({"weights": "pickle"}, tmp_path / "model.safetensors")  # a pickle where safetensors belong
    with pytest.raises(InvalidInputError, match="cannot be read"):
        load_table_model(tmp_path)


def test_a_text_model_is_refused_by_the_image_loader_with_one_message(tmp_path):
    from studio.train.artifacts import load_model_files
    from studio.train.card import ModelCard

    ModelCard("bert", ["neg", "pos"], 0, kind="text").save(tmp_path / "model.json")
    (tmp_path / "model.safetensors").write_bytes(b"")
    with pytest.raises(InvalidInputError, match="text model") as refused:
        load_model_files(tmp_path / "model.safetensors", tmp_path / "model.json")
    assert "load_text_folder" in str(refused.value.hint)
