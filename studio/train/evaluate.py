"""Evaluating a trained run on a split: accuracy, per-class precision/recall/f1/support, confusion
matrix (class order = card.classes); stores each sample's prediction for the labelling view."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from sqlalchemy import select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from studio.core.errors import InvalidInputError
from studio.core.jobs import JobState
from studio.data.cache import load_images
from studio.data.loader import BatchLoader
from studio.data.preprocess import preprocess_batch
from studio.data.samples import UNLABELLED, apply_holdout, load_view
from studio.store.models import Prediction, Run, utcnow
from studio.train.artifacts import load_trained_model

if TYPE_CHECKING:
    from studio.store.library import Library

SPLITS = ("val", "test", "train", UNLABELLED, "all")


def evaluate_run(
    lib: Library, run_id: int, split: str = "test", *, device: str = "cpu",
    batch_size: int = 256, state: JobState | None = None, store: bool = True,
) -> dict[str, Any]:
    if split not in SPLITS:
        raise InvalidInputError(f"unknown split {split!r} (choose from {', '.join(SPLITS)})")
    model, card = load_trained_model(lib, run_id, device)
    with lib.session() as s:
        run = s.get(Run, int(run_id))
        if run.dataset_id is None:
            raise InvalidInputError(f"run {run_id}: its dataset was deleted")
        view = load_view(s, run.dataset_id)
        held = (run.spec or {}).get("holdout_val_ids")
    if held:
        view = apply_holdout(view, held)  # the val split this run validated on
    refs = view.split(split)
    if not refs:
        raise InvalidInputError(f"dataset {view.name!r} has no {split} samples")
    # Map dataset class indices to the model's output order; labels of classes the model lacks = -1.
    to_model = {i: (card.classes.index(n) if n in card.classes else -1) for i, n in enumerate(view.classes)}
    labels = [to_model.get(r.label, -1) if r.label >= 0 else -1 for r in refs]
    images = load_images(lib, refs, card.image_size, card.in_channels, device, state)
    loader = BatchLoader(images, [r.id for r in refs], labels, batch_size, shuffle=False)
    probs_all = []
    with torch.no_grad():
        for batch in loader.epoch(0):
            probs_all.append(torch.softmax(model(preprocess_batch(batch.images, card)).float(), dim=1).cpu())
    probs = torch.cat(probs_all).numpy()
    predicted = probs.argmax(1)
    if store:
        _store_predictions(lib, int(run_id), [r.id for r in refs], predicted, probs, card.classes)
    result: dict[str, Any] = {"run_id": int(run_id), "split": split, "samples": len(refs), "classes": card.classes}
    truth = np.array(labels)
    known = truth >= 0
    if known.any():
        result.update(classification_report(truth[known], predicted[known], len(card.classes), card.classes))
    return result


def classification_report(truth: np.ndarray, predicted: np.ndarray, n_classes: int, names: list[str]) -> dict[str, Any]:
    confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(confusion, (truth, predicted), 1)
    tp = np.diag(confusion).astype(float)
    support = confusion.sum(1)
    predicted_count = confusion.sum(0)
    precision = np.divide(tp, predicted_count, out=np.zeros_like(tp), where=predicted_count > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros_like(tp), where=(precision + recall) > 0)
    per_class = [
        {"class": names[i], "precision": round(float(precision[i]), 6), "recall": round(float(recall[i]), 6),
         "f1": round(float(f1[i]), 6), "support": int(support[i])}
        for i in range(n_classes)
    ]
    return {"labelled": int(len(truth)), "accuracy": round(float(tp.sum() / max(len(truth), 1)), 6),
            "per_class": per_class, "confusion_matrix": confusion.tolist()}


def _store_predictions(lib: Library, run_id: int, sample_ids: list[int], predicted: np.ndarray,
                       probs: np.ndarray, classes: list[str]) -> None:
    rows = [
        {"run_id": run_id, "sample_id": sid, "class_name": classes[int(p)], "confidence": float(pr[int(p)]),
         "probs": [round(float(v), 6) for v in pr], "created_at": utcnow()}
        for sid, p, pr in zip(sample_ids, predicted, probs)
    ]
    if not rows:
        return
    with lib.transaction() as s:
        for start in range(0, len(rows), 500):  # SQLite caps bound parameters per statement
            chunk = sqlite_insert(Prediction).values(rows[start:start + 500])
            s.execute(chunk.on_conflict_do_update(
                index_elements=["run_id", "sample_id"],
                set_={"class_name": chunk.excluded.class_name, "confidence": chunk.excluded.confidence,
                      "probs": chunk.excluded.probs, "created_at": chunk.excluded.created_at}))


def predictions_for(lib: Library, run_id: int) -> dict[int, tuple[str, float]]:
    with lib.session() as s:
        rows = s.execute(select(Prediction.sample_id, Prediction.class_name, Prediction.confidence)
                         .where(Prediction.run_id == run_id)).all()
    return {sid: (name, conf) for sid, name, conf in rows}
