"""Evaluating a trained text run on a split of its dataset.

    result = evaluate_text_run(lib, run_id, "test")   # or evaluate_run, which dispatches here
    result.per_class, result.confusion                 # as for images (class order = the model's)
    result.cells[(true, predicted)]                    # the sample ids of a cell, surest first
    result.mistakes                                    # most confident first
    result.confidences[sample_id]                      # the confidence of each text's predicted class

Splits are chosen as for images: a run validated on texts held out of train is evaluated on those
same texts as its "val" split, and a dataset without test texts says so. Texts are tokenized with
the run's own tokenizer (cut at its max length) through the library's token cache, which the
run's training filled; where the cache cannot be written, in memory. Each text's prediction is
stored for the labelling view's suggestions, as for images.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from studio.core.errors import InvalidInputError, NotFoundError
from studio.core.jobs import JobState
from studio.data.samples import DatasetView, SampleRef, apply_holdout, load_view
from studio.store.models import Run
from studio.train.evaluate import (
    DEFAULT_DEVICE,
    SPLITS,
    Evaluation,
    cells_and_mistakes,
    classification_report,
    store_predictions,
)
from studio.train.run_context import resolve_device
from studio.train.text.inference import TextClassifier, load_text_run
from studio.train.text.tokens import TokenizedTexts, tokenize_dataset

if TYPE_CHECKING:
    from studio.store.library import Library

PREDICT_CHUNK = 1024  # texts predicted between progress reports and cancel checks
TOKENIZING = 0.3  # the share of the progress bar tokenizing takes (most texts come from the cache)


@dataclass
class TextEvaluation(Evaluation):
    """An ``Evaluation`` whose samples are texts."""

    confidences: dict[int, float] = field(default_factory=dict)  # sample id -> its predicted class's probability
    truncated: int = 0  # evaluated texts longer than the model's max length (cut there)
    kind = "text"

    def to_dict(self) -> dict[str, Any]:
        """`studio evaluate --json` of an image run, plus the kind and the texts cut at max length."""
        return {**super().to_dict(), "kind": self.kind, "truncated": self.truncated}


def evaluate_text_run(lib: Library, run_id: int, split: str = "test", *, device: str = DEFAULT_DEVICE,
                      state: JobState | None = None, store: bool = True) -> TextEvaluation:
    """The run's best model on ``split`` of its dataset as the dataset is now."""
    if split not in SPLITS:
        raise InvalidInputError(f"unknown split {split!r} (choose from {', '.join(SPLITS)})")
    state = state or JobState()
    view = _run_view(lib, int(run_id))
    refs = view.split(split)
    if not refs:
        raise InvalidInputError(f"dataset {view.name!r} has no {split} samples")
    classifier = load_text_run(lib, run_id, resolve_device(device))
    tokens = split_tokens(lib, view, refs, classifier, state)
    probabilities = predict_in_chunks(classifier, tokens, state)
    predicted = probabilities.argmax(1)
    confidence = probabilities[np.arange(len(refs)), predicted]
    ids = [ref.id for ref in refs]
    if store:
        store_predictions(lib, int(run_id), ids, predicted, probabilities, classifier.classes)
    result = TextEvaluation(int(run_id), split, view.id, list(classifier.classes), len(refs),
                            confidences=dict(zip(ids, confidence.tolist())), truncated=tokens.truncated_count)
    labels = model_labels(view, refs, classifier.classes)
    known = labels >= 0
    if known.any():
        report = classification_report(labels[known], predicted[known], len(result.classes), result.classes)
        result.labelled, result.accuracy, result.per_class = report["labelled"], report["accuracy"], report["per_class"]
        result.confusion = np.asarray(report["confusion_matrix"])
        result.cells, result.mistakes = cells_and_mistakes(ids, labels, predicted, confidence, result.classes)
    state.set_progress(1.0, "evaluated")
    return result


def _run_view(lib: Library, run_id: int) -> DatasetView:
    """The run's dataset with the validation split the run used (texts held out of train, if it had none)."""
    with lib.session() as s:
        run = s.get(Run, run_id)
        if run is None:
            raise NotFoundError(f"no run {run_id}")
        if run.dataset_id is None:
            raise InvalidInputError(f"run {run_id}: its dataset was deleted")
        view = load_view(s, int(run.dataset_id))
        held = (run.spec or {}).get("holdout_val_ids")
    return apply_holdout(view, held) if held else view


def model_labels(view: DatasetView, refs: list[SampleRef], classes: list[str]) -> np.ndarray:
    """Each text's label as an index into the model's classes; -1: unlabelled, or a class the model lacks."""
    to_model = {i: (classes.index(name) if name in classes else -1) for i, name in enumerate(view.classes)}
    return np.array([to_model[ref.label] if ref.label >= 0 else -1 for ref in refs], dtype=np.int64)


def split_tokens(lib: Library, view: DatasetView, refs: list[SampleRef], classifier: TextClassifier,
                 state: JobState) -> TokenizedTexts:
    """The token ids of ``refs`` (in order) from the token cache of the whole dataset, or tokenized
    in memory when the cache cannot be written (a read-only library, a full disk)."""
    try:
        texts, _tokenized_now = tokenize_dataset(lib, view, classifier.tokenizer, classifier.max_length,
                                                 _ScaledProgress(state, TOKENIZING))
    except OSError:
        return classifier.tokenize([lib.blobs.read(ref.blob).decode("utf-8") for ref in refs])
    row_of = {ref.id: row for row, ref in enumerate(view.samples)}
    return texts.subset([row_of[ref.id] for ref in refs])


def predict_in_chunks(classifier: TextClassifier, tokens: TokenizedTexts, state: JobState) -> np.ndarray:
    """Class probabilities, one row per text, with progress and a cancel check between chunks."""
    out = []
    for start in range(0, len(tokens), PREDICT_CHUNK):
        state.check_cancelled()
        state.set_progress(TOKENIZING + (1 - TOKENIZING) * start / len(tokens),
                           f"predicting text {start + 1:,} of {len(tokens):,}")
        out.append(classifier.probabilities(tokens.subset(np.arange(start, min(start + PREDICT_CHUNK, len(tokens))))))
    return np.concatenate(out)


class _ScaledProgress:
    """A JobState that tokenize_dataset reports to: its progress fills the first ``share`` of the job's."""

    def __init__(self, state: JobState, share: float):
        self.state, self.share = state, share

    def set_progress(self, fraction: float, message: str | None = None) -> None:
        self.state.set_progress(fraction * self.share, message)

    def check_cancelled(self) -> None:
        self.state.check_cancelled()
