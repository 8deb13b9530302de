"""Model cards and class lists from files made elsewhere, checked field by field before use.

A card is untrusted JSON: it decides how many outputs are named, what size every input is resized
to and how it is normalised. Each field is checked for type and bounds (studio.core.limits), so
a bad card ends in one clear line instead of a traceback or a huge allocation.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from studio.core.errors import InvalidInputError
from studio.core.limits import limits
from studio.train.card import ModelCard

MAX_ARCHITECTURE_CHARS = 100
CHANNELS = (1, 3)


class CardError(InvalidInputError):
    """A model card or model metadata that cannot be used as given."""


def load_card_file(path: Path) -> ModelCard:
    """The validated card in ``path`` (its size is checked before it is read)."""
    path = Path(path)
    size, most = path.stat().st_size, limits().max_card_bytes
    if size > most:
        raise CardError(f"{path.name} is not a valid model card: {size:,} bytes, over the {most:,} byte limit")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise CardError(f"{path.name} is not a valid model card: it is not UTF-8 text") from None
    return parse_card(text, path.name)


def parse_json(text: str, what: str) -> Any:
    """``json.loads`` with the size bound and one line for any failure (deep nesting included)."""
    most = limits().max_card_bytes
    if len(text) > most:
        raise CardError(f"{what}: {len(text):,} characters, over the {most:,} limit")
    try:
        return json.loads(text)
    except RecursionError:
        raise CardError(f"{what}: JSON nested too deeply") from None
    except ValueError as exc:
        raise CardError(f"{what}: not valid JSON ({exc})") from None


def parse_card(text: str, source: str) -> ModelCard:
    what = f"{source} is not a valid model card"
    return card_from_data(parse_json(text, what), source)


def card_from_data(data: Any, source: str) -> ModelCard:
    what = f"{source} is not a valid model card"
    if not isinstance(data, dict):
        raise CardError(f"{what}: expected a JSON object, got {_json_type(data)}")
    for required in ("architecture", "classes", "image_size"):
        if required not in data:
            raise CardError(f"{what}: no {required!r}")
    architecture = data["architecture"]
    if not isinstance(architecture, str) or not 0 < len(architecture) <= MAX_ARCHITECTURE_CHARS:
        raise CardError(f"{what}: 'architecture' must be a name of 1 to {MAX_ARCHITECTURE_CHARS} characters")
    in_channels = data.get("in_channels", 3)
    if not _is_int(in_channels) or in_channels not in CHANNELS:
        raise CardError(f"{what}: 'in_channels' must be 1 (grey) or 3 (RGB), not {_short(in_channels)}")
    fields = {
        "architecture": architecture,
        "classes": check_classes(data["classes"], what),
        "image_size": check_image_size(data["image_size"], what),
        "in_channels": in_channels,
        "mean": _normalisation(data, "mean", in_channels, what, positive=False),
        "std": _normalisation(data, "std", in_channels, what, positive=True),
    }
    for name in ("dataset", "metrics", "training"):
        if not isinstance(data.get(name, {}), dict):
            raise CardError(f"{what}: {name!r} must be a JSON object, not {_json_type(data[name])}")
        fields[name] = data.get(name, {})
    run_id = data.get("run_id")
    if run_id is not None and not _is_int(run_id):
        raise CardError(f"{what}: 'run_id' must be a number or null")
    version = data.get("studio_version", "")
    if not isinstance(version, str) or len(version) > MAX_ARCHITECTURE_CHARS:
        raise CardError(f"{what}: 'studio_version' must be a short text")
    format_version = data.get("format_version", 1)
    if not _is_int(format_version):
        raise CardError(f"{what}: 'format_version' must be a whole number")
    return ModelCard(**fields, run_id=run_id, studio_version=version, format_version=format_version)


def check_classes(value: Any, what: str) -> list[str]:
    """A list of 1..max_model_classes class names, each a short text without control characters."""
    if not isinstance(value, list):
        raise CardError(f"{what}: 'classes' must be a list of names, not {_json_type(value)}")
    check_class_count(len(value), what)
    longest = limits().max_class_name_chars
    for index, name in enumerate(value):
        if not isinstance(name, str):
            raise CardError(f"{what}: class {index} must be a text, not {_json_type(name)}")
        if not 0 < len(name) <= longest:
            raise CardError(f"{what}: class {index} name must be 1 to {longest} characters (it has {len(name)})")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
            raise CardError(f"{what}: class {index} name holds control characters")
    return list(value)


def check_class_count(count: Any, what: str) -> int:
    most = limits().max_model_classes
    if not _is_int(count) or not 0 < count <= most:
        raise CardError(f"{what}: {_short(count)} classes (the limit is 1 to {most:,}, STUDIO_MAX_MODEL_CLASSES)")
    return count


def check_image_size(value: Any, what: str) -> int:
    most = limits().max_model_image_size
    if not _is_int(value) or not 0 < value <= most:
        raise CardError(f"{what}: image size {_short(value)} (must be 1 to {most} pixels, STUDIO_MAX_MODEL_IMAGE_SIZE)")
    return value


def check_channels(value: Any, what: str) -> int:
    if not _is_int(value) or value not in CHANNELS:
        raise CardError(f"{what}: {_short(value)} input channels (the studio feeds 1 (grey) or 3 (RGB))")
    return value


def _normalisation(data: dict, key: str, channels: int, what: str, *, positive: bool) -> list[float]:
    value = data.get(key, [0.5, 0.5, 0.5])
    ok = isinstance(value, list) and channels <= len(value) <= 4 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and (v > 0 or not positive)
        for v in value)
    if not ok:
        kind = "positive numbers" if positive else "finite numbers"
        raise CardError(f"{what}: {key!r} must be a list of {channels} to 4 {kind}")
    return [float(v) for v in value]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a text", bool: "true/false", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
