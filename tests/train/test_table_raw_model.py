"""The network with its preprocessing inside: the same predictions from raw column values as the
studio's encoder + network give, for numbers, missing values, yes/no, one-hot and embedded
categories, dates, classes and several numeric targets."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from studio.data.tables import encode_splits, infer_schema, read_table
from studio.train.tables import TableTrainSettings, fit_table, predict_outputs
from studio.train.tables.raw_model import RawTableModel, raw_input_names, raw_inputs


def mixed_table(tmp_path, rows: int = 400):
    rng = np.random.default_rng(3)
    lines = ["size,member,colour,code,day,label,amount,score"]
    for i in range(rows):
        size = "" if i % 17 == 0 else f"{rng.normal(50, 10):.2f}"
        colour = "" if i % 23 == 0 else ["red", "green", "blue"][i % 3]
        day = "" if i % 29 == 0 else f"20{10 + i % 12}-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:30:00"
        lines.append(f"{size},{['yes', 'no'][i % 2]},{colour},k{i % 40},{day},{['a', 'b', 'c'][i % 3]},"
                     f"{rng.normal(1000, 200):.1f},{rng.normal():.3f}")
    path = tmp_path / "mixed.csv"
    path.write_text("\n".join(lines) + "\n")
    return read_table(path)


def raw_parity(table, schema, raw_rows):
    encoder, (train,) = encode_splits(table, schema, np.arange(300))
    result = fit_table(encoder, train, None, TableTrainSettings(epochs=2))
    raw = RawTableModel(result.model, encoder).eval()
    part = table.slice(*raw_rows)
    numbers, categories = raw_inputs(encoder, part)
    with torch.no_grad():
        got = raw(torch.as_tensor(numbers), torch.as_tensor(categories)).numpy()
    features = encoder.transform(part)
    outputs = predict_outputs(result.model, features.numeric, features.categorical)
    return encoder, got, outputs


def test_raw_classifier_matches_the_encoder_and_network(tmp_path):
    table = mixed_table(tmp_path)
    schema = infer_schema(table, targets=["label"], ignore=["amount", "score"])
    encoder, got, logits = raw_parity(table, schema, (300, 100))
    assert raw_input_names(encoder) == (["size", "member", "day"], ["colour", "code"])
    assert encoder.embedded == [("code", 41)]  # code is embedded, colour one-hot
    expected = torch.softmax(torch.as_tensor(logits), dim=1).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_raw_regressor_returns_several_targets_in_their_units(tmp_path):
    table = mixed_table(tmp_path)
    schema = infer_schema(table, targets=["amount", "score"], ignore=["label"])
    encoder, got, outputs = raw_parity(table, schema, (300, 100))
    assert got.shape == (100, 2)
    np.testing.assert_allclose(got, encoder.decode(outputs), rtol=1e-5, atol=1e-4)


def test_raw_model_exports_to_torchscript_and_onnx_with_the_same_outputs(tmp_path):
    table = mixed_table(tmp_path)
    schema = infer_schema(table, targets=["label"], ignore=["amount", "score"])
    encoder, (train,) = encode_splits(table, schema, np.arange(300))
    raw = RawTableModel(fit_table(encoder, train, None, TableTrainSettings(epochs=2)).model, encoder).eval()
    numbers, categories = (torch.as_tensor(a) for a in raw_inputs(encoder, table))
    with torch.no_grad():
        expected = raw(numbers, categories).numpy()
        traced = torch.jit.trace(raw, (numbers[:8], categories[:8]))
        np.testing.assert_allclose(traced(numbers, categories).numpy(), expected, atol=1e-6)
    onnxruntime = pytest.importorskip("onnxruntime")
    path = tmp_path / "model.onnx"
    torch.onnx.export(raw, (numbers[:8], categories[:8]), str(path), input_names=["numbers", "categories"],
                      output_names=["probabilities"], dynamic_axes={"numbers": {0: "rows"}, "categories": {0: "rows"}},
                      dynamo=False)
    session = onnxruntime.InferenceSession(str(path))
    got = session.run(None, {"numbers": numbers.numpy(), "categories": categories.numpy()})[0]
    np.testing.assert_allclose(got, expected, atol=1e-5)
