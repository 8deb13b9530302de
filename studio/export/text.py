"""Exporting a text run, and the parity check of each export run from raw text in a fresh process.

Two formats:
  - ``onnx``: ``model.onnx`` takes ``input_ids`` and ``attention_mask`` (int64 [batch, sequence],
    both axes dynamic) and gives ``probabilities`` (float32 [batch, classes], softmax) and
    ``logits``. Beside it: ``tokenizer.json`` (the run's tokenizer: cut at the run's max length,
    pads nothing), the card ``model.json`` (classes, pad id, max length, parity) and ``predict.py``,
    which needs only tokenizers, onnxruntime and numpy and pads each batch itself.
  - ``hf``: a Hugging Face folder (config.json, model.safetensors, tokenizer files) that plain
    ``transformers`` loads with ``AutoModelForSequenceClassification`` / ``AutoTokenizer``, with a
    README, the card and ``predict.py`` using transformers.

Parity: the run's held-out texts (test split, else val) go through the export's own tokenizer and
runtime in a fresh interpreter (``parity_child.py``), against the studio's ``TextClassifier``.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import subprocess
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from studio.core.errors import InvalidInputError
from studio.core.jobs import JobState
from studio.export.parity import (
    CHILD_TIMEOUT_S,
    MAX_PROB_DIFF,
    MAX_SAMPLES,
    child_command,
    probability_agreement,
)
from studio.export.registry import file_sha256
from studio.export.service import (
    ExportReport,
    _is_export_card,
    _is_recorded_export,
    _record,
)
from studio.export.targets import check_target, output_path, write_via_temp
from studio.export.text_examples import (
    README_NAME,
    is_generated_example,
    text_example_path,
    write_text_example,
)
from studio.export.writers import ONNX_OPSET, OUTPUT_NAMES
from studio.train.run_files import CARD_NAME, WEIGHTS_NAME, run_dir
from studio.train.text.inference import TextClassifier, load_text_run

TEXT_FORMATS = ("onnx", "hf")
INPUT_NAMES = ["input_ids", "attention_mask"]
TOKENIZER_NAME = "tokenizer.json"
# what a Hugging Face folder holds besides the card: never checkpoint.pt (a pickle of the training state)
HF_FILES = ("config.json", WEIGHTS_NAME, "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
            "added_tokens.json", "vocab.txt", "vocab.json", "merges.txt", "spiece.model", "sentencepiece.bpe.model")
IMAGE_ONLY_FIELDS = ("image_size", "in_channels", "mean", "std", "table")
NOT_FOR_TEXT = ("a text model exports as onnx (with tokenizer.json and predict.py) or hf (a Hugging Face folder), "
                "not {fmt}")


@dataclass(frozen=True)
class TextTargets:
    """What a text export writes: the model (``model.onnx`` or the Hugging Face folder), its card,
    its example script, and the files copied beside them (target path per source name)."""

    model: Path
    card: Path
    example: Path
    copies: dict[str, Path] = field(default_factory=dict)
    readme: Path | None = None


def default_text_export_path(lib, run_id: int, fmt: str) -> Path:
    folder = Path(lib.exports_dir) / f"run-{run_id}" / fmt
    return folder if fmt == "hf" else folder / "model.onnx"


def text_export_targets(lib, run_id: int, fmt: str, path: str | Path | None, *, force: bool = False,
                        follow_symlinks: bool = False) -> TextTargets:
    """The files a text export writes, checked before anything is written: none may be a symlink
    (unless ``follow_symlinks``) or an existing file that is not this library's own earlier
    export (unless ``force``). ONNX takes a ``.onnx`` file or a folder; hf takes a folder."""
    if fmt not in TEXT_FORMATS:
        raise InvalidInputError(NOT_FOR_TEXT.format(fmt=fmt), hint="its run folder is already a Hugging Face folder")
    path = output_path(path, follow_symlinks=follow_symlinks) if path else default_text_export_path(lib, run_id, fmt)
    options = {"force": force, "follow_symlinks": follow_symlinks}
    if fmt == "hf":
        folder = _folder(path)
        ours = lambda _p: _is_recorded_export(lib, folder)
        names = [name for name in HF_FILES if (run_dir(lib, run_id) / name).is_file()]
        return TextTargets(folder, check_target(folder / CARD_NAME, owned=ours, **options),
                           check_target(text_example_path("hf", folder), owned=ours, **options),
                           {name: check_target(folder / name, owned=ours, **options) for name in names},
                           check_target(folder / README_NAME, owned=ours, **options))
    if path.suffix.lower() != ".onnx":
        if path.suffix and not path.is_dir():
            raise InvalidInputError(f"{path.name}: an ONNX export must end in .onnx (or name a folder)")
        path = _folder(path) / "model.onnx"
    path.parent.mkdir(parents=True, exist_ok=True)
    model = check_target(path.parent.resolve() / path.name, owned=lambda p: _is_recorded_export(lib, p), **options)
    beside = lambda _p: _is_recorded_export(lib, model)
    return TextTargets(model, check_target(model.with_suffix(".json"), owned=lambda p: _is_export_card(p, model.name), **options),
                       check_target(text_example_path("onnx", model), owned=lambda p: beside(p) or is_generated_example(p),
                                    **options),
                       {TOKENIZER_NAME: check_target(model.parent / TOKENIZER_NAME, owned=beside, **options)})


def _folder(path: Path) -> Path:
    if path.exists() and not path.is_dir():
        raise InvalidInputError(f"{path} is a file; name a folder for this export")
    path.mkdir(parents=True, exist_ok=True)
    return path.resolve()


def export_text_run(lib, run_id: int, fmt: str, path=None, state: JobState | None = None, *,
                    force: bool = False, follow_symlinks: bool = False) -> ExportReport:
    """Write a text run as ONNX (+ tokenizer.json, card, predict.py) or as a Hugging Face folder,
    check parity from raw held-out texts in a fresh process and record the export; an export
    that disagrees is kept and flagged (ok=False)."""
    state = state or JobState()
    targets = text_export_targets(lib, run_id, fmt, path, force=force, follow_symlinks=follow_symlinks)
    state.set_progress(0.02, f"loading run {run_id}")
    classifier = load_text_run(lib, run_id)
    split, texts = held_out_texts(lib, run_id)
    state.check_cancelled()
    state.set_progress(0.1, f"writing {targets.model.name}")
    if fmt == "onnx":
        write_text_onnx(classifier, targets.model)
        text = classifier.tokenizer.to_str()  # the prepared tokenizer: cut at max length, no padding
        write_via_temp(targets.copies[TOKENIZER_NAME], lambda tmp: tmp.write_text(text, encoding="utf-8"))
    else:
        copy_hf_folder(run_dir(lib, run_id), targets)
    write_text_card(classifier, fmt, targets)
    write_text_example(fmt, targets, classifier)
    state.check_cancelled()
    state.set_progress(0.4, f"checking parity on {len(texts)} {split} texts in a fresh process")
    parity = check_text_parity(classifier, fmt, targets.model, split, texts)
    parity["file_sha256"] = file_sha256(_hashed_file(fmt, targets.model))
    write_text_card(classifier, fmt, targets, {"parity": {k: v for k, v in parity.items() if k != "file_sha256"}})
    export_id = _record(lib, run_id, fmt, targets.model, parity)
    state.set_progress(1.0, "export done" if parity["ok"] else "export done: PARITY FAILED")
    return ExportReport(export_id, run_id, fmt, str(targets.model), str(targets.card), str(targets.example), parity,
                        bool(parity["ok"]), kind="text")


def _hashed_file(fmt: str, model: Path) -> Path:
    """The file whose hash says the export is unchanged: the ONNX file, or the folder's weights."""
    return model / WEIGHTS_NAME if fmt == "hf" else model


