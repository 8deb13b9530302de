"""Writing the three export formats. ONNX and TorchScript hold the ImageClassifier wrapper
(uint8 N x H x W x C in; preprocessing inside; probabilities and logits out); safetensors holds
the bare network's weights, with the preprocessing spelled out in the model card beside it."""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch

from studio.core.errors import InvalidInputError
from studio.export.predictor import import_onnxruntime
from studio.export.targets import write_via_temp
from studio.export.wrapper import ImageClassifier
from studio.train.card import ModelCard

FORMATS = ("onnx", "torchscript", "safetensors")
SUFFIXES = {"onnx": ".onnx", "torchscript": ".pt", "safetensors": ".safetensors"}
ONNX_OPSET = 18  # Resize with antialias=1 (the studio's antialiased bilinear resize) needs 18
INPUT_NAME = "image"
OUTPUT_NAMES = ["probabilities", "logits"]


def example_input(card: ModelCard) -> torch.Tensor:
    """A uint8 batch whose size differs from image_size, so the traced graph really resizes."""
    generator = torch.Generator().manual_seed(0)
    size = card.image_size + 3
    return torch.randint(0, 256, (2, size, size + 2, card.in_channels), dtype=torch.uint8, generator=generator)


def input_description(card: ModelCard, fmt: str) -> dict[str, Any]:
    if fmt == "safetensors":
        return {
            "name": "x", "dtype": "float32", "layout": "NCHW", "channels": card.in_channels,
            "preprocessing": f"float/255 -> resize to {card.image_size}x{card.image_size} (bilinear, "
            "align_corners=False, antialias=True) -> (x - mean) / std",
        }
    return {
        "name": INPUT_NAME, "dtype": "uint8", "layout": "NHWC", "channels": card.in_channels,
        "note": "any batch size, height and width; resize and normalisation happen inside",
    }


def card_json(card: ModelCard, fmt: str, model_path: Path, extra: dict[str, Any] | None = None) -> str:
    """The exported model card: the run's card plus how to feed this file (``export``)."""
    data = asdict(card)
    data["export"] = {
        "format": fmt,
        "file": model_path.name,
        "input": input_description(card, fmt),
        "outputs": OUTPUT_NAMES if fmt != "safetensors" else ["logits"],
        **(extra or {}),
    }
    return json.dumps(data, indent=2, default=str)


def write_card(card: ModelCard, fmt: str, model_path: Path, extra: dict[str, Any] | None = None,
               target: Path | None = None) -> Path:
    """The model card beside the file (``model.onnx`` -> ``model.json``) with how to feed it."""
    target = target or model_path.with_suffix(".json")
    text = card_json(card, fmt, model_path, extra)
    write_via_temp(target, lambda tmp: tmp.write_text(text))
    return target


def write_onnx(classifier: ImageClassifier, card: ModelCard, path: Path) -> None:
    import_onnxruntime()
    try:
        import onnx
    except ImportError as exc:
        raise InvalidInputError(
            "ONNX export needs the onnx package, which is not installed", hint="pip install 'model-studio[onnx]'"
        ) from exc
    write_via_temp(path, lambda tmp: _export_onnx(classifier, card, tmp, onnx))


def _export_onnx(classifier: ImageClassifier, card: ModelCard, tmp: Path, onnx) -> None:
    batch, height, width = (torch.export.Dim(n, min=1, max=8192) for n in ("batch", "height", "width"))
    noise = io.StringIO()  # the exporter prints progress on stdout, which must stay JSON lines
    try:
        with contextlib.redirect_stdout(noise), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                classifier.cpu(),
                (example_input(card),),
                str(tmp),
                input_names=[INPUT_NAME],
                output_names=OUTPUT_NAMES,
                dynamic_shapes=({0: batch, 1: height, 2: width},),
                opset_version=ONNX_OPSET,
                dynamo=True,
                external_data=False,
                verbose=False,
            )
        model = onnx.load(str(tmp))
    except Exception as exc:  # the exporter raises many types; one line for the user
        raise InvalidInputError(f"ONNX export of {card.architecture} failed ({_first_line(exc)})") from exc
    model.doc_string = f"Model Studio {card.architecture}: uint8 image N x H x W x {card.in_channels} -> probabilities"
    for key, value in (("classes", json.dumps(card.classes)), ("model_card", card.to_json())):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(tmp))


def write_torchscript(classifier: ImageClassifier, card: ModelCard, path: Path) -> None:
    def save(tmp: Path) -> None:
        try:
            with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
                warnings.simplefilter("ignore")
                traced = torch.jit.trace(classifier.cpu(), (example_input(card),))
                torch.jit.save(traced, str(tmp))
        except Exception as exc:
            raise InvalidInputError(f"TorchScript export of {card.architecture} failed ({_first_line(exc)})") from exc

    write_via_temp(path, save)


def write_safetensors(network: torch.nn.Module, card: ModelCard, path: Path) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in network.state_dict().items()}
    metadata = {"architecture": card.architecture, "format": "model-studio"}
    write_via_temp(path, lambda tmp: save_file(state, str(tmp), metadata=metadata))


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return (lines[0] if lines else type(exc).__name__)[:200]
