"""Training runs in-process on real digits: results, files, DB rows, and each failure case."""

from __future__ import annotations

import errno

import pytest
import torch
from sqlalchemy import func, select

from studio.core.errors import InvalidInputError
from studio.core.jobs import JobState
from studio.store.models import Checkpoint, Dataset, LabelClass, Metric, Run, Sample
from studio.train.artifacts import load_trained_model, run_dir
from studio.train.card import ModelCard
from studio.train.checkpoints import load_checkpoint
from studio.train.events import DataReady, Finished, from_dict
from studio.train.runner import TrainingError, create_run, run_training

FAST = {"model": "simple-cnn", "image_size": 12, "epochs": 3, "augment": "none"}


def run_row(lib, run_id) -> Run:
    with lib.session() as s:
        return s.get(Run, run_id)


def test_training_writes_model_card_checkpoint_and_metrics(digits_lib):
    events = []
    run_id = create_run(digits_lib, "digits", {**FAST, "augment": "crop"})
    result = run_training(digits_lib, run_id, emit=events.append)
    assert result["status"] == "completed" and result["metrics"]["val_accuracy"] >= 0.9
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "done" and kinds.count("epoch") == 3 and kinds.count("checkpoint") == 3
    step = next(e for e in events if e["event"] == "step")
    assert set(step) >= {"step", "epoch", "loss", "lr", "samples_per_s"}
    epoch = next(e for e in events if e["event"] == "epoch")
    assert set(epoch) >= {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "eta_s", "seconds"}
    typed = [from_dict(e) for e in events]  # every event is a complete typed event (what the CLI and GUI read)
    assert None not in typed and typed[-1] == Finished(**{k: v for k, v in events[-1].items() if k != "event"})
    data = next(e for e in typed if isinstance(e, DataReady))
    assert data.steps_per_epoch == epoch["step"]  # the first epoch's last step

    model, card = load_trained_model(digits_lib, run_id)
    assert card.architecture == "simple-cnn" and card.classes == [str(d) for d in range(10)]
    assert card.image_size == 12 and card.in_channels == 1 and card.run_id == run_id
    assert card.metrics["val_accuracy"] == result["metrics"]["val_accuracy"]
    assert card.training["epochs"] == 3 and card.dataset["name"] == "digits"
    ckpt = load_checkpoint(run_dir(digits_lib, run_id) / "checkpoint.pt")
    assert ckpt["epoch"] == 3 and set(ckpt) >= {"model", "optimizer", "scheduler", "scaler", "rng"}

    run = run_row(digits_lib, run_id)
    assert run.status == "completed" and run.epoch == 3 and run.heartbeat_at is not None and run.pid is None
    with digits_lib.session() as s:
        names = set(s.scalars(select(Metric.name).where(Metric.run_id == run_id)))
        checkpoints = s.scalar(select(func.count()).select_from(Checkpoint).where(Checkpoint.run_id == run_id))
    assert {"loss", "lr", "accuracy"} <= names and checkpoints == 3


def test_defaults_pick_simple_cnn_for_small_images(digits_lib):
    run_id = create_run(digits_lib, "digits")
    spec = run_row(digits_lib, run_id).spec
    assert spec["model"] == "simple-cnn" and spec["epochs"] == 10 and spec["optimizer"] == "adamw"
    assert spec["schedule"] == "onecycle" and spec["seed"] == 0
    assert spec["in_channels"] == 1 and spec["amp"] is None
    # nothing that can change what an image means is on by default (a mirrored 2 is not a 2)
    assert not {"flip", "rotate"} & set(spec["augment"])
    assert spec["pretrained"] == "none" and spec["start"].startswith("from scratch")  # simple-cnn: nothing to load


def test_automatic_epochs_give_a_small_dataset_at_least_the_minimum_of_steps(digits_lib):
    from studio.data.digits import add_digits_dataset
    from studio.train import budget

    add_digits_dataset(digits_lib, "tiny", per_class=6)  # 60 images: one step an epoch at batch 64
    spec = run_row(digits_lib, create_run(digits_lib, "tiny")).spec
    assert spec["auto_epochs"] and spec["epochs"] == budget.MAX_EPOCHS  # 200 steps would be 200 epochs: capped
    assert run_row(digits_lib, create_run(digits_lib, "digits")).spec["epochs"] == 10  # enough steps in 10 epochs
    chosen = run_row(digits_lib, create_run(digits_lib, "tiny", {"epochs": 4})).spec
    assert chosen["epochs"] == 4 and "auto_epochs" not in chosen  # a number the user gave is kept


