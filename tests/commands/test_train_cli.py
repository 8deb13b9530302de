"""`studio train / models / runs / evaluate` end to end, as a user scripts them (JSON lines)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from studio.store.library import Library


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, int, list[dict]]:
    """A digits library and one run trained through the CLI (simple-cnn, 16 px)."""
    from studio.data.digits import add_digits_dataset

    home = tmp_path_factory.mktemp("cli") / "library"
    lib = Library.open(home)
    add_digits_dataset(lib, "digits")
    lib.close()
    proc = studio(home, "train", "digits", "--model", "simple-cnn", "--image-size", "16", "--epochs", "6",
                  "--device", "cpu", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    events = lines(proc.stdout)
    return home, events[-1]["run_id"], events


def studio(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "studio", "--home", str(home), *args],
                          capture_output=True, text=True, timeout=600)


def lines(text: str) -> list[dict]:
    out = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert out, "no JSON lines"
    return out


def test_train_streams_json_lines_and_reaches_95_percent_on_test(trained):
    home, run_id, events = trained
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and events[-1]["status"] == "completed"
    assert kinds.count("epoch") == 6 and "step" in kinds and "checkpoint" in kinds
    assert (home / "runs" / str(run_id) / "model.safetensors").is_file()
    assert (home / "runs" / str(run_id) / "model.json").is_file()
    proc = studio(home, "evaluate", str(run_id), "--split", "test", "--json")
    assert proc.returncode == 0, proc.stderr
    result = lines(proc.stdout)[0]
    assert result["accuracy"] >= 0.95, result["accuracy"]
    assert result["samples"] == result["labelled"] == sum(row["support"] for row in result["per_class"])
    assert len(result["confusion_matrix"]) == 10 and result["classes"] == [str(d) for d in range(10)]
    assert sum(map(sum, result["confusion_matrix"])) == result["samples"]


def test_evaluate_stores_predictions_once_per_sample(trained):
    """Evaluating twice upserts: one stored prediction per (run, sample), for exactly the samples
    of the evaluated splits, holding the latest numbers."""
    from sqlalchemy import select

    from studio.store.models import Prediction, Run, Sample

    home, run_id, _ = trained
    results = {}
    for _ in range(2):
        for split in ("val", "test"):
            proc = studio(home, "evaluate", str(run_id), "--split", split, "--json")
            assert proc.returncode == 0, proc.stderr
            results[split] = lines(proc.stdout)[0]
    lib = Library.open(home)
    with lib.session() as s:
        dataset_id = s.get(Run, run_id).dataset_id
        rows = s.execute(select(Prediction.sample_id, Prediction.class_name, Prediction.confidence, Prediction.probs)
                         .where(Prediction.run_id == run_id)).all()
        evaluated = s.scalars(select(Sample.id).where(Sample.dataset_id == dataset_id,
                                                      Sample.split.in_(("val", "test")))).all()
    lib.close()
    sample_ids = [row.sample_id for row in rows]
    assert len(sample_ids) == len(set(sample_ids)), "a sample has more than one stored prediction"
    assert set(sample_ids) == set(evaluated)
    assert len(rows) == results["val"]["samples"] + results["test"]["samples"]
    for row in rows:
        assert len(row.probs) == 10 and abs(sum(row.probs) - 1) < 1e-3
        assert row.confidence == pytest.approx(max(row.probs), abs=1e-6) and row.class_name == str(row.probs.index(max(row.probs)))


def test_evaluate_human_readable(trained):
    home, run_id, _ = trained
    proc = studio(home, "evaluate", str(run_id), "--split", "test")
    assert proc.returncode == 0 and "accuracy" in proc.stdout and "confusion matrix" in proc.stdout


def test_models_list_json():
    proc = studio(Path("/nonexistent-not-used"), "models", "list", "--json")
    names = [m["name"] for m in lines(proc.stdout)]
    assert "simple-cnn" in names and "resnet18" in names
    assert all(set(m) == {"name", "default_image_size", "description", "pretrained_available"} for m in lines(proc.stdout))


def test_runs_list_show_delete(trained, tmp_path):
    home, run_id, _ = trained
    listed = lines(studio(home, "runs", "list", "--json").stdout)
    assert any(r["run_id"] == run_id and r["status"] == "completed" for r in listed)
    shown = lines(studio(home, "runs", "show", str(run_id), "--json").stdout)[0]
    assert shown["spec"]["model"] == "simple-cnn" and shown["summary"]["best"]["val_accuracy"] > 0.9
    proc = studio(home, "runs", "resume", str(run_id))
    assert proc.returncode == 1 and "already completed" in proc.stderr


def test_delete_removes_rows_and_files(tmp_path):
    from studio.data.digits import add_digits_dataset

    home = tmp_path / "library"
    lib = Library.open(home)
    add_digits_dataset(lib, "digits", per_class=20)
    lib.close()
    proc = studio(home, "train", "digits", "--epochs", "1", "--image-size", "8", "--json")
    assert proc.returncode == 0, proc.stderr
    run_id = lines(proc.stdout)[-1]["run_id"]
    assert (home / "runs" / str(run_id)).is_dir()
    assert studio(home, "runs", "delete", str(run_id), "--json").returncode == 0
    assert not (home / "runs" / str(run_id)).exists()
    proc = studio(home, "runs", "show", str(run_id))
    assert proc.returncode == 1 and f"no run {run_id}" in proc.stderr


def test_human_output_has_progress_and_summary(tmp_path):
    from studio.data.digits import add_digits_dataset

    home = tmp_path / "library"
    lib = Library.open(home)
    add_digits_dataset(lib, "digits", per_class=20, splits={"train": 0.8, "test": 0.2})
    lib.close()
    proc = studio(home, "train", "digits", "--epochs", "2", "--image-size", "8")
    assert proc.returncode == 0, proc.stderr
    assert "completed: best val accuracy" in proc.stdout
    assert "epoch 2/2" in proc.stderr and "held out a stratified 10% of train" in proc.stderr


@pytest.mark.parametrize("args, message", [
    (["train", "nope"], "no dataset named 'nope'"),
    (["train", "digits", "--model", "vgg99"], "unknown model 'vgg99'"),
    (["train", "digits", "--epochs", "0"], "epochs must be at least 1"),
    (["train", "digits", "--augment", "blur"], "unknown augmentation 'blur'"),
    (["train", "digits", "--pretrained", "999"], "run 999 has no trained model"),
    (["train", "digits", "--pretrained", "/nonexistent/weights.pth"], "weights file not found: /nonexistent/weights.pth"),
    (["runs", "show", "42"], "no run 42"),
    (["runs", "stop", "x"], "a run id is a number"),
    (["evaluate", "42"], "run 42 has no trained model"),
])
def test_bad_input_gets_one_clear_line(trained, args, message):
    home = trained[0]
    proc = studio(home, *args)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [proc.stderr.strip()]  # one line
    assert proc.stderr.startswith("studio: error: ") and message in proc.stderr


def test_stop_of_a_finished_run_is_refused(trained):
    home, run_id, _ = trained
    proc = studio(home, "runs", "stop", str(run_id))
    assert proc.returncode == 1 and "is not running (it is completed)" in proc.stderr


def test_imagenet_offline_fails_the_run_with_where_to_put_the_file(trained, tmp_path):
    import os

    home = trained[0]
    env = {**os.environ, "TORCH_HOME": str(tmp_path / "torch"), "STUDIO_OFFLINE": "1"}
    proc = subprocess.run([sys.executable, "-m", "studio", "--home", str(home), "train", "digits", "--model",
                           "mobilenet_v3_small", "--pretrained", "imagenet", "--image-size", "16", "--json"],
                          capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 1
    expected_dir = tmp_path / "torch" / "hub" / "checkpoints"
    assert "mobilenet_v3_small-047dcff4.pth" in proc.stderr and str(expected_dir) in proc.stderr
    assert "--pretrained PATH" in proc.stderr
    done = lines(proc.stdout)[-1]
    assert done["event"] == "done" and done["status"] == "failed" and "047dcff4" in done["error"]
