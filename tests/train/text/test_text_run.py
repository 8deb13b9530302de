"""Text datasets train through the worker's run: create_run resolves a text spec, run_training
trains it on the same Engine, handlers, events, checkpoints and run row as images and tables.
Real Rotten Tomatoes sentences imported with the text importer; a tiny random BERT with the real
MiniLM tokenizer (so a run takes seconds)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from studio.core.errors import InvalidInputError, NotFoundError
from studio.core.jobs import JobState
from studio.data.text.importing import import_text_lines
from studio.store.datasets import create_dataset
from studio.store.models import Run
from studio.train import budget
from studio.train.events import from_dict
from studio.train.runner import create_run, run_training
from studio.train.spec import TEXT_BASE_EPOCHS, TEXT_BATCH_SIZE, TrainSpec
from studio.train.text.fit import TextTrainSettings

PER_CLASS = 100


@pytest.fixture
def reviews(library, rotten_tomatoes) -> str:
    """200 real review sentences (100 negative, 100 positive) pasted into a text dataset, no val split."""
    texts, labels = rotten_tomatoes
    with library.transaction() as s:
        create_dataset(s, "reviews", kind="text")
    for name, label in (("neg", 0), ("pos", 1)):
        lines = [t for t, y in zip(texts, labels) if y == label][:PER_CLASS]
        import_text_lines(library, _dataset_id(library), lines, class_name=name)
    return "reviews"


def _dataset_id(lib) -> int:
    from studio.data.samples import find_dataset

    with lib.session() as s:
        return find_dataset(s, "reviews").id


def _settings(encoder, **changes) -> TrainSpec:
    return TrainSpec(encoder=str(encoder), max_length=48, batch_size=16, **changes)


def _train(lib, run_id: int, state: JobState | None = None, **kwargs) -> tuple[dict, list]:
    events: list = []
    result = run_training(lib, run_id, state, emit=lambda e: events.append(from_dict(e)), **kwargs)
    return result, events


def test_a_text_run_trains_through_the_worker_run_and_saves_a_hugging_face_folder(library, reviews, tiny_encoder):
    run_id = create_run(library, reviews, _settings(tiny_encoder, epochs=8, lr=3e-3, backbone_lr_mult=1.0))
    with library.session() as s:
        run = s.get(Run, run_id)
        spec, classes = dict(run.spec), list(run.classes)
    assert spec["kind"] == "text" and classes == ["neg", "pos"] and spec["model"] == tiny_encoder.name
    assert len(spec["holdout_val_ids"]) == 20 and spec["train_count"] == 180

    result, events = _train(library, run_id)
    assert result["status"] == "completed" and result["epochs"] == 8
    data = next(e for e in events if type(e).kind == "data")
    assert (data.train_samples, data.val_samples) == (180, 20)
    assert "tokenized 200 of 200 texts (the rest came from the token cache)" in data.notes
    epochs = [e for e in events if type(e).kind == "epoch"]
    assert epochs[-1].train_loss < 0.5 * epochs[0].train_loss  # it learns the real reviews
    assert "val_f1" in epochs[-1].scores and 0.0 <= epochs[-1].scores["val_f1"] <= 1.0

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = library.home / "runs" / str(run_id)
    model = AutoModelForSequenceClassification.from_pretrained(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    assert model.config.id2label == {0: "neg", 1: "pos"}
    assert len(tokenizer("a " * 200, truncation=True)["input_ids"]) == 48  # cut at the run's max length
    assert len(tokenizer("a a")["input_ids"]) == 4  # no fixed padding
    card = json.loads((folder / "model.json").read_text())
    assert card["kind"] == "text" and card["metrics"]["epoch"] >= 1

    second, events = _train(library, create_run(library, reviews, _settings(tiny_encoder, epochs=1)))
    assert second["status"] == "completed"
    assert "tokenized 0 of 200 texts (the rest came from the token cache)" in next(
        e for e in events if type(e).kind == "data").notes


def test_automatic_epochs_give_a_few_shot_run_enough_steps(library, reviews, tiny_encoder):
    run_id = create_run(library, reviews, {"encoder": str(tiny_encoder)})
    with library.session() as s:
        spec = s.get(Run, run_id).spec
    steps = spec["epochs"] * math.ceil(spec["train_count"] / spec["batch_size"])
    assert spec["auto_epochs"] and spec["batch_size"] == TEXT_BATCH_SIZE and steps >= budget.MIN_STEPS
    core = TextTrainSettings()  # the spec's automatic values are the text core's defaults
    assert (spec["lr"], spec["max_length"], spec["backbone_lr_mult"]) == (core.lr, core.max_length, core.body_lr_mult)
    assert (TEXT_BATCH_SIZE, TEXT_BASE_EPOCHS) == (core.batch_size, core.epochs)


def test_a_stopped_text_run_resumes_to_the_end(library, reviews, tiny_encoder):
    run_id = create_run(library, reviews, _settings(tiny_encoder, epochs=5))
    state = JobState()

    def stop_in_epoch_3(event: dict) -> None:
        if event["event"] == "step" and event["epoch"] == 3:
            state.cancel()

    stopped = run_training(library, run_id, state, emit=stop_in_epoch_3)
    assert stopped["status"] == "stopped" and 2 <= stopped["epochs"] < 5
    resumed, events = _train(library, run_id, resume=True)
    assert resumed["status"] == "completed" and resumed["epochs"] == 5
    assert events[0].resume and events[1].resumed_from_epoch == stopped["epochs"]
    assert next(e.epoch for e in events if type(e).kind == "epoch") == stopped["epochs"] + 1

    uninterrupted, _ = _train(library, create_run(library, reviews, _settings(tiny_encoder, epochs=5)))
    # the same batches, rates and weights (the resumed epoch's train loss averages only its remaining steps)
    same = ("epoch", "val_loss", "val_accuracy", "val_f1")
    assert {k: resumed["metrics"][k] for k in same} == pytest.approx({k: uninterrupted["metrics"][k] for k in same})


def test_image_settings_and_a_missing_encoder_are_refused_for_texts(library, reviews, tmp_path):
    with pytest.raises(InvalidInputError, match="--image-size is a setting for image datasets; 'reviews' is a text"):
        create_run(library, reviews, {"image_size": 32})
    with pytest.raises(NotFoundError, match="encoder folder not found"):
        create_run(library, reviews, {"encoder": str(tmp_path / "missing")})


def test_text_settings_are_refused_for_images(digits_lib):
    with pytest.raises(InvalidInputError, match="--max-length is a setting for text datasets; 'digits' is an image"):
        create_run(digits_lib, "digits", {"max_length": 64})


def test_studio_train_shows_a_text_runs_progress_through_the_worker(library, reviews, tiny_encoder):
    shown = subprocess.run(
        [sys.executable, "-m", "studio", "--home", str(library.home), "train", reviews, "--encoder", str(tiny_encoder),
         "--max-length", "32", "--batch-size", "32", "--epochs", "2"],
        check=False, capture_output=True, text=True, timeout=300)
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert f"{tiny_encoder.name} on cpu" in shown.stderr and "2 epochs, batch 32" in shown.stderr
    assert "180 train / 20 val texts, 2 classes" in shown.stderr and "note: tokenized 200 of 200 texts" in shown.stderr
    assert "texts are longer than 32 tokens and were cut" in shown.stderr  # real sentences, a short max length
    assert "epoch 2/2: train loss" in shown.stderr and " f1 " in shown.stderr
    assert "completed: best val accuracy" in shown.stdout, shown.stdout


def test_a_text_dataset_with_one_class_is_refused_before_a_run_exists(library, rotten_tomatoes, tiny_encoder):
    texts, labels = rotten_tomatoes
    with library.transaction() as s:
        create_dataset(s, "reviews", kind="text")
    import_text_lines(library, _dataset_id(library), [t for t, y in zip(texts, labels) if y == 1][:20], class_name="pos")
    with pytest.raises(InvalidInputError, match="only one class"):
        create_run(library, "reviews", _settings(tiny_encoder))
    with library.session() as s:
        assert s.query(Run).count() == 0