def test_cli_and_gui_take_their_defaults_from_the_engine_table():
    import argparse

    from studio.commands import train as train_cmd
    from studio.train import defaults

    parser = argparse.ArgumentParser()
    train_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["train", "digits"])
    spec = train_cmd.spec_from_args(args).to_dict()
    assert spec["augment"] == defaults.DEFAULT_AUGMENT and "flip" not in spec["augment"]
    # epochs None: automatic (DEFAULT_EPOCHS, more for a small dataset), decided when the run is created
    assert (spec["epochs"], spec["batch_size"], spec["pretrained"]) == (None, defaults.DEFAULT_BATCH_SIZE, "auto")
    assert not set(defaults.MEANING_CHANGING) & set(defaults.DEFAULT_AUGMENT)


def _cached_imagenet_file(tmp_path, monkeypatch, name="mobilenet_v3_small"):
    """A torchvision-format state dict (random init, NOT trained on ImageNet) where torchvision keeps
    its downloads: the engine finds it as the cached ImageNet file."""
    import torchvision

    from studio.train.zoo import imagenet_weights_url

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    target = tmp_path / "torch" / "hub" / "checkpoints" / imagenet_weights_url(name).rsplit("/", 1)[-1]
    target.parent.mkdir(parents=True)
    torch.manual_seed(7)
    state = torchvision.models.get_model(name).state_dict()
    torch.save(state, target)
    return state


def test_imagenet_is_the_default_start_when_its_weights_are_present(digits_lib, tmp_path, monkeypatch):
    from studio.train import defaults, zoo

    monkeypatch.setenv("STUDIO_OFFLINE", "1")  # found in the cache, never downloaded
    state = _cached_imagenet_file(tmp_path, monkeypatch)
    loaded = []
    real = zoo.load_backbone_weights
    monkeypatch.setattr(zoo, "load_backbone_weights",
                        lambda model, *a, **k: (real(model, *a, **k), loaded.append(model.state_dict()["net.features.0.0.weight"].clone()))[0])
    run_id = create_run(digits_lib, "digits", {"model": "mobilenet_v3_small", "image_size": 16, "epochs": 1, "augment": "none"})
    assert run_row(digits_lib, run_id).spec["pretrained"] == "auto"
    events = []
    assert run_training(digits_lib, run_id, emit=events.append)["status"] == "completed"
    assert torch.equal(loaded[0], state["features.0.0.weight"])  # the cached file is what it started from
    assert next(e for e in events if e["event"] == "data")["head_replaced"] is True  # 1000 ImageNet classes -> 10
    spec = run_row(digits_lib, run_id).spec
    assert spec["pretrained"] == "imagenet" and "ImageNet" in spec["start"] and spec["lr"] == defaults.LR_FINE_TUNE
    _, card = load_trained_model(digits_lib, run_id)
    assert card.training["start"] == spec["start"]


