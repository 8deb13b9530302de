"""Text datasets from the command line: `studio texts search|show`, and the text side of
`studio import` (called by it for --kind text, --text-column/--label-column, PATH "-" (stdin), or a
dataset that already holds texts):

    studio import reviews texts.csv --text-column review --label-column sentiment
    studio import reviews folder/ --kind text
    studio import reviews - [--class pos] < lines.txt          (one text per line)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.commands.common import add_json_flag, emit_json, open_library
from studio.commands.tables import TABLE_SUFFIXES
from studio.core.errors import InvalidInputError, NotFoundError
from studio.core.text import say

KINDS = ("image", "table", "text")


def register(sub: argparse._SubParsersAction) -> None:
    texts = sub.add_parser("texts", help="search and show the texts of a text dataset")
    texts.set_defaults(func=lambda args: _print_help(texts))
    actions = texts.add_subparsers(dest="action", metavar="ACTION")

    p = actions.add_parser("search", help="texts holding every word of QUERY, best match first",
                           description='Words match in any order, ignoring case and accents; "two words" in '
                           "quotes must occur together; a word ending in * matches as a prefix.")
    p.add_argument("dataset", help="text dataset name or id")
    p.add_argument("query")
    p.add_argument("--limit", type=int, default=20, help="at most this many texts (default 20)")
    add_json_flag(p)
    p.set_defaults(func=cmd_search)

    p = actions.add_parser("show", help="counts, lengths and the first texts of a text dataset, or one text whole")
    p.add_argument("dataset", help="text dataset name or id")
    p.add_argument("--id", type=int, dest="sample_id", help="print this sample's whole text")
    p.add_argument("--limit", type=int, default=10, help="texts listed (default 10)")
    add_json_flag(p)
    p.set_defaults(func=cmd_show)


def _print_help(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


# --- `studio import` for texts -----------------------------------------------------------------


def add_text_import_options(p: argparse.ArgumentParser) -> None:
    """The text options of `studio import`."""
    p.add_argument("--kind", choices=KINDS, help="what to import (default: a table for a .csv/.tsv/.parquet file, "
                   "texts into a text dataset, else images)")
    p.add_argument("--text-column", metavar="COL", help="texts: the CSV/TSV/JSONL column holding the text "
                   "(default: the one with the longest values)")
    p.add_argument("--label-column", metavar="COL", help="texts: the column holding each text's class "
                   "(default: one named label, class, category, ...)")
    p.add_argument("--class", dest="class_name", metavar="NAME",
                   help="with PATH - (texts from stdin, one per line): the class of every line")


STDIN = Path("-")


def is_text_import(paths: list[Path], args: argparse.Namespace) -> bool:
    """Whether `studio import` imports texts; a clear error for options that do not fit."""
    args.paste = STDIN in paths  # "-": texts from stdin, one per line
    if args.paste and len(paths) > 1:
        raise InvalidInputError("- reads the texts from stdin: give no other PATH")
    if args.class_name is not None and not args.paste:
        raise InvalidInputError("--class applies to texts read from stdin (PATH -); a folder's class folders "
                                "name the classes")
    asked = args.kind or ("text" if (args.text_column or args.label_column or args.paste) else None)
    if asked is not None and asked != "text" and (args.text_column or args.label_column or args.paste):
        raise InvalidInputError("--text-column, --label-column and PATH - import texts (--kind text)")
    kind = asked or _existing_kind(args)
    if kind == "text" and (args.target or args.ignore or args.types):
        raise InvalidInputError("--target, --ignore and --type apply to table files; for texts use "
                                "--text-column and --label-column")
    tables = any(p.suffix.lower() in TABLE_SUFFIXES for p in paths)
    if args.kind == "image" and tables:
        raise InvalidInputError("--kind image imports images; a .csv/.tsv/.parquet file is a table (--kind table) "
                                "or texts (--kind text)")
    if args.kind == "table" and not tables:
        raise InvalidInputError("--kind table needs a table file (.csv, .tsv, .parquet)")
    return kind == "text"


def _existing_kind(args: argparse.Namespace) -> str | None:
    from studio.store.datasets import get_dataset

    lib = open_library(args)
    try:
        with lib.session() as s:
            return get_dataset(s, args.dataset).kind
    except NotFoundError:
        return None


def cmd_import_texts(args: argparse.Namespace, paths: list[Path], progress) -> int:
    from studio.core.jobs import JobState
    from studio.data.text.importing import (
        import_text_files,
        import_text_lines,
        import_text_table,
    )

    lib = open_library(args)
    dataset_id, name, created = _text_dataset(lib, args)
    if args.json and created:
        emit_json({"event": "created", "dataset": name, "dataset_id": dataset_id})
    state = JobState(on_progress=progress)
    try:
        if args.paste:
            report = import_text_lines(lib, dataset_id, _stdin_lines(), class_name=args.class_name, state=state)
        elif args.text_column or args.label_column:
            if len(paths) != 1 or not paths[0].is_file():
                raise InvalidInputError("--text-column and --label-column apply to one CSV, TSV or JSONL file")
            report = import_text_table(lib, dataset_id, paths[0], text_column=args.text_column,
                                       label_column=args.label_column, state=state)
        else:
            report = import_text_files(lib, dataset_id, paths, state)
    except BaseException:
        if not args.json:
            sys.stderr.write("\n")  # the error goes on its own line, not after the progress bar
        raise
    from studio.commands.datasets import print_import_report

    return print_import_report(args, name, dataset_id, created, report, kind="text")


def _text_dataset(lib, args: argparse.Namespace) -> tuple[int, str, bool]:
    """(id, name, created) of the dataset to import into: created as a text dataset when missing."""
    from studio.store.datasets import create_dataset, get_dataset

    with lib.transaction() as s:
        try:
            ds = get_dataset(s, args.dataset)
            created = False
        except NotFoundError:
            if not args.create:
                raise
            ds = create_dataset(s, args.dataset, kind="text")
            created = True
        return ds.id, ds.name, created


def _stdin_lines() -> list[str]:
    """One text per line; blank lines only separate (they are not empty texts)."""
    from studio.data.text.reading import decode_text

    text, _ = decode_text(sys.stdin.buffer.read())
    return [line for line in text.splitlines() if line.strip()]


# --- `studio texts` ----------------------------------------------------------------------------


def _text_dataset_named(lib, name: str) -> tuple[int, str]:
    from studio.store.datasets import get_dataset

    with lib.session() as s:
        ds = get_dataset(s, name)
        if ds.kind != "text":
            raise InvalidInputError(f"dataset {ds.name!r} holds {ds.kind}s, not texts")
        return ds.id, ds.name


def _preview_dict(p) -> dict:
    return {"id": p.id, "class": p.class_name, "split": p.split, "chars": p.chars, "preview": p.preview}


def _print_previews(previews) -> None:
    for p in previews:
        say(f"{p.id:>8}  {(p.class_name or '-')[:16]:<16} {(p.split or '-'):<5} {p.preview}")


def cmd_search(args: argparse.Namespace) -> int:
    from studio.data.text.samples import text_previews
    from studio.data.text.search import search_texts

    lib = open_library(args)
    dataset_id, name = _text_dataset_named(lib, args.dataset)
    with lib.session() as s:
        ids = search_texts(s, dataset_id, args.query, limit=args.limit)
    previews = text_previews(lib, dataset_id, ids)
    if args.json:
        for p in previews:
            emit_json(_preview_dict(p))
        return 0
    if not previews:
        say(f"{name}: no text holds every word of {args.query!r}")
        return 0
    _print_previews(previews)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from studio.data.text.reading import LONG_TEXT_CHARS
    from studio.data.text.samples import read_text, text_lengths, text_previews
    from studio.store.datasets import class_counts, split_counts, unlabelled_count

    lib = open_library(args)
    dataset_id, name = _text_dataset_named(lib, args.dataset)
    if args.sample_id is not None:
        text = read_text(lib, args.sample_id, dataset_id=dataset_id)
        if args.json:
            emit_json({"id": args.sample_id, "text": text})
        else:
            sys.stdout.write(text + "\n")
        return 0
    with lib.session() as s:
        lengths = text_lengths(s, dataset_id)
        out = {"id": dataset_id, "name": name, "kind": "text", "texts": lengths.texts,
               "unlabelled": unlabelled_count(s, dataset_id),
               "classes": {c.name: c.count for c in class_counts(s, dataset_id)},
               "splits": {(k or "none"): v for k, v in split_counts(s, dataset_id).items()},
               "characters": {"shortest": lengths.shortest, "median": lengths.median, "longest": lengths.longest,
                              "long_texts": lengths.long_texts}}
    previews = text_previews(lib, dataset_id, limit=max(0, args.limit))
    if args.json:
        emit_json({**out, "first": [_preview_dict(p) for p in previews]})
        return 0
    chars = out["characters"]
    say(f"{name} (id {dataset_id}, text): {lengths.texts} texts, {out['unlabelled']} unlabelled; characters "
        f"{chars['shortest']}-{chars['longest']} (median {chars['median']})"
        + (f", {chars['long_texts']} over {LONG_TEXT_CHARS:,}" if chars["long_texts"] else ""))
    for class_name, count in out["classes"].items():
        say(f"  {class_name:<24} {count:>8}")
    say("  splits: " + ", ".join(f"{k} {v}" for k, v in out["splits"].items()))
    _print_previews(previews)
    return 0

