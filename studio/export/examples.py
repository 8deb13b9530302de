"""The short runnable example written beside every export: ``python PATH.example.py image.png``
prints the top classes. It decodes like the studio's ``open_upright`` (EXIF-upright, alpha
flattened onto white) with Pillow alone."""

from __future__ import annotations

from pathlib import Path

from studio.export.targets import write_via_temp
from studio.train.card import ModelCard

_DECODE = '''
def load_image(path):
    """Upright pixels, transparency flattened onto white, as uint8 H x W x C (as the studio does)."""
    # raster formats only: Pillow would hand EPS/PostScript to Ghostscript
    image = ImageOps.exif_transpose(Image.open(path, formats=("PNG", "JPEG", "GIF", "BMP", "TIFF", "WEBP", "PPM")))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    array = np.asarray(image.convert(MODE), dtype=np.uint8)
    return array[:, :, None] if array.ndim == 2 else array


def show(path, probabilities):
    for index in np.argsort(-probabilities, kind="stable")[:TOP]:
        print(f"{path}\\t{CLASSES[index]}\\t{probabilities[index]:.4f}")
'''

_ONNX = '''"""Top classes of images with {file_name} (exported by Model Studio {version}).

    pip install onnxruntime pillow numpy
    python {script_name} image.png [more images...]

Input: uint8 images N x H x W x {channels} (any size); resizing and normalisation happen inside.
"""
import os
import sys

import numpy as np
import onnxruntime
from PIL import Image, ImageOps

MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), {file_literal})
CLASSES = {classes}
MODE = {mode}
TOP = {top}
{decode}

session = onnxruntime.InferenceSession(MODEL, providers=["CPUExecutionProvider"])
for path in sys.argv[1:]:
    probabilities = session.run(["probabilities"], {{"image": load_image(path)[None]}})[0][0]
    show(path, probabilities)
'''

_TORCHSCRIPT = '''"""Top classes of images with {file_name} (exported by Model Studio {version}).

    pip install torch pillow numpy
    python {script_name} image.png [more images...]

Input: uint8 images N x H x W x {channels} (any size); resizing and normalisation happen inside.
"""
import os
import sys

import numpy as np
import torch
from PIL import Image, ImageOps

MODEL = os.path.join(os.path.dirname(os.path.abspath(__file__)), {file_literal})
CLASSES = {classes}
MODE = {mode}
TOP = {top}
{decode}

model = torch.jit.load(MODEL, map_location="cpu").eval()
with torch.inference_mode():
    for path in sys.argv[1:]:
        probabilities, _logits = model(torch.from_numpy(load_image(path)[None]))
        show(path, probabilities[0].numpy())
'''

_SAFETENSORS = '''"""Top classes of images with {file_name} + {card_name} (exported by Model Studio {version}).

The weights need the architecture's code ({architecture}) from Model Studio's model zoo:
    pip install model-studio        (or run this inside the studio's environment)
    python {script_name} image.png [more images...]

Preprocessing (do exactly this): float / 255 -> resize to {size} x {size} (bilinear,
align_corners=False, antialias=True) -> (x - mean) / std, channels first.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from safetensors.torch import load_file

from studio.train.zoo import build_model

HERE = os.path.dirname(os.path.abspath(__file__))
CARD = json.load(open(os.path.join(HERE, {card_literal})))
CLASSES = CARD["classes"]
MODE = "L" if CARD["in_channels"] == 1 else "RGB"
TOP = {top}
{decode}

model = build_model(CARD["architecture"], len(CLASSES), CARD["in_channels"], CARD["image_size"])
model.load_state_dict(load_file(os.path.join(HERE, {file_literal})))
model.eval()
size = CARD["image_size"]
mean = torch.tensor(CARD["mean"]).view(1, -1, 1, 1)
std = torch.tensor(CARD["std"]).view(1, -1, 1, 1)
with torch.inference_mode():
    for path in sys.argv[1:]:
        x = torch.from_numpy(load_image(path)).permute(2, 0, 1)[None].float() / 255.0
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=True)
        probabilities = torch.softmax(model((x - mean) / std), dim=1)
        show(path, probabilities[0].numpy())
'''

TEMPLATES = {"onnx": _ONNX, "torchscript": _TORCHSCRIPT, "safetensors": _SAFETENSORS}


def example_path_for(model_path: Path) -> Path:
    return Path(f"{model_path}.example.py")


def docstring_safe(text: str) -> str:
    """``text`` as it may stand inside a triple-quoted docstring: quotes and backslashes escaped,
    anything unprintable (newlines, line separators, undecodable bytes) spelled as an escape.
    A file name holding three double quotes then reads as a name and never runs as code."""
    out = []
    for ch in text:
        if ch in '\\"':
            out.append("\\" + ch)
        elif not ch.isprintable():
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


def example_text(fmt: str, model_path: Path, card_path: Path, card: ModelCard, script_name: str, top: int = 3) -> str:
    """The script's source. Paths and names go in as Python literals (repr) in code and escaped
    in the docstring; nothing from a file name or a card is ever pasted in as code."""
    return TEMPLATES[fmt].format(
        file_name=docstring_safe(model_path.name),
        card_name=docstring_safe(card_path.name),
        file_literal=repr(model_path.name),
        card_literal=repr(card_path.name),
        script_name=docstring_safe(script_name),
        version=docstring_safe(card.studio_version or ""),
        classes=repr(list(card.classes)),
        mode=repr("L" if card.in_channels == 1 else "RGB"),
        channels=int(card.in_channels),
        architecture=docstring_safe(repr(card.architecture)),
        size=int(card.image_size),
        top=int(min(top, len(card.classes))),
        decode=_DECODE,
    )


def write_example(fmt: str, model_path: Path, card_path: Path, card: ModelCard, top: int = 3,
                  target: Path | None = None) -> Path:
    target = target or example_path_for(model_path)
    text = example_text(fmt, model_path, card_path, card, example_path_for(model_path).name, top)
    write_via_temp(target, lambda tmp: tmp.write_text(text, encoding="utf-8", errors="backslashreplace"))
    return target