def test_offline_without_weights_trains_from_scratch_says_so_once_and_records_it(digits_lib, tmp_path, monkeypatch):
    from studio.train import defaults

    monkeypatch.setenv("STUDIO_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    run_id = create_run(digits_lib, "digits", {"model": "mobilenet_v3_small", "image_size": 16, "epochs": 1, "augment": "none"})
    events = []
    assert run_training(digits_lib, run_id, emit=events.append)["status"] == "completed"
    said = [n for e in events if e["event"] == "data" for n in e["notes"] if "ImageNet" in n]
    assert len(said) == 1 and "from scratch" in said[0] and "mobilenet_v3_small-047dcff4.pth" in said[0]
    run = run_row(digits_lib, run_id)
    assert run.spec["pretrained"] == "none" and run.spec["start"].startswith("from scratch")
    assert run.spec["lr"] == defaults.LR_FROM_SCRATCH and "ImageNet" in run.notes


def test_cancel_stops_and_keeps_a_model(digits_lib):
    job = JobState()
    events = []

    def emit(event):
        events.append(event)
        if event["event"] == "step" and event["step"] >= 10:
            job.cancel()

    run_id = create_run(digits_lib, "digits", {**FAST, "epochs": 5, "log_every": 5})
    result = run_training(digits_lib, run_id, job, emit=emit)
    assert result["status"] == "stopped" and run_row(digits_lib, run_id).status == "stopped"
    assert (run_dir(digits_lib, run_id) / "model.safetensors").is_file()
    ckpt = load_checkpoint(run_dir(digits_lib, run_id) / "checkpoint.pt")
    assert ckpt["iteration"] == 10 and ckpt["epoch_iteration"] == 10  # mid-epoch checkpoint on stop


def _dataset(lib, name, classes):
    with lib.transaction() as s:
        ds = Dataset(name=name)
        s.add(ds)
        s.flush()
        for i, c in enumerate(classes):
            s.add(LabelClass(dataset_id=ds.id, name=c, position=i))
        return ds.id


def test_empty_dataset_one_class_and_empty_class_are_refused(digits_lib):
    _dataset(digits_lib, "empty", ["cat", "dog"])
    with pytest.raises(InvalidInputError, match="dataset 'empty' has no labelled samples"):
        create_run(digits_lib, "empty")
    with digits_lib.transaction() as s:
        digits_id = s.scalar(select(Dataset.id).where(Dataset.name == "digits"))
        s.add(LabelClass(dataset_id=digits_id, name="eleven", position=11))
    with pytest.raises(InvalidInputError, match="class 'eleven' of dataset 'digits' has no labelled samples"):
        create_run(digits_lib, "digits")
    solo = _dataset(digits_lib, "solo", ["cat"])
    with digits_lib.transaction() as s:
        cls = s.scalar(select(LabelClass.id).where(LabelClass.dataset_id == solo))
        s.add(Sample(dataset_id=solo, blob="0" * 64, class_id=cls, split="train"))
    with pytest.raises(InvalidInputError, match="only one class \\('cat'\\): training needs at least two"):
        create_run(digits_lib, "solo")
    with digits_lib.session() as s:
        assert s.scalar(select(func.count()).select_from(Run)) == 0  # nothing half-made


def test_bad_settings_are_refused(digits_lib):
    with pytest.raises(InvalidInputError, match="epochs must be at least 1"):
        create_run(digits_lib, "digits", {"epochs": 0})
    with pytest.raises(InvalidInputError, match="CUDA is not available|unknown device"):
        create_run(digits_lib, "digits", {"device": "cuda:7" if not torch.cuda.is_available() else "tpu"})
    with pytest.raises(InvalidInputError, match="optimizer must be one of adamw, sgd"):
        create_run(digits_lib, "digits", {"optimizer": "lbfgs"})


def test_no_validation_split_holds_out_stratified_ten_percent(tmp_path):
    from studio.data.digits import add_digits_dataset
    from studio.store.library import Library

    lib = Library.open(tmp_path / "lib")
    add_digits_dataset(lib, "nosplit", splits={"train": 0.8, "test": 0.2})
    events = []
    run_id = create_run(lib, "nosplit", {**FAST, "epochs": 1})
    run_training(lib, run_id, emit=events.append)
    spec = run_row(lib, run_id).spec
    train_count = round(1797 * 0.8)
    assert abs(len(spec["holdout_val_ids"]) - 0.1 * train_count) < 12
    assert "held out a stratified 10% of train" in spec["validation"]
    data = next(e for e in events if e["event"] == "data")
    assert data["val_samples"] == len(spec["holdout_val_ids"]) and spec["validation"] in data["notes"]
    lib.close()


def test_cuda_out_of_memory_marks_failed_and_suggests_half_the_batch(digits_lib, monkeypatch):
    from studio.train.step import TrainStep

    def oom(self, engine, batch):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(TrainStep, "__call__", oom)
    run_id = create_run(digits_lib, "digits", {**FAST, "batch_size": 64})
    with pytest.raises(TrainingError, match="CUDA ran out of memory with batch size 64: try --batch-size 32"):
        run_training(digits_lib, run_id)
    run = run_row(digits_lib, run_id)
    assert run.status == "failed" and "--batch-size 32" in run.error


def test_loss_becoming_nan_fails_the_run(digits_lib):
    run_id = create_run(digits_lib, "digits", {**FAST, "image_size": 8, "lr": 1e4, "optimizer": "sgd", "schedule": "none"})
    with pytest.raises(TrainingError, match=r"loss became NaN at step \d+ - try a lower learning rate"):
        run_training(digits_lib, run_id)
    run = run_row(digits_lib, run_id)
    assert run.status == "failed" and run.error.startswith("loss became NaN at step")


def test_disk_full_while_checkpointing_keeps_the_previous_checkpoint(digits_lib, monkeypatch):
    import studio.train.checkpoints as checkpoints

    real_save = torch.save
    calls = []

    def save(obj, path, *args, **kwargs):
        calls.append(path)
        if len(calls) >= 2:
            with open(path, "wb") as fh:  # a partial write, then the disk is full
                fh.write(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(checkpoints.torch, "save", save)
    run_id = create_run(digits_lib, "digits", FAST)
    with pytest.raises(TrainingError, match="the disk is full; the previous checkpoint is kept"):
        run_training(digits_lib, run_id)
    folder = run_dir(digits_lib, run_id)
    ckpt = load_checkpoint(folder / "checkpoint.pt")
    assert ckpt["epoch"] == 1
    assert not list(folder.glob(".*.tmp"))
    assert run_row(digits_lib, run_id).status == "failed"


def test_wrong_architecture_weights_fail_the_run(digits_lib, tmp_path):
    import torchvision

    path = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), path)
    run_id = create_run(digits_lib, "digits", {**FAST, "model": "mobilenet_v3_small", "pretrained": str(path), "image_size": 16})
    with pytest.raises(TrainingError, match="weights do not fit mobilenet_v3_small"):
        run_training(digits_lib, run_id)
    assert "weights do not fit" in run_row(digits_lib, run_id).error


