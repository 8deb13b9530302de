"""Helpers every command handler uses: open the library, print JSON lines."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any


def open_library(args: argparse.Namespace):
    from studio.store.library import Library

    return Library.open(getattr(args, "home", None))


def emit_json(obj: dict[str, Any]) -> None:
    """One JSON object per line, flushed, so scripts and the GUI can read it as it comes."""
    try:
        sys.stdout.write(json.dumps(obj, default=str) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:
        # the reader went away (the GUI closed with "keep running in the background"): the run
        # goes on, recording to the library; later lines go nowhere instead of failing the run
        sys.stdout = open(os.devnull, "w")


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object per line")


def confirm(question: str, refusal: str) -> bool:
    """Ask ``question`` on a terminal (y/N); with no terminal to ask, refuse with ``refusal``."""
    from studio.core.errors import InvalidInputError

    if not sys.stdin.isatty():
        raise InvalidInputError(refusal)
    return input(f"{question} [y/N] ").strip().lower() in ("y", "yes")
