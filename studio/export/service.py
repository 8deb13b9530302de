"""Export a run (a plain job function: ``export_run(lib, run_id, fmt, path, state)``), and import
models made elsewhere. Both run headless; the CLI and the Export page call the same functions."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from studio.core.errors import InvalidInputError, NotFoundError, StudioError
from studio.core.jobs import JobState
from studio.core.limits import limits
from studio.export import writers
from studio.export.examples import example_path_for, write_example
from studio.export.loading import card_path_for, is_torchscript, load_run, read_card, safe_torch_load
from studio.export.parity import check_parity, held_out_images
from studio.export.predictor import EngineClassifier, TorchPredictor, refuse_table_export
from studio.export.registry import add_imported, file_sha256, slug
from studio.export.targets import check_target, output_path, read_head
from studio.export.wrapper import wrap


@dataclass
class ExportReport:
    export_id: int
    run_id: int
    format: str
    path: str
    card_path: str
    example_path: str
    parity: dict[str, Any] = field(default_factory=dict)
    ok: bool = False
    kind: str = "image"  # the kind of data the model takes: "image" | "table" | "text"

    def to_json(self) -> dict[str, Any]:
        return {"event": "export", **asdict(self)}


def default_export_path(lib, run_id: int, fmt: str) -> Path:
    """One folder per format, so the model cards of two formats never share a name."""
    if fmt == "hf":  # a Hugging Face folder (text runs) is the folder itself
        return Path(lib.exports_dir) / f"run-{run_id}" / fmt
    return Path(lib.exports_dir) / f"run-{run_id}" / fmt / f"model{writers.SUFFIXES[fmt]}"


@dataclass(frozen=True)
class ExportTargets:
    model: Path
    card: Path
    example: Path


def export_targets(lib, run_id: int, fmt: str, path: str | Path | None, *, force: bool = False,
                   follow_symlinks: bool = False) -> ExportTargets:
    """The three files an export writes, checked before anything is written: none may be a
    symlink (unless ``follow_symlinks``) or an existing file that is not this library's own
    earlier export of the same name (unless ``force``). A text run's export writes other files
    (``studio.export.text.text_export_targets``)."""
    from studio.export.table_model import run_model_kind

    if run_model_kind(lib, run_id) == "text":
        from studio.export.text import text_export_targets

        return text_export_targets(lib, run_id, fmt, path, force=force, follow_symlinks=follow_symlinks)
    if fmt == "hf":
        raise InvalidInputError("a Hugging Face folder (hf) is the export of a text model",
                                hint="an image model exports as " + ", ".join(writers.FORMATS))
    if fmt not in writers.FORMATS:
        raise InvalidInputError(f"unknown export format {fmt!r}", hint="use " + ", ".join(writers.FORMATS))
    path = output_path(path, follow_symlinks=follow_symlinks) if path else default_export_path(lib, run_id, fmt)
    if path.is_dir():
        path = path / f"model{writers.SUFFIXES[fmt]}"
    if path.suffix.lower() != writers.SUFFIXES[fmt] and not (fmt == "torchscript" and path.suffix.lower() in (".pt", ".ts", ".pth")):
        raise InvalidInputError(f"{path.name}: a {fmt} export must end in {writers.SUFFIXES[fmt]}")
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
    path = path.parent.resolve() / path.name  # folders above are the user's choice; the file is checked below
    options = {"force": force, "follow_symlinks": follow_symlinks}
    model = check_target(path, owned=lambda p: _is_recorded_export(lib, p), **options)
    card = check_target(model.with_suffix(".json"), owned=lambda p: _is_export_card(p, model.name), **options)
    example = check_target(example_path_for(model), owned=_is_generated_example, **options)
    return ExportTargets(model, card, example)


def _is_recorded_export(lib, path: Path) -> bool:
    from sqlalchemy import select

    from studio.store.models import Export

    with lib.session() as s:
        return s.scalar(select(Export.id).where(Export.path == str(path.resolve())).limit(1)) is not None


def _is_export_card(path: Path, model_name: str) -> bool:
    """An export card this studio wrote for a model file of this name (safe to rewrite)."""
    head = read_head(path, limits().max_card_bytes + 1)
    try:
        data = json.loads(head)
    except (ValueError, RecursionError):
        return False
    export = data.get("export") if isinstance(data, dict) else None
    return isinstance(export, dict) and export.get("file") == model_name


def _is_generated_example(path: Path) -> bool:
    head = read_head(path, 512)
    return head.startswith((b'"""Top classes of images with', b'"""Predictions for the rows of a CSV with')) \
        and b"(exported by Model Studio" in head


def export_run(lib, run_id: int, fmt: str, path: str | Path | None = None, state: JobState | None = None, *,
               force: bool = False, follow_symlinks: bool = False) -> ExportReport:
    """Write the run's model as ``fmt`` to ``path`` (+ card + example), check parity in a fresh
    process and record the export. An export that disagrees is kept and flagged (ok=False).
    Existing files that are not this library's own exports are replaced only with ``force``;
    symlinks are written through only with ``follow_symlinks``."""
    from studio.export.table_model import run_model_kind

    kind = run_model_kind(lib, run_id)
    if kind == "table":
        from studio.export.tables import export_table_run

        return export_table_run(lib, run_id, fmt, path, state, force=force, follow_symlinks=follow_symlinks)
    if kind == "text":
        from studio.export.text import export_text_run

        return export_text_run(lib, run_id, fmt, path, state, force=force, follow_symlinks=follow_symlinks)
    state = state or JobState()
    targets = export_targets(lib, run_id, fmt, path, force=force, follow_symlinks=follow_symlinks)
    path = targets.model
    state.set_progress(0.02, f"loading run {run_id}")
    network, card = load_run(lib, run_id)
    state.check_cancelled()
    state.set_progress(0.1, f"writing {path.name}")
    if fmt == "onnx":
        writers.write_onnx(wrap(network, card), card, path)
    elif fmt == "torchscript":
        writers.write_torchscript(wrap(network, card), card, path)
    else:
        writers.write_safetensors(network, card, path)
    card_path = writers.write_card(card, fmt, path, target=targets.card)
    example = write_example(fmt, path, card_path, card, target=targets.example)
    state.check_cancelled()
    state.set_progress(0.5, "checking parity")
    split, images = held_out_images(lib, run_id, card.in_channels, card.image_size)
    reference = TorchPredictor(EngineClassifier(network, card), card.classes, card.in_channels, "cpu", f"run {run_id}", "run")
    parity = check_parity(reference, fmt, path, split, images,
                          JobState(on_progress=lambda f, m: state.set_progress(0.5 + 0.45 * f, m)))
    parity["file_sha256"] = file_sha256(path)
    writers.write_card(card, fmt, path, {"parity": {k: v for k, v in parity.items() if k != "file_sha256"}},
                       target=targets.card)
    export_id = _record(lib, run_id, fmt, path, parity)
    state.set_progress(1.0, "export done" if parity["ok"] else "export done: PARITY FAILED")
    return ExportReport(export_id, run_id, fmt, str(path), str(card_path), str(example), parity, bool(parity["ok"]))


def _record(lib, run_id: int, fmt: str, path: Path, parity: dict[str, Any]) -> int:
    from studio.store.models import Export

    with lib.transaction() as s:
        row = Export(run_id=run_id, format=fmt, path=str(path), parity=parity, ok=bool(parity["ok"]))
        s.add(row)
        s.flush()
        return row.id


def import_model(lib, file: str | Path, name: str | None = None, trust: bool = False) -> dict[str, Any]:
    """Copy a model made elsewhere into the library for Play (ONNX) or fine-tuning (safetensors,
    weights-only .pt, trusted TorchScript). Nothing is unpickled beyond weights_only."""
    file = Path(file).expanduser()
    if not file.is_file():
        raise NotFoundError(f"no such model file: {file}")
    suffix = file.suffix.lower()
    refuse_table_export(file)  # rows in, not images: Play and predict use its run instead
    card_path = card_path_for(file)
    card = read_card(card_path) if card_path.is_file() else None
    name = name or file.stem
    if suffix == ".onnx":
        from studio.export.predictor import OnnxPredictor

        predictor = OnnxPredictor(file, "cpu")  # proves onnxruntime can load it and finds its classes
        files = [file] + ([card_path] if card else [])
        entry = {"format": "onnx", "uses": ["play"], "classes": predictor.classes, "trusted": False}
    elif suffix == ".safetensors" or (suffix in (".pt", ".pth") and not is_torchscript(file)):
        if card is None:
            raise InvalidInputError(f"{file.name} needs its model card {card_path.name} beside it (architecture, classes)")
        from studio.export.loading import load_weights_and_card

        if suffix != ".safetensors":
            safe_torch_load(file)  # a pickle that needs code is refused here; its payload never runs
        network, card = load_weights_and_card(file, card_path)
        entry = {"format": "safetensors", "uses": ["play", "finetune"], "classes": card.classes, "trusted": False,
                 "architecture": card.architecture}
        return _import_weights(lib, name, file, network, card, entry)
    elif suffix in (".pt", ".pth", ".ts", ".torchscript", ".jit"):
        if not trust:
            raise InvalidInputError(
                f"{file.name} is TorchScript, which can run code when loaded",
                hint="import it only if you trust where it came from: pass --trust",
            )
        if card is None:
            raise InvalidInputError(f"{file.name} needs its model card {card_path.name} beside it (classes, input size)")
        from studio.export.loading import load_torchscript

        module = load_torchscript(file, trusted=True)
        entry = {"format": "torchscript", "uses": ["play"], "classes": card.classes, "trusted": True,
                 "architecture": card.architecture}
        entry["source"] = str(file.resolve())
        weights = _torchscript_weights(module, card)
        with tempfile.TemporaryDirectory(prefix="studio-import-") as tmp:
            files = [file, card_path]
            if weights is not None:  # a studio export: its weights also serve fine-tuning
                extra = Path(tmp) / f"{slug(name)}.safetensors"
                writers.write_safetensors(weights, card, extra)
                files.append(extra)
                entry.update(uses=["play", "finetune"], weights=extra.name)
            record = add_imported(lib, name, files, entry)
        return _with_weights_path(record)
    else:
        raise InvalidInputError(f"{file.name}: unknown model format", hint="use .onnx, .safetensors, .pt")
    entry["source"] = str(file.resolve())
    return add_imported(lib, name, files, entry)


def _import_weights(lib, name, file: Path, network, card, entry) -> dict[str, Any]:
    """Weights are stored as safetensors whatever they came as, so nothing pickled is kept."""
    entry["source"] = str(file.resolve())
    with tempfile.TemporaryDirectory(prefix="studio-import-") as tmp:
        weights = Path(tmp) / f"{slug(name)}.safetensors"
        writers.write_safetensors(network, card, weights)
        shutil.copy2(card_path_for(file), weights.with_suffix(".json"))
        entry["weights"] = weights.name
        return _with_weights_path(add_imported(lib, name, [weights, weights.with_suffix(".json")], entry))


def _with_weights_path(record: dict[str, Any]) -> dict[str, Any]:
    """Where `studio train --pretrained` finds the weights of a model imported for fine-tuning."""
    if record.get("weights"):
        record = {**record, "weights_path": str(Path(record["path"]).parent / record["weights"])}
    return record


def _torchscript_weights(module, card):
    """The network inside a studio TorchScript export as a zoo model, or None (made elsewhere)."""
    from studio.train.zoo import build_model

    prefix = "network."
    state = {k[len(prefix):]: v for k, v in module.state_dict().items() if k.startswith(prefix)}
    if not state:
        return None
    try:
        network = build_model(card.architecture, len(card.classes), card.in_channels, card.image_size)
        network.load_state_dict(state)
    except (RuntimeError, StudioError):
        return None
    return network
