"""The one entry point: `studio` opens the GUI; subcommands do everything else.

Each group of subcommands lives in a module of studio.commands with a ``register(subparsers)``
function; handlers import heavy libraries (torch, Qt) only when they run, so `studio --help`
and `studio datasets list` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from studio import __version__
from studio.core.errors import StudioError

COMMAND_MODULES = (
    "studio.commands.datasets",
    "studio.commands.labels",
    "studio.commands.train",
    "studio.commands.export",
    "studio.commands.kernels",
    "studio.commands.worker",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio",
        description="Model Studio: label data, train and fine-tune networks locally, export them.",
    )
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    parser.add_argument("--home", metavar="DIR", help="library folder (default: $STUDIO_HOME or the user data dir)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def open_gui(args: argparse.Namespace) -> int:
    from studio.ui.app import run_app

    return run_app(home=args.home)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "func", None)
    try:
        if handler is None:
            return open_gui(args)
        return int(handler(args) or 0)
    except StudioError as exc:
        print(f"studio: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("studio: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
