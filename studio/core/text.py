"""Text shown on a terminal: names from files and folders may hold escape sequences."""

from __future__ import annotations

import re

# C0 controls but tab, DEL, and C1 controls (0x80-0x9f: CSI and friends)
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f]")


def for_terminal(text: object) -> str:
    """``text`` with control characters shown as escapes (``\\x1b``), so a folder named with
    an ANSI sequence cannot recolour, move or clear the user's terminal."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(text))


def say(*parts: object, sep: str = " ", end: str = "\n", file=None) -> None:
    """print() for human output: each line escaped with for_terminal."""
    import sys

    text = sep.join(str(p) for p in parts)
    print("\n".join(for_terminal(line) for line in text.split("\n")), end=end, file=file or sys.stdout)
