"""Texts train data-parallel like images: with --gpus 2 two processes (torchrun; gloo on CPU) each
step through their share of every epoch's length-bucketed batches, with gradients synchronised
(both ranks end with bit-identical weights, which they could not if each learned from its own
batches alone), rank 0 alone speaking and writing the Hugging Face folder."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file
from text_runs import DATASET, make_text_library

from studio.commands.train import worker_argv
from studio.store.library import Library
from studio.train.runner import create_run
from studio.train.spec import TrainSpec

# One rank of the studio's own text run, in a fresh process: its model's weights when training ends.
RANK_SCRIPT = r"""
import sys
import torch
import torch.distributed as dist
from safetensors.torch import save_file

home, run_id, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
torch.set_num_threads(1)
dist.init_process_group("gloo")
from studio.store.library import Library
from studio.train.runner import run_training

loops = []
result = run_training(Library.open(home), run_id, control=lambda engine: loops.append(engine.process_function.__self__))
assert loops[0].train_model is not loops[0].model  # wrapped in DDP
save_file({k: v.detach().contiguous() for k, v in loops[0].model.state_dict().items()}, out)
print(result["status"])
"""


def new_run(home, encoder, gpus: int) -> int:
    spec = TrainSpec(encoder=str(encoder), max_length=48, batch_size=16, epochs=2, lr=3e-3, backbone_lr_mult=1.0,
                     device="cpu", gpus=gpus)
    lib = Library.open(home)
    try:
        return create_run(lib, DATASET, spec)
    finally:
        lib.close()


def free_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return str(sock.getsockname()[1])


@pytest.fixture(scope="module")
def texts_home(tmp_path_factory):
    root = tmp_path_factory.mktemp("ddp-texts")
    home, _ = make_text_library(root, train=False)
    return home, root / "tiny-bert"


@pytest.mark.slow
def test_two_ranks_end_with_identical_weights_that_training_moved(texts_home, tmp_path):
    home, encoder = texts_home
    run_id = new_run(home, encoder, gpus=2)
    port, outs = free_port(), [tmp_path / f"rank{r}.safetensors" for r in range(2)]
    procs = [subprocess.Popen([sys.executable, "-c", RANK_SCRIPT, str(home), str(run_id), str(outs[r])],
                              env={**os.environ, "RANK": str(r), "LOCAL_RANK": str(r), "WORLD_SIZE": "2",
                                   "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port},
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for r in range(2)]
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0 and out.strip().endswith("completed"), err[-3000:]
    w0, w1 = load_file(str(outs[0])), load_file(str(outs[1]))
    start = load_file(str(encoder / "model.safetensors"))
    assert all(torch.equal(w0[k], w1[k]) for k in w0), "the ranks disagree: gradients were not synchronised"
    body = [k for k in w0 if k.startswith("bert.encoder.") and k.removeprefix("bert.") in start]
    assert body and max(float((w0[k] - start[k.removeprefix("bert.")]).abs().max()) for k in body) > 1e-3


@pytest.mark.slow
def test_studio_train_gpus_2_runs_a_text_run_through_torchrun_on_half_the_steps(texts_home):
    home, encoder = texts_home
    events = {}
    for gpus in (1, 2):  # what `studio train DATASET --gpus N` starts after creating the run
        proc = subprocess.run(worker_argv(home, new_run(home, encoder, gpus), gpus=gpus), capture_output=True,
                              text=True, timeout=600, check=False)
        assert proc.returncode == 0, proc.stderr[-3000:]
        events[gpus] = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    one, two = events[1], events[2]
    assert one[-1]["status"] == two[-1]["status"] == "completed", (one[-1], two[-1])
    assert sum(e["event"] == "start" for e in two) == 1  # rank 0 alone speaks
    assert "x2 processes" in two[0]["device"] and "x2" not in one[0]["device"]
    steps = [next(e for e in run if e["event"] == "data")["steps_per_epoch"] for run in (one, two)]
    assert steps[1] == (steps[0] + 1) // 2  # each rank takes every other batch

    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(home / "runs" / str(two[-1]["run_id"]))
    assert model.config.id2label == {0: "neg", 1: "pos"}
