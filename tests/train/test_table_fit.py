"""Feed-forward training on tables, end to end from a real CSV: XOR, several numeric targets,
embedded categories, cancellation, early stopping, and the scores."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
import torch

from studio.core.errors import Cancelled
from studio.core.jobs import JobState
from studio.data.tables import TableEncoder, TableSplit, infer_schema, read_table
from studio.train.tables import (
    TableNet,
    TableNetConfig,
    TableTrainSettings,
    evaluate_table,
    fit_table,
    predict_table,
)
from studio.train.tables.metrics import classification_metrics, regression_metrics
from studio.train.tables.model import embedding_size


def prepared(tmp_path, text: str, train_rows, targets=None):
    path = tmp_path / "t.csv"
    path.write_text(text)
    table = read_table(path)
    encoder = TableEncoder.fit(table, infer_schema(table, targets=targets), np.asarray(train_rows))
    features, (y, has_target) = encoder.transform(table), encoder.encode_targets(table)
    return encoder, lambda rows: TableSplit.take(features, y, has_target, np.asarray(rows))


def test_xor_trains_to_every_row_right(tmp_path):
    encoder, split = prepared(tmp_path, "a,b,xor\n0,0,no\n0,1,yes\n1,0,yes\n1,1,no\n", [0, 1, 2, 3])
    data = split([0, 1, 2, 3])
    result = fit_table(encoder, data, data, TableTrainSettings(dropout=0.0))
    assert evaluate_table(result.model, encoder, data)["accuracy"] == 1.0
    predicted = predict_table(result.model, encoder, pa.table({"a": [1, 0], "b": [1, 1]}))
    assert predicted["xor"].tolist() == ["no", "yes"]
    assert np.all(predicted["xor probability"] > 0.5)
    np.testing.assert_allclose(predicted["P(no)"] + predicted["P(yes)"], 1.0, rtol=1e-6)
    assert result.history and all(np.isfinite(row["train_loss"]) for row in result.history)


def test_several_numeric_targets_are_learnt_in_their_units(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=(600, 3))
    heat, cost = 1000 + 300 * x[:, 0] - 200 * x[:, 1], 5 + 0.5 * x[:, 2] ** 2
    text = "x0,x1,x2,heat,cost\n" + "".join(f"{a:.4f},{b:.4f},{c:.4f},{h:.3f},{k:.4f}\n"
                                            for (a, b, c), h, k in zip(x, heat, cost))
    encoder, split = prepared(tmp_path, text, range(400), targets=["heat", "cost"])
    result = fit_table(encoder, split(range(400)), split(range(400, 500)), TableTrainSettings(epochs=60))
    scores = evaluate_table(result.model, encoder, split(range(500, 600)))
    assert scores["r2/heat"] > 0.95 and scores["r2/cost"] > 0.8
    assert scores["mae/heat"] < 60  # in the target's own units (its spread is about 400)
    predicted = predict_table(result.model, encoder, pa.table({"x0": [1.0], "x1": [-1.0], "x2": [0.0]}))
    assert set(predicted) == {"heat", "cost"}
    assert abs(predicted["heat"][0] - 1500) < 100 and abs(predicted["cost"][0] - 5) < 1


def test_high_cardinality_category_is_embedded_and_learnt(tmp_path):
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 300, size=6000)
    label = np.where(codes % 2 == 0, "even", "odd")  # only the category tells the class
    text = "code,noise,label\n" + "".join(f"k{c},{rng.normal():.3f},{lab}\n" for c, lab in zip(codes, label))
    encoder, split = prepared(tmp_path, text, range(4000))
    result = fit_table(encoder, split(range(4000)), split(range(4000, 5000)), TableTrainSettings(epochs=15))
    assert len(result.model.embeddings) == 1 and result.model.embeddings[0].num_embeddings == 301
    assert evaluate_table(result.model, encoder, split(range(5000, 6000)))["accuracy"] > 0.9


def test_cancel_stops_training(tmp_path):
    text = "x,y\n" + "".join(f"{i % 17},{i % 3}\n" for i in range(500))
    encoder, split = prepared(tmp_path, text, range(400))
    state = JobState()
    epochs_seen = []

    def on_epoch(row):
        epochs_seen.append(row["epoch"])
        if row["epoch"] == 2:
            state.cancel()

    with pytest.raises(Cancelled):
        fit_table(encoder, split(range(400)), None, TableTrainSettings(epochs=50), state, on_epoch)
    assert epochs_seen[-1] < 50


def test_best_validation_epoch_is_kept(tmp_path):
    rng = np.random.default_rng(2)
    text = "x,y\n" + "".join(f"{rng.normal():.3f},{rng.integers(0, 2)}\n" for _ in range(300))  # pure noise
    encoder, split = prepared(tmp_path, text, range(200))
    result = fit_table(encoder, split(range(200)), split(range(200, 300)),
                       TableTrainSettings(epochs=200, early_stopping=5, lr=3e-2))
    best = min(result.history, key=lambda row: row["val_loss"])
    assert result.best_epoch == best["epoch"] and "early stopping" in result.stop_reason
    assert len(result.history) < 200
    with torch.no_grad():  # the weights in the result are the best epoch's
        val = split(range(200, 300))
        outputs = result.model(torch.as_tensor(val.numeric), torch.as_tensor(val.categorical))
        loss = torch.nn.functional.cross_entropy(outputs, torch.as_tensor(val.targets)).item()
    assert loss == pytest.approx(best["val_loss"], rel=1e-5)


@pytest.mark.parametrize("activation", ["relu", "gelu", "tanh", "sigmoid"])
def test_network_options_build_and_round_trip(activation):
    config = TableNetConfig(5, (12, 3), 2, (16, 8), activation, dropout=0.2, batch_norm=True)
    model = TableNet(TableNetConfig.from_json(config.to_json()))
    assert model.config == config
    out = model.eval()(torch.zeros(4, 5), torch.zeros(4, 2, dtype=torch.long))
    assert out.shape == (4, 2)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in model.modules()) == 2
    assert sum(isinstance(m, torch.nn.Dropout) for m in model.modules()) == 2


def test_unknown_activation_is_refused():
    with pytest.raises(ValueError, match="activation"):
        TableNet(TableNetConfig(2, (), 1, (4,), "swish"))


def test_embedding_size_stays_small():
    assert embedding_size(3) == 3 and embedding_size(10_001) == 16


def test_scores():
    assert classification_metrics(np.array([0, 1, 1, 2]), np.array([0, 1, 2, 2]), 3) == {
        "accuracy": 0.75, "f1": pytest.approx((1 + 2 / 3 + 2 / 3) / 3)}
    scores = regression_metrics(np.array([[1.0], [2.0], [4.0]]), np.array([[1.0], [3.0], [5.0]]), ["y"])
    assert scores["mae"] == pytest.approx(2 / 3) and scores["rmse"] == pytest.approx(np.sqrt(2 / 3))
    assert scores["r2"] == pytest.approx(1 - 2 / 8)  # errors 0,1,1 against spread 4,0,4
