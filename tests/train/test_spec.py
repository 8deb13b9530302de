"""TrainSpec: the one typed table of training settings (defaults, allowed values, CLI flags)."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from studio.core.errors import InvalidInputError
from studio.train.spec import (
    Augmentation,
    Auto,
    Freeze,
    FromFile,
    FromRun,
    ImageNet,
    KernelTransform,
    Optimizer,
    Schedule,
    Scratch,
    TrainSpec,
    describe_start,
    parse_kernel_arg,
    parse_start,
)


def test_a_spec_survives_its_stored_form():
    spec = TrainSpec(epochs=3, pretrained=FromRun(4), optimizer=Optimizer.SGD, augment=(Augmentation.CROP,),
                     kernel_transforms=(KernelTransform.of("colour_blindness", {"severity": 0.5}),), amp=False)
    stored = spec.to_dict()
    assert stored["pretrained"] == "4" and stored["optimizer"] == "sgd" and stored["augment"] == ["crop"]
    assert stored["kernel_transforms"] == [{"kernel": "colour_blindness", "params": {"severity": 0.5}}]
    assert TrainSpec.from_dict(stored) == spec


def test_configs_stored_by_older_runs_still_read():
    """An older run stored resolved extras beside the settings, sentinel words, and no kernel list."""
    old = {"model": "simple-cnn", "pretrained": "none", "epochs": 10, "batch_size": 64, "lr": 0.003,
           "schedule": "none", "freeze": "none", "augment": ["flip"], "amp": None, "in_channels": 1,
           "mean": [0.5], "std": [0.5], "start": "from scratch (random weights)", "holdout_val_ids": [1, 2]}
    spec = TrainSpec.from_dict(old)
    assert spec.pretrained == Scratch() and spec.schedule is Schedule.CONSTANT and spec.freeze is Freeze.NOTHING
    assert spec.augment == (Augmentation.FLIP,) and spec.kernel_transforms == () and spec.gpus == 1
    with pytest.raises(InvalidInputError, match="unknown training setting 'holdout_val_ids'"):
        TrainSpec.from_dict(old, strict=True)


@pytest.mark.parametrize("text, start", [
    ("auto", Auto()), ("None", Scratch()), ("imagenet", ImageNet()), ("12", FromRun(12)), (7, FromRun(7)),
])
def test_where_training_starts_is_parsed_once(text, start):
    assert parse_start(text) == start
    assert parse_start(start.text) == start


def test_a_weights_path_becomes_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    start = parse_start("w/model.pth")
    assert start == FromFile(str(tmp_path / "w" / "model.pth"))
    assert describe_start(start, "resnet18") == f"weights file {tmp_path / 'w' / 'model.pth'}"


@pytest.mark.parametrize("values, message", [
    ({"epochs": 0}, "epochs must be at least 1, not 0"),
    ({"batch_size": "many"}, "batch-size must be a whole number"),
    ({"image_size": 2}, "image-size must be at least 4"),
    ({"lr": 0}, "learning rate must be positive"),
    ({"optimizer": "adam"}, "optimizer must be one of adamw, sgd"),
    ({"schedule": "linear"}, "schedule must be one of onecycle, cosine, none"),
    ({"augment": "flip,blur"}, "unknown augmentation 'blur'"),
    ({"kernel_transforms": [{"params": {}}]}, "a kernel transform is"),
])
def test_bad_values_are_one_clear_error(values, message):
    with pytest.raises(InvalidInputError, match=message):
        TrainSpec.from_dict(values, strict=True)


def test_kernel_arguments_parse_into_kernel_transforms():
    assert parse_kernel_arg("colour_blindness") == KernelTransform("colour_blindness")
    assert parse_kernel_arg("colour_blindness:severity=0.3, deficiency=protanopia").to_dict() == {
        "kernel": "colour_blindness", "params": {"severity": "0.3", "deficiency": "protanopia"}}
    for bad in (":severity=1", "colour_blindness:severity", "colour_blindness:=1"):
        with pytest.raises(InvalidInputError):
            parse_kernel_arg(bad)


def test_augmentations_are_those_the_engine_knows():
    from studio.data.augment import AUGMENTATIONS

    assert tuple(a.value for a in Augmentation) == AUGMENTATIONS


def test_every_cli_flag_comes_from_a_field_with_the_fields_default():
    from studio.commands import train as train_cmd

    parser = argparse.ArgumentParser()
    train_cmd.register(parser.add_subparsers())
    args = parser.parse_args(["train", "digits"])
    flagged = [f for f in dataclasses.fields(TrainSpec) if f.metadata["setting"].flag]
    assert {f.name for f in flagged} >= {"model", "pretrained", "epochs", "batch_size", "lr", "image_size", "device",
                                         "gpus", "optimizer", "schedule", "freeze", "unfreeze_after", "augment", "amp",
                                         "seed", "early_stopping", "kernel_transforms"}
    assert train_cmd.spec_from_args(args) == TrainSpec()
    args = parser.parse_args(["train", "digits", "--schedule", "none", "--freeze", "backbone", "--no-amp",
                              "--pretrained", "3", "--augment", "flip,color", "--kernel", "a:x=1", "--kernel", "b"])
    spec = train_cmd.spec_from_args(args)
    assert spec.schedule is Schedule.CONSTANT and spec.freeze is Freeze.BACKBONE and spec.amp is False
    assert spec.pretrained == FromRun(3) and spec.augment == (Augmentation.FLIP, Augmentation.COLOR)
    assert spec.kernel_transforms == (KernelTransform.of("a", {"x": "1"}), KernelTransform("b"))
