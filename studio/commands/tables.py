"""Table datasets from the command line: `studio import DATASET data.csv --target COL` (called by
`studio import` for a table file), `studio columns DATASET [--set COL --type T --role R]`, and the
table side of `studio datasets show|split`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.commands.common import add_json_flag, emit_json, open_library
from studio.core.errors import InvalidInputError
from studio.core.text import say

TABLE_SUFFIXES = (".csv", ".tsv", ".tab", ".parquet", ".pq")
TYPES = ("number", "category", "boolean", "datetime", "text", "identifier")
ROLES = ("feature", "target", "ignore")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("columns", help="a table dataset's columns: types, roles, missing values; change them",
                       description="Without --set: list the columns. With --set COL: change its --type and/or "
                       "--role (checked against the rows).")
    p.add_argument("dataset", help="table dataset name or id")
    p.add_argument("--set", metavar="COL", dest="column", help="the column to change")
    p.add_argument("--type", choices=TYPES, help="new type of --set COL")
    p.add_argument("--role", choices=ROLES, help="new role of --set COL")
    add_json_flag(p)
    p.set_defaults(func=cmd_columns)

    p = sub.add_parser("demo", help="add a demo table that ships with the studio: xor or penguins")
    p.add_argument("table", choices=("xor", "penguins"))
    p.add_argument("--name", help="dataset name (default: \"Demo xor\" / \"Demo penguins\")")
    add_json_flag(p)
    p.set_defaults(func=cmd_demo)


def add_import_options(p: argparse.ArgumentParser) -> None:
    """The table options of `studio import` (ignored for images)."""
    p.add_argument("--target", action="append", default=[], metavar="COL",
                   help="table files: the column to predict (repeat for several numeric targets; default: the last)")
    p.add_argument("--ignore", action="append", default=[], metavar="COL", help="table files: a column not to learn from")
    p.add_argument("--type", action="append", default=[], metavar="COL=TYPE", dest="types",
                   help=f"table files: a column's type instead of the inferred one ({', '.join(TYPES)})")


def is_table_import(paths: list[Path], args: argparse.Namespace) -> bool:
    tables = [p for p in paths if p.suffix.lower() in TABLE_SUFFIXES]
    if tables and len(paths) > 1:
        raise InvalidInputError("import one table file at a time (each becomes its own dataset)")
    if not tables and (args.target or args.ignore or args.types):
        raise InvalidInputError("--target, --ignore and --type apply to table files (.csv, .tsv, .parquet)")
    return bool(tables)


def cmd_import_table(args: argparse.Namespace, path: Path, progress) -> int:
    from studio.core.jobs import JobState
    from studio.data.tables.dataset import import_table

    types = _parse_types(args.types)
    lib = open_library(args)
    try:
        result = import_table(lib, args.dataset, path, targets=args.target or None, ignore=args.ignore,
                              types=types, state=JobState(on_progress=progress))
    except BaseException:
        if not args.json:
            sys.stderr.write("\n")  # the error goes on its own line, not after the progress bar
        raise
    if args.json:
        emit_json({"event": "done", "dataset": result.name, "dataset_id": result.dataset_id, "kind": "table",
                   "rows": result.rows, "task": result.schema.task, "notes": result.notes,
                   "columns": result.schema.to_json()["columns"]})
        return 0
    sys.stderr.write("\n")
    say(f"created table dataset {result.name!r}: {result.rows:,} rows, {result.schema.task} of "
        + ", ".join(c.name for c in result.schema.targets))
    _print_columns(result.schema)
    for note in result.notes:
        say(f"  note {note}")
    return 0


def _parse_types(pairs: list[str]) -> dict | None:
    from studio.data.tables.schema import ColumnType

    types = {}
    for pair in pairs:
        name, sep, kind = pair.rpartition("=")
        if not sep or not name or kind not in TYPES:
            raise InvalidInputError(f"--type {pair!r}: write COL=TYPE with TYPE one of {', '.join(TYPES)}")
        types[name] = ColumnType(kind)
    return types or None


def cmd_columns(args: argparse.Namespace) -> int:
    from studio.data.tables.dataset import load_table_dataset, set_column

    lib = open_library(args)
    if args.column:
        if not (args.type or args.role):
            raise InvalidInputError("--set COL needs --type and/or --role")
        schema = set_column(lib, args.dataset, args.column, type=args.type, role=args.role)
    else:
        if args.type or args.role:
            raise InvalidInputError("--type and --role need --set COL")
        schema = load_table_dataset(lib, args.dataset).schema
    if args.json:
        emit_json(schema.to_json())
    else:
        _print_columns(schema)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from studio.data.tables.dataset import add_demo_table
    from studio.data.tables.demos import DEMO_TABLES

    lib = open_library(args)
    dataset_id = add_demo_table(lib, args.table, args.name)
    if args.json:
        emit_json({"dataset_id": dataset_id, "table": args.table, "licence": DEMO_TABLES[args.table].licence})
    else:
        say(f"added demo table {args.table} as dataset {dataset_id} ({DEMO_TABLES[args.table].licence})")
    return 0


def _print_columns(schema) -> None:
    say(f"  {'column':<24} {'type':<11} {'role':<8} {'missing':>8} {'distinct':>9}")
    for c in schema.columns:
        say(f"  {c.name[:24]:<24} {c.type.value:<11} {c.role.value:<8} {c.missing:>8} {c.distinct:>9}"
            + (f"  ({c.note})" if c.note else ""))


def show_table(lib, name: str, json_mode: bool) -> int:
    from studio.data.tables.dataset import load_table_dataset

    data = load_table_dataset(lib, name)
    out = {"id": data.id, "name": data.name, "kind": "table", "rows": data.table.num_rows,
           "task": data.schema.task, "targets": [c.name for c in data.schema.targets],
           "file": data.source_name, "splits": data.split_counts(), "columns": data.schema.to_json()["columns"]}
    if json_mode:
        emit_json(out)
        return 0
    say(f"{data.name} (id {data.id}, table from {data.source_name}): {out['rows']:,} rows, {data.schema.task} "
        f"of {', '.join(out['targets'])}")
    say("  splits: " + ", ".join(f"{k} {v}" for k, v in out["splits"].items()))
    _print_columns(data.schema)
    return 0


def split_table(lib, name: str, fractions: tuple[float, float, float], seed: int) -> dict[str, int]:
    from studio.data.tables.dataset import load_table_dataset, resplit

    resplit(lib, name, fractions, seed)
    return load_table_dataset(lib, name).split_counts()
