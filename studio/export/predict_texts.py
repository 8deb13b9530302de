"""A trained text classifier as Play and `studio predict` see it: texts in, class probabilities out.

    predictor = open_text_run_predictor(lib, run_id)
    predictor.predict_text("a gripping, funny film")            # one text, for Play
    texts, notes = read_texts_to_predict(Path("reviews.csv"))  # .txt (one per line), CSV/TSV/JSONL
    predictor.write_predictions(texts, "predictions.csv", state)  # text,class,probability,P(class)...

The numbers are those of Evaluate: ``studio.train.text.inference.TextClassifier`` (the run's own
tokenizer, cut at its max length, then the network). Nothing here imports Qt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from studio.core.errors import InvalidInputError, NotFoundError
from studio.core.jobs import JobState
from studio.core.limits import MiB, limits

PREDICT_CHUNK_TEXTS = 256  # progress and cancellation happen between chunks of a file
TEXT_INPUT_SUFFIXES = (".txt", ".csv", ".tsv", ".tab", ".jsonl", ".ndjson")


@dataclass
class TextPrediction:
    """One text's prediction: every class with its probability (in class order)."""

    probabilities: list[tuple[str, float]]
    tokens: int = 0          # tokens the model saw (special tokens included)
    truncated: bool = False  # the text was cut at the model's max length

    @property
    def best(self) -> tuple[str, float]:
        return max(self.probabilities, key=lambda p: p[1])

    @property
    def ranked(self) -> list[tuple[str, float]]:
        """Classes best first (ties in class order)."""
        return sorted(self.probabilities, key=lambda p: -p[1])


@dataclass
class TextFileReport:
    texts: int
    target: str | None
    truncated: int = 0
    notes: list[str] = field(default_factory=list)


