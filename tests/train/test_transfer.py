"""Fine-tuning a previous run on a new task: digits 0-4 -> 10 samples per class of digits 5-9.

MEASURED (docs/benchmarks.md, "Training"): with simple-cnn on digits this fine-tune does NOT beat
training from scratch on the same 10 per class (the 0-4 features transfer poorly: a linear probe on
them reaches ~0.77). So this test checks what does hold: the parent's body is loaded, the head is
replaced for the new classes, fine-tuning learns the new task; and it prints both accuracies."""

from __future__ import annotations

import pytest
import torch

from studio.data.digits import add_digits_dataset
from studio.store.library import Library
from studio.train.artifacts import load_trained_model
from studio.train.evaluate import evaluate_run
from studio.train.runner import create_run, run_training


@pytest.mark.slow
def test_fine_tune_loads_the_parent_body_and_learns_new_classes(tmp_path, monkeypatch):
    from studio.train import zoo

    lib = Library.open(tmp_path / "lib")
    add_digits_dataset(lib, "low", digits=range(5))
    add_digits_dataset(lib, "high", digits=range(5, 10), per_class=10)
    base = create_run(lib, "low", {"model": "simple-cnn", "image_size": 16, "epochs": 4, "augment": "crop"})
    assert run_training(lib, base)["metrics"]["val_accuracy"] > 0.9
    parent, _ = load_trained_model(lib, base)

    loaded = []
    real = zoo.load_backbone_weights
    monkeypatch.setattr(zoo, "load_backbone_weights",
                        lambda model, *a, **k: (r := real(model, *a, **k), loaded.append({k: v.clone() for k, v in model.state_dict().items()}))[0])
    few = {"epochs": 10, "batch_size": 16, "augment": "crop", "seed": 0, "lr": 3e-3}
    events = []
    tuned = create_run(lib, "high", {**few, "pretrained": str(base)})
    run_training(lib, tuned, emit=events.append)
    assert next(e for e in events if e["event"] == "data")["head_replaced"] is True  # new classes, new head
    start = loaded[0]
    body = "features.0.0.weight"
    assert torch.equal(start[body], parent.state_dict()[body])
    assert start["head.weight"].shape == (5, parent.head.in_features)
    tuned_model, card = load_trained_model(lib, tuned)
    assert card.classes == ["5", "6", "7", "8", "9"] and card.training["pretrained"] == str(base)

    scratch = create_run(lib, "high", {**few, "model": "simple-cnn", "image_size": 16})
    run_training(lib, scratch)
    tuned_acc = evaluate_run(lib, tuned, "test")["accuracy"]
    scratch_acc = evaluate_run(lib, scratch, "test")["accuracy"]
    print(f"digits 5-9, 10 train samples per class: fine-tuned {tuned_acc:.3f} vs from scratch {scratch_acc:.3f}")
    assert tuned_acc > 0.75  # it learned the new task (chance is 0.2)
    lib.close()
