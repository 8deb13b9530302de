"""The runnable example written beside a table export: ``python model.onnx.example.py data.csv``
prints one prediction per row. It needs numpy and the format's runtime (onnxruntime or torch) and
reads the CSV with the standard library; how each column becomes an input is read from the model
card beside it, so the script itself holds no data from the model."""

from __future__ import annotations

from pathlib import Path

from studio.data.tables.reading import NULL_VALUES
from studio.data.tables.schema import BOOLEAN_WORDS
from studio.export.examples import docstring_safe, example_path_for
from studio.export.targets import write_via_temp

_HEAD = '''"""Predictions for the rows of a CSV with {file_name} (exported by Model Studio {version}).

    pip install {runtime_package} numpy
    python {script_name} data.csv [more.csv ...]

The CSV's first line names its columns; the model's feature columns must be among them (others,
such as the target, are ignored). Each row becomes the model's two inputs as the card
{card_name} describes under "export" -> "input": numbers as float64 (yes/no as 1/0, dates as
seconds since 1970 UTC, NaN when missing) and categories as their 1-based position in the card's
list of values (0 = never seen in training, -1 = missing). Printed: one CSV line per row,
{printed}.
"""
import csv
import json
import math
import os
import sys
from datetime import datetime, timezone

import numpy as np
{runtime_import}

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, {file_literal})
with open(os.path.join(HERE, {card_literal}), encoding="utf-8") as card_file:
    CARD = json.load(card_file)
INPUT, OUTPUT = CARD["export"]["input"], CARD["export"]["output"]
MISSING = set({missing})
TRUTH = {truth}


def number(text, kind):
    text = text.strip()
    if text in MISSING:
        return math.nan
    if kind == "boolean":
        return {{True: 1.0, False: 0.0}}.get(TRUTH.get(text.lower()), math.nan)
    if kind == "datetime":
        moment = datetime.fromisoformat(text)
        return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).timestamp()
    return float(text)


def category(text, positions):
    text = text.strip()
    return -1 if text in MISSING else positions.get(text, 0)


def read_rows(path):
    """The rows as dicts; the delimiter sniffed, UTF-8 else Latin-1 (as the studio reads tables)."""
    for encoding in ("utf-8-sig", "latin-1"):
        try:
            with open(path, newline="", encoding=encoding) as fh:
                sample = fh.read(65536)
                fh.seek(0)
                try:
                    dialect = csv.Sniffer().sniff(sample, delimiters=",;\\t|")
                except csv.Error:
                    dialect = csv.excel
                return list(csv.DictReader(fh, dialect=dialect))
        except UnicodeDecodeError:
            continue


def model_inputs(rows):
    number_columns = INPUT["numbers"]["columns"]
    category_columns = INPUT["categories"]["columns"]
    needed = [c["name"] for c in number_columns + category_columns]
    absent = [name for name in needed if rows and name not in rows[0]]
    if absent:
        sys.exit(f"the CSV has no column {{absent[0]!r}}; the model needs {{', '.join(needed)}}")
    positions = [{{value: i + 1 for i, value in enumerate(c["values"])}} for c in category_columns]
    numbers = np.array([[number(row[c["name"]] or "", c["type"]) for c in number_columns] for row in rows],
                       dtype=np.float64).reshape(len(rows), len(number_columns))
    categories = np.array([[category(row[c["name"]] or "", p) for c, p in zip(category_columns, positions)]
                           for row in rows], dtype=np.int64).reshape(len(rows), len(category_columns))
    return numbers, categories


{runtime_setup}

out = csv.writer(sys.stdout, lineterminator="\\n")
classes = OUTPUT["name"] == "probabilities"
out.writerow(["file", "row"] + ["predicted " + name for name in OUTPUT["targets"]] + (["probability"] if classes else []))
for path in sys.argv[1:]:
    rows = read_rows(path)
    if not rows:
        continue
    outputs = predict(*model_inputs(rows))
    for index, values in enumerate(outputs, start=1):
        if classes:
            best = int(np.argmax(values))
            out.writerow([path, index, OUTPUT["columns"][best], f"{{values[best]:.6f}}"])
        else:
            out.writerow([path, index] + [f"{{v:.9g}}" for v in values])
'''

_RUNTIMES = {
    "onnx": ("onnxruntime", "import onnxruntime", '''session = onnxruntime.InferenceSession(MODEL, providers=["CPUExecutionProvider"])


def predict(numbers, categories):
    return session.run(None, {"numbers": numbers, "categories": categories})[0]'''),
    "torchscript": ("torch", "import warnings\n\nimport torch", '''with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # torch marks TorchScript deprecated
    model = torch.jit.load(MODEL, map_location="cpu").eval()


def predict(numbers, categories):
    with torch.inference_mode():
        return model(torch.from_numpy(numbers), torch.from_numpy(categories)).numpy()'''),
}


def table_example_text(fmt: str, model_path: Path, card_path: Path, predictor, script_name: str) -> str:
    """The script's source: names go in as Python literals (repr) in code and escaped in the
    docstring; nothing from a file name or a card is pasted in as code."""
    package, runtime_import, setup = _RUNTIMES[fmt]
    if predictor.task == "classification":
        printed = f"file, row, predicted {predictor.target_names[0]}, its probability"
    else:
        printed = "file, row, " + ", ".join(f"predicted {name}" for name in predictor.target_names)
    return _HEAD.format(
        file_name=docstring_safe(model_path.name), card_name=docstring_safe(card_path.name),
        script_name=docstring_safe(script_name), version=docstring_safe(predictor.card.studio_version or ""),
        printed=docstring_safe(printed), runtime_package=package, runtime_import=runtime_import,
        file_literal=repr(model_path.name), card_literal=repr(card_path.name),
        missing=repr(sorted(NULL_VALUES)), truth=repr(BOOLEAN_WORDS), runtime_setup=setup,
    )


def write_table_example(fmt: str, model_path: Path, card_path: Path, predictor, target: Path | None = None) -> Path:
    target = target or example_path_for(model_path)
    text = table_example_text(fmt, model_path, card_path, predictor, example_path_for(model_path).name)
    write_via_temp(target, lambda tmp: tmp.write_text(text, encoding="utf-8", errors="backslashreplace"))
    return target
