"""`studio predict` with a text model (a text run or a Hugging Face folder):

    studio predict RUN --text "a gripping film" [--text "..."]     class probabilities per text
    studio predict RUN reviews.txt reviews.csv - [--text-column C]  .txt one text per line, CSV/TSV/JSONL, stdin
    studio predict RUN reviews.csv --out predictions.csv           text,class,probability,P(class)...

Called by ``studio.commands.export.cmd_predict`` once the model turns out to take texts.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.commands.common import emit_json
from studio.core.errors import InvalidInputError
from studio.core.jobs import JobState

STDIN = "-"
SHOWN_CHARS = 100  # of each text, on its printed line (longer ones end in …)


def predict_texts(predictor, args: argparse.Namespace) -> int:
    texts, notes = gather_texts(args)
    for note in notes:
        if not args.json:
            print(f"note: {note}", file=sys.stderr)
    if args.out:
        return _write(predictor, texts, args)
    from studio.data.text.samples import one_line
    from studio.export.predictor import top_k

    probabilities, truncated = predictor.predict_texts(texts)
    for text, row, cut in zip(texts, probabilities, truncated):
        top = top_k(row, predictor.classes, args.top)
        if args.json:
            emit_json({"text": text, "top": [{"class": name, "probability": round(p, 6)} for name, p in top],
                       "truncated": bool(cut)})
        else:
            shown = ", ".join(f"{name} {p:.1%}" for name, p in top)
            print(f"{shown}  {one_line(text, SHOWN_CHARS)}")
    if truncated.any() and not args.json:
        print(_cut_note(int(truncated.sum()), predictor.max_length), file=sys.stderr)
    return 0


def gather_texts(args: argparse.Namespace) -> tuple[list[str], list[str]]:
    """(texts, notes): each --text, then each file's texts in order; ``-`` reads stdin, one per line."""
    from studio.data.text.reading import clean_text
    from studio.export.predict_texts import read_texts_to_predict, text_lines

    texts = [clean_text(t) for t in args.text or []]
    if any(not t for t in texts):
        raise InvalidInputError("--text is empty: give the sentence to predict, e.g. --text 'a gripping film'")
    notes: list[str] = []
    if args.files.count(STDIN) > 1:
        raise InvalidInputError("- (stdin) can be read once")
    for name in args.files:
        if name == STDIN:
            found, said = text_lines(sys.stdin.buffer.read())
            if not found:
                raise InvalidInputError("stdin has no texts to predict (one text per line)")
        else:
            found, said = read_texts_to_predict(Path(name).expanduser(), args.text_column)
        texts.extend(found)
        notes.extend(f"{'stdin' if name == STDIN else name}: {note}" for note in said)
    if not texts:
        raise InvalidInputError("give the texts to predict", hint="--text 'a sentence', a .txt file (one text per line), "
                                                                  "a CSV/TSV/JSONL file with a text column, or - for stdin")
    return texts, notes


def _write(predictor, texts: list[str], args: argparse.Namespace) -> int:
    from studio.commands.export import _progress_line

    show_progress = not args.json and sys.stderr.isatty()
    state = JobState(on_progress=_progress_line if show_progress else None)
    try:
        truncated = predictor.write_predictions(texts, args.out, state)
    finally:
        if show_progress:
            sys.stderr.write("\r\033[K")
    if args.json:
        emit_json({"event": "predict", "kind": "text", "texts": len(texts), "out": args.out, "truncated": truncated,
                   "columns": ["text", "class", "probability", *(f"P({name})" for name in predictor.classes)]})
        return 0
    print(f"predicted {len(texts):,} texts: {args.out}")
    if truncated:
        print(_cut_note(truncated, predictor.max_length), file=sys.stderr)
    return 0


def _cut_note(count: int, max_length: int) -> str:
    return (f"note: {count:,} text{'s were' if count != 1 else ' was'} longer than {max_length} tokens and cut there "
            "(the model sees only the start)")
