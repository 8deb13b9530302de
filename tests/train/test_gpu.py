"""CUDA-only checks (skipped without a GPU): training really happens on the GPU, with AMP where
asked, on batches that live on the GPU, and reaches the accuracy it reaches on the CPU."""

from __future__ import annotations

import pytest
import torch

from studio.train.engine import Events
from studio.train.evaluate import evaluate_run
from studio.train.runner import create_run, run_training

pytestmark = pytest.mark.gpu


class Probe:
    """Wired in through run_training's ``control``: records, for every step, where the batch and
    the network's parameters live and what dtype the network's forward pass computed in."""

    def __init__(self):
        self.parts = None  # the run's model, optimizer, scaler (studio.train.model_setup.ModelParts)
        self.batch_devices: set[str] = set()
        self.param_devices: set[str] = set()
        self.forward_dtypes: set[torch.dtype] = set()
        self.steps = 0

    def __call__(self, engine) -> None:
        self.parts = engine.process_function.parts  # the engine's process function: a TrainStep
        engine.on(Events.ITERATION_STARTED, self._batch)
        self.parts.model.register_forward_hook(self._forward)

    def _batch(self, engine) -> None:
        batch = engine.state.batch
        self.batch_devices |= {batch.images.device.type, batch.labels.device.type}
        self.param_devices |= {p.device.type for p in self.parts.model.parameters()}
        self.steps += 1

    def _forward(self, module, inputs, output) -> None:
        if module.training:
            self.forward_dtypes.add(output.dtype)


def train(lib, spec):
    probe, events = Probe(), []
    run_id = create_run(lib, "digits", spec)
    result = run_training(lib, run_id, emit=events.append, control=probe)
    assert result["status"] == "completed"
    return run_id, result, probe, events


def test_cuda_training_with_amp_on_gpu_resident_batches_reaches_cpu_accuracy(digits_lib):
    run_id, result, probe, events = train(digits_lib, {"model": "simple-cnn", "image_size": 16, "epochs": 4, "device": "cuda"})
    assert events[0]["device"].startswith("cuda")
    assert probe.steps > 0 and probe.batch_devices == {"cuda"} and probe.param_devices == {"cuda"}
    assert probe.forward_dtypes == {torch.float16}  # AMP on by default on CUDA
    assert probe.parts.scaler.is_enabled()
    assert result["metrics"]["val_accuracy"] > 0.9
    assert evaluate_run(digits_lib, run_id, "test", device="cuda").accuracy > 0.9
    steps = [e for e in events if e["event"] == "step"]
    assert steps and all(e["gpu_mem_mb"] > 0 for e in steps)  # the Train page shows it


def test_amp_can_be_switched_off_on_cuda(digits_lib):
    run_id, result, probe, _ = train(digits_lib, {"model": "simple-cnn", "image_size": 16, "epochs": 4, "device": "cuda",
                                                  "amp": False})
    assert probe.batch_devices == {"cuda"} and probe.param_devices == {"cuda"}
    assert probe.forward_dtypes == {torch.float32} and not probe.parts.scaler.is_enabled()
    assert evaluate_run(digits_lib, run_id, "test", device="cuda").accuracy > 0.9


def test_resnet18_fine_tune_on_cuda(digits_lib):
    run_id, result, probe, events = train(digits_lib, {"model": "resnet18", "image_size": 64, "epochs": 3, "device": "cuda",
                                                       "freeze": "backbone", "unfreeze_after": 1})
    assert any(e["event"] == "unfreeze" for e in events)
    assert probe.batch_devices == {"cuda"} and probe.param_devices == {"cuda"}
    assert evaluate_run(digits_lib, run_id, "test", device="cuda").accuracy > 0.8
