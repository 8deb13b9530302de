"""Where a training run starts: its own random weights, ImageNet weights, an earlier run, or a
weights file; parsed from the CLI's ``--pretrained`` and the stored spec. No torch here."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from studio.core.errors import InvalidInputError


@dataclass(frozen=True)
class Auto:
    """ImageNet weights for torchvision models when cached or downloadable, else from scratch."""
    text = "auto"


@dataclass(frozen=True)
class Scratch:
    text = "none"


@dataclass(frozen=True)
class ImageNet:
    text = "imagenet"


@dataclass(frozen=True)
class FromRun:
    run_id: int

    @property
    def text(self) -> str:
        return str(self.run_id)


@dataclass(frozen=True)
class FromFile:
    path: str  # absolute, so the worker finds it from anywhere

    @property
    def text(self) -> str:
        return self.path


StartFrom = Auto | Scratch | ImageNet | FromRun | FromFile
_NAMED_STARTS = {start.text: start for start in (Auto(), Scratch(), ImageNet())}


def parse_run_id(value: str | int) -> int:
    """A run id as a user writes it (``12``); anything else is an error that says so."""
    text = str(value).strip()
    if not text.isdecimal():
        raise InvalidInputError(f"a run id is a number, not {value!r}")
    return int(text)


def parse_start(value: StartFrom | str | int | None) -> StartFrom:
    """``auto | none | imagenet | RUN_ID | PATH`` (the CLI's ``--pretrained``, a stored spec) -> a StartFrom."""
    if isinstance(value, (Auto, Scratch, ImageNet, FromRun, FromFile)):
        return value
    if value is None:
        return Auto()
    if isinstance(value, int):
        return FromRun(value)
    text = str(value).strip()
    if text.lower() in _NAMED_STARTS:
        return _NAMED_STARTS[text.lower()]
    if text.isdecimal():
        return FromRun(parse_run_id(text))
    return FromFile(str(Path(text).expanduser().resolve()))


def describe_start(start: StartFrom, model: str) -> str:
    """What the run starts from, in words (kept in the spec: `studio runs show`, the model card)."""
    match start:
        case Auto():
            return f"ImageNet weights for {model} if available, else from scratch (decided when training starts)"
        case Scratch():
            return "from scratch (random weights)"
        case ImageNet():
            return f"ImageNet weights ({model})"
        case FromRun(run_id):
            return f"the trained model of run {run_id}"
        case FromFile(path):
            return f"weights file {path}"


def is_fine_tuning(start: StartFrom) -> bool:
    """Starting from learned weights (the learning rate is lower then)."""
    return not isinstance(start, (Scratch, Auto))
