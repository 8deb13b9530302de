"""The one entry point: `studio` opens the GUI; subcommands do everything else.

Each group of subcommands lives in a module of studio.commands with a ``register(subparsers)``
function; handlers import heavy libraries (torch, Qt) only when they run, so `studio --help`
and `studio datasets list` start fast.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from studio import __version__
from studio.core.errors import StudioError

COMMAND_MODULES = (
    "studio.commands.datasets",
    "studio.commands.tables",
    "studio.commands.texts",
    "studio.commands.labels",
    "studio.commands.train",
    "studio.commands.weights",
    "studio.commands.export",
    "studio.commands.kernels",
    "studio.commands.worker",
    "studio.commands.doctor",
    "studio.commands.selftest",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio",
        description="Model Studio: label data, train and fine-tune networks locally, export them.",
    )
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    parser.add_argument("--home", metavar="DIR", help="library folder (default: $STUDIO_HOME or the user data dir)")
    parser.add_argument("--debug", action="store_true", help="show the full traceback of an unexpected error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def open_gui(args: argparse.Namespace) -> int:
    from studio.core.system_libs import missing_libraries, missing_message, needs_x11_libraries

    if needs_x11_libraries():  # else Qt aborts with "could not load the Qt platform plugin"
        missing = missing_libraries()
        if missing:
            raise StudioError(missing_message(missing))
    from studio.ui.shell.app import run_app

    code = run_app(home=args.home)
    # The window is closed and the library saved. Leave now: interpreter finalization would wait
    # for (or abort on) native threads still inside torch, Qt multimedia or a user's endless kernel.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(argv: list[str] | None = None) -> int:
    if getattr(sys, "frozen", False):  # a packaged app: import workers start as the app itself
        import multiprocessing

        multiprocessing.freeze_support()
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["torchrun"]:  # multi-GPU launcher (studio.commands.train.worker_argv), frozen apps too
        from torch.distributed.run import main as torchrun

        torchrun(argv[1:])
        return 0
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "func", None)
    try:
        if handler is None:
            return open_gui(args)
        return int(handler(args) or 0)
    except StudioError as exc:
        return _fail(args, exc, str(exc), exc.exit_code)
    except KeyboardInterrupt:
        print("studio: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - a full disk, a read-only library, a bug: one line
        from studio.core.errors import describe_exception

        hint = "" if args.debug else " (run with --debug to see the traceback)"
        return _fail(args, exc, describe_exception(exc) + hint, 1)


def _fail(args: argparse.Namespace, exc: BaseException, message: str, code: int) -> int:
    from studio.core.text import for_terminal

    if getattr(args, "debug", False):
        import traceback

        traceback.print_exception(exc)
    print(f"studio: error: {for_terminal(message)}", file=sys.stderr)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
