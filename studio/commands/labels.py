"""Labelling from the command line: `studio samples`, `studio label`, `studio classes`,
`studio problems`, `studio suggestions`.

Every listing has --json (one object per line, stable keys). Sample ids can also come on stdin
(`-`), so listings pipe into labelling:
    studio samples list DS --unlabelled --json | jq .id | studio label DS --class cat -
"""

from __future__ import annotations

import argparse
import sys

from studio.commands.common import add_json_flag, confirm, emit_json, open_library
from studio.core.errors import InvalidInputError
from studio.core.text import say


def register(sub: argparse._SubParsersAction) -> None:
    _register_samples(sub)
    _register_label(sub)
    _register_classes(sub)
    _register_problems(sub)
    _register_suggestions(sub)


# --------------------------------------------------------------------------- parsers

def _register_samples(sub) -> None:
    p = sub.add_parser("samples", help="list samples, move them between splits")
    ssub = p.add_subparsers(dest="samples_command", metavar="ACTION", required=True)
    lst = ssub.add_parser("list", help="list a dataset's samples: id, class, split, source path")
    lst.add_argument("dataset")
    lst.add_argument("--class", dest="class_name", metavar="NAME", help="only this class")
    lst.add_argument("--unlabelled", action="store_true", help="only samples without a class")
    lst.add_argument("--split", choices=("train", "val", "test", "none"), help="only this split")
    lst.add_argument("--limit", type=int, default=0, help="at most N samples (0: all)")
    add_json_flag(lst)
    lst.set_defaults(func=cmd_samples_list)
    mv = ssub.add_parser("split", help="move samples to a split (train, val, test or none)")
    mv.add_argument("dataset")
    mv.add_argument("split", choices=("train", "val", "test", "none"))
    mv.add_argument("sample_ids", nargs="+", metavar="SAMPLE_ID", help="ids, or - to read them from stdin")
    add_json_flag(mv)
    mv.set_defaults(func=cmd_samples_split)


def _register_label(sub) -> None:
    p = sub.add_parser("label", help="give samples a class (or remove it with --none)")
    p.add_argument("dataset")
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--class", dest="class_name", metavar="NAME", help="the class to assign")
    which.add_argument("--none", action="store_true", help="remove the samples' class")
    p.add_argument("--create", action="store_true", help="create the class if it does not exist")
    p.add_argument("sample_ids", nargs="+", metavar="SAMPLE_ID", help="ids, or - to read them from stdin")
    add_json_flag(p)
    p.set_defaults(func=cmd_label)


def _register_classes(sub) -> None:
    p = sub.add_parser("classes", help="manage a dataset's classes")
    csub = p.add_subparsers(dest="classes_command", metavar="ACTION", required=True)

    def action(name, func, help_, *args):
        a = csub.add_parser(name, help=help_)
        a.add_argument("dataset")
        for arg in args:
            a.add_argument(*arg[0], **arg[1])
        add_json_flag(a)
        a.set_defaults(func=func)
        return a

    action("list", cmd_classes_list, "classes with colours and sample counts")
    action("add", cmd_classes_add, "add a class", (("name",), {}),
           (("--colour",), {"metavar": "#RRGGBB", "help": "default: the next palette colour"}))
    action("rename", cmd_classes_rename, "rename a class", (("name",), {}), (("new_name",), {}))
    action("recolour", cmd_classes_recolour, "set a class's colour", (("name",), {}),
           (("colour",), {"metavar": "#RRGGBB"}))
    action("reorder", cmd_classes_reorder, "set the order of the classes (name every class)",
           (("names",), {"nargs": "+", "metavar": "NAME"}))
    action("merge", cmd_classes_merge, "move every sample of SOURCE into TARGET and remove SOURCE",
           (("source",), {}), (("target",), {}))
    action("delete", cmd_classes_delete, "delete a class; its samples become unlabelled",
           (("name",), {}), (("--yes",), {"action": "store_true", "help": "do not ask"}))