# --- writing -------------------------------------------------------------------------------------

class _ProbabilitiesAndLogits(torch.nn.Module):
    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor):
        logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits.float()
        return torch.softmax(logits, dim=1), logits


def trace_inputs(classifier: TextClassifier) -> tuple[torch.Tensor, torch.Tensor]:
    """Two tokenized sentences of different lengths, padded: the graph sees real padding."""
    from studio.train.text.batching import pad_batch

    tokens = classifier.tokenize(["An example sentence to trace the model with, longer than the other.", "Short."])
    input_ids, mask = pad_batch(tokens, np.arange(2), classifier.pad_id)
    return input_ids, mask


def write_text_onnx(classifier: TextClassifier, path: Path) -> None:
    from studio.export.predictor import import_onnxruntime

    import_onnxruntime()
    try:
        import onnx
    except ImportError as exc:
        raise InvalidInputError("ONNX export needs the onnx package, which is not installed",
                                hint="pip install 'model-studio[onnx]'") from exc
    config = classifier.model.config
    longest = min(classifier.max_length, int(getattr(config, "max_position_embeddings", classifier.max_length)))
    batch, sequence = torch.export.Dim("batch", min=1, max=65536), torch.export.Dim("sequence", min=1, max=longest)
    module = _ProbabilitiesAndLogits(classifier.model.cpu()).eval()

    def save(tmp: Path) -> None:
        noise = io.StringIO()  # the exporter prints on stdout, which must stay JSON lines
        try:
            with contextlib.redirect_stdout(noise), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(module, trace_inputs(classifier), str(tmp), input_names=INPUT_NAMES,
                                  output_names=OUTPUT_NAMES, dynamic_shapes=({0: batch, 1: sequence},) * 2,
                                  opset_version=ONNX_OPSET, dynamo=True, external_data=False, verbose=False)
            model = onnx.load(str(tmp))
        except Exception as exc:  # the exporter raises many types; one line for the user
            raise InvalidInputError(f"ONNX export of the text model failed ({_first_line(exc)})") from exc
        model.doc_string = "Model Studio text classifier: input_ids + attention_mask (int64) -> probabilities, logits"
        for key, value in (("classes", json.dumps(classifier.classes)), ("model_card", card_text(classifier, "onnx", path))):
            entry = model.metadata_props.add()
            entry.key, entry.value = key, value
        onnx.save(model, str(tmp))

    write_via_temp(path, save)


