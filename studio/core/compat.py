"""Python 3.10 support (Ubuntu 22.04's python3): what newer standard libraries provide."""

from __future__ import annotations

import sys
from enum import Enum

if sys.version_info >= (3, 11):
    from enum import StrEnum
else:

    class StrEnum(str, Enum):
        """A member is its string: equal to it, printed and formatted as it."""

        def __str__(self) -> str:
            return self.value

        def __format__(self, spec: str) -> str:
            return format(self.value, spec)

__all__ = ["StrEnum"]
