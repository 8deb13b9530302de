"""Predictions for whole tables in the targets' own terms: what Play and "predict a CSV" show.

    columns = predict_table(model, encoder, read_table("new.csv"))
    # classification: {"species": names, "species probability": top probability} (+ one column per class)
    # regression:     {"heat": values in the target's units, "cost": ...}
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from studio.data.tables.encoding import TableEncoder
from studio.train.tables.fit import predict_outputs
from studio.train.tables.model import TableNet


def predict_table(model: TableNet, encoder: TableEncoder, table: pa.Table) -> dict[str, np.ndarray]:
    """One array per output column, in row order; the table needs the feature columns only."""
    features = encoder.transform(table)
    outputs = predict_outputs(model, features.numeric, features.categorical)
    if encoder.task == "regression":
        values = encoder.decode(outputs)
        return {target["name"]: values[:, i] for i, target in enumerate(encoder.targets)}
    probabilities = _softmax(outputs)
    name = encoder.targets[0]["name"]
    best = probabilities.argmax(axis=1)
    columns = {name: np.asarray(encoder.class_names, dtype=object)[best],
               f"{name} probability": probabilities[np.arange(len(best)), best]}
    columns.update({f"P({cls})": probabilities[:, i] for i, cls in enumerate(encoder.class_names)})
    return columns


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