def copy_hf_folder(source: Path, targets: TextTargets) -> None:
    for name, target in targets.copies.items():
        write_via_temp(target, lambda tmp, name=name: shutil.copyfile(source / name, tmp))


def text_input_description(classifier: TextClassifier, fmt: str) -> dict[str, Any]:
    if fmt == "hf":
        return {"tokenizer": "AutoTokenizer.from_pretrained(folder)",
                "call": "tokenizer(texts, padding=True, truncation=True, return_tensors='pt')",
                "max_length": classifier.max_length}
    return {"names": INPUT_NAMES, "dtype": "int64", "shape": ["batch", "sequence"], "tokenizer": TOKENIZER_NAME,
            "max_length": classifier.max_length, "pad_id": classifier.pad_id,
            "note": f"{TOKENIZER_NAME} cuts each text at max_length tokens and pads nothing: pad each batch to its "
                    "longest text with pad_id; attention_mask is 1 on tokens, 0 on padding"}


def card_text(classifier: TextClassifier, fmt: str, model: Path, extra: dict[str, Any] | None = None) -> str:
    """The exported card: the run's card (without image-only fields) plus how to feed this export."""
    data = {k: v for k, v in asdict(classifier.card).items() if k not in IMAGE_ONLY_FIELDS} if classifier.card else {}
    data.setdefault("classes", classifier.classes)
    data["kind"] = "text"
    outputs = {"probabilities": "float32 [batch, classes], softmax of the logits", "logits": "float32 [batch, classes]"}
    data["export"] = {"format": fmt, "file": model.name, "input": text_input_description(classifier, fmt),
                      "outputs": outputs if fmt == "onnx" else {"logits": "model(**batch).logits; softmax gives probabilities"},
                      "classes": classifier.classes, **(extra or {})}
    return json.dumps(data, indent=2, default=str)


def write_text_card(classifier: TextClassifier, fmt: str, targets: TextTargets, extra: dict[str, Any] | None = None) -> None:
    text = card_text(classifier, fmt, targets.model, extra)
    write_via_temp(targets.card, lambda tmp: tmp.write_text(text, encoding="utf-8"))