def _register_problems(sub) -> None:
    p = sub.add_parser("problems", help="classes too small to train on, duplicates, counts per split")
    p.add_argument("dataset")
    p.add_argument("--min-count", type=int, default=10, help="fewest samples a class should have")
    p.add_argument("--duplicates", action="store_true",
                   help="also find near (perceptual hash) and exact (same pixels) duplicates")
    p.add_argument("--max-distance", type=int, default=4, help="near duplicates: max differing hash bits")
    add_json_flag(p)
    p.set_defaults(func=cmd_problems)


def _register_suggestions(sub) -> None:
    p = sub.add_parser("suggestions", help="a run's suggested classes for a dataset; accept them")
    p.add_argument("dataset")
    p.add_argument("--run", type=int, help="run id (default: the newest run with predictions)")
    p.add_argument("--order", choices=("confidence", "uncertainty", "disagreement"), default="confidence")
    p.add_argument("--only", choices=("all", "unlabelled", "labelled"), default="all")
    p.add_argument("--accept", action="store_true",
                   help="label the listed unlabelled samples with the suggestion (human labels are kept)")
    p.add_argument("--min-confidence", type=float, default=0.0, help="only suggestions at least this sure")
    p.add_argument("--limit", type=int, default=0, help="at most N suggestions (0: all)")
    add_json_flag(p)
    p.set_defaults(func=cmd_suggestions)


# --------------------------------------------------------------------------- helpers

def _sample_ids(values: list[str]) -> list[int]:
    tokens: list[str] = []
    for v in values:
        tokens += sys.stdin.read().split() if v == "-" else [v]
    try:
        ids = [int(t) for t in tokens]
    except ValueError:
        bad = next(t for t in tokens if not t.lstrip("-").isdigit())
        raise InvalidInputError(f"sample ids must be whole numbers, not {bad!r}") from None
    if not ids:
        raise InvalidInputError("no sample ids given")
    return ids


def _dataset(s, name_or_id: str):
    from studio.store.datasets import get_dataset

    return get_dataset(s, name_or_id)


def _class_json(c) -> dict:
    return {"id": c.id, "name": c.name, "colour": c.colour, "position": c.position, "count": c.count}


# --------------------------------------------------------------------------- handlers

def cmd_samples_list(args) -> int:
    from studio.store.classes import find_class
    from studio.store.samples import SampleFilter, sample_ids, sample_rows

    if args.unlabelled and args.class_name:
        raise InvalidInputError("use either --class or --unlabelled, not both")
    lib = open_library(args)
    with lib.session() as s:
        ds = _dataset(s, args.dataset)
        class_id = find_class(s, ds.id, args.class_name).id if args.class_name else None
        ids = sample_ids(s, ds.id, SampleFilter(class_id=class_id, unlabelled=args.unlabelled, split=args.split))
        if args.limit > 0:
            ids = ids[: args.limit]
        for start in range(0, len(ids), 900):
            for r in sample_rows(s, ids[start : start + 900]):
                if args.json:
                    emit_json({"id": r.id, "class": r.class_name, "split": r.split,
                               "source_path": r.source_path, "labelled_by": r.labelled_by})
                else:
                    say(f"{r.id}\t{r.class_name or '-'}\t{r.split or '-'}\t{r.source_path}")
    if not args.json:
        say(f"{len(ids)} sample(s)", file=sys.stderr)
    return 0


def cmd_samples_split(args) -> int:
    from studio.store.labelling import set_splits

    ids = _sample_ids(args.sample_ids)
    lib = open_library(args)
    with lib.transaction() as s:
        ds = _dataset(s, args.dataset)
        moved = set_splits(s, ds.id, ids, args.split)
    split = None if args.split == "none" else args.split
    if args.json:
        emit_json({"event": "split", "dataset": ds.name, "split": split, "requested": len(set(ids)),
                   "changed": len(moved)})
    else:
        say(f"{len(moved)} of {len(set(ids))} sample(s) moved to {args.split}")
    return 0


