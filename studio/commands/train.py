"""`studio train`, `studio models`, `studio runs`, `studio evaluate`.

`studio train` creates the run, then starts the worker (`studio worker train --run ID`) as a
child process, exactly as the GUI does with QProcess, and forwards its JSON lines (--json) or
renders them as a progress bar on stderr and a summary.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from typing import Any

from studio.commands.common import add_json_flag, emit_json, open_library
from studio.core.errors import InvalidInputError
from studio.train import defaults as train_defaults  # no torch: the same table the engine and GUI use
from studio.train.protocol import JsonLinesParser


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train or fine-tune a model on a dataset")
    p.add_argument("dataset", help="dataset name or id")
    p.add_argument("--model", help="architecture (`studio models list`); default: simple-cnn for images <= 64 px, else "
                                   "mobilenet_v3_small from ImageNet weights (simple-cnn when those are not available)")
    d = train_defaults.DEFAULTS
    p.add_argument("--pretrained", default=d["pretrained"],
                   help="auto (default: ImageNet weights for torchvision models when cached or downloadable, else "
                        "from scratch) | imagenet | RUN_ID (fine-tune a previous run) | none | PATH to a state dict")
    p.add_argument("--epochs", type=int, default=d["epochs"], help=f"(default {d['epochs']})")
    p.add_argument("--batch-size", type=int, default=d["batch_size"], help=f"(default {d['batch_size']})")
    p.add_argument("--lr", type=float, help=f"peak learning rate (default {train_defaults.LR_FROM_SCRATCH:g} from scratch, "
                                            f"{train_defaults.LR_FINE_TUNE:g} fine-tuning)")
    p.add_argument("--image-size", type=int, help="side in pixels the model sees")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N | mps")
    p.add_argument("--gpus", type=int, default=1, help="data-parallel processes (torchrun + DDP; gloo on CPU)")
    p.add_argument("--optimizer", default="adamw", choices=("adamw", "sgd"))
    p.add_argument("--schedule", default="onecycle", choices=("onecycle", "cosine", "none"))
    p.add_argument("--freeze", default="none", choices=("backbone", "none"), help="train only the new head")
    p.add_argument("--unfreeze-after", type=int, default=0, metavar="N", help="with --freeze backbone: train everything after N epochs")
    p.add_argument("--augment", default=train_defaults.augment_text(),
                   help=f"comma list of flip,crop,color,rotate or none (default {train_defaults.augment_text()}); "
                        "flip and rotate only if a mirrored or turned image is still the same class")
    p.add_argument("--amp", action=argparse.BooleanOptionalAction, default=None, help="mixed precision (default: on CUDA only)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--early-stopping", type=int, default=0, metavar="N", help="stop after N epochs without val improvement")
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

    ev = sub.add_parser("evaluate", help="accuracy, per-class metrics and confusion matrix of a run")
    ev.add_argument("run", help="run id")
    ev.add_argument("--split", default="test", choices=("val", "test", "train", "unlabelled", "all"))
    ev.add_argument("--device", default="auto", help="auto (default, as training: the best there is) | cpu | cuda | cuda:N | mps")
    add_json_flag(ev)
    ev.set_defaults(func=cmd_evaluate)


# --- train --------------------------------------------------------------------------------

def spec_from_args(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "model": args.model, "pretrained": args.pretrained, "epochs": args.epochs, "batch_size": args.batch_size,
        "lr": args.lr, "image_size": args.image_size, "device": args.device, "gpus": args.gpus,
        "optimizer": args.optimizer, "schedule": args.schedule, "freeze": args.freeze,
        "unfreeze_after": args.unfreeze_after, "augment": args.augment, "amp": args.amp, "seed": args.seed,
        "early_stopping": args.early_stopping,
    }


def cmd_train(args: argparse.Namespace) -> int:
    from studio.train.runner import create_run

    lib = open_library(args)
    run_id = create_run(lib, args.dataset, spec_from_args(args), name=args.name)
    return run_worker(lib.home, run_id, json_mode=args.json, gpus=args.gpus)


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


class _ProgressView:
    """Human rendering of the worker's events: a progress bar on stderr and a final summary."""

    def __init__(self) -> None:
        self.epochs = 0
        self.steps_per_epoch = 0
        self.noted: set[str] = set()  # notes already shown: each is said once

    def show(self, event: dict[str, Any]) -> None:
        try:
            self._show(event)
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # an event without the fields this view reads: nothing to draw, keep following

    def _show(self, event: dict[str, Any]) -> None:
        kind = event.get("event")
        if kind == "start":
            self.epochs = event["epochs"]
            print(f"run {event['run_id']}: {event['model']} on {event['device']}, {event['epochs']} epochs, "
                  f"batch {event['batch_size']}, {event['image_size']} px" + (" (resuming)" if event.get("resume") else ""),
                  file=sys.stderr)
        elif kind == "data":
            print(f"{event['train_samples']} train / {event['val_samples']} val samples, {len(event['classes'])} classes",
                  file=sys.stderr)
            for note in event.get("notes") or []:
                self.noted.add(note)
                print(f"note: {note}", file=sys.stderr)
        elif kind == "cache":
            self._bar(event["fraction"], event["message"])
        elif kind == "download":
            total = event["total"] or 1
            self._bar(event["bytes"] / total, f"downloading weights {event['bytes'] / 1e6:.1f} MB")
        elif kind == "step":
            self._bar(None, f"epoch {event['epoch']}/{self.epochs} step {event['step']} loss {event['loss']:.4f} "
                            f"({event['samples_per_s']:.0f} img/s)")
        elif kind == "epoch":
            sys.stderr.write("\r\033[K")
            print(f"epoch {event['epoch']}/{self.epochs}: train loss {event['train_loss']:.4f} acc {event['train_accuracy']:.3f} | "
                  f"val loss {event['val_loss']:.4f} acc {event['val_accuracy']:.3f} | {event['seconds']:.1f} s, "
                  f"eta {event['eta_s']:.0f} s", file=sys.stderr)
        elif kind == "done":
            sys.stderr.write("\r\033[K")
            metrics = event.get("metrics") or {}
            line = f"run {event['run_id']} {event['status']}"
            if metrics.get("val_accuracy") is not None:
                line += f": best val accuracy {metrics['val_accuracy']:.4f} (epoch {metrics.get('epoch')})"
            print(line)
            if event.get("model_path"):
                print(f"model: {event['model_path']}")
            for note in event.get("notes") or []:
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

    rows = [run.to_dict() for run in list_runs(open_library(args))]  # marks dead workers' runs interrupted
    for row in rows:
        if args.json:
            emit_json(row)
        else:
            acc = f"{row['val_accuracy']:.4f}" if row["val_accuracy"] is not None else "-"
            print(f"{row['run_id']:4d}  {row['status']:11s} {row['model']:20s} epoch {row['epoch']}/{row['epochs']}  val acc {acc}  {row['name']}")
    if not rows and not args.json:
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
        status, pid, gpus = run.status, run.pid, int((run.spec or {}).get("gpus", 1))
    if status in ("running", "paused") and pid_alive(pid):
        raise InvalidInputError(f"run {args.run} is still running")
    if status == "completed":
        raise InvalidInputError(f"run {args.run} already completed; start a new run to train more")
    return run_worker(lib.home, int(args.run), json_mode=args.json, resume=True, gpus=gpus)


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
    result = evaluate_run(lib, int(args.run) if str(args.run).isdigit() else _bad_run(args.run), args.split, device=args.device)
    if args.json:
        emit_json(result.to_dict())
        return 0
    print(f"run {result.run_id} on {result.split}: {result.samples} samples")
    if result.confusion is not None:
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
                print(f"  sample {m.sample_id}: labelled {m.true_class}, predicted {m.predicted_class} ({m.confidence:.1%})")
    print("predictions stored for the labelling view")
    return 0


def _bad_run(text: str) -> int:
    raise InvalidInputError(f"a run id is a number, not {text!r}")

