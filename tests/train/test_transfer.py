"""The transfer-learning claim, measured: a model trained on digits 0-4, fine-tuned on 10 samples
per class of digits 5-9, beats the same network trained from scratch on those 10 per class."""

from __future__ import annotations

import pytest

from studio.data.digits import add_digits_dataset
from studio.store.library import Library
from studio.train.evaluate import evaluate_run
from studio.train.runner import create_run, run_training


@pytest.mark.slow
def test_fine_tuning_beats_training_from_scratch_on_few_samples(tmp_path):
    lib = Library.open(tmp_path / "lib")
    add_digits_dataset(lib, "low", digits=range(5))
    add_digits_dataset(lib, "high", digits=range(5, 10), per_class=10)
    base = create_run(lib, "low", {"model": "simple-cnn", "image_size": 16, "epochs": 5, "augment": "crop"})
    assert run_training(lib, base)["metrics"]["val_accuracy"] > 0.95

    few = {"epochs": 15, "batch_size": 16, "augment": "crop", "seed": 0}
    events = []
    tuned = create_run(lib, "high", {**few, "pretrained": str(base)})
    run_training(lib, tuned, emit=events.append)
    assert next(e for e in events if e["event"] == "data")["head_replaced"] is True  # new classes, new head
    scratch = create_run(lib, "high", {**few, "model": "simple-cnn", "image_size": 16})
    run_training(lib, scratch)

    tuned_acc = evaluate_run(lib, tuned, "test")["accuracy"]
    scratch_acc = evaluate_run(lib, scratch, "test")["accuracy"]
    print(f"digits 5-9, 10 train samples per class: fine-tuned {tuned_acc:.3f} vs from scratch {scratch_acc:.3f}")
    assert tuned_acc > scratch_acc + 0.05
    lib.close()