def cmd_label(args) -> int:
    from studio.store.classes import add_class, find_class
    from studio.store.labelling import set_labels
    from studio.core.errors import NotFoundError

    ids = _sample_ids(args.sample_ids)
    lib = open_library(args)
    with lib.transaction() as s:
        ds = _dataset(s, args.dataset)
        class_id, name = None, None
        if args.class_name:
            try:
                cls = find_class(s, ds.id, args.class_name)
                class_id, name = cls.id, cls.name
            except NotFoundError:
                if not args.create:
                    raise
                snap = add_class(s, ds.id, args.class_name)
                class_id, name = snap.id, snap.name
        changed = set_labels(s, ds.id, ids, class_id, by="user")
    if args.json:
        emit_json({"event": "labelled", "dataset": ds.name, "class": name, "requested": len(set(ids)),
                   "changed": len(changed)})
    else:
        what = f"labelled {name}" if name else "unlabelled"
        say(f"{len(changed)} of {len(set(ids))} sample(s) {what}")
    return 0


def cmd_classes_list(args) -> int:
    from studio.store.classes import list_classes

    lib = open_library(args)
    with lib.session() as s:
        ds = _dataset(s, args.dataset)
        rows = list_classes(s, ds.id)
    for c in rows:
        if args.json:
            emit_json(_class_json(c))
        else:
            say(f"{c.position + 1:>3}  {c.name:<30} {c.colour}  {c.count}")
    return 0


def _report_class(args, event: str, s, dataset_id: int, class_id: int, text: str) -> None:
    from studio.store.classes import list_classes

    row = next(c for c in list_classes(s, dataset_id) if c.id == class_id)
    if args.json:
        emit_json({"event": event, **_class_json(row)})
    else:
        say(text)


def cmd_classes_add(args) -> int:
    from studio.store.classes import add_class

    lib = open_library(args)
    with lib.transaction() as s:
        ds = _dataset(s, args.dataset)
        snap = add_class(s, ds.id, args.name, colour=args.colour)
        _report_class(args, "added", s, ds.id, snap.id, f"added class {snap.name} ({snap.colour})")
    return 0


def cmd_classes_rename(args) -> int:
    from studio.store.classes import find_class, rename_class

    lib = open_library(args)
    with lib.transaction() as s:
        ds = _dataset(s, args.dataset)
        cls = find_class(s, ds.id, args.name)
        old = rename_class(s, cls.id, args.new_name)
        _report_class(args, "renamed", s, ds.id, cls.id, f"renamed {old} to {cls.name}")
    return 0


def cmd_classes_recolour(args) -> int:
    from studio.store.classes import find_class, recolour_class

    lib = open_library(args)
    with lib.transaction() as s:
        ds = _dataset(s, args.dataset)
        cls = find_class(s, ds.id, args.name)
        recolour_class(s, cls.id, args.colour)
        _report_class(args, "recoloured", s, ds.id, cls.id, f"{cls.name} is now {cls.colour}")
    return 0


def cmd_classes_reorder(args) -> int:
    from studio.store.classes import find_class, list_classes, reorder_classes

    lib = open_library(args)
    with lib.transaction() as s:
        ds = _dataset(s, args.dataset)
        reorder_classes(s, ds.id, [find_class(s, ds.id, n).id for n in args.names])
        rows = list_classes(s, ds.id)
    for c in rows:
        emit_json({"event": "reordered", **_class_json(c)}) if args.json else say(f"{c.position + 1:>3}  {c.name}")
    return 0


def cmd_classes_merge(args) -> int:
    from studio.store.classes import find_class, merge_classes

    lib = open_library(args)
    with lib.transaction() as s:
        ds = _dataset(s, args.dataset)
        source, target = find_class(s, ds.id, args.source), find_class(s, ds.id, args.target)
        source_name = source.name
        removal = merge_classes(s, source.id, target.id)
        _report_class(args, "merged", s, ds.id, target.id,
                      f"merged {source_name} into {target.name}: {len(removal.previous)} sample(s) moved")
    return 0


def cmd_classes_delete(args) -> int:
    from studio.store.classes import class_sample_count, delete_class, find_class

    lib = open_library(args)
    with lib.session() as s:
        ds = _dataset(s, args.dataset)
        cls = find_class(s, ds.id, args.name)
        class_id, name, count = cls.id, cls.name, class_sample_count(s, cls.id)
    if not args.yes and not confirm(
        f"Delete class {name!r}? Its {count} sample(s) become unlabelled.",
        f"deleting class {name!r} would unlabel {count} sample(s); add --yes to confirm",
    ):
        say("nothing deleted", file=sys.stderr)
        return 1
    with lib.transaction() as s:
        removal = delete_class(s, class_id)
    if args.json:
        emit_json({"event": "deleted", "id": class_id, "name": name, "unlabelled": len(removal.previous)})
    else:
        say(f"deleted class {name}; {len(removal.previous)} sample(s) are now unlabelled")
    return 0


