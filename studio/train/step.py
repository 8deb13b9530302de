"""One training step (the engine's process function) and one pass over the validation images."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch
import torch.nn.functional as F

from studio.data.loader import epoch_seed
from studio.data.preprocess import normalise
from studio.train.data_setup import TrainData
from studio.train.engine import Engine
from studio.train.model_setup import ModelParts


class ModelInput:
    """uint8 images -> the model's input: (x / 255 - mean) / std as one multiply-add on the float
    copy (the same values up to rounding), in the run's precision."""

    def __init__(self, mean: list[float], std: list[float], device: torch.device, amp_dtype: torch.dtype | None):
        mean_t = torch.tensor(mean, device=device).view(1, -1, 1, 1)
        std_t = torch.tensor(std, device=device).view(1, -1, 1, 1)
        self.scale, self.shift = 1.0 / (255.0 * std_t), -mean_t / std_t
        self.device, self.amp_dtype = device, amp_dtype

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        return torch.addcmul(self.shift, images.float(), self.scale)

    def autocast(self):
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)


class TrainStep:
    """Forward, loss, backward, optimizer and schedule step on one batch; returns the batch's
    loss, correct count and size (the handlers sum them per epoch)."""

    def __init__(self, parts: ModelParts, data: TrainData, spec: dict[str, Any], device: torch.device):
        self.parts, self.data, self.spec, self.device = parts, data, spec, device
        self.to_input = ModelInput(spec["mean"], spec["std"], device, parts.amp_dtype)

    def __call__(self, engine: Engine, batch) -> dict[str, Any]:
        parts = self.parts
        parts.train_model.train()
        x = self._input(batch, engine.state.epoch)
        with self.to_input.autocast():
            logits = parts.train_model(x)
            loss = F.cross_entropy(logits.float(), batch.labels)
        parts.optimizer.zero_grad(set_to_none=True)
        parts.scaler.scale(loss).backward()
        parts.scaler.step(parts.optimizer)
        parts.scaler.update()
        parts.scheduler.step()
        correct = (logits.argmax(1) == batch.labels).sum()
        return {"loss": float(loss.item()), "correct": int(correct.item()), "n": int(batch.labels.numel())}

    def _input(self, batch, epoch: int) -> torch.Tensor:
        augment, kernel_transforms = self.data.augment, self.data.kernel_transforms
        if augment is None and kernel_transforms is None:
            return self.to_input(batch.images)
        x = batch.images.float().div_(255)
        if augment is not None:  # seeded by (seed, epoch, batch): a resumed run sees the same images
            gen = torch.Generator(device=self.device).manual_seed(epoch_seed(self.spec["seed"], epoch, batch.index))
            x = augment(x, gen)
        if kernel_transforms is not None:
            x = kernel_transforms(x)
        return normalise(x, self.spec["mean"], self.spec["std"])


@torch.no_grad()
def validate(model: torch.nn.Module, loader, to_input: ModelInput) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` over ``loader``'s batches."""
    model.eval()
    loss_sum, correct, n = 0.0, 0, 0
    for batch in loader.epoch(0):
        x = to_input(batch.images)
        with to_input.autocast():
            logits = model(x).float()
        loss_sum += float(F.cross_entropy(logits, batch.labels, reduction="sum"))
        correct += int((logits.argmax(1) == batch.labels).sum())
        n += batch.labels.numel()
    return loss_sum / max(n, 1), correct / max(n, 1)