# --- parity --------------------------------------------------------------------------------------

FALLBACK_TEXTS = [  # a run whose dataset is gone: the numbers' parity still holds on these
    "A short sentence.", "This is wonderful, I loved every minute of it!", "Terrible. I want my time back.",
    "The meeting moved to Thursday at three in the afternoon, in the small room next to the library.",
    " ".join(["A long text that goes on and on, well past the model's maximum length,"] * 40), "ok",
]


def held_out_texts(lib, run_id: int, limit: int = MAX_SAMPLES) -> tuple[str, list[str]]:
    """(split name, texts) of the run's dataset: test, else val, else train; fixed sentences when
    the dataset is gone."""
    from sqlalchemy import select

    from studio.data.text.samples import TEXT_FORMAT
    from studio.store.models import Run, Sample

    with lib.session() as s:
        run = s.get(Run, int(run_id))
        dataset_id = run.dataset_id if run is not None else None
    if dataset_id is not None:
        for split in ("test", "val", "train"):
            with lib.session() as s:
                blobs = s.scalars(select(Sample.blob).where(Sample.dataset_id == dataset_id, Sample.split == split,
                                                            Sample.format == TEXT_FORMAT)
                                  .order_by(Sample.id).limit(limit)).all()
            texts = [text for text in (_read_blob(lib, blob) for blob in blobs) if text is not None]
            if texts:
                return split, texts
    return "example", list(FALLBACK_TEXTS)


def _read_blob(lib, blob: str) -> str | None:
    try:
        return lib.blobs.read(blob).decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None  # a damaged blob is the store's business; parity uses the rest


def run_text_in_fresh_process(fmt: str, model: Path, texts: list[str]) -> tuple[np.ndarray, dict[str, Any]]:
    with tempfile.TemporaryDirectory(prefix="studio-parity-") as tmp:
        inputs, outputs = Path(tmp) / "texts.json", Path(tmp) / "outputs.npz"
        inputs.write_text(json.dumps(texts), encoding="utf-8")
        proc = subprocess.run(child_command(f"text-{fmt}", model, inputs, outputs), check=False, capture_output=True, text=True,
                              timeout=CHILD_TIMEOUT_S)
        if proc.returncode != 0 or not outputs.exists():
            tail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]
            return np.zeros((0,)), {"error": f"the export failed to run in a fresh process: {tail}"}
        with np.load(outputs) as out:
            return np.asarray(out["outputs"]), {"runtime": str(out["runtime"]), "studio_loaded": bool(out["studio_loaded"])}


def check_text_parity(classifier: TextClassifier, fmt: str, model: Path, split: str, texts: list[str]) -> dict[str, Any]:
    """The export's probabilities (its own tokenizer and runtime, fresh process) against the
    studio's on the same raw texts: within MAX_PROB_DIFF and the same top class on every text."""
    started = time.perf_counter()
    tokens = classifier.tokenize(texts)
    expected = classifier.probabilities(tokens)
    got, info = run_text_in_fresh_process(fmt, model, texts)
    report: dict[str, Any] = {"kind": "text", "split": split, "n": len(texts), "threshold": MAX_PROB_DIFF,
                              "texts_cut": tokens.truncated_count, **info}
    if "error" in info or got.shape != expected.shape:
        report.setdefault("error", f"the export gives outputs of shape {got.shape}, the studio {expected.shape}")
        report.update(agreement=0.0, max_prob_diff=None, ok=False)
    else:
        report.update(probability_agreement(got, expected))
    report["seconds"] = round(time.perf_counter() - started, 3)
    return report


def parity_summary(parity: dict[str, Any]) -> str:
    """One line for the CLI: what was compared and how closely."""
    if "error" in parity:
        return f"PARITY FAILED: {parity['error']}"
    verdict = "OK" if parity.get("ok") else "PARITY FAILED"
    return (f"parity {verdict}: top-1 agreement {parity['agreement']:.2%} on {parity['n']} {parity['split']} texts, "
            f"max probability difference {parity['max_prob_diff']:.2e} ({parity.get('runtime', '')}, fresh process)")


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return (lines[0] if lines else type(exc).__name__)[:200]
