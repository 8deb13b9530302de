"""CUDA-only checks (skipped without a GPU): training on the GPU with AMP and GPU-resident data."""

from __future__ import annotations

import pytest
import torch

from studio.train.runner import create_run, run_training

pytestmark = pytest.mark.gpu


def test_cuda_training_with_amp_and_gpu_resident_cache(digits_lib, monkeypatch):
    from studio.data import cache

    made = []
    real_init = cache.ImageTensors.__init__

    def spy(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        made.append(self)

    monkeypatch.setattr(cache.ImageTensors, "__init__", spy)
    events = []
    run_id = create_run(digits_lib, "digits", {"model": "simple-cnn", "image_size": 16, "epochs": 4, "device": "cuda"})
    result = run_training(digits_lib, run_id, emit=events.append)
    assert result["status"] == "completed" and result["metrics"]["val_accuracy"] > 0.9
    assert events[0]["device"].startswith("cuda")
    assert made and all(m.in_memory and m._tensor.device.type == "cuda" for m in made)
    steps = [e for e in events if e["event"] == "step"]
    assert steps and all(e["gpu_mem_mb"] > 0 for e in steps)  # the Train page shows it


def test_amp_can_be_switched_off_on_cuda(digits_lib):
    run_id = create_run(digits_lib, "digits", {"model": "simple-cnn", "image_size": 16, "epochs": 1, "device": "cuda", "amp": False})
    assert run_training(digits_lib, run_id)["status"] == "completed"


def test_resnet18_fine_tune_on_cuda(digits_lib):
    run_id = create_run(digits_lib, "digits", {"model": "resnet18", "image_size": 64, "epochs": 2, "device": "cuda",
                                               "freeze": "backbone", "unfreeze_after": 1})
    events = []
    result = run_training(digits_lib, run_id, emit=events.append)
    assert result["status"] == "completed"
    assert any(e["event"] == "unfreeze" for e in events)
    assert torch.cuda.max_memory_allocated() > 0
