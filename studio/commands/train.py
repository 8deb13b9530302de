"""`studio train`, `studio models`, `studio runs`, `studio evaluate`.

`studio train` creates the run, then starts the worker (`studio worker train --run ID`) as a
child process, exactly as the GUI does with QProcess, and forwards its JSON lines (--json) or
renders them as a progress bar on stderr and a summary.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import types
import typing
from typing import Any

from studio.commands.common import add_json_flag, emit_json, open_library
from studio.core.compat import StrEnum
from studio.core.errors import InvalidInputError
from studio.core.run_status import WORKER_ATTACHED, RunStatus
from studio.train.events import (
    CacheProgress,
    DataReady,
    DownloadProgress,
    EpochCompleted,
    Finished,
    Started,
    Step,
    WorkerEvent,
    from_dict,
)
from studio.train.protocol import JsonLinesParser
from studio.train.spec import (  # no torch
    Setting,
    TrainSpec,
    augment_text,
    parse_kernel_arg,
    parse_run_id,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train or fine-tune a model on a dataset")
    p.add_argument("dataset", help="dataset name or id")
    add_spec_flags(p)
    p.add_argument("--name", default="", help="a name for the run")
    add_json_flag(p)
    p.set_defaults(func=cmd_train)

    models = sub.add_parser("models", help="the model zoo").add_subparsers(dest="models_command", metavar="ACTION", required=True)
    ml = models.add_parser("list", help="architectures, default image sizes, descriptions")
    add_json_flag(ml)
    ml.set_defaults(func=cmd_models_list)

    runs = sub.add_parser("runs", help="training runs").add_subparsers(dest="runs_command", metavar="ACTION", required=True)
    rl = runs.add_parser("list", help="all runs (marks runs whose worker is gone as interrupted)")
    add_json_flag(rl)
    rl.set_defaults(func=cmd_runs_list)
    for action, text, func in (("show", "settings, status and metrics of a run", cmd_runs_show),
                               ("resume", "continue a stopped or interrupted run from its last checkpoint", cmd_runs_resume),
                               ("stop", "ask a running run to stop (it checkpoints first)", cmd_runs_stop),
                               ("delete", "delete a run and its files", cmd_runs_delete)):
        rp = runs.add_parser(action, help=text)
        rp.add_argument("run", help="run id")
        add_json_flag(rp)
        rp.set_defaults(func=func)

    ev = sub.add_parser("evaluate", help="accuracy, per-class metrics and confusion matrix of a run; "
                        "MAE/RMSE/R² per numeric target of a table run")
    ev.add_argument("run", help="run id")
    ev.add_argument("--split", default="test", choices=("val", "test", "train", "unlabelled", "all"))
    ev.add_argument("--device", default="auto", help="auto (default, as training: the best there is) | cpu | cuda | cuda:N | mps")
    add_json_flag(ev)
    ev.set_defaults(func=cmd_evaluate)


# --- train --------------------------------------------------------------------------------

def add_spec_flags(parser: argparse.ArgumentParser) -> None:
    """One option per TrainSpec setting that has a flag: name, default, choices and help come from
    its field, so `studio train --help` says what the engine and the Train page do."""
    hints = typing.get_type_hints(TrainSpec)
    for f in dataclasses.fields(TrainSpec):
        info: Setting = f.metadata["setting"]
        if info.flag is not None:
            parser.add_argument(info.flag, dest=f.name, **_flag_options(f, info, _base_type(hints[f.name])))


def _base_type(hint: Any) -> Any:
    """``int | None`` -> int; other hints as they are."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    return args[0] if typing.get_origin(hint) in (types.UnionType, typing.Union) and len(args) == 1 else hint


def _flag_options(f: dataclasses.Field, info: Setting, base: Any) -> dict[str, Any]:
    default = f.default
    options: dict[str, Any] = {"help": info.help or (f"(default {default})" if default is not None else None)}
    if info.metavar:
        options["metavar"] = info.metavar
    if f.name == "kernel_transforms":  # repeatable, in order
        return {**options, "action": "append", "default": None}
    if f.name == "augment":
        return {**options, "default": augment_text()}
    if f.name == "pretrained":
        return {**options, "default": default.text}
    if f.name == "hidden":  # "32,16": parsed with the other settings
        return {**options, "default": ",".join(map(str, default))}
    if base is bool:
        return {**options, "action": argparse.BooleanOptionalAction, "default": default}
    if isinstance(base, type) and issubclass(base, StrEnum):
        return {**options, "default": str(default), "choices": tuple(str(e) for e in base)}
    return {**options, "type": base, "default": default}


