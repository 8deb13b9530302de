"""The model card: everything needed to use a trained model outside the engine.

Written as ``model.json`` beside ``model.safetensors`` in each run folder, and beside every
export. Shared contract between the training engine (writes it), export and predict (read it).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


@dataclass
class ModelCard:
    architecture: str                 # a name from the model zoo, e.g. "simple-cnn", "resnet18"
    classes: list[str]                # output order
    image_size: int                   # the model sees image_size x image_size
    in_channels: int = 3              # 1 = grayscale input, 3 = RGB
    mean: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])
    std: list[float] = field(default_factory=lambda: [0.5, 0.5, 0.5])
    run_id: int | None = None
    dataset: dict[str, Any] = field(default_factory=dict)   # name, sample counts per class/split
    metrics: dict[str, Any] = field(default_factory=dict)   # e.g. val_accuracy, test_accuracy
    training: dict[str, Any] = field(default_factory=dict)  # the run spec (epochs, lr, ...)
    studio_version: str = ""
    format_version: int = 1
    kind: str = "image"               # the dataset kind it was trained on: "image" | "table"
    table: dict[str, Any] = field(default_factory=dict)  # tables: {"encoder", "net", "schema"} as JSON

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, default=str)

    def save(self, path: Path) -> None:
        tmp = Path(path).with_suffix(".json.tmp")
        tmp.write_text(self.to_json())
        tmp.replace(path)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelCard":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    @classmethod
    def load(cls, path: Path) -> "ModelCard":
        return cls.from_dict(json.loads(Path(path).read_text()))
