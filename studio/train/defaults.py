"""The training defaults: one table for the engine, the CLI and the Train page (no torch here, so
the CLI and the GUI read it without importing torch).

Chosen from measurements on real data (bench/bench_train.py, docs/benchmarks.md "Training"):
digits, the demo shapes and photos. Augmentations that can change what an image means - a
mirrored or turned image may be another class (b/d, 6/9, arrows, text) - are opt-in, and no
augmentation is on by default: none of the measured ones made the defaults more accurate on all
three kinds of data in the default budget, and crop costs CPU time on every step.
"""

from __future__ import annotations

from typing import Any

MEANING_CHANGING = ("flip", "rotate")  # never on by default
DEFAULT_AUGMENT: list[str] = []
DEFAULT_EPOCHS = 10
DEFAULT_BATCH_SIZE = 64
LR_FROM_SCRATCH = 3e-3  # AdamW peak rate of the one-cycle schedule
LR_FINE_TUNE = 1e-3

DEFAULTS: dict[str, Any] = {
    "model": None,  # simple-cnn for images <= 64 px, else mobilenet_v3_small
    "pretrained": "auto",  # auto (ImageNet for torchvision backbones when available) | none | imagenet | RUN_ID | PATH
    "epochs": DEFAULT_EPOCHS,
    "batch_size": DEFAULT_BATCH_SIZE,
    "lr": None,  # LR_FROM_SCRATCH from scratch, LR_FINE_TUNE when fine-tuning (AdamW); 0.05 / 0.01 with SGD
    "weight_decay": 1e-4,
    "backbone_lr_mult": None,  # the pretrained body learns this much slower than the new head
    "image_size": None,
    "device": "auto",
    "gpus": 1,
    "optimizer": "adamw",
    "schedule": "onecycle",
    "freeze": "none",
    "unfreeze_after": 0,
    "augment": DEFAULT_AUGMENT,
    "amp": None,  # on for CUDA only
    "seed": 0,
    "early_stopping": 0,
    "kernel_transforms": [],
    "log_every": 10,
}


def augment_text(names: list[str] | None = None) -> str:
    """``flip,crop`` or ``none``: how the CLI writes a list of augmentations."""
    names = DEFAULT_AUGMENT if names is None else names
    return ",".join(names) or "none"
