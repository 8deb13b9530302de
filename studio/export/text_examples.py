"""The runnable example written beside a text export: ``python predict.py "a sentence" ...`` (or
``--file texts.txt``, one text per line) prints each text's class and its probability.

ONNX: it needs only tokenizers, onnxruntime and numpy; the tokenizer.json beside it cuts each
text at the run's max length and pads nothing, so the script pads each batch itself with the pad
id from the card. Hugging Face folder: it needs transformers and torch, and a README says how to
load the folder. Names from the card go in as Python literals or escaped, never as code."""

from __future__ import annotations

from pathlib import Path

from studio.export.examples import docstring_safe
from studio.export.targets import read_head, write_via_temp

EXAMPLE_NAME = "predict.py"
README_NAME = "README.md"
_FIRST_WORDS = b'"""Classes of texts with '

_HEAD = '''"""Classes of texts with {what} (exported by Model Studio {version}).

    pip install {packages}
    python {script_name} "a sentence to classify" ["another one" ...]
    python {script_name} --file texts.txt           (one text per line; --file - reads standard input)

{how}
Printed: one line per text: its class, that class's probability and the text, tab-separated.
Classes: {classes}.
"""
import json
import os
import sys

import numpy as np
{imports}

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, {card_literal}), encoding="utf-8") as card_file:
    CARD = json.load(card_file)
CLASSES = CARD["export"]["classes"]
BATCH = 32
{setup}


def texts_from(args):
    """The texts named on the command line: each argument, or the lines of each --file."""
    texts = []
    while args:
        arg = args.pop(0)
        if arg != "--file":
            texts.append(arg)
            continue
        if not args:
            sys.exit("--file needs a file name (or - for standard input)")
        name = args.pop(0)
        lines = sys.stdin.read().splitlines() if name == "-" else open(name, encoding="utf-8").read().splitlines()
        texts.extend(line for line in lines if line.strip())
    return texts


texts = texts_from(sys.argv[1:])
if not texts:
    sys.exit(__doc__)
for start in range(0, len(texts), BATCH):
    batch = texts[start:start + BATCH]
    for text, row in zip(batch, probabilities(batch)):
        best = int(np.argmax(row))
        print(f"{{CLASSES[best]}}\\t{{row[best]:.4f}}\\t{{' '.join(text.split())}}")
'''

_ONNX_IMPORTS = "import onnxruntime\nfrom tokenizers import Tokenizer"
_ONNX_SETUP = '''INPUT = CARD["export"]["input"]
tokenizer = Tokenizer.from_file(os.path.join(HERE, INPUT["tokenizer"]))
session = onnxruntime.InferenceSession(os.path.join(HERE, {file_literal}), providers=["CPUExecutionProvider"])


def probabilities(batch):
    """Tokenize (cut at the max length), pad to the longest with the pad id, run the model."""
    encodings = tokenizer.encode_batch(batch)
    width = max(len(encoding.ids) for encoding in encodings)
    input_ids = np.full((len(batch), width), INPUT["pad_id"], dtype=np.int64)
    attention_mask = np.zeros((len(batch), width), dtype=np.int64)
    for row, encoding in enumerate(encodings):
        input_ids[row, :len(encoding.ids)] = encoding.ids
        attention_mask[row, :len(encoding.ids)] = 1
    return session.run(["probabilities"], {{"input_ids": input_ids, "attention_mask": attention_mask}})[0]'''
_ONNX_HOW = '''Inputs: input_ids and attention_mask, int64 [batch, sequence]. {tokenizer} cuts each text at
{max_length} tokens and pads nothing; each batch is padded here to its longest text with the pad
id from {card_name} (attention_mask 0 there). Output used: probabilities [batch, classes].'''

