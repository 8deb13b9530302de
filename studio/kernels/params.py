"""Parameter specs read from a kernel's signature: what control to show, its range, its default,
and how to turn user text (CLI ``-p key=value``) or a widget value into what the kernel gets."""

from __future__ import annotations

import inspect
import math
import typing
from dataclasses import dataclass
from typing import Any

from studio.core.errors import InvalidInputError
from studio.kernels.api import Choice, Colour, Range, colour_hex, parse_colour

# control kinds the GUI maps to widgets
SLIDER, INT, FLOAT, BOOL, CHOICE, COLOUR, TEXT = "slider", "int", "float", "bool", "choice", "colour", "text"


@dataclass
class ParamSpec:
    name: str
    control: str  # one of the kinds above
    default: Any
    type: type = float
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    options: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")

    def coerce(self, value: Any) -> Any:
        """A value of the right type, inside the range; raises InvalidInputError with one clear line."""
        try:
            if self.control == BOOL:
                if isinstance(value, str):
                    text = value.strip().lower()
                    if text not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                        raise ValueError
                    return text in ("1", "true", "yes", "on")
                return bool(value)
            if self.control == CHOICE:
                text = str(value)
                if text not in self.options:
                    raise InvalidInputError(
                        f"parameter {self.name!r} must be one of {', '.join(self.options)}; got {text!r}"
                    )
                return text
            if self.control == COLOUR:
                return parse_colour(value)
            if self.control == TEXT:
                return str(value)
            number = self.type(float(value)) if self.type is int else float(value)
        except InvalidInputError:
            raise
        except (TypeError, ValueError):
            raise InvalidInputError(f"parameter {self.name!r} needs a {self.control} value; got {value!r}") from None
        if isinstance(number, float) and not math.isfinite(number):
            raise InvalidInputError(f"parameter {self.name!r} must be a finite number; got {value!r}")
        if self.low is not None and self.high is not None and not (self.low <= number <= self.high):
            raise InvalidInputError(
                f"parameter {self.name!r} must be between {self.low:g} and {self.high:g}; got {number:g}"
            )
        return number

    def display(self, value: Any) -> Any:
        """JSON-friendly form (colours as #rrggbb)."""
        return colour_hex(value) if self.control == COLOUR else value


def read_params(fn) -> tuple[list[str], list[ParamSpec]]:
    """(input image names, keyword parameter specs) from a kernel function's signature."""
    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:  # an annotation that does not evaluate: say which
        raise InvalidInputError(f"kernel {fn.__name__}: cannot read its annotations ({exc})") from None
    params = list(sig.parameters.values())
    if not params or params[0].kind not in (params[0].POSITIONAL_ONLY, params[0].POSITIONAL_OR_KEYWORD):
        raise InvalidInputError(f"kernel {fn.__name__}: the first parameter must be the grid, e.g. def {fn.__name__}(grid, *, ...)")
    inputs: list[str] = []
    specs: list[ParamSpec] = []
    for p in params[1:]:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) and p.default is p.empty:
            inputs.append(p.name)
            continue
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        if p.default is p.empty:
            raise InvalidInputError(f"kernel {fn.__name__}: parameter {p.name!r} needs a default value")
        specs.append(_spec_for(fn.__name__, p.name, hints.get(p.name, p.annotation), p.default))
    return inputs, specs


def _spec_for(kernel_name: str, name: str, annotation: Any, default: Any) -> ParamSpec:
    marker = annotation
    if typing.get_origin(annotation) is typing.Annotated:
        base, *extras = typing.get_args(annotation)
        marker = next((e for e in extras if isinstance(e, (Range, Choice)) or e is Colour), base)
    if isinstance(marker, Range):
        numeric = int if marker.type is int else float
        spec = ParamSpec(name, SLIDER, numeric(default), numeric, marker.low, marker.high, marker.step, marker.log)
    elif isinstance(marker, Choice):
        spec = ParamSpec(name, CHOICE, str(default), str, options=marker.options)
    elif marker is Colour or isinstance(marker, Colour):
        spec = ParamSpec(name, COLOUR, parse_colour(default), tuple)
    elif marker is bool or isinstance(default, bool):
        spec = ParamSpec(name, BOOL, bool(default), bool)
    elif marker is int or (marker is inspect.Parameter.empty and isinstance(default, int)):
        spec = ParamSpec(name, INT, int(default), int)
    elif marker is float or (marker is inspect.Parameter.empty and isinstance(default, float)):
        spec = ParamSpec(name, FLOAT, float(default), float)
    else:
        spec = ParamSpec(name, TEXT, str(default), str)
    try:
        spec.coerce(spec.default)
    except InvalidInputError as exc:
        raise InvalidInputError(f"kernel {kernel_name}: default of {name!r} is invalid: {exc}") from None
    return spec


def resolve_params(specs: list[ParamSpec], given: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults overlaid with ``given`` (strings or values), each checked; unknown names are errors."""
    by_name = {s.name: s for s in specs}
    values = {s.name: s.default for s in specs}
    for key, raw in (given or {}).items():
        if key not in by_name:
            known = ", ".join(by_name) or "none"
            raise InvalidInputError(f"unknown parameter {key!r} (known: {known})")
        values[key] = by_name[key].coerce(raw)
    return values


def parse_assignments(items: list[str] | None) -> dict[str, str]:
    """CLI ``-p key=value`` items -> dict."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInputError(f"parameter {item!r} must be written key=value")
        out[key.strip()] = value.strip()
    return out
