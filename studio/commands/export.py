"""`studio export`, `studio predict` and `studio models import`.

    studio export RUN --format onnx|torchscript|safetensors [-o PATH] [--force] [--follow-symlinks] [--json]
    studio export TEXT_RUN --format onnx|hf [--out DIR]   (ONNX + tokenizer.json + predict.py, or a Hugging Face folder)
    studio predict MODEL_FILE_OR_RUN FILE_OR_FOLDER... [--top K] [--device cpu|cuda] [--trust] [--json]
    studio predict TABLE_RUN data.csv [-o predictions.csv]   (the rows with their predictions, as CSV)
    studio predict TEXT_RUN [--text "..."]... [texts.txt|texts.csv|-]... [-o predictions.csv]   (see text_predict)
    studio models import FILE [--name NAME] [--trust] [--json]
"""

from __future__ import annotations

import argparse
import sys

from studio.commands.common import add_json_flag, emit_json, open_library

FORMATS = ("onnx", "torchscript", "safetensors", "hf")  # hf: a Hugging Face folder, for text runs
EXAMPLE_INPUTS = {"image": "image.png", "table": "data.csv", "text": '"a sentence to classify"'}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a run to ONNX, TorchScript, safetensors or (text) a Hugging Face folder "
                                      "(with a parity check)")
    p.add_argument("run", type=int, help="run id")
    p.add_argument("--format", "-f", required=True, choices=FORMATS)
    p.add_argument("-o", "--output", "--out", metavar="PATH",
                   help="file to write, with its card .json and .example.py beside it (default: <library>/exports/run-<id>/<format>/model.<ext>); "
                        "text runs: a folder (or a .onnx file) that gets the model, tokenizer.json, model.json and predict.py")
    add_overwrite_flags(p)
    add_json_flag(p)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("predict", help="top classes of images with a run or a model file; a table run predicts a CSV; "
                                       "a text run predicts texts")
    p.add_argument("model", help="run id, imported model name, a .onnx / .pt / .safetensors file, or a Hugging Face "
                                 "text model folder")
    files = p.add_argument("files", nargs="+", default=[], metavar="FILE", help="images or folders of images; for a "
                           "table run one CSV/TSV/Parquet file; for a text model .txt (one text per line), CSV/TSV/JSONL "
                           "files or - (stdin)")
    files.required = False  # a text model may get only --text; "+", not "*", so files may also come after options
    p.add_argument("--text", action="append", metavar="TEXT", help="text models: a text to predict (repeatable)")
    p.add_argument("--text-column", metavar="NAME", help="text models: the column of texts in CSV/TSV/JSONL files "
                   "(default: found as an import finds it)")
    p.add_argument("-o", "--out", metavar="PATH", help="table and text models: write the predictions to this CSV "
                   "(default: print them)")
    p.add_argument("--top", type=int, default=5, metavar="K", help="classes to show per image or text (default 5)")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default cpu)")
    p.add_argument("--trust", action="store_true", help="allow loading TorchScript from elsewhere (it can run code)")
    add_json_flag(p)
    p.set_defaults(func=cmd_predict)

    models = _models_group(sub)
    p = models.add_parser("import", help="import an ONNX, safetensors (+ card .json) or TorchScript model")
    p.add_argument("file")
    p.add_argument("--name", help="name in the library (default: the file name)")
    p.add_argument("--trust", action="store_true", help="required for TorchScript: it can run code when loaded")
    add_json_flag(p)
    p.set_defaults(func=cmd_models_import)

    p = sub.add_parser("export-parity-child")  # no help: hidden; the parity child of a frozen app
    p.add_argument("rest", nargs=4)
    p.set_defaults(func=lambda args: __import__("studio.export.parity_child", fromlist=["main"]).main(args.rest))


def add_overwrite_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--force", action="store_true", help="replace existing files that this command did not write")
    p.add_argument("--follow-symlinks", action="store_true", help="write where a symbolic link points (refused otherwise)")


def _models_group(sub: argparse._SubParsersAction) -> argparse._SubParsersAction:
    """`studio models ...` may already exist (the training commands add `models list`): extend it."""
    parser = sub.choices.get("models")
    if parser is None:
        parser = sub.add_parser("models", help="model architectures and imported models")
        parser.set_defaults(func=lambda args: parser.print_help() or 0)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action
    return parser.add_subparsers(dest="models_command", metavar="COMMAND")