_HF_IMPORTS = "import torch\nfrom transformers import AutoModelForSequenceClassification, AutoTokenizer"
_HF_SETUP = '''tokenizer = AutoTokenizer.from_pretrained(HERE)
model = AutoModelForSequenceClassification.from_pretrained(HERE).eval()


def probabilities(batch):
    """Tokenize (cut at the max length, padded to the longest), run the model, softmax."""
    inputs = tokenizer(batch, padding=True, truncation=True, return_tensors="pt")
    with torch.inference_mode():
        return torch.softmax(model(**inputs).logits.float(), dim=1).numpy()'''
_HF_HOW = '''The folder is a plain Hugging Face model: AutoModelForSequenceClassification and AutoTokenizer
load it (README.md). The tokenizer cuts each text at {max_length} tokens.'''

_README = '''# Text classifier: {architecture} (exported by Model Studio {version})

A Hugging Face folder: plain `transformers` loads it.

- Classes: {classes}
- Trained on: {dataset} (run {run_id}); texts are cut at {max_length} tokens
- Parity with the studio on the held-out texts: see `export.parity` in `{card_name}`

```python
from transformers import AutoModelForSequenceClassification, AutoTokenizer

folder = "path/to/this/folder"
tokenizer = AutoTokenizer.from_pretrained(folder)
model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
inputs = tokenizer(["a gripping, funny film"], padding=True, truncation=True, return_tensors="pt")
probabilities = model(**inputs).logits.softmax(dim=1)
print(model.config.id2label[int(probabilities.argmax())])
```

Or run `python {script_name} "a sentence" ...` (needs `pip install transformers torch`).
'''


def text_example_text(fmt: str, model_path: Path, card_path: Path, classifier) -> str:
    version = docstring_safe((classifier.card.studio_version if classifier.card else "") or "")
    classes = docstring_safe(", ".join(classifier.classes))
    if fmt == "onnx":
        how = _ONNX_HOW.format(tokenizer="tokenizer.json", max_length=int(classifier.max_length),
                               card_name=docstring_safe(card_path.name))
        return _HEAD.format(what=docstring_safe(model_path.name), version=version, packages="tokenizers onnxruntime numpy",
                            script_name=EXAMPLE_NAME, how=how, classes=classes, imports=_ONNX_IMPORTS,
                            card_literal=repr(card_path.name), setup=_ONNX_SETUP.format(file_literal=repr(model_path.name)))
    return _HEAD.format(what="this Hugging Face folder", version=version, packages="transformers torch numpy",
                        script_name=EXAMPLE_NAME, how=_HF_HOW.format(max_length=int(classifier.max_length)),
                        classes=classes, imports=_HF_IMPORTS, card_literal=repr(card_path.name), setup=_HF_SETUP)


def readme_text(classifier, card_path: Path) -> str:
    card = classifier.card
    dataset = (card.dataset.get("name") if card else None) or "a dataset of the studio"
    return _README.format(architecture=(card.architecture if card else None) or "text model",
                          version=(card.studio_version if card else "") or "", classes=", ".join(classifier.classes),
                          dataset=dataset, run_id=card.run_id if card else "?", max_length=int(classifier.max_length),
                          card_name=card_path.name, script_name=EXAMPLE_NAME)


def write_text_example(fmt: str, targets, classifier) -> Path:
    """predict.py (and for a Hugging Face folder README.md) at the export's targets."""
    text = text_example_text(fmt, targets.model, targets.card, classifier)
    write_via_temp(targets.example, lambda tmp: tmp.write_text(text, encoding="utf-8", errors="backslashreplace"))
    if targets.readme is not None:
        readme = readme_text(classifier, targets.card)
        write_via_temp(targets.readme, lambda tmp: tmp.write_text(readme, encoding="utf-8", errors="backslashreplace"))
    return targets.example


def text_example_path(fmt: str, model: Path) -> Path:
    """Where predict.py is: in the Hugging Face folder, or beside model.onnx."""
    return (model if fmt == "hf" else model.parent) / EXAMPLE_NAME


def is_generated_example(path: Path) -> bool:
    head = read_head(path, 512)
    return head.startswith(_FIRST_WORDS) and b"(exported by Model Studio" in head
