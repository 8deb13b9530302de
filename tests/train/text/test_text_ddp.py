"""Texts train data-parallel like images: `studio train TEXTS --gpus 2` runs two processes through
torchrun (gloo on CPU), each stepping through half of every epoch's length-bucketed batches, with
rank 0 alone speaking and writing the Hugging Face folder."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from text_runs import DATASET, make_text_library

from studio.store.library import Library
from studio.store.models import Run


def train(home, encoder, *extra) -> list[dict]:
    proc = subprocess.run(
        [sys.executable, "-m", "studio", "--home", str(home), "train", DATASET, "--encoder", str(encoder),
         "--max-length", "48", "--batch-size", "16", "--epochs", "3", "--device", "cpu", "--json", *extra],
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_studio_train_gpus_2_trains_texts_in_two_processes_each_on_half_the_batches(tmp_path):
    home, single_run = make_text_library(tmp_path, epochs=3)
    encoder = tmp_path / "tiny-bert"
    events = train(home, encoder, "--gpus", "2")
    done = events[-1]
    assert done["status"] == "completed", done
    assert sum(e["event"] == "start" for e in events) == 1  # rank 0 alone speaks
    assert "x2 processes" in events[0]["device"]
    ready = next(e for e in events if e["event"] == "data")
    lib = Library.open(home)
    with lib.session() as s:
        single_steps = s.get(Run, single_run).step // 3  # the one-process run's steps per epoch
        ddp = s.get(Run, done["run_id"])
        assert ddp.spec["gpus"] == 2 and ddp.step == 3 * ready["steps_per_epoch"]
    assert ready["steps_per_epoch"] == (single_steps + 1) // 2
    assert done["metrics"]["val_accuracy"] > 0.6  # it learned the reviews, not each rank a private half

    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(home / "runs" / str(done["run_id"]))
    assert model.config.id2label == {0: "neg", 1: "pos"}
