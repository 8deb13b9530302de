"""Import ImageNet weights from a local file, so a machine without internet can start from them.

torchvision downloads its ImageNet weights; offline, the same weights (or another release of them)
often exist as a file: a package that ships a backbone, a colleague's copy. `studio weights import
FILE --model NAME` reads such a file safely (safetensors, or torch.load with weights_only: never
unpickled code), matches it to the torchvision architecture and writes the body's weights (all but
the classification layer, which every studio run replaces) as safetensors where
``zoo.imagenet_weights_file`` finds them. From then on the automatic start uses them.

Files whose tensor names differ from torchvision's (an older layout of the same network, e.g.
``features.1.conv.0.weight`` for ``features.1.conv.0.0.weight``) are matched by order, and only
when every tensor's shape agrees; torch.save keeps a state dict's order, safetensors sorts names,
so a safetensors file must use torchvision's names.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from studio.core.errors import InvalidInputError
from studio.train import zoo


@dataclass(frozen=True)
class ImportedWeights:
    model: str
    path: Path  # where they were written
    tensors: int
    renamed: bool  # matched by order (the file named its tensors differently)


def import_imagenet_weights(source: str | Path, model: str) -> ImportedWeights:
    """Check ``source`` against ``model``'s torchvision body and store it for the ImageNet start."""
    entry = zoo.get_entry(model)
    if not entry.pretrained_available:
        raise InvalidInputError(f"{model} has no ImageNet weights to import (pick a torchvision model)")
    body = _torchvision_body(model, entry.head.removeprefix("net.") + ".")
    state = _strip_prefix(zoo.load_state_dict_file(source), "net.")
    matched, renamed = _match(state, body, model, ordered=Path(source).suffix != ".safetensors")
    target = zoo.imported_weights_file(model)
    _save(matched, target, {"model": model, "source": Path(source).name})
    return ImportedWeights(model, target, len(matched), renamed)


def _torchvision_body(model: str, head: str) -> dict[str, torch.Tensor]:
    import torchvision.models as tvm

    return {k: v for k, v in tvm.get_model(model, weights=None).state_dict().items() if not k.startswith(head)}


def _strip_prefix(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """A studio model's state dict ("net." + torchvision names) is read as torchvision's."""
    if state and all(k.startswith(prefix) for k in state):
        return {k.removeprefix(prefix): v for k, v in state.items()}
    return state


def _match(
    state: dict[str, torch.Tensor], body: dict[str, torch.Tensor], model: str, ordered: bool
) -> tuple[dict[str, torch.Tensor], bool]:
    """The body's tensors from ``state``: by name when every name is there, else by order."""
    if all(k in state for k in body):
        _check_shapes([(k, state[k], v) for k, v in body.items()], model)
        return {k: state[k] for k in body}, False
    extra = [k for k in state if k not in body]
    if not ordered:
        raise InvalidInputError(
            f"weights do not fit {model}: a safetensors file must use torchvision's tensor names"
            f" (names it does not know, e.g. {extra[:2]})")
    if len(state) != len(body):
        raise InvalidInputError(
            f"weights do not fit {model}: the file holds {len(state)} tensors, the network's body {len(body)}"
            f" (names it does not know, e.g. {extra[:2]})")
    pairs = list(zip(body.items(), state.items()))
    _check_shapes([(f"{theirs} -> {ours}", t, v) for (ours, v), (theirs, t) in pairs], model)
    return {ours: t for (ours, _), (_, t) in pairs}, True


def _check_shapes(triples: list[tuple[str, torch.Tensor, torch.Tensor]], model: str) -> None:
    for name, theirs, ours in triples:
        if tuple(theirs.shape) != tuple(ours.shape):
            raise InvalidInputError(
                f"weights do not fit {model}: {name} is {tuple(theirs.shape)}, the network needs {tuple(ours.shape)}")


def _save(state: dict[str, torch.Tensor], target: Path, metadata: dict[str, str]) -> None:
    """Written to a temp file and renamed: a crash never leaves half a weights file to be found."""
    from safetensors.torch import save_file

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".partial")
    save_file({k: v.detach().contiguous() for k, v in state.items()}, str(tmp), metadata=metadata)
    os.replace(tmp, target)
