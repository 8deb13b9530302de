"""Entry point of the frozen app: the same CLI as `studio` (GUI by default, subcommands, worker)."""
import multiprocessing

from studio.cli import main

if __name__ == "__main__":
    multiprocessing.freeze_support()
    raise SystemExit(main())