class TextPredictor:
    """A text classifier ready to predict raw texts: studio.train.text.inference.TextClassifier, or
    an OnnxTextClassifier (anything with classes, max_length, tokenize and probabilities)."""

    kind = "text"

    def __init__(self, classifier, label: str, device: str):
        self.classifier = classifier
        self.runtime = getattr(classifier, "runtime", "PyTorch (in the studio)")
        self.classes = list(classifier.classes)
        self.max_length = int(classifier.max_length)
        self.label = label
        self.device = device

    def predict_text(self, text: str) -> TextPrediction:
        tokens = self.classifier.tokenize([text])
        probabilities = self.classifier.probabilities(tokens)[0]
        return TextPrediction([(name, float(p)) for name, p in zip(self.classes, probabilities)],
                              int(tokens.lengths[0]), bool(tokens.truncated[0]))

    def predict_texts(self, texts: list[str], state: JobState | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(N x classes probabilities, N flags: the text was cut at max length), in chunks with
        progress and cancellation."""
        state = state or JobState()
        out = np.zeros((len(texts), len(self.classes)), dtype=np.float32)
        truncated = np.zeros(len(texts), dtype=bool)
        for start in range(0, len(texts), PREDICT_CHUNK_TEXTS):
            state.check_cancelled()
            tokens = self.classifier.tokenize(texts[start: start + PREDICT_CHUNK_TEXTS])
            out[start: start + len(tokens)] = self.classifier.probabilities(tokens)
            truncated[start: start + len(tokens)] = tokens.truncated
            done = start + len(tokens)
            state.set_progress(done / len(texts), f"{done:,} of {len(texts):,} texts predicted")
        return out, truncated

    def prediction_columns(self, texts: list[str], probabilities: np.ndarray) -> dict[str, list]:
        """text, class, probability, then P(class) per class: what a predictions CSV holds."""
        best = probabilities.argmax(axis=1) if len(texts) else np.zeros(0, dtype=np.int64)
        columns = {"text": list(texts), "class": [self.classes[i] for i in best],
                   "probability": [float(probabilities[row, i]) for row, i in enumerate(best)]}
        for index, name in enumerate(self.classes):
            columns[f"P({name})"] = probabilities[:, index].astype(float).tolist()
        return columns

    def write_predictions(self, texts: list[str], target: str | Path, state: JobState | None = None) -> int:
        """Predict ``texts`` and write them with their predictions as CSV to ``target`` (through a
        temporary file: a cancel or a failure leaves nothing); returns how many were cut."""
        import pyarrow as pa

        from studio.export.table_model import part_of, write_csv

        state = state or JobState()
        probabilities, truncated = self.predict_texts(texts, part_of(state, 0.0, 0.9))
        state.set_progress(0.95, "writing the predictions")
        write_csv(pa.table(self.prediction_columns(texts, probabilities)), Path(target).expanduser())
        state.set_progress(1.0, f"{len(texts):,} texts predicted")
        return int(truncated.sum())

    def predict_file(self, source: str | Path, target: str | Path, state: JobState | None = None,
                     text_column: str | None = None) -> TextFileReport:
        """Every text of ``source`` (see read_texts_to_predict) predicted and written to ``target``."""
        state = state or JobState()
        texts, notes = read_texts_to_predict(Path(source).expanduser(), text_column, state)
        truncated = self.write_predictions(texts, target, state)
        return TextFileReport(len(texts), str(target), truncated, notes)


def read_texts_to_predict(path: Path, text_column: str | None = None,
                          state: JobState | None = None) -> tuple[list[str], list[str]]:
    """(texts, notes) of a .txt file (one text per line) or a CSV/TSV/JSONL file (its text column,
    found as an import finds it, or ``text_column``). Blank lines and empty texts are skipped, and
    said in the notes, as are lines read as Latin-1."""
    from studio.data.text.reading import TABLE_TEXT_SUFFIXES, read_text_table

    if path.is_dir():
        raise InvalidInputError(f"{path} is a folder", hint="give .txt files (one text per line) or CSV, TSV or JSONL "
                                                             "files with a text column")
    if not path.is_file():
        raise NotFoundError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix in TABLE_TEXT_SUFFIXES:
        table = read_text_table(path, text_column, state=state)
        texts = [row.text for row in table.rows if row.text is not None]
        notes = [f"texts from column {table.text_column!r}", *table.notes]
        skipped = len(table.rows) - len(texts)
        if skipped:
            notes.append(f"{skipped:,} rows without a usable text were skipped")
    elif suffix == ".txt":
        if text_column:
            raise InvalidInputError(f"{path.name} is a plain text file (one text per line): it has no columns")
        texts, notes = text_lines(_read_limited(path))
    else:
        raise InvalidInputError(f"{path.name}: cannot read texts from a {suffix or 'file without a suffix'}",
                                hint="give a .txt file (one text per line) or a CSV, TSV or JSONL file with a text column")
    if not texts:
        raise InvalidInputError(f"{path.name} has no texts to predict")
    return texts, notes


def text_lines(data: bytes) -> tuple[list[str], list[str]]:
    """(texts, notes): one text per non-blank line; each line is decoded on its own (UTF-8, else
    Latin-1), so a file of mixed encodings loses nothing."""
    from studio.data.text.reading import clean_text, decode_text

    texts, latin1 = [], 0
    for raw in data.removeprefix(b"\xef\xbb\xbf").split(b"\n"):
        line, was_latin1 = decode_text(raw)
        text = clean_text(line).replace("\x00", "")
        if text:
            texts.append(text)
            latin1 += was_latin1
    notes = [f"{latin1:,} lines are not valid UTF-8 and were read as Latin-1"] if latin1 else []
    return texts, notes


def _read_limited(path: Path) -> bytes:
    size = path.stat().st_size
    if size > limits().max_file_bytes:
        raise InvalidInputError(f"{path.name} is too large ({size / MiB:,.0f} MB, limit "
                                f"{limits().max_file_bytes / MiB:,.0f} MB, setting STUDIO_MAX_FILE_BYTES)")
    return path.read_bytes()


def open_text_run_predictor(lib, run_id: int, device: str = "cpu") -> TextPredictor:
    """The best model of a finished (or stopped) text run."""
    from studio.train.text.inference import load_text_run

    return TextPredictor(load_text_run(lib, int(run_id), device), f"run {run_id}", device)


def hf_folder_of(path: Path) -> Path | None:
    """The Hugging Face model folder ``path`` is, or is a file of (its config.json or weights):
    such a folder is a text model. None otherwise."""
    if path.is_dir():
        return path if (path / "config.json").is_file() else None
    takes = path.name == "config.json" or path.suffix.lower() in (".safetensors", ".bin")
    return path.parent if takes and (path.parent / "config.json").is_file() else None


def open_text_folder_predictor(folder: Path, device: str = "cpu") -> TextPredictor:
    """Any Hugging Face folder with a sequence-classification head and its tokenizer."""
    from studio.train.text.inference import load_text_folder

    return TextPredictor(load_text_folder(folder, device), str(folder), device)


class OnnxTextClassifier:
    """A text model's ONNX export (input_ids + attention_mask -> probabilities, logits) with the
    tokenizer.json and card beside it, as its predict.py runs it: TextClassifier's tokenize and
    probabilities, through onnxruntime."""

    runtime = "onnxruntime"

    def __init__(self, path: Path, card: dict):
        from tokenizers import Tokenizer

        from studio.export.predictor import import_onnxruntime
        from studio.train.text.tokens import prepared_tokenizer

        feed = (card.get("export") or {}).get("input") or {}
        tokenizer_path = path.parent / str(feed.get("tokenizer", "tokenizer.json"))
        if not tokenizer_path.is_file():
            raise NotFoundError(f"{path.name} needs {tokenizer_path.name} beside it (its tokenizer), which is missing")
        self.classes = [str(name) for name in card.get("classes") or []]
        self.max_length = int(feed.get("max_length") or 0)
        self.pad_id = int(feed.get("pad_id") or 0)
        if not self.classes or self.max_length < 2:
            raise InvalidInputError(f"{path.name}: its card {path.with_suffix('.json').name} does not name its classes "
                                    "and max length")
        try:
            self.tokenizer = prepared_tokenizer(Tokenizer.from_file(str(tokenizer_path)), self.max_length)
            ort = import_onnxruntime()
            options = ort.SessionOptions()
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")  # no busy cores after each run
            options.log_severity_level = 3
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # noqa: BLE001 - tokenizers and onnxruntime raise their own types: one line for the user
            first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            raise InvalidInputError(f"cannot load the text model {path.name} ({first})") from None

    def tokenize(self, texts: list[str]):
        from studio.train.text.tokens import tokenize_texts

        return tokenize_texts(self.tokenizer, list(texts))

    def probabilities(self, tokens) -> np.ndarray:
        from studio.train.text.batching import pad_batch, sorted_batches

        out = np.zeros((len(tokens), len(self.classes)), dtype=np.float32)
        for rows in sorted_batches(tokens.lengths, PREDICT_CHUNK_TEXTS):
            input_ids, mask = pad_batch(tokens, rows, self.pad_id)
            feed = {"input_ids": input_ids.numpy(), "attention_mask": mask.numpy()}
            out[rows] = self.session.run(["probabilities"], feed)[0]
        return out


def text_export_card(path: Path) -> dict | None:
    """The card beside an ONNX file when it is a text model's export (kind "text"), else None."""
    import json

    from studio.export.loading import card_path_for

    card = card_path_for(path)
    if path.suffix.lower() != ".onnx" or not card.is_file() or card.stat().st_size > limits().max_card_bytes:
        return None
    try:
        data = json.loads(card.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError, RecursionError):
        return None  # the image path reports a broken card in its own words
    return data if isinstance(data, dict) and data.get("kind") == "text" else None


def open_text_onnx_predictor(path: Path, card: dict) -> TextPredictor:
    return TextPredictor(OnnxTextClassifier(path, card), str(path), "cpu")  # onnxruntime on the CPU

