"""`studio datasets list|create|rename|delete|show|split` and `studio import DATASET PATH...`."""

from __future__ import annotations

import argparse
import sys
import time

from studio.commands.common import add_json_flag, confirm, emit_json, open_library
from studio.commands.tables import (
    add_import_options,
    is_table_import,
    show_table,
    split_table,
)
from studio.commands.texts import (
    add_text_import_options,
    cmd_import_texts,
    is_text_import,
)
from studio.core.errors import InvalidInputError, NotFoundError
from studio.core.text import say


def register(sub: argparse._SubParsersAction) -> None:
    ds = sub.add_parser("datasets", help="list, create, rename, delete, show and split datasets")
    ds.set_defaults(func=lambda args: _print_help(ds))
    actions = ds.add_subparsers(dest="action", metavar="ACTION")

    p = actions.add_parser("list", help="all datasets with sample and class counts")
    add_json_flag(p)
    p.set_defaults(func=cmd_list)

    p = actions.add_parser("create", help="create an empty dataset")
    p.add_argument("name")
    p.add_argument("--kind", choices=("image", "table", "text"), default="image")
    add_json_flag(p)
    p.set_defaults(func=cmd_create)

    p = actions.add_parser("rename", help="rename a dataset")
    p.add_argument("name", help="dataset name or id")
    p.add_argument("new_name")
    add_json_flag(p)
    p.set_defaults(func=cmd_rename)

    p = actions.add_parser("delete", help="delete a dataset, its samples and their image files")
    p.add_argument("name", help="dataset name or id")
    p.add_argument("--yes", "-y", action="store_true", help="do not ask for confirmation")
    add_json_flag(p)
    p.set_defaults(func=cmd_delete)

    p = actions.add_parser("show", help="class and split counts of a dataset")
    p.add_argument("name", help="dataset name or id")
    add_json_flag(p)
    p.set_defaults(func=cmd_show)

    p = actions.add_parser("split", help="assign train/val/test splits, stratified per class")
    p.add_argument("name", help="dataset name or id")
    p.add_argument("--train", type=float, default=0.8)
    p.add_argument("--val", type=float, default=0.1)
    p.add_argument("--test", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--only-unassigned", action="store_true", help="keep splits already assigned")
    add_json_flag(p)
    p.set_defaults(func=cmd_split)

    p = sub.add_parser(
        "import",
        help="import images (a folder of class folders, a flat folder, a zip, image files) or a table (CSV/TSV/Parquet)",
        description="Import images into DATASET. Folder names are class names; folders called "
        "train, val/valid/validation or test set the split. Re-running adds only what is missing. "
        "A .csv, .tsv or .parquet file becomes a new table dataset (see --target, --ignore, --type). "
        "Texts (--kind text, --text-column, PATH - for lines on stdin) go into a text dataset: class folders of .txt files, "
        "a CSV/TSV/JSONL file, or lines from stdin.",
    )
    p.add_argument("dataset", help="dataset name or id (created when missing)")
    # "+", not "*": with "*" argparse refuses a PATH after an option (`studio import pets --create PATH`)
    p.add_argument("paths", nargs="+", metavar="PATH", help="folder, zip, image, table or text file; - for texts on stdin")
    create = p.add_mutually_exclusive_group()
    create.add_argument("--create", action="store_true", default=True,
                        help="create the dataset if it does not exist (the default)")
    create.add_argument("--no-create", dest="create", action="store_false",
                        help="fail if the dataset does not exist")
    p.add_argument("--batch-size", type=int, default=None, help=argparse.SUPPRESS)
    add_import_options(p)
    add_text_import_options(p)
    add_json_flag(p)
    p.set_defaults(func=cmd_import)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _summary_dict(d) -> dict:
    return {
        "id": d.id, "name": d.name, "kind": d.kind, "samples": d.samples,
        "labelled": d.labelled, "classes": d.classes, "created_at": d.created_at.isoformat(),
    }


def cmd_list(args) -> int:
    from studio.store.datasets import list_datasets

    lib = open_library(args)
    with lib.session() as s:
        rows = list_datasets(s)
    if args.json:
        for d in rows:
            emit_json(_summary_dict(d))
        return 0
    if not rows:
        say("no datasets yet: `studio import NAME PATH` creates one")
        return 0
    width = max(4, *(len(d.name) for d in rows))
    say(f"{'ID':>4}  {'NAME':<{width}}  {'KIND':<5}  {'SAMPLES':>8}  {'LABELLED':>8}  {'CLASSES':>7}")
    for d in rows:
        say(f"{d.id:>4}  {d.name:<{width}}  {d.kind:<5}  {d.samples:>8}  {d.labelled:>8}  {d.classes:>7}")
    return 0


def cmd_create(args) -> int:
    from studio.store.datasets import create_dataset

    lib = open_library(args)
    with lib.transaction() as s:
        ds = create_dataset(s, args.name, kind=args.kind)
        out = {"id": ds.id, "name": ds.name, "kind": ds.kind}
    if args.json:
        emit_json(out)
    else:
        say(f"created dataset {out['name']!r} (id {out['id']})")
    return 0


def cmd_rename(args) -> int:
    from studio.store.datasets import get_dataset, rename_dataset

    lib = open_library(args)
    with lib.transaction() as s:
        ds = get_dataset(s, args.name)
        old = ds.name
        rename_dataset(s, ds.id, args.new_name)
        out = {"id": ds.id, "old_name": old, "name": ds.name}
    if args.json:
        emit_json(out)
    else:
        say(f"renamed dataset {old!r} to {out['name']!r}")
    return 0


def cmd_delete(args) -> int:
    from studio.store.datasets import delete_dataset, get_dataset
    from studio.store.samples import count_samples

    lib = open_library(args)
    with lib.session() as s:
        ds = get_dataset(s, args.name)
        ds_id, name, n = ds.id, ds.name, count_samples(s, ds.id)
    if not args.yes and not confirm(
        f"Delete dataset {name!r} and its {n} samples?",
        f"refusing to delete dataset {name!r} ({n} samples) without --yes (no terminal to ask)",
    ):
        say("nothing deleted", file=sys.stderr)
        return 1
    from studio.store.gc import queued_count

    removed = delete_dataset(lib, ds_id)
    deferred = queued_count(lib)
    if args.json:
        emit_json({"id": ds_id, "name": name, "deleted_samples": n, "removed_files": removed,
                   "deferred_files": deferred})
    else:
        say(f"deleted dataset {name!r}: {n} samples, {removed} image files no longer used"
            + (f"; {deferred} more are removed when the import in progress ends" if deferred else ""))
    return 0


def cmd_show(args) -> int:
    from studio.store.datasets import (
        class_counts,
        get_dataset,
        split_counts,
        unlabelled_count,
    )
    from studio.store.samples import count_samples

    lib = open_library(args)
    with lib.session() as s:
        ds = get_dataset(s, args.name)
        if ds.kind == "table":
            return show_table(lib, ds.name, args.json)
        out = {
            "id": ds.id, "name": ds.name, "kind": ds.kind, "samples": count_samples(s, ds.id),
            "unlabelled": unlabelled_count(s, ds.id),
            "classes": [
                {"id": c.class_id, "name": c.name, "colour": c.colour, "count": c.count}
                for c in class_counts(s, ds.id)
            ],
            "splits": {(k or "none"): v for k, v in split_counts(s, ds.id).items()},
        }
    if args.json:
        emit_json(out)
        return 0
    say(f"{out['name']} (id {out['id']}, {out['kind']}): {out['samples']} samples, "
          f"{out['unlabelled']} unlabelled")
    for c in out["classes"]:
        say(f"  {c['name']:<24} {c['count']:>8}")
    say("  splits: " + ", ".join(f"{k} {v}" for k, v in out["splits"].items()))
    return 0


def cmd_split(args) -> int:
    from studio.store.datasets import get_dataset
    from studio.store.splits import auto_split

    lib = open_library(args)
    with lib.session() as s:
        ds = get_dataset(s, args.name)
        if ds.kind == "table":
            if args.only_unassigned:
                raise InvalidInputError("every row of a table has a split; --only-unassigned applies to images")
            counts = split_table(lib, ds.name, (args.train, args.val, args.test), args.seed)
            return _print_split(args, ds.name, counts)
    with lib.transaction() as s:
        ds = get_dataset(s, args.name)
        counts = auto_split(s, ds.id, (args.train, args.val, args.test), seed=args.seed,
                            only_unassigned=args.only_unassigned)
        name = ds.name
    return _print_split(args, name, counts)


def _print_split(args, name: str, counts: dict[str, int]) -> int:
    if args.json:
        emit_json({"dataset": name, **counts})
    else:
        say(f"{name}: train {counts['train']}, val {counts['val']}, test {counts['test']}")
    return 0


def _progress_printer(json_mode: bool):
    """Progress to stderr as a bar (text) or to stdout as {"event": "progress"} lines (--json)."""
    last = [0.0]

    def on_progress(fraction: float, message: str) -> None:
        if json_mode:
            emit_json({"event": "progress", "fraction": round(fraction, 4), "message": message})
            return
        now = time.monotonic()
        if fraction < 1.0 and now - last[0] < 0.2:
            return
        last[0] = now
        filled = int(fraction * 30)
        sys.stderr.write(f"\rimporting [{'#' * filled}{'.' * (30 - filled)}] {fraction * 100:5.1f}%  {message}   ")
        sys.stderr.flush()

    return on_progress


def cmd_import(args) -> int:
    from pathlib import Path

    from studio.core.jobs import JobState
    from studio.store.datasets import create_dataset, get_dataset
    from studio.store.importers import BATCH_SIZE, import_files

    paths = [Path(p) for p in args.paths]
    for path in paths:  # check before creating anything
        if str(path) != "-" and not path.exists():  # "-": texts on stdin
            raise NotFoundError(f"no such file or folder: {path}")
    if is_text_import(paths, args):
        return cmd_import_texts(args, paths, _progress_printer(args.json))
    if is_table_import(paths, args):
        from studio.commands.tables import cmd_import_table

        return cmd_import_table(args, paths[0], _progress_printer(args.json))
    if args.batch_size is not None and args.batch_size < 1:
        raise InvalidInputError("--batch-size must be at least 1")
    lib = open_library(args)
    created = False
    with lib.transaction() as s:
        try:
            ds = get_dataset(s, args.dataset)
        except NotFoundError:
            if not args.create:
                raise
            ds = create_dataset(s, args.dataset)
            created = True
        ds_id, name = ds.id, ds.name
    if args.json and created:
        emit_json({"event": "created", "dataset": name, "dataset_id": ds_id})
    state = JobState(on_progress=_progress_printer(args.json))
    try:
        report = import_files(lib, ds_id, paths, state, batch_size=args.batch_size or BATCH_SIZE)
    except BaseException:
        if not args.json:
            sys.stderr.write("\n")  # the error goes on its own line, not after the progress bar
        raise
    return print_import_report(args, name, ds_id, created, report)


def print_import_report(args, name: str, dataset_id: int, created: bool, report, kind: str = "") -> int:
    """What an import of images (or texts: ``kind="text"``) added, rejected and noted: a
    "done" JSON event, or lines on stdout after the progress bar."""
    if args.json:
        emit_json({"event": "done", "dataset": name, "dataset_id": dataset_id, **({"kind": kind} if kind else {}),
                   **report.to_dict()})
        return 0
    sys.stderr.write("\n")
    if created:
        say(f"created {kind + ' ' if kind else ''}dataset {name!r}")
    say(f"{name}: added {report.added}{' texts' if kind == 'text' else ''}, duplicates {report.duplicates}, "
        f"rejected {len(report.rejected)}"
        + (f"; new classes: {', '.join(report.classes_created)}" if report.classes_created else ""))
    for source, reason in report.rejected:
        say(f"  rejected {source}: {reason}")
    for source, reason in report.warnings:
        say(f"  note {source}: {reason}")
    return 0
