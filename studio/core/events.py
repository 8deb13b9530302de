"""A small synchronous event emitter for pure-Python models (napari style)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Any


class EventEmitter:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Callable[..., Any]]] = defaultdict(list)

    def connect(self, event: str, handler: Callable[..., Any]) -> Callable[[], None]:
        """Call ``handler(**payload)`` on each ``emit(event, ...)``; returns a disconnect function."""
        self._handlers[event].append(handler)
        return lambda: self.disconnect(event, handler)

    def disconnect(self, event: str, handler: Callable[..., Any]) -> None:
        if handler in self._handlers.get(event, []):
            self._handlers[event].remove(handler)

    def emit(self, event: str, **payload: Any) -> None:
        for handler in list(self._handlers.get(event, [])):
            handler(**payload)
