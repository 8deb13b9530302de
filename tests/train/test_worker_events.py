"""Typed worker events: the JSON the worker writes is what the readers get back, and a reader
skips what it cannot use instead of failing on it."""

from __future__ import annotations

import json

import pytest

from studio.core.run_status import RunStatus
from studio.train import events as ev


@pytest.mark.parametrize("event", [
    ev.Started(run_id=3, model="simple-cnn", device="cpu", epochs=2, batch_size=8, image_size=16, resume=True),
    ev.DataReady(run_id=3, dataset="d", classes=["a", "b"], train_samples=10, val_samples=2, notes=["held out"],
                 steps_per_epoch=2),
    ev.CacheProgress(fraction=0.5, message="decoding"),
    ev.DownloadProgress(bytes=10, total=100),
    ev.Step(step=5, epoch=1, loss=0.25, lr=0.001, samples_per_s=120.0, gpu_mem_mb=512.0),
    ev.EpochCompleted(epoch=1, step=23, train_loss=0.4, train_accuracy=0.8, val_loss=0.5, val_accuracy=0.7,
                      eta_s=3.0, seconds=1.5, train_seconds=1.2),
    ev.Unfrozen(epoch=2),
    ev.CheckpointSaved(run_id=3, epoch=1, step=23, path="/x/checkpoint.pt", is_best=True),
    ev.Paused(run_id=3),
    ev.Resumed(run_id=3),
    ev.Finished(run_id=3, status=RunStatus.COMPLETED, metrics={"val_accuracy": 0.9}, epochs=2, steps=46,
                notes=[], model_path="/x/model.safetensors"),
])
def test_every_event_survives_the_wire(event):
    line = event.to_json()
    assert json.loads(line)["event"] == event.kind
    assert ev.from_json(line) == event


def test_optional_fields_left_out_stay_out_of_the_json():
    step = ev.Step(step=1, epoch=1, loss=1.0, lr=0.1, samples_per_s=10.0).to_dict()
    assert "gpu_mem_mb" not in step  # off CUDA the worker never sent the key
    failed = ev.Finished(run_id=1, status="failed", error="out of memory").to_dict()
    assert failed == {"event": "done", "run_id": 1, "status": "failed", "error": "out of memory", "metrics": {}}


def test_finished_status_is_the_enum_and_compares_as_text():
    done = ev.from_dict({"event": "done", "run_id": 1, "status": "failed", "error": "boom"})
    assert done.status is RunStatus.FAILED and done.status == "failed" and done.failed
    assert f"{done.status}" == "failed"


@pytest.mark.parametrize("obj", [
    {"event": "step"},  # required fields missing
    {"event": "no-such-kind", "step": 1},
    {"event": "done", "run_id": 1, "status": "exploded"},  # not a run status
    {"step": 1, "loss": 0.5},  # no kind at all
    ["event", "step"],
])
def test_incomplete_or_unknown_objects_read_as_none(obj):
    assert ev.from_dict(obj) is None


def test_unknown_keys_from_a_newer_worker_are_ignored():
    event = ev.from_dict({"event": "unfreeze", "epoch": 3, "layers": 12})
    assert event == ev.Unfrozen(epoch=3)


def test_from_json_skips_lines_that_are_not_objects():
    assert ev.from_json("{not json") is None
    assert ev.from_json("[1, 2]") is None
