"""Scores of a table model: accuracy and macro F1 for classes; MAE, RMSE and R² for numbers, in
the targets' own units, per target and averaged over targets."""

from __future__ import annotations

import numpy as np


def classification_metrics(predicted: np.ndarray, actual: np.ndarray, classes: int) -> dict[str, float]:
    predicted, actual = np.asarray(predicted), np.asarray(actual)
    f1s = []
    for c in range(classes):
        true_pos = np.sum((predicted == c) & (actual == c))
        denominator = np.sum(predicted == c) + np.sum(actual == c)
        if np.sum(actual == c) > 0:  # a class absent from the split does not count towards macro F1
            f1s.append(2 * true_pos / denominator if denominator else 0.0)
    return {"accuracy": float(np.mean(predicted == actual)) if len(actual) else 0.0,
            "f1": float(np.mean(f1s)) if f1s else 0.0}


def regression_metrics(predicted: np.ndarray, actual: np.ndarray, names: list[str]) -> dict[str, float]:
    """``mae``, ``rmse``, ``r2`` averaged over targets, plus ``mae/NAME`` etc. when there are several."""
    predicted = np.asarray(predicted, dtype=np.float64).reshape(len(actual), -1)
    actual = np.asarray(actual, dtype=np.float64).reshape(len(actual), -1)
    error = predicted - actual
    mae = np.mean(np.abs(error), axis=0)
    rmse = np.sqrt(np.mean(error ** 2, axis=0))
    spread = np.sum((actual - actual.mean(axis=0)) ** 2, axis=0)
    r2 = np.where(spread > 0, 1 - np.sum(error ** 2, axis=0) / np.where(spread > 0, spread, 1), 0.0)
    out = {"mae": float(mae.mean()), "rmse": float(rmse.mean()), "r2": float(r2.mean())}
    if len(names) > 1:
        for i, name in enumerate(names):
            out.update({f"mae/{name}": float(mae[i]), f"rmse/{name}": float(rmse[i]), f"r2/{name}": float(r2[i])})
    return out
