"""`studio weights list|import`: what an offline user runs to start from ImageNet weights they have
as a file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch


def _studio(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", *args], check=False, capture_output=True, text=True, timeout=300, env=env)


def test_import_a_weights_file_then_list_shows_where_it_is(tmp_path):
    import torchvision

    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch"), "STUDIO_HOME": str(tmp_path / "home")}
    torch.manual_seed(0)
    source = tmp_path / "mobilenet_v2.pth"
    torch.save(torchvision.models.mobilenet_v2().state_dict(), source)  # random init, NOT ImageNet-trained

    wrong = _studio("weights", "import", str(source), "--model", "resnet18", env=env)
    assert wrong.returncode == 1 and wrong.stderr.count("\n") == 1 and "weights do not fit resnet18" in wrong.stderr

    done = _studio("weights", "import", str(source), "--model", "mobilenet_v2", "--json", env=env)
    assert done.returncode == 0, done.stderr
    imported = json.loads(done.stdout)
    assert imported["model"] == "mobilenet_v2" and imported["tensors"] == 312 and not imported["renamed"]

    listed = _studio("weights", "list", "--json", env=env)
    rows = {row["model"]: row["imagenet_weights"] for row in map(json.loads, listed.stdout.splitlines())}
    assert rows["mobilenet_v2"] == imported["path"] and rows["resnet18"] is None and "simple-cnn" not in rows