INVERT_KERNEL = '''
from pathlib import Path

from studio.kernels import Image, kernel


@kernel(output="image", title="Invert")
def invert(grid, image) -> Image:
    with open(Path(__file__).with_name("seen.txt"), "a") as seen:
        seen.write(f"{tuple(image.shape)[1:]} {float(image.min()) >= 0} {float(image.max()) <= 1}\\n")
    return Image(1 - image)
'''


def test_kernel_transforms_are_applied_to_training_batches(digits_lib):
    """A kernel of the library's own kernel folder filters every training batch (N x H x W x 3 in [0, 1])."""
    folder = digits_lib.home / "kernels"
    folder.mkdir(exist_ok=True)
    (folder / "invert.py").write_text(INVERT_KERNEL)
    run_id = create_run(digits_lib, "digits", {**FAST, "epochs": 1, "kernel_transforms": [{"kernel": "invert", "params": {}}]})
    result = run_training(digits_lib, run_id)
    seen = (folder / "seen.txt").read_text().splitlines()
    assert len(seen) == result["steps"] and all(line == "(12, 12, 3) True True" for line in seen)


def test_card_round_trips(digits_lib):
    run_id = create_run(digits_lib, "digits", {**FAST, "epochs": 1})
    run_training(digits_lib, run_id)
    card = ModelCard.load(run_dir(digits_lib, run_id) / "model.json")
    assert card.mean == [0.5] and card.std == [0.5] and card.studio_version


def test_freeze_backbone_then_unfreeze_after_n_epochs(digits_lib):
    from studio.train.artifacts import load_trained_model

    base = create_run(digits_lib, "digits", {**FAST, "epochs": 1})
    run_training(digits_lib, base)
    parent, _ = load_trained_model(digits_lib, base)
    body = "features.0.0.weight"

    frozen = create_run(digits_lib, "digits", {**FAST, "epochs": 1, "pretrained": str(base), "freeze": "backbone"})
    run_training(digits_lib, frozen)
    frozen_model, _ = load_trained_model(digits_lib, frozen)
    assert torch.equal(frozen_model.state_dict()[body], parent.state_dict()[body])
    assert not torch.equal(frozen_model.head.weight, parent.head.weight)

    events = []
    thawed = create_run(digits_lib, "digits", {**FAST, "epochs": 2, "pretrained": str(base), "freeze": "backbone",
                                               "unfreeze_after": 1})
    run_training(digits_lib, thawed, emit=events.append)
    assert [e["epoch"] for e in events if e["event"] == "unfreeze"] == [2]
    thawed_model, _ = load_trained_model(digits_lib, thawed)
    assert not torch.equal(thawed_model.state_dict()[body], parent.state_dict()[body])


def test_cli_progress_says_each_note_once(capsys):
    from studio.commands.train import _ProgressView

    note = "ImageNet weights for mobilenet_v3_small are not available, so this run trains from scratch"
    view = _ProgressView()
    view.show({"event": "data", "train_samples": 10, "val_samples": 2, "classes": ["a", "b"], "notes": [note]})
    view.show({"event": "done", "run_id": 1, "status": "completed", "metrics": {}, "notes": [note, "early stop"]})
    out = capsys.readouterr()
    assert (out.out + out.err).count(note) == 1 and "early stop" in out.out


def test_automatic_model_offline_falls_back_to_the_small_cnn_for_photo_sized_images(digits_lib, tmp_path, monkeypatch):
    from studio.data.digits import add_digits_dataset

    monkeypatch.setenv("STUDIO_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    add_digits_dataset(digits_lib, "big", upscale=72, per_class=8)
    run_id = create_run(digits_lib, "big", {"epochs": 1})
    assert run_row(digits_lib, run_id).spec["model"] == "mobilenet_v3_small"  # with ImageNet weights it would be
    events = []
    assert run_training(digits_lib, run_id, emit=events.append)["status"] == "completed"
    assert next(e for e in events if e["event"] == "start")["model"] == "simple-cnn"
    run = run_row(digits_lib, run_id)
    assert run.model == "simple-cnn" and run.spec["image_size"] == 72 and run.spec["mean"] == [0.5]
    assert run.spec["start"].startswith("from scratch") and "small CNN" in run.notes
    _, card = load_trained_model(digits_lib, run_id)
    assert card.architecture == "simple-cnn" and card.image_size == 72
