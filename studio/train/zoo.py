"""The model zoo: a small CNN that trains from scratch, and torchvision backbones with a new head.

Every model built here takes NCHW float input normalised with the card's mean/std and returns
logits. Grayscale (in_channels=1) works with every architecture: torchvision backbones get the
single channel repeated to three inside the model, so ImageNet weights still fit.
"""

from __future__ import annotations

import os
import sys
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from studio.core.errors import InvalidInputError, NotFoundError
from studio.train.card import IMAGENET_MEAN, IMAGENET_STD

SIMPLE_CNN = "simple-cnn"
OFFLINE_ENV = "STUDIO_OFFLINE"  # set to 1 to never try a download


@dataclass(frozen=True)
class ZooEntry:
    name: str
    default_image_size: int
    description: str
    pretrained_available: bool
    head: str = ""  # state-dict prefix of the classification layer that a new task replaces


_TORCHVISION = {
    # name: (default size, description, head prefix inside the torchvision model)
    "mobilenet_v3_small": (224, "MobileNetV3 small (2.5M params): fast, good for fine-tuning on CPU", "classifier.3"),
    "mobilenet_v3_large": (224, "MobileNetV3 large (5.5M params): more accurate, still light", "classifier.3"),
    "mobilenet_v2": (224, "MobileNetV2 (3.5M params): light; ImageNet weights can be imported offline", "classifier.1"),
    "resnet18": (224, "ResNet-18 (11.7M params): a solid classic backbone", "fc"),
    "resnet50": (224, "ResNet-50 (25.6M params): accurate, needs a GPU to train in reasonable time", "fc"),
    "efficientnet_b0": (224, "EfficientNet-B0 (5.3M params): accurate per FLOP", "classifier.1"),
    "convnext_tiny": (224, "ConvNeXt-Tiny (28.6M params): modern, strongest here, GPU advised", "classifier.2"),
}


def list_models() -> list[ZooEntry]:
    entries = [ZooEntry(SIMPLE_CNN, 32, "Small CNN (~0.1M params) that trains from scratch in seconds on small images", False, "head")]
    for name, (size, text, head) in _TORCHVISION.items():
        entries.append(ZooEntry(name, size, text, True, f"net.{head}"))
    return entries


def get_entry(name: str) -> ZooEntry:
    for entry in list_models():
        if entry.name == name:
            return entry
    names = ", ".join(e.name for e in list_models())
    raise NotFoundError(f"unknown model {name!r} (choose one of: {names})")


def default_normalisation(name: str, in_channels: int) -> tuple[list[float], list[float]]:
    """ImageNet statistics for torchvision backbones (their weights expect them), 0.5/0.5 otherwise."""
    if name == SIMPLE_CNN:
        return [0.5] * in_channels, [0.5] * in_channels
    if in_channels == 1:
        return [sum(IMAGENET_MEAN) / 3], [sum(IMAGENET_STD) / 3]
    return list(IMAGENET_MEAN), list(IMAGENET_STD)