def spec_from_args(args: argparse.Namespace) -> TrainSpec:
    """The typed settings of `studio train` (checked: a bad value is one clear error line)."""
    given = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainSpec) if hasattr(args, f.name)}
    given["kernel_transforms"] = [parse_kernel_arg(text) for text in given.get("kernel_transforms") or []]
    return TrainSpec.from_dict(given, strict=True)


def cmd_train(args: argparse.Namespace) -> int:
    from studio.train.runner import create_run

    spec = spec_from_args(args)
    lib = open_library(args)
    run_id = create_run(lib, args.dataset, spec, name=args.name)
    return run_worker(lib.home, run_id, json_mode=args.json, gpus=spec.gpus)


def worker_argv(home: os.PathLike | str, run_id: int, *, resume: bool = False, gpus: int = 1) -> list[str]:
    """The command line of the training worker (the GUI starts the same with QProcess)."""
    from studio.core.paths import worker_command

    tail = ["--home", str(home), "worker", "train", "--run", str(run_id)] + (["--resume"] if resume else [])
    if gpus > 1:
        # torchrun through the app's own entry (`studio torchrun ...`), so a packaged app, whose
        # executable is not a Python interpreter, launches its ranks the same way: --no-python
        # runs each rank as `<app> worker ...`
        tail = [("--run-id" if arg == "--run" else arg) for arg in tail]  # torchrun would take --run as --run-path
        return [*worker_command(), "torchrun", "--standalone", f"--nproc_per_node={gpus}", "--no-python",
                *worker_command(), *tail]
    return worker_command() + tail


def run_worker(home, run_id: int, *, json_mode: bool, resume: bool = False, gpus: int = 1) -> int:
    """Start the worker, forward or render its JSON lines; Ctrl-C asks it to stop (it checkpoints).
    Whatever ends this loop early, the worker is asked to stop: it never trains on unattended."""
    proc = subprocess.Popen(worker_argv(home, run_id, resume=resume, gpus=gpus), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, bufsize=0)
    show = _forward if json_mode else _ProgressView().show
    parser = JsonLinesParser()
    try:
        try:
            _pump(proc, parser, show)
        except KeyboardInterrupt:
            _ask_stop(proc)
            _pump(proc, parser, show)
    except BaseException:
        _ask_stop(proc)
        raise
    return proc.wait()


def _pump(proc: subprocess.Popen, parser, show) -> None:
    """Worker stdout -> ``show`` for each JSON object; any other line goes to stderr as it came."""
    while chunk := proc.stdout.read(1 << 16):
        _deliver(parser.split(chunk), show)
    _deliver(parser.flush_split(), show)


def _deliver(items: list, show) -> None:
    for item in items:
        if isinstance(item, dict):
            show(item)
        else:
            sys.stderr.write(item + "\n")


def _forward(event: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(event, default=str) + "\n")
    sys.stdout.flush()


def _ask_stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    try:
        proc.stdin.write(b"stop\n")
        proc.stdin.flush()
    except (BrokenPipeError, OSError):
        pass
    print("\nstopping: finishing the step and saving a checkpoint...", file=sys.stderr)


MAX_NAMES_SHOWN = 6


def _acc(value: float | None) -> str:
    return f" acc {value:.3f}" if value is not None else ""


def _scores(scores: dict[str, float] | None) -> str:
    """A table's other val scores, averaged over targets (f1; mae, rmse, r2)."""
    return "".join(f" {name.removeprefix('val_')} {_number(value)}" for name, value in (scores or {}).items() if "/" not in name)


def _number(value: float) -> str:
    return f"{value:.4f}" if abs(value) < 1000 else f"{value:.1f}"


