"""`studio doctor [--clean] [--drop-missing] [--json]`: check that the DB and the blob files agree.

Reports sample rows whose image file is gone, image files no row uses (orphans), and temp files
left by a crash. ``--clean`` removes the orphans and temp files (not while an import is in
progress: its files have no rows yet); ``--drop-missing`` also deletes rows whose file is gone.
Exit status: 0 when the library is healthy (after cleaning), 1 when a problem remains.
"""

from __future__ import annotations

import argparse

from studio.commands.common import add_json_flag, emit_json, open_library
from studio.core.text import say

SHOWN = 10  # rows or files listed by name in the human output (all of them in --json)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("doctor", help="check the library: rows without image files, files without rows",
                       description=__doc__.splitlines()[0])
    p.add_argument("--clean", action="store_true", help="remove image files no row uses and leftover temp files")
    p.add_argument("--drop-missing", action="store_true",
                   help="with --clean: also delete sample rows whose image file is gone")
    add_json_flag(p)
    p.set_defaults(func=cmd_doctor)


def cmd_doctor(args) -> int:
    from studio.store.gc import check_library, clean_library

    lib = open_library(args)
    if args.clean:
        result = clean_library(lib, drop_missing_rows=args.drop_missing)
    else:
        result = check_library(lib)
    if args.json:
        emit_json({
            "healthy": result.healthy, "samples": result.samples, "blob_files": result.blob_files,
            "rows_without_files": result.rows_without_files,
            "files_without_rows": result.files_without_rows, "temp_files": result.temp_files,
            "imports_in_progress": result.holds_in_progress, "queued_for_removal": result.queued,
            "cleaned_files": result.cleaned_files, "cleaned_temp_files": result.cleaned_temp,
            "dropped_rows": result.dropped_rows, "clean_deferred": result.clean_deferred,
        })
    else:
        _print_human(args, result, lib.home)
    return 0 if result.healthy else 1


def _print_human(args, r, home) -> None:
    say(f"library {home}: {r.samples} samples, {r.blob_files} image files")
    if args.clean:
        if r.clean_deferred:
            say("not cleaned: an import is in progress (its files have no rows yet); run again when it ends")
        else:
            say(f"cleaned: {r.cleaned_files} files without rows, {r.cleaned_temp} temp files"
                + (f", {r.dropped_rows} rows without files" if r.dropped_rows else ""))
    if r.rows_without_files:
        say(f"{len(r.rows_without_files)} sample rows whose image file is missing:")
        for row in r.rows_without_files[:SHOWN]:
            say(f"  sample {row['sample_id']} in {row['dataset']!r}: blob {row['blob'][:16]}...")
        _more(len(r.rows_without_files))
        if not args.clean or not args.drop_missing:
            say("  (`studio doctor --clean --drop-missing` deletes these rows; the images are gone)")
    if r.files_without_rows:
        say(f"{len(r.files_without_rows)} image files no sample uses"
            + (" (an import is in progress: they may be its own)" if r.holds_in_progress else "") + ":")
        for digest in r.files_without_rows[:SHOWN]:
            say(f"  blobs/{digest[:2]}/{digest}")
        _more(len(r.files_without_rows))
    if r.temp_files:
        say(f"{len(r.temp_files)} temp files left by an interrupted write")
    if r.queued:
        say(f"{r.queued} image files wait for removal until the import in progress ends")
    if r.healthy:
        say("ok: every sample has its image file and every image file belongs to a sample")
    elif not args.clean:
        say("`studio doctor --clean` removes files without rows and temp files")


def _more(count: int) -> None:
    if count > SHOWN:
        say(f"  ... and {count - SHOWN} more (--json lists all)")