class SimpleCNN(nn.Module):
    """Three conv blocks and adaptive pooling, so any input size works (8x8 to 224x224)."""

    def __init__(self, num_classes: int, in_channels: int = 3, width: int = 32):
        super().__init__()

        def block(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(
                nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
            )

        self.features = nn.Sequential(
            block(in_channels, width),
            nn.MaxPool2d(2, ceil_mode=True),
            block(width, width * 2),
            nn.MaxPool2d(2, ceil_mode=True),
            block(width * 2, width * 4),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.dropout = nn.Dropout(0.2)
        self.head = nn.Linear(width * 4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.dropout(self.features(x)))


class Backbone(nn.Module):
    """A torchvision classifier; grayscale input is repeated to 3 channels first."""

    def __init__(self, net: nn.Module, in_channels: int):
        super().__init__()
        self.net = net
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.in_channels == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.net(x)


def _replace_head(net: nn.Module, head: str, num_classes: int) -> None:
    parent_name, _, leaf = head.rpartition(".")
    parent = net.get_submodule(parent_name) if parent_name else net
    old = getattr(parent, leaf) if not leaf.isdigit() else parent[int(leaf)]
    new = nn.Linear(old.in_features, num_classes)
    if leaf.isdigit():
        parent[int(leaf)] = new
    else:
        setattr(parent, leaf, new)


def build_model(
    name: str,
    num_classes: int,
    in_channels: int = 3,
    image_size: int | None = None,
    weights: str | Path | None = None,
    on_download: Callable[[int, int], None] | None = None,
) -> nn.Module:
    """A fresh model with ``num_classes`` outputs.

    ``weights``: None (random init), "imagenet" (torchvision's weights, downloaded once into torch
    hub's cache, or read from there offline, or imported with `studio weights import`) or a local
    torchvision-format state-dict file (the classification layer may be absent: it is replaced).
    ``image_size`` is accepted for architectures that would need it; all here are size-agnostic."""
    entry = get_entry(name)
    if in_channels not in (1, 3):
        raise InvalidInputError(f"in_channels must be 1 or 3, not {in_channels}")
    if num_classes < 1:
        raise InvalidInputError("a model needs at least one class")
    if name == SIMPLE_CNN:
        if weights not in (None, "none"):
            raise InvalidInputError("simple-cnn has no pretrained weights; use --pretrained none or a run id")
        return SimpleCNN(num_classes, in_channels)
    import torchvision.models as tvm

    net = tvm.get_model(name, weights=None)
    if weights not in (None, "none"):
        path = imagenet_weights_file(name, on_download) if str(weights) == "imagenet" else Path(weights)
        _load_body(net, load_state_dict_file(path), entry.head.removeprefix("net.") + ".", name)
    _replace_head(net, entry.head.removeprefix("net."), num_classes)
    return Backbone(net, in_channels)


def _load_body(net: nn.Module, state: dict[str, torch.Tensor], head: str, name: str) -> None:
    """Every weight but the head's must be in ``state`` and fit; the head is replaced anyway."""
    try:
        missing, unexpected = net.load_state_dict(state, strict=False)
    except RuntimeError as exc:  # a tensor of the wrong shape
        raise InvalidInputError(f"weights do not fit {name} ({_first_line(exc)})") from None
    missing_body = [k for k in missing if not k.startswith(head)]
    if missing_body or unexpected:
        detail = f"missing {missing_body[:3]}" if missing_body else f"unexpected {unexpected[:3]}"
        raise InvalidInputError(f"weights do not fit {name} ({detail})")


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return " ".join(lines[:2])[:300]


def load_state_dict_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict safely: safetensors, or torch.load with weights_only (never unpickle code)."""
    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt file, pickle with code, wrong format
        raise InvalidInputError(f"cannot read weights from {path} ({_first_line(exc)})") from None
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]  # a studio checkpoint
    if not isinstance(state, dict):
        raise InvalidInputError(f"{path} does not hold a state dict")
    return state


def imagenet_weights_url(name: str) -> str:
    import torchvision.models as tvm

    return tvm.get_model_weights(name).DEFAULT.url


def imported_weights_file(name: str) -> Path:
    """Where `studio weights import` puts ImageNet weights for ``name`` that came from elsewhere
    (a file, not torchvision's download): beside torchvision's downloads, under a name of its own."""
    return Path(torch.hub.get_dir()) / "checkpoints" / f"{name}-imagenet-imported.safetensors"


def _torchvision_cache_file(url: str) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def local_imagenet_weights(name: str) -> Path | None:
    """ImageNet weights for ``name`` already on this machine (torchvision's download, then an
    imported file), or None. Never downloads."""
    for path in (_torchvision_cache_file(imagenet_weights_url(name)), imported_weights_file(name)):
        if path.is_file():
            return path
    return None


def imagenet_weights_file(name: str, on_download: Callable[[int, int], None] | None = None) -> Path:
    """ImageNet weights for ``name``: torchvision's file in torch hub's checkpoints dir, else weights
    imported with `studio weights import`, else torchvision's file downloaded (with progress)."""
    local = local_imagenet_weights(name)
    if local is not None:
        return local
    url = imagenet_weights_url(name)
    target = _torchvision_cache_file(url)
    offline_hint = (
        f"cannot download ImageNet weights for {name} (offline?): put the file {target.name} "
        f"from {url} into {target.parent}/, or import a weights file with "
        f"`studio weights import FILE --model {name}`, or pass --pretrained PATH"
    )
    if os.environ.get(OFFLINE_ENV) == "1":
        raise InvalidInputError(offline_hint)
    try:
        _download(url, target, on_download)
    except (urllib.error.URLError, OSError, TimeoutError):
        raise InvalidInputError(offline_hint) from None
    return target


def _download(url: str, target: Path, on_download: Callable[[int, int], None] | None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    with urllib.request.urlopen(url, timeout=15) as resp, open(tmp, "wb") as out:
        total = int(resp.headers.get("Content-Length") or 0)
        done = 0
        while chunk := resp.read(1 << 20):
            out.write(chunk)
            done += len(chunk)
            if on_download:
                on_download(done, total)
            else:
                print(f"\rdownloading {target.name}: {done / 1e6:.1f}/{total / 1e6:.1f} MB", end="", file=sys.stderr)
    os.replace(tmp, target)


def head_prefix(name: str) -> str:
    return get_entry(name).head


def freeze_backbone(model: nn.Module, name: str, frozen: bool = True) -> None:
    """Train only the head (frozen=True) or everything (frozen=False)."""
    prefix = head_prefix(name) + "."
    for key, param in model.named_parameters():
        param.requires_grad = (not frozen) or key.startswith(prefix)


def load_backbone_weights(
    model: nn.Module, name: str, state: dict[str, torch.Tensor], keep_head: bool | None = None
) -> bool:
    """Load a previous run's weights into ``model``; its head is kept only when ``keep_head``
    (default: when the head's shape fits) - a new task (other classes) gets a fresh head.

    Returns True when the head was replaced, False when all weights were loaded."""
    prefix = head_prefix(name) + "."
    own = model.state_dict()
    head_fits = keep_head is not False and all(
        k in own and own[k].shape == v.shape for k, v in state.items() if k.startswith(prefix)
    )
    _load_body(model, {k: v for k, v in state.items() if head_fits or not k.startswith(prefix)}, prefix, name)
    return not head_fits
