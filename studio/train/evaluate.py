"""Evaluating a trained run on a split: accuracy, per-class precision/recall/f1/support, confusion
matrix (class order = card.classes), which samples fell in each cell, and the most confident
mistakes; stores each sample's prediction for the labelling view. The CLI and the Evaluate page
both show an ``Evaluation``. A run trained on a table is handed to studio.train.tables.evaluation,
one trained on texts to studio.train.text.evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import torch
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from studio.core.errors import InvalidInputError
from studio.core.jobs import JobState
from studio.data.cache import load_images
from studio.data.loader import BatchLoader
from studio.data.preprocess import preprocess_batch
from studio.data.samples import UNLABELLED, SampleRef, apply_holdout, load_view
from studio.store.models import Prediction, Run, utcnow
from studio.train.artifacts import load_trained_model
from studio.train.card import ModelCard
from studio.train.run_context import resolve_device
from studio.train.run_files import CARD_NAME, run_dir
from studio.train.spec import TrainSpec

if TYPE_CHECKING:
    from studio.store.library import Library
    from studio.train.tables.evaluation import TableEvaluation

SPLITS = ("val", "test", "train", UNLABELLED, "all")
DEFAULT_DEVICE = TrainSpec.device  # as training: "auto", the best device there is (resolve_device)


class Mistake(NamedTuple):
    sample_id: int  # for a table: the row index
    true_class: str
    predicted_class: str
    confidence: float


@dataclass
class Evaluation:
    """What evaluating a run on a split found. ``accuracy``, ``per_class`` and ``confusion`` are
    None / empty when no evaluated sample has a label the model knows."""

    run_id: int
    split: str
    dataset_id: int
    classes: list[str]  # the model's class order: rows and columns of ``confusion``
    samples: int
    labelled: int = 0
    accuracy: float | None = None
    per_class: list[dict] = field(default_factory=list)
    confusion: np.ndarray | None = None  # rows = true class, columns = predicted class
    cells: dict[tuple[int, int], list[int]] = field(default_factory=dict)  # (true, predicted) -> ids, surest first
    mistakes: list[Mistake] = field(default_factory=list)  # most confident first

    def to_dict(self) -> dict[str, Any]:
        """The stable keys of `studio evaluate --json`."""
        out: dict[str, Any] = {"run_id": self.run_id, "split": self.split, "samples": self.samples,
                               "classes": self.classes}
        if self.confusion is not None:
            out.update({"labelled": self.labelled, "accuracy": self.accuracy, "per_class": self.per_class,
                        "confusion_matrix": self.confusion.tolist()})
        return out


def evaluate_run(
    lib: Library, run_id: int, split: str = "test", *, device: str = DEFAULT_DEVICE,
    batch_size: int = 256, state: JobState | None = None, store: bool = True,
) -> Evaluation | TableEvaluation:
    """A table run gets a ``TableEvaluation`` (studio.train.tables.evaluation); an image run an
    ``Evaluation``, a text run a ``TextEvaluation`` (one), with each sample's prediction stored when ``store``."""
    kind = run_kind(lib, run_id)
    if kind == "table":
        from studio.train.tables.evaluation import evaluate_table_run

        return evaluate_table_run(lib, run_id, split, device=device, state=state)
    if kind == "text":
        from studio.train.text.evaluation import evaluate_text_run

        return evaluate_text_run(lib, run_id, split, device=device, state=state, store=store)
    if split not in SPLITS:
        raise InvalidInputError(f"unknown split {split!r} (choose from {', '.join(SPLITS)})")
    device = resolve_device(device)
    model, card = load_trained_model(lib, run_id, device)
    with lib.session() as s:
        run = s.get(Run, int(run_id))
        if run.dataset_id is None:
            raise InvalidInputError(f"run {run_id}: its dataset was deleted")
        dataset_id = int(run.dataset_id)
        view = load_view(s, dataset_id)
        held = (run.spec or {}).get("holdout_val_ids")
    if held:
        view = apply_holdout(view, held)  # the val split this run validated on
    refs = view.split(split)
    if not refs:
        raise InvalidInputError(f"dataset {view.name!r} has no {split} samples")
    # Map dataset class indices to the model's output order; labels of classes the model lacks = -1.
    to_model = {i: (card.classes.index(n) if n in card.classes else -1) for i, n in enumerate(view.classes)}
    labels = np.array([to_model.get(r.label, -1) if r.label >= 0 else -1 for r in refs])
    probs = _predict(lib, model, card, device, refs, labels, batch_size, state)
    predicted = probs.argmax(1)
    if store:
        store_predictions(lib, int(run_id), [r.id for r in refs], predicted, probs, card.classes)
    result = Evaluation(int(run_id), split, dataset_id, list(card.classes), len(refs))
    known = labels >= 0
    if known.any():
        report = classification_report(labels[known], predicted[known], len(card.classes), card.classes)
        result.labelled, result.accuracy, result.per_class = report["labelled"], report["accuracy"], report["per_class"]
        result.confusion = np.asarray(report["confusion_matrix"])
        confidence = probs[np.arange(len(refs)), predicted]
        result.cells, result.mistakes = cells_and_mistakes([r.id for r in refs], labels, predicted, confidence, card.classes)
    return result


def run_kind(lib: Library, run_id: int) -> str:
    """What the run's model card says it was trained on: "image", "table" or "text" (no card or an
    unreadable one: "image", whose path reports it)."""
    card = run_dir(lib, int(run_id)) / CARD_NAME
    try:
        return ModelCard.load(card).kind if card.is_file() else "image"
    except (ValueError, TypeError):
        return "image"


def _predict(lib: Library, model, card, device: torch.device, refs: list[SampleRef], labels: np.ndarray,
             batch_size: int, state: JobState | None) -> np.ndarray:
    """Softmax probabilities, one row per ref, in ref order."""
    images = load_images(lib, refs, card.image_size, card.in_channels, device, state)
    loader = BatchLoader(images, [r.id for r in refs], labels.tolist(), batch_size, shuffle=False)
    probs_all = []
    with torch.no_grad():
        for batch in loader.epoch(0):
            probs_all.append(torch.softmax(model(preprocess_batch(batch.images, card)).float(), dim=1).cpu())
    return torch.cat(probs_all).numpy()


def cells_and_mistakes(ids: Sequence[int], labels: np.ndarray, predicted: np.ndarray, confidence: np.ndarray,
                       classes: list[str]) -> tuple[dict[tuple[int, int], list[int]], list[Mistake]]:
    """The ids (sample ids; a table's row indices) of each confusion cell (surest first) and the
    mistakes (surest first). A label below 0 (unknown) is left out."""
    cells: dict[tuple[int, int], list[tuple[float, int]]] = {}
    mistakes = []
    for sid, truth, guess, conf in zip(ids, labels.tolist(), predicted.tolist(), confidence.tolist()):
        if truth < 0:
            continue
        cells.setdefault((truth, guess), []).append((conf, sid))
        if truth != guess:
            mistakes.append(Mistake(sid, classes[truth], classes[guess], conf))
    mistakes.sort(key=lambda m: -m.confidence)
    return {cell: [sid for _conf, sid in sorted(members, reverse=True)] for cell, members in cells.items()}, mistakes


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
    return {"labelled": len(truth), "accuracy": round(float(tp.sum() / max(len(truth), 1)), 6),
            "per_class": per_class, "confusion_matrix": confusion.tolist()}


def store_predictions(lib: Library, run_id: int, sample_ids: list[int], predicted: np.ndarray,
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
