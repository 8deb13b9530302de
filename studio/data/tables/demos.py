"""The demo tables that ship with the studio: XOR (trains to 100% in seconds) and the Palmer
penguins (a real table with missing values and categories). See demo/README.md for sources and
licences."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

DEMO_FOLDER = Path(__file__).parent / "demo"


@dataclass(frozen=True)
class DemoTable:
    name: str
    path: Path
    targets: tuple[str, ...]
    licence: str


DEMO_TABLES = {
    "xor": DemoTable("xor", DEMO_FOLDER / "xor.csv", ("xor",), "written for the studio"),
    "penguins": DemoTable("penguins", DEMO_FOLDER / "penguins.csv", ("species",),
                          "CC0 (Palmer Station LTER; Horst, Hill & Gorman 2020)"),
}