def cmd_problems(args) -> int:
    from studio.store.duplicates import compute_missing_phashes, find_exact_duplicates, find_near_duplicates
    from studio.store.problems import small_classes, split_table

    if args.min_count < 0 or not 0 <= args.max_distance <= 64:
        raise InvalidInputError("--min-count must be >= 0 and --max-distance between 0 and 64")
    lib = open_library(args)
    with lib.session() as s:
        ds = _dataset(s, args.dataset)
        table = split_table(s, ds.id)
        problems = small_classes(s, ds.id, args.min_count)
    splits = ("train", "val", "test", None)
    for cid, name, _colour, per in table.rows:
        counts = {str(k or "none"): per.get(k, 0) for k in splits}
        if args.json:
            emit_json({"event": "counts", "class_id": cid, "class": name, **counts, "total": sum(per.values())})
        else:
            say(f"{name:<24} " + "  ".join(f"{k}={v}" for k, v in counts.items()))
    for p in problems:
        if args.json:
            emit_json({"event": "small_class", "class_id": p.class_id, "class": p.name, "count": p.count,
                       "reasons": list(p.reasons)})
        else:
            say(f"problem: class {p.name}: {'; '.join(p.reasons)}")
    if args.duplicates:
        compute_missing_phashes(lib, ds.id)
        with lib.session() as s:
            groups = find_exact_duplicates(s, ds.id, lib.blobs) + find_near_duplicates(s, ds.id, args.max_distance)
        for g in groups:
            if args.json:
                emit_json({"event": "duplicates", "kind": g.kind, "sample_ids": list(g.sample_ids),
                           "class_ids": list(g.class_ids), "splits": list(g.splits),
                           "conflicting_classes": g.conflicting_classes, "crosses_splits": g.crosses_splits})
            else:
                flags = [f for f, on in (("different classes", g.conflicting_classes),
                                         ("in several splits", g.crosses_splits)) if on]
                say(f"{g.kind} duplicates: {' '.join(map(str, g.sample_ids))}"
                      + (f" ({', '.join(flags)})" if flags else ""))
    return 0


def cmd_suggestions(args) -> int:
    from studio.core.errors import NotFoundError
    from studio.store.suggestions import accept_suggestions, prediction_runs, suggestions_for

    lib = open_library(args)
    with lib.session() as s:
        ds = _dataset(s, args.dataset)
        runs = prediction_runs(s, ds.id)
        if args.run is None:
            if not runs:
                raise NotFoundError(f"no run has stored predictions for {ds.name!r}",
                                    hint="run `studio evaluate RUN` first")
            run_id = runs[0].run_id
        else:
            run_id = args.run
        rows = [g for g in suggestions_for(s, ds.id, run_id, order=args.order, only=args.only)
                if g.confidence >= args.min_confidence]
    if args.limit > 0:
        rows = rows[: args.limit]
    for g in rows:
        if args.json:
            emit_json({"event": "suggestion", "run_id": run_id, "sample_id": g.sample_id,
                       "suggested": g.class_name, "confidence": round(g.confidence, 6),
                       "current": g.current_class_name, "disagrees": g.disagrees})
        else:
            say(f"{g.sample_id}\t{g.class_name}\t{g.confidence:.3f}\t{g.current_class_name or '-'}"
                  + ("\tDISAGREES" if g.disagrees else ""))
    if args.accept:
        with lib.transaction() as s:
            changed = accept_suggestions(s, run_id, [g.sample_id for g in rows])
        if args.json:
            emit_json({"event": "accepted", "run_id": run_id, "changed": len(changed)})
        else:
            say(f"accepted {len(changed)} suggestion(s) (human labels kept)", file=sys.stderr)
    return 0
