"""The training worker's pipe protocol, both ends: JSON objects one per line on its stdout (read
by `studio train` and the GUI through one parser; each is one of the typed events of
studio.train.events, read with ``events.from_dict``), control words one per line on its stdin.

Both sides read bytes with a bound on the line length (studio.core.limits), so a stray print,
a line that starts with "{" but is not JSON, invalid UTF-8 or an endless line costs one skipped
line, never a crash, a dead control thread or unbounded memory.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

from studio.core.limits import limits

CONTROL_WORDS = ("stop", "pause", "resume")


class JsonLinesParser:
    """Split a byte stream into JSON objects; keeps the unfinished tail for the next chunk.

    ``feed`` returns the objects; ``split`` returns objects and, for every other line, its text
    (a stray print, a warning), so a caller can pass those on. A line longer than
    ``max_line_bytes`` is dropped as it streams in (never buffered whole) and reported once.
    """

    def __init__(self, max_line_bytes: int | None = None) -> None:
        self.max_line_bytes = max_line_bytes or limits().max_event_line_bytes
        self._tail = b""
        self._dropping = 0  # bytes of an over-long line dropped so far (0: not dropping)
        self.skipped = 0

    def split(self, chunk: bytes) -> list[dict | str]:
        lines = (self._tail + chunk).split(b"\n")
        self._tail = lines.pop()
        out: list[dict | str] = []
        for raw in lines:
            if self._dropping or len(raw) > self.max_line_bytes:
                out.append(self._too_long(self._dropping + len(raw)))
                self._dropping = 0
                continue
            item = self._parse(raw)
            if item is not None:
                out.append(item)
        if len(self._tail) > self.max_line_bytes:
            self._dropping += len(self._tail)
            self._tail = b""
        return out

    def feed(self, chunk: bytes) -> list[dict]:
        return [item for item in self.split(chunk) if isinstance(item, dict)]

    def flush_split(self) -> list[dict | str]:
        """The last line, which had no newline (the process ended)."""
        if self._dropping:
            size, self._dropping, self._tail = self._dropping + len(self._tail), 0, b""
            return [self._too_long(size)]
        if not self._tail.strip():
            self._tail = b""
            return []
        return self.split(b"\n")

    def flush(self) -> list[dict]:
        return [item for item in self.flush_split() if isinstance(item, dict)]

    def _parse(self, raw: bytes) -> dict | str | None:
        raw = raw.strip()
        if not raw:
            return None
        if raw.startswith(b"{"):
            try:
                obj = json.loads(raw)
            except (ValueError, RecursionError):
                obj = None
            if isinstance(obj, dict):
                return obj
        self.skipped += 1
        return raw.decode("utf-8", errors="replace")

    def _too_long(self, size: int) -> str:
        self.skipped += 1
        return f"(skipped a line of {size:,} bytes from the worker: over the {self.max_line_bytes:,} byte limit)"


def read_control_lines(read: Callable[[int], bytes], max_line_bytes: int | None = None) -> Iterator[str]:
    """Control words from ``read(n)`` (e.g. ``os.read`` on the stdin descriptor: no Python-level
    buffer lock, so a thread blocked here never stalls interpreter shutdown) until it returns b"".
    Each line stripped and lower-cased; invalid UTF-8 is replaced, not fatal; a line over the
    limit is skipped whole (yielded as "") without being held in memory."""
    most = max_line_bytes or limits().max_control_line_bytes
    pending, dropping = b"", False
    while chunk := read(4096):
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        for line in lines:
            if dropping or len(line) > most:
                dropping = False
                yield ""
            else:
                yield line.decode("utf-8", errors="replace").strip().lower()
        if len(pending) > most:
            pending, dropping = b"", True
    if pending and not dropping:
        yield pending.decode("utf-8", errors="replace").strip().lower()