def cmd_export(args: argparse.Namespace) -> int:
    from studio.core.jobs import JobState
    from studio.export.service import export_run

    lib = open_library(args)
    show_progress = not args.json and sys.stderr.isatty()
    state = JobState(on_progress=_progress_line if show_progress else None)
    try:
        report = export_run(lib, args.run, args.format, args.output, state, force=args.force,
                            follow_symlinks=args.follow_symlinks)
    finally:
        if show_progress:
            sys.stderr.write("\r\033[K")  # clear the bar: what follows is the result or one error line
    if args.json:
        emit_json(report.to_json())
        return 0
    p = report.parity
    print(f"exported run {report.run_id} as {report.format}: {report.path}")
    print(f"  model card: {report.card_path}")
    print(f"  example:    python {report.example_path} {EXAMPLE_INPUTS.get(report.kind, 'image.png')}")
    if report.kind == "table":
        from studio.export.tables import parity_summary

        print(f"  {parity_summary(p)}")
    elif report.kind == "text":
        from studio.export.text import parity_summary

        print(f"  {parity_summary(p)}")
    elif "error" in p:
        print(f"  PARITY FAILED: {p['error']}")
    else:
        verdict = "OK" if report.ok else "PARITY FAILED"
        print(f"  parity {verdict}: top-1 agreement {p['agreement']:.2%} on {p['n']} {p['split']} images, "
              f"max probability difference {p['max_prob_diff']:.2e} ({p.get('runtime', '')}, fresh process)")
    return 0


def _progress_line(fraction: float, message: str) -> None:
    sys.stderr.write(f"\r[{'#' * int(fraction * 30):<30}] {fraction:4.0%} {message[:60]:<60}")
    sys.stderr.flush()


def cmd_predict(args: argparse.Namespace) -> int:
    from pathlib import Path

    from studio.core.errors import InvalidInputError, NotFoundError
    from studio.export.images import expand_image_paths
    from studio.export.predictor import open_predictor

    if args.top < 1:
        raise InvalidInputError("--top must be at least 1")
    missing = next((name for name in args.files if name != "-" and not Path(name).expanduser().exists()), None)
    if missing is not None:  # said before a model is loaded for nothing
        raise NotFoundError(f"no such file or folder: {Path(missing).expanduser()}")
    lib = open_library(args)  # run ids, imported names, and this library's own exports
    predictor = open_predictor(args.model, lib, device=args.device, trust=args.trust)
    if predictor.kind == "text":
        from studio.commands.text_predict import predict_texts

        return predict_texts(predictor, args)
    if args.text or args.text_column:
        raise InvalidInputError("--text and --text-column are for text models; this model predicts "
                                + ("rows of a table" if predictor.kind == "table" else "images"))
    if not args.files:
        raise InvalidInputError("give the files to predict: images or folders of images"
                                + (" (a table model: one CSV/TSV/Parquet file)" if predictor.kind == "table" else ""))
    files = expand_image_paths(args.files)
    if predictor.kind == "table":
        return _predict_table(predictor, args)
    if args.out:
        raise InvalidInputError("--out is for table models (it writes a CSV of predictions)")
    failures = 0
    for file in files:
        result = predictor.predict_file(file, args.top)
        failures += bool(result.error)
        if args.json:
            emit_json(result.to_json())
        elif result.error:
            print(f"studio: error: {result.error}", file=sys.stderr)
        else:
            shown = ", ".join(f"{name} {p:.1%}" for name, p in result.top)
            print(f"{file}: {shown}  ({result.latency_ms:.1f} ms)")
    return 1 if failures else 0


def _predict_table(predictor, args: argparse.Namespace) -> int:
    """A table run: every row of one CSV/TSV/Parquet file with its predictions, as CSV (to --out or stdout)."""
    from studio.core.errors import InvalidInputError
    from studio.core.jobs import JobState

    if len(args.files) != 1:
        raise InvalidInputError(f"a table model predicts one file at a time, not {len(args.files)}")
    show_progress = bool(args.out) and not args.json and sys.stderr.isatty()
    state = JobState(on_progress=_progress_line if show_progress else None)
    try:
        table = predictor.predict_csv(args.files[0], args.out, state)
    finally:
        if show_progress:
            sys.stderr.write("\r\033[K")
    if args.json:
        emit_json({"event": "predict", "kind": "table", "file": args.files[0], "rows": table.num_rows,
                   "out": args.out, "columns": table.column_names})
    elif args.out:
        print(f"predicted {table.num_rows:,} rows of {args.files[0]}: {args.out}")
    else:
        import pyarrow.csv as pacsv

        sys.stdout.flush()
        pacsv.write_csv(table, sys.stdout.buffer)
    return 0


def cmd_models_import(args: argparse.Namespace) -> int:
    from studio.export.service import import_model

    lib = open_library(args)
    entry = import_model(lib, args.file, args.name, trust=args.trust)
    if args.json:
        emit_json({"event": "import", **entry})
    else:
        print(f"imported {entry['format']} model {entry['name']!r} ({len(entry['classes'])} classes) "
              f"for {' and '.join(entry['uses'])}: {lib.home / entry['path']}")
        print(f"  play: studio predict {entry['name']} IMAGE...")
        if entry.get("weights_path"):
            print(f"  fine-tune: studio train DATASET --model {entry['architecture']} "
                  f"--pretrained {lib.home / entry['weights_path']}")
    return 0
