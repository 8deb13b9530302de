"""A pretrained encoder with a new classification head, which layers learn, and at which rate.

The model is transformers' own ``AutoModelForSequenceClassification`` built from the encoder's folder
(safetensors only), so a Hugging Face export is its ``save_pretrained`` and loads in plain
transformers with the same predictions. The head is the classifier and every weight the encoder's
checkpoint did not provide (for an encoder saved without it, the pooler too): it learns at the run's
rate, the body at ``body_lr_mult`` times it, as for images (studio.train.model_setup). A classifier
saved in the folder is kept only when it was trained for the very same classes (going on with a
run); for other classes the head starts fresh.

Freezing: "none" fine-tunes all; "encoder" trains the head only; with ``unfreeze_after`` N the
encoder joins at epoch N + 1 (TextUnfreezer, the image Unfreezer's rule).
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from torch import nn

from studio.core.errors import InvalidInputError
from studio.train.handlers import Unfreezer

FREEZE_CHOICES = ("none", "encoder")


def build_text_classifier(folder: Path, classes: list[str]) -> tuple[nn.Module, set[str]]:
    """(the model, the names of its head parameters: those new to this task)."""
    import transformers
    from transformers import AutoModelForSequenceClassification

    transformers.logging.set_verbosity_error()  # "some weights are newly initialised" is the point here
    transformers.logging.disable_progress_bar()  # its bars would write to the worker's stderr
    labels = dict(enumerate(classes))
    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(
            str(folder), num_labels=len(classes), id2label=labels, label2id={c: i for i, c in labels.items()},
            use_safetensors=True, output_loading_info=True, ignore_mismatched_sizes=True)
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"cannot load the encoder in {folder} ({str(exc).strip().splitlines()[0][:300]})") from None
    # a classifier saved for another number of classes is "mismatched": it is replaced, so it is new too
    new = set(info["missing_keys"]) | {key for key, *_ in info["mismatched_keys"]}
    head = {name for name, _ in model.named_parameters() if name in new or not _in_body(model, name)}
    if head - new and _saved_classes(folder) != list(classes):  # a classifier for other classes, same count
        _initialise(model, head - new)
    return model, head


def _saved_classes(folder: Path) -> list[str]:
    config = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    labels = config.get("id2label") or {}
    return [labels[key] for key in sorted(labels, key=int)]


@torch.no_grad()
def _initialise(model: nn.Module, names: set[str]) -> None:
    """Fresh head weights as transformers draws them: normal(0, initializer_range), biases zero.
    A previous run's classifier is kept only to go on with the very same classes."""
    std = float(getattr(model.config, "initializer_range", 0.02))
    for name, param in model.named_parameters():
        if name in names:
            nn.init.normal_(param, std=std) if param.ndim > 1 else nn.init.zeros_(param)


def _in_body(model: nn.Module, name: str) -> bool:
    return name.startswith(model.base_model_prefix + ".")


def freeze_encoder(model: nn.Module, head: set[str], frozen: bool) -> None:
    """Train only the head (frozen=True) or everything (frozen=False)."""
    for name, param in model.named_parameters():
        param.requires_grad = (not frozen) or name in head


def text_optimizer(model: nn.Module, head: set[str], lr: float, body_lr_mult: float,
                   weight_decay: float) -> torch.optim.AdamW:
    """AdamW with two groups: the head at ``lr``, the body at ``lr * body_lr_mult``. Biases and
    LayerNorm weights get no weight decay (as in BERT's recipe)."""
    groups = []
    for in_head, rate in ((True, lr), (False, lr * body_lr_mult)):
        named = [(n, p) for n, p in model.named_parameters() if (n in head) == in_head]
        decayed = [p for n, p in named if p.ndim > 1]
        plain = [p for n, p in named if p.ndim <= 1]
        groups += [{"params": decayed, "lr": rate, "weight_decay": weight_decay, "head": in_head},
                   {"params": plain, "lr": rate, "weight_decay": 0.0, "head": in_head}]
    return torch.optim.AdamW([g for g in groups if g["params"]], lr=lr)


def warmup_linear_schedule(optimizer: torch.optim.Optimizer, total_steps: int,
                           warmup: float) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over the first ``warmup`` share of the steps, then linear decay to zero."""
    warm = max(1, round(total_steps * warmup))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total_steps - step) / max(1, total_steps - warm))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


class TextUnfreezer(Unfreezer):
    """The image Unfreezer's rule (the encoder joins when epoch ``after + 1`` starts, said with an
    Unfrozen event, kept in the checkpoint) for a text model, whose head is a set of names."""

    def __init__(self, model: nn.Module, head: set[str], after: int, frozen: bool, emit):
        super().__init__(model, "", after, frozen, emit)
        self.head = head

    def _set(self, frozen: bool) -> None:
        self.frozen = frozen
        freeze_encoder(self.model, self.head, frozen)
