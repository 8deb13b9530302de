"""Evaluating a text run on real texts (300 Rotten Tomatoes sentences, a trained tiny BERT): the
scores, cells and mistakes equal what the run's classifier gives on the same texts computed
directly (its own in-memory tokenization, scikit-learn's metrics); the token cache training
wrote is read, not rewritten; a dataset without test texts says so, and its validation texts
are the ones the run held out of train."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn import metrics
from sqlalchemy import select
from text_runs import DATASET, shared_text_library

from studio.core.errors import InvalidInputError
from studio.data.samples import load_view
from studio.data.text.samples import read_texts
from studio.store.library import Library
from studio.store.models import Prediction, Run
from studio.store.splits import auto_split
from studio.train.evaluate import evaluate_run
from studio.train.runner import create_run, run_training
from studio.train.spec import TrainSpec
from studio.train.text.evaluation import TextEvaluation
from studio.train.text.inference import load_text_run


@pytest.fixture(scope="module")
def text_template(tmp_path_factory):
    home, run_id = shared_text_library(tmp_path_factory)
    return home.parent, home, run_id


@pytest.fixture
def library(text_template, tmp_path):
    """A copy of the template library, open (each test may change it)."""
    root, home, run_id = text_template
    shutil.copytree(home, tmp_path / "library")
    lib = Library.open(tmp_path / "library")
    yield lib, run_id, root
    lib.close()


def split_texts(lib: Library, split: str) -> tuple[list[int], list[str], list[str]]:
    """(sample ids, texts, class names) of a split, in the dataset's order."""
    with lib.session() as s:
        view = load_view(s, DATASET)
    refs = view.split(split)
    ids = [ref.id for ref in refs]
    return ids, read_texts(lib, ids), [view.classes[ref.label] for ref in refs]


def direct(lib: Library, run_id: int, split: str):
    """The run's classifier on the split's texts, tokenized in memory: (ids, truth, predicted, confidence)."""
    ids, texts, names = split_texts(lib, split)
    classifier = load_text_run(lib, run_id)
    probabilities = classifier.probabilities(texts)
    truth = np.array([classifier.classes.index(name) for name in names])
    predicted = probabilities.argmax(1)
    return np.array(ids), truth, predicted, probabilities.max(1)


def test_scores_cells_and_mistakes_equal_the_classifier_on_the_test_texts(library):
    lib, run_id, _root = library
    result = evaluate_run(lib, run_id, "test")
    assert isinstance(result, TextEvaluation) and result.kind == "text"
    ids, truth, predicted, confidence = direct(lib, run_id, "test")
    assert result.samples == result.labelled == len(ids) > 40  # about 15% of 150 per class
    assert result.classes == ["neg", "pos"]
    assert result.accuracy == pytest.approx(metrics.accuracy_score(truth, predicted), abs=1e-6)
    assert 0.6 < result.accuracy < 1.0  # a trained model that still makes mistakes to list
    np.testing.assert_array_equal(result.confusion, metrics.confusion_matrix(truth, predicted, labels=[0, 1]))
    precision, recall, f1, support = metrics.precision_recall_fscore_support(truth, predicted, labels=[0, 1],
                                                                             zero_division=0)
    for i, row in enumerate(result.per_class):
        assert row["class"] == result.classes[i] and row["support"] == support[i]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx((precision[i], recall[i], f1[i]), abs=1e-5)
    texts = split_texts(lib, "test")[1]
    assert result.truncated == load_text_run(lib, run_id).tokenize(texts).truncated_count  # cut at max length 48
    assert result.confidences == pytest.approx(dict(zip(ids.tolist(), confidence.tolist())), abs=1e-5)

    for (true_index, predicted_index), cell in result.cells.items():
        members = (truth == true_index) & (predicted == predicted_index)
        assert sorted(cell) == sorted(ids[members].tolist())
        shown = [result.confidences[i] for i in cell]
        assert shown == sorted(shown, reverse=True)  # surest first
    assert sum(len(cell) for cell in result.cells.values()) == len(ids)

    wrong = truth != predicted
    assert sorted(m.sample_id for m in result.mistakes) == sorted(ids[wrong].tolist()) and result.mistakes
    assert [m.confidence for m in result.mistakes] == sorted((m.confidence for m in result.mistakes), reverse=True)
    by_id = dict(zip(ids.tolist(), zip(truth.tolist(), predicted.tolist())))
    for mistake in result.mistakes:
        assert (mistake.true_class, mistake.predicted_class) == tuple(result.classes[i] for i in by_id[mistake.sample_id])

    with lib.session() as s:  # stored for the labelling view's suggestions, as for images
        stored = dict(s.execute(select(Prediction.sample_id, Prediction.class_name).where(Prediction.run_id == run_id)).all())
    assert stored == {sid: result.classes[p] for sid, p in zip(ids.tolist(), predicted.tolist())}
    assert result.to_dict()["kind"] == "text" and result.to_dict()["accuracy"] == result.accuracy


def test_the_token_cache_training_wrote_is_read_not_rewritten(library):
    lib, run_id, _root = library
    before = sorted(p.relative_to(lib.cache_dir) for p in (lib.cache_dir / "tokens").rglob("*"))
    assert any(p.name.startswith("tokens-") for p in before)
    evaluate_run(lib, run_id, "val")
    assert sorted(p.relative_to(lib.cache_dir) for p in (lib.cache_dir / "tokens").rglob("*")) == before


def test_texts_are_tokenized_in_memory_when_the_cache_cannot_be_written(library):
    lib, run_id, _root = library
    shutil.rmtree(lib.cache_dir / "tokens")
    (lib.cache_dir / "tokens").write_text("not a folder")  # the cache's folder cannot be made
    result = evaluate_run(lib, run_id, "test", store=False)
    _ids, truth, predicted, _confidence = direct(lib, run_id, "test")
    np.testing.assert_array_equal(result.confusion, metrics.confusion_matrix(truth, predicted, labels=[0, 1]))


def test_a_dataset_without_test_texts_says_so_and_validates_on_the_held_out_texts(library):
    lib, _run_id, root = library
    with lib.transaction() as s:  # every text in train: no test split, and the run holds out validation texts
        auto_split(s, load_view(s, DATASET).id, (1.0, 0.0, 0.0), seed=0)
    spec = TrainSpec(encoder=str(Path(root) / "tiny-bert"), max_length=48, batch_size=16, epochs=1, lr=3e-3)
    run_id = create_run(lib, DATASET, spec)
    assert run_training(lib, run_id, None, emit=lambda _event: None)["status"] == "completed"
    with pytest.raises(InvalidInputError, match=f"dataset '{DATASET}' has no test samples"):
        evaluate_run(lib, run_id, "test")

    result = evaluate_run(lib, run_id, "val")
    with lib.session() as s:
        held = s.get(Run, run_id).spec["holdout_val_ids"]
    assert result.split == "val" and result.samples == len(held) > 20  # about 10% of each class's train texts
    assert sorted(sid for cell in result.cells.values() for sid in cell) == sorted(held)


def test_an_unknown_split_is_refused(library):
    lib, run_id, _root = library
    with pytest.raises(InvalidInputError, match="unknown split 'dev'"):
        evaluate_run(lib, run_id, "dev")
