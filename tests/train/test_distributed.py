"""Data-parallel training on CPU (gloo): the studio's trainer under DDP must synchronise gradients.

Two checks that fail if the ranks never synchronise (each would then train on its own half):
- after training, both ranks hold bit-identical weights;
- those weights equal one process trained on the full batch (float tolerance): the ranks' shards
  of each batch together are exactly the single-process batch and their gradients are averaged.
And `studio train --gpus 2` end to end through torchrun, as a user runs it.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from studio.store.library import Library
from studio.train.runner import create_run

SPEC = {"model": "simple-cnn", "image_size": 8, "epochs": 2, "batch_size": 32, "augment": "none",
        "device": "cpu", "pretrained": "none", "seed": 3}

# One rank (or the single-process reference) of the studio's own trainer, run in a fresh process.
# BatchNorm and Dropout are taken out of simple-cnn here: per-rank BatchNorm statistics over 16
# images and per-rank dropout masks legitimately differ from one process over 32 images, so with
# them "equal to the full batch" would not hold even for perfect gradient synchronisation.
RANK_SCRIPT = r"""
import os, sys
import torch
from torch import nn
from safetensors.torch import save_file

home, run_id, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]


class Without(nn.Identity):
    def __init__(self, *args, **kwargs):
        super().__init__()


nn.BatchNorm2d = nn.Dropout = Without
torch.set_num_threads(1)
if int(os.environ.get("WORLD_SIZE", "1")) > 1:
    import torch.distributed as dist
    dist.init_process_group("gloo")
from studio.store.library import Library
from studio.train.runner import run_training

steps, initial = [], {}


def capture(engine):
    step = engine.process_function  # a studio.train.step.TrainStep
    steps.append(step)
    initial.update({k: v.detach().clone().contiguous() for k, v in step.parts.model.state_dict().items()})


lib = Library.open(home)
result = run_training(lib, run_id, control=capture)
model = steps[0].parts.model
assert not any(isinstance(m, (torch.nn.modules.batchnorm._BatchNorm, torch.nn.modules.dropout._DropoutNd)) for m in model.modules())
save_file(initial, out + ".initial")
assert not isinstance(model, nn.parallel.DistributedDataParallel)
if int(os.environ.get("WORLD_SIZE", "1")) > 1:
    assert isinstance(steps[0].parts.train_model, nn.parallel.DistributedDataParallel)
    assert len(steps[0].data.train_loader) == 5 and steps[0].data.train_loader.batch_size == 16
save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, out)
print(result["status"])
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def small_digits_library(home: Path) -> None:
    from studio.data.digits import add_digits_dataset

    lib = Library.open(home)
    add_digits_dataset(lib, "digits", per_class=16)  # 160 train images: 5 batches of 32 (2 x 16 per rank)
    lib.close()


def new_run(home: Path) -> int:
    lib = Library.open(home)
    try:
        return create_run(lib, "digits", dict(SPEC))
    finally:
        lib.close()


def launch(home: Path, run_id: int, out: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", RANK_SCRIPT, str(home), str(run_id), str(out)],
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc: subprocess.Popen) -> None:
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0 and out.strip().endswith("completed"), err[-3000:]


@pytest.mark.slow
def test_ddp_ranks_hold_identical_weights_equal_to_one_process_on_the_full_batch(tmp_path):
    home = tmp_path / "library"
    small_digits_library(home)
    single_run, ddp_run = new_run(home), new_run(home)

    single = tmp_path / "single.safetensors"
    finish(launch(home, single_run, single, {"WORLD_SIZE": "1", "RANK": "0"}))

    port = str(free_port())
    ranks = [tmp_path / f"rank{r}.safetensors" for r in range(2)]
    procs = [launch(home, ddp_run, ranks[r], {"RANK": str(r), "LOCAL_RANK": str(r), "WORLD_SIZE": "2",
                                             "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": port}) for r in range(2)]
    for proc in procs:
        finish(proc)

    w0, w1, ref = load_file(str(ranks[0])), load_file(str(ranks[1])), load_file(str(single))
    assert w0.keys() == w1.keys() == ref.keys()
    for name in ref:
        assert torch.equal(w0[name], w1[name]), f"ranks disagree on {name}"
    start = load_file(str(single) + ".initial")
    assert all(torch.equal(start[k], load_file(str(ranks[r]) + ".initial")[k]) for k in start for r in range(2))
    moved = max(float((ref[k] - start[k]).abs().max()) for k in ref)
    worst = max(float((w0[k] - ref[k]).abs().max()) for k in ref)
    assert moved > 1e-2  # training really changed the weights...
    assert worst < 1e-4, worst  # ...and two synchronised half-batches did exactly what one full batch did
    saved = load_file(str(home / "runs" / str(ddp_run) / "model.safetensors"))  # rank 0 wrote the run's model
    assert all(torch.equal(saved[k], w0[k]) for k in saved)


def train_cli(home, *extra):
    proc = subprocess.run([sys.executable, "-m", "studio", "--home", str(home), "train", "digits", "--model", "simple-cnn",
                           "--image-size", "12", "--epochs", "4", "--augment", "crop", "--device", "cpu", "--json", *extra],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


@pytest.mark.slow
def test_studio_train_gpus_2_runs_two_processes_through_torchrun(digits_home):
    events = train_cli(digits_home, "--gpus", "2")
    done = events[-1]
    assert done["status"] == "completed"
    assert sum(e["event"] == "start" for e in events) == 1  # rank 0 alone speaks
    assert "x2 processes" in events[0]["device"]
    assert done["metrics"]["val_accuracy"] > 0.9
