"""Entry point of the frozen app: the same CLI as `studio` (GUI by default, subcommands, worker).
``studio.cli.main`` calls multiprocessing.freeze_support() itself when frozen."""

from studio.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
