"""The engine's evaluation result: the cells of the confusion matrix know their samples, the
mistakes are the off-diagonal samples surest first, and the CLI and the GUI get the same object."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select

from studio.store.library import Library
from studio.store.models import LabelClass, Prediction, Sample
from studio.train.evaluate import DEFAULT_DEVICE, Evaluation, evaluate_run
from studio.train.runner import create_run, run_training

ONE_EPOCH = {"model": "simple-cnn", "image_size": 8, "epochs": 1, "augment": "none", "batch_size": 256}


@pytest.fixture(scope="module")
def evaluated(digits_template, tmp_path_factory):
    """One short run on digits, evaluated on test; then 5 training images lose their label."""
    lib = Library.open(shutil.copytree(digits_template, tmp_path_factory.mktemp("evaluate") / "library"))
    run_id = create_run(lib, "digits", ONE_EPOCH)
    run_training(lib, run_id)
    result = evaluate_run(lib, run_id, "test")
    with lib.transaction() as s:
        for sample in s.scalars(select(Sample).where(Sample.split == "train").limit(5)):
            sample.class_id = None
    yield lib, run_id, result
    lib.close()


def _stored(lib, run_id: int) -> dict[int, tuple[str, str, float]]:
    """sample id -> (labelled class, stored prediction, confidence), for the test split."""
    with lib.session() as s:
        rows = s.execute(select(Sample.id, LabelClass.name, Prediction.class_name, Prediction.confidence)
                         .join(LabelClass, LabelClass.id == Sample.class_id)
                         .join(Prediction, Prediction.sample_id == Sample.id)
                         .where(Prediction.run_id == run_id, Sample.split == "test")).all()
    return {sid: (truth, guess, conf) for sid, truth, guess, conf in rows}


def test_cells_list_exactly_the_samples_of_each_cell_surest_first(evaluated):
    lib, run_id, result = evaluated
    stored = _stored(lib, run_id)
    assert isinstance(result, Evaluation) and result.samples == len(stored) == result.labelled
    index = {name: i for i, name in enumerate(result.classes)}
    expected: dict[tuple[int, int], set[int]] = {}
    for sid, (truth, guess, _conf) in stored.items():
        expected.setdefault((index[truth], index[guess]), set()).add(sid)
    assert {cell: set(ids) for cell, ids in result.cells.items()} == expected
    for (r, c), ids in result.cells.items():
        assert len(ids) == result.confusion[r, c]
        confidences = [stored[sid][2] for sid in ids]
        assert confidences == sorted(confidences, reverse=True)
    assert result.confusion.sum() == result.samples


def test_mistakes_are_the_off_diagonal_samples_surest_first(evaluated):
    lib, run_id, result = evaluated
    stored = _stored(lib, run_id)
    wrong = {sid for sid, (truth, guess, _c) in stored.items() if truth != guess}
    assert wrong, "one epoch on 8x8 digits leaves some mistakes to look at"
    assert {m.sample_id for m in result.mistakes} == wrong
    for m in result.mistakes:
        assert (m.true_class, m.predicted_class) == stored[m.sample_id][:2]
        assert m.confidence == pytest.approx(stored[m.sample_id][2], abs=1e-6)
    confidences = [m.confidence for m in result.mistakes]
    assert confidences == sorted(confidences, reverse=True)
    assert result.accuracy == pytest.approx(1 - len(wrong) / result.samples, abs=1e-6)


def test_json_keeps_its_keys(evaluated):
    _lib, run_id, result = evaluated
    data = result.to_dict()
    assert set(data) == {"run_id", "split", "samples", "classes", "labelled", "accuracy", "per_class", "confusion_matrix"}
    assert data["run_id"] == run_id and data["confusion_matrix"] == result.confusion.tolist()


def test_unlabelled_split_has_no_scores_and_no_cells(evaluated):
    lib, run_id, _ = evaluated
    result = evaluate_run(lib, run_id, "unlabelled", store=False)
    assert result.samples == 5 and result.accuracy is None and result.confusion is None
    assert result.cells == {} and result.mistakes == []
    assert set(result.to_dict()) == {"run_id", "split", "samples", "classes"}


def test_cli_evaluates_on_the_engine_default_device():
    from studio.cli import build_parser

    args = build_parser().parse_args(["evaluate", "1"])
    assert args.device == DEFAULT_DEVICE == "auto"