class _ProgressView:
    """Human rendering of the worker's events: a progress bar on stderr and a final summary."""

    def __init__(self) -> None:
        self.epochs = 0
        self.steps_per_epoch = 0
        self.noted: set[str] = set()  # notes already shown: each is said once
        self.unit = "img"  # what a step's throughput counts: images, or a table's rows

    def show(self, obj: dict[str, Any]) -> None:
        event = from_dict(obj)
        if event is None:
            return  # not a complete event this view knows: nothing to draw, keep following
        try:
            self._show(event)
        except TypeError:
            pass  # an optional field this view formats is missing: keep following

    def _show(self, event: WorkerEvent) -> None:
        if isinstance(event, Started):
            self.epochs = event.epochs
            self.unit = "img" if event.image_size else (event.unit or "rows")  # image size 0: a table or texts
            size = f", {event.image_size} px" if event.image_size else ""
            print(f"run {event.run_id}: {event.model} on {event.device}, {event.epochs} epochs, "
                  f"batch {event.batch_size}{size}" + (" (resuming)" if event.resume else ""), file=sys.stderr)
        elif isinstance(event, DataReady):
            if self.unit in ("img", "texts"):
                what = "samples" if self.unit == "img" else self.unit
                print(f"{event.train_samples} train / {event.val_samples} val {what}, {len(event.classes)} classes",
                      file=sys.stderr)
            else:  # a table's classes, or its numeric targets
                print(f"{event.train_samples} train / {event.val_samples} val rows, predicting "
                      f"{', '.join(event.classes[:MAX_NAMES_SHOWN])}" + ("..." if len(event.classes) > MAX_NAMES_SHOWN else ""),
                      file=sys.stderr)
            for note in event.notes:
                self.noted.add(note)
                print(f"note: {note}", file=sys.stderr)
        elif isinstance(event, CacheProgress):
            self._bar(event.fraction, event.message)
        elif isinstance(event, DownloadProgress):
            self._bar(event.bytes / (event.total or 1), f"downloading weights {event.bytes / 1e6:.1f} MB")
        elif isinstance(event, Step):
            self._bar(None, f"epoch {event.epoch}/{self.epochs} step {event.step} loss {event.loss:.4f} "
                            f"({event.samples_per_s:.0f} {self.unit}/s)")
        elif isinstance(event, EpochCompleted):
            sys.stderr.write("\r\033[K")
            print(f"epoch {event.epoch}/{self.epochs}: train loss {event.train_loss:.4f}{_acc(event.train_accuracy)} | "
                  f"val loss {event.val_loss:.4f}{_acc(event.val_accuracy)}{_scores(event.scores)} | "
                  f"{event.seconds:.1f} s, eta {event.eta_s:.0f} s", file=sys.stderr)
        elif isinstance(event, Finished):
            sys.stderr.write("\r\033[K")
            line = f"run {event.run_id} {event.status}"
            if event.metrics.get("val_accuracy") is not None:
                line += f": best val accuracy {event.metrics['val_accuracy']:.4f} (epoch {event.metrics.get('epoch')})"
            elif event.metrics.get("val_loss") is not None:
                line += f": best val loss {event.metrics['val_loss']:.4f} (epoch {event.metrics.get('epoch')})"
            test = {k: v for k, v in event.metrics.items() if k.startswith("test_") and "/" not in k}
            if test:
                line += "; test " + ", ".join(f"{k.removeprefix('test_')} {v:.4f}" for k, v in test.items())
            print(line)
            if event.model_path:
                print(f"model: {event.model_path}")
            for note in event.notes or []:
                if note not in self.noted:
                    print(f"note: {note}")

    @staticmethod
    def _bar(fraction: float | None, text: str) -> None:
        bar = ""
        if fraction is not None:
            filled = int(fraction * 30)
            bar = "[" + "#" * filled + "." * (30 - filled) + "] "
        sys.stderr.write("\r\033[K" + bar + text)
        sys.stderr.flush()


# --- models, runs, evaluate ------------------------------------------------------------------

def cmd_models_list(args: argparse.Namespace) -> int:
    from studio.train.zoo import list_models

    for entry in list_models():
        if args.json:
            emit_json({"name": entry.name, "default_image_size": entry.default_image_size,
                       "description": entry.description, "pretrained_available": entry.pretrained_available})
        else:
            print(f"{entry.name:20s} {entry.default_image_size:4d} px  {entry.description}")
    return 0


def cmd_runs_list(args: argparse.Namespace) -> int:
    from studio.train.runs import list_runs

    runs = list_runs(open_library(args))  # marks dead workers' runs interrupted
    for run in runs:
        row = run.to_dict()
        if args.json:
            emit_json(row)
        else:
            print(f"{row['run_id']:4d}  {row['status']:11s} {row['model']:20s} epoch {row['epoch']}/{row['epochs'] or '?'}  "
                  f"val {run.score_text}  {row['name']}")
    if not runs and not args.json:
        print("no runs yet: `studio train DATASET` starts one")
    return 0


def cmd_runs_show(args: argparse.Namespace) -> int:
    from studio.train.runs import mark_interrupted, show_run

    lib = open_library(args)
    mark_interrupted(lib)
    with lib.session() as s:
        info = show_run(s, args.run)
    if args.json:
        emit_json(info)
    else:
        for key, value in info.items():
            print(f"{key:14s} {json.dumps(value, default=str) if isinstance(value, (dict, list)) else value}")
    return 0


def cmd_runs_resume(args: argparse.Namespace) -> int:
    from studio.train.runs import get_run, mark_interrupted, pid_alive

    lib = open_library(args)
    mark_interrupted(lib)
    with lib.session() as s:
        run = get_run(s, args.run)
        status, pid, gpus = run.status, run.pid, TrainSpec.from_dict(run.spec).gpus  # older runs: the default
    if status in WORKER_ATTACHED and pid_alive(pid):
        raise InvalidInputError(f"run {args.run} is still running")
    if status == RunStatus.COMPLETED:
        raise InvalidInputError(f"run {args.run} already completed; start a new run to train more")
    return run_worker(lib.home, parse_run_id(args.run), json_mode=args.json, resume=True, gpus=gpus)


def cmd_runs_stop(args: argparse.Namespace) -> int:
    from studio.train.runs import request_stop

    lib = open_library(args)
    signalled = request_stop(lib, args.run)
    if args.json:
        emit_json({"run_id": int(args.run), "stop_requested": signalled})
    else:
        print(f"run {args.run}: " + ("stop requested" if signalled else "no live worker; marked as not running"))
    return 0


def cmd_runs_delete(args: argparse.Namespace) -> int:
    from studio.train.runs import delete_run

    lib = open_library(args)
    delete_run(lib, args.run)
    if args.json:
        emit_json({"run_id": int(args.run), "deleted": True})
    else:
        print(f"run {args.run} deleted")
    return 0


MISTAKES_PRINTED = 5


def cmd_evaluate(args: argparse.Namespace) -> int:
    from studio.train.evaluate import evaluate_run

    lib = open_library(args)
    result = evaluate_run(lib, parse_run_id(args.run), args.split, device=args.device)
    if args.json:
        emit_json(result.to_dict())
        return 0
    if getattr(result, "kind", "image") == "table":
        _print_table_evaluation(result)
        return 0
    if getattr(result, "kind", "image") == "text":
        _print_text_evaluation(lib, result)
        return 0
    print(f"run {result.run_id} on {result.split}: {result.samples} samples")
    _print_classification(result, lambda sample_id: f"sample {sample_id}")
    print("predictions stored for the labelling view")
    return 0


def _print_classification(result, name_of: typing.Callable[[int], str]) -> None:
    """Accuracy, per-class table, confusion matrix and the surest mistakes (``name_of`` names one)."""
    if result.confusion is None:
        return
    print(f"accuracy {result.accuracy:.4f} ({result.labelled} labelled)")
    print(f"{'class':>12s} {'precision':>9s} {'recall':>7s} {'f1':>7s} {'support':>7s}")
    for row in result.per_class:
        print(f"{row['class']:>12s} {row['precision']:9.3f} {row['recall']:7.3f} {row['f1']:7.3f} {row['support']:7d}")
    print("confusion matrix (rows = true, columns = predicted):")
    for name, counts in zip(result.classes, result.confusion.tolist()):
        print(f"{name:>12s} " + " ".join(f"{c:5d}" for c in counts))
    if result.mistakes:
        print("most confident mistakes (the Evaluate page shows them too):")
        for m in result.mistakes[:MISTAKES_PRINTED]:
            print(f"  {name_of(m.sample_id)}: labelled {m.true_class}, predicted {m.predicted_class} ({m.confidence:.1%})")


def _print_text_evaluation(lib, result) -> None:
    """A text run: the report of an image run, each mistake shown by the start of its text."""
    from studio.data.text.samples import one_line, text_previews

    cut = f" ({result.truncated} cut at the model's max length)" if result.truncated else ""
    print(f"run {result.run_id} on {result.split}: {result.samples} texts{cut}")
    shown = [m.sample_id for m in result.mistakes[:MISTAKES_PRINTED]]
    starts = {p.id: one_line(p.preview, 70) for p in text_previews(lib, result.dataset_id, shown)}
    _print_classification(result, lambda sample_id: f"text {sample_id} “{starts.get(sample_id, '')}”")
    print("predictions stored for the labelling view")


def _print_table_evaluation(result) -> None:
    """A table run: the classification report, or each numeric target's errors in its units."""
    print(f"run {result.run_id} on {result.split}: {result.split_rows} rows, {len(result.rows)} with a target")
    if result.classification is not None:
        _print_classification(result.classification, lambda row: f"row {row + 1}")  # as the Datasets page numbers them
        return
    print(f"{'target':>20s} {'MAE':>12s} {'RMSE':>12s} {'R²':>8s}")
    for target in result.targets:
        print(f"{target.name:>20s} {target.mae:12.4g} {target.rmse:12.4g} {target.r2:8.4f}")
    for target in result.targets:
        if target.largest:
            print(f"largest errors in {target.name} (the Evaluate page lists them too):")
        for entry in target.largest[:MISTAKES_PRINTED]:
            print(f"  row {entry.row + 1}: actual {entry.actual:.6g}, predicted {entry.predicted:.6g} ({entry.error:+.4g})")
