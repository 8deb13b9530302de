"""Exporting a text run: ONNX (+ tokenizer.json, card, predict.py) and a Hugging Face folder, each
checked from raw held-out texts through its own tokenizer and runtime in a fresh process; the
example script and plain transformers give the studio's classes."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
pytest.importorskip("transformers")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train" / "text"))
from text_runs import shared_text_library

from studio.core.errors import InvalidInputError
from studio.export.service import export_run
from studio.export.targets import TargetExists
from studio.export.text import check_text_parity, held_out_texts
from studio.store.library import Library
from studio.train.text.inference import load_text_run


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """A copy of the shared text library with its run exported as ONNX (default place) and as a
    Hugging Face folder (a folder the user named)."""
    template, run_id = shared_text_library(tmp_path_factory)
    root = tmp_path_factory.mktemp("text-export")
    shutil.copytree(template, root / "library")
    lib = Library.open(root / "library")
    onnx_report = export_run(lib, run_id, "onnx")
    hf_report = export_run(lib, run_id, "hf", root / "my model")
    yield lib, run_id, onnx_report, hf_report
    lib.close()


@pytest.fixture(scope="module")
def studio_answers(exported):
    """The held-out texts and the studio's probabilities for them (what every export must give)."""
    lib, run_id, _onnx, _hf = exported
    split, texts = held_out_texts(lib, run_id)
    assert split == "test" and len(texts) == 44
    return texts, load_text_run(lib, run_id).probabilities(texts)


def test_onnx_export_writes_model_tokenizer_card_and_example_and_passes_parity(exported):
    import onnxruntime
    from tokenizers import Tokenizer

    lib, run_id, report, _hf = exported
    model = Path(report.path)
    assert model == Path(lib.exports_dir).resolve() / f"run-{run_id}" / "onnx" / "model.onnx"
    assert sorted(p.name for p in model.parent.iterdir()) == ["model.json", "model.onnx", "predict.py", "tokenizer.json"]
    assert report.kind == "text" and report.ok and report.example_path == str(model.parent / "predict.py")

    parity = report.parity
    assert parity["kind"] == "text" and parity["split"] == "test" and parity["n"] == 44
    assert parity["agreement"] == 1.0 and parity["max_prob_diff"] < 1e-4 and parity["ok"]
    assert parity["runtime"].startswith("tokenizers + onnxruntime") and parity["studio_loaded"] is False

    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    inputs = {i.name: i for i in session.get_inputs()}
    assert set(inputs) == {"input_ids", "attention_mask"}
    for item in inputs.values():  # int64 with both axes dynamic (named, not numbers)
        assert item.type == "tensor(int64)" and all(isinstance(d, str) for d in item.shape)
    assert [o.name for o in session.get_outputs()] == ["probabilities", "logits"]

    tokenizer = json.loads((model.parent / "tokenizer.json").read_text(encoding="utf-8"))
    assert tokenizer["padding"] is None and tokenizer["truncation"]["max_length"] == 48
    card = json.loads(Path(report.card_path).read_text(encoding="utf-8"))
    assert card["kind"] == "text" and card["classes"] == ["neg", "pos"] and "image_size" not in card
    feed = card["export"]["input"]
    assert feed["names"] == ["input_ids", "attention_mask"] and feed["pad_id"] == 0 and feed["max_length"] == 48
    assert card["export"]["parity"]["ok"] is True and "probabilities" in card["export"]["outputs"]
    long_ids = Tokenizer.from_file(str(model.parent / "tokenizer.json")).encode("word " * 500).ids
    assert len(long_ids) == 48  # cut at the run's max length, as the studio cuts it

    from studio.export.registry import list_exports

    (row,) = [e for e in list_exports(lib, run_id) if e["format"] == "onnx"]
    assert row["ok"] and row["path"] == report.path and row["parity"]["file_sha256"]


def test_onnx_predict_script_prints_the_studio_classes(exported, studio_answers, tmp_path):
    """predict.py in a fresh interpreter (-I: nothing of the studio on its path), texts from a
    file and from the command line."""
    _lib, _run, report, _hf = exported
    texts, probabilities = studio_answers
    lines = tmp_path / "texts.txt"
    lines.write_text("\n".join(" ".join(t.split()) for t in texts[1:]) + "\n\n", encoding="utf-8")
    proc = subprocess.run([sys.executable, "-I", report.example_path, texts[0], "--file", str(lines)],
                          check=False, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    printed = [line.split("\t") for line in proc.stdout.splitlines()]
    assert len(printed) == len(texts)
    classes = ["neg", "pos"]
    assert [row[0] for row in printed] == [classes[i] for i in probabilities.argmax(axis=1)]
    assert {row[0] for row in printed} == {"neg", "pos"}
    assert np.allclose([float(row[1]) for row in printed], probabilities.max(axis=1), atol=1e-4)
    assert [row[2] for row in printed] == [" ".join(t.split()) for t in texts]


def test_hf_folder_loads_with_plain_transformers_and_matches(exported, studio_answers):
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    _lib, _run, _onnx, report = exported
    folder = Path(report.path)
    assert folder.name == "my model" and report.kind == "text" and report.ok
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["README.md", "config.json", "model.json", "model.safetensors", "predict.py", "tokenizer.json",
                     "tokenizer_config.json"]  # never checkpoint.pt: a pickle of the training state
    parity = report.parity
    assert parity["runtime"].startswith("transformers") and parity["agreement"] == 1.0 and parity["max_prob_diff"] < 1e-4
    assert parity["studio_loaded"] is False

    texts, probabilities = studio_answers
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    model = AutoModelForSequenceClassification.from_pretrained(str(folder)).eval()
    assert model.config.id2label == {0: "neg", 1: "pos"}
    with torch.inference_mode():
        inputs = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        got = torch.softmax(model(**inputs).logits, dim=1).numpy()
    assert np.array_equal(got.argmax(axis=1), probabilities.argmax(axis=1))
    assert np.abs(got - probabilities).max() < 1e-4
    assert "AutoModelForSequenceClassification.from_pretrained" in (folder / "README.md").read_text(encoding="utf-8")


def test_parity_flags_an_export_that_disagrees(exported, studio_answers):
    """A studio model whose head is changed no longer matches the file: flagged, with numbers."""
    import torch

    lib, run_id, report, _hf = exported
    texts, _probabilities = studio_answers
    changed = load_text_run(lib, run_id)
    changed.model = copy.deepcopy(changed.model)
    with torch.no_grad():
        head = changed.model.classifier
        head.weight.copy_(head.weight.flip(0))  # swaps what the two classes mean
        head.bias.copy_(head.bias.flip(0))
    parity = check_text_parity(changed, "onnx", Path(report.path), "test", texts)
    assert parity["ok"] is False and parity["agreement"] < 0.5 and parity["max_prob_diff"] > 0.1


def test_image_formats_and_foreign_files_are_refused(exported, tmp_path):
    lib, run_id, _onnx, _hf = exported
    for fmt in ("torchscript", "safetensors"):
        with pytest.raises(InvalidInputError, match=f"a text model exports as onnx .* or hf .*, not {fmt}"):
            export_run(lib, run_id, fmt, tmp_path / "x")
    assert not (tmp_path / "x").exists()
    folder = tmp_path / "theirs"
    folder.mkdir()
    (folder / "README.md").write_text("the user's own notes", encoding="utf-8")
    with pytest.raises(TargetExists, match="README.md already exists"):
        export_run(lib, run_id, "hf", folder)
    assert [p.name for p in folder.iterdir()] == ["README.md"]
    with pytest.raises(InvalidInputError, match="must end in .onnx"):
        export_run(lib, run_id, "onnx", tmp_path / "model.pt")


def test_exporting_again_replaces_its_own_files(exported):
    """The same export again (same place) needs no --force: the files are this library's own."""
    from studio.export.text import text_export_targets

    lib, run_id, onnx_report, hf_report = exported
    for report in (onnx_report, hf_report):
        targets = text_export_targets(lib, run_id, report.format, report.path)
        assert str(targets.model) == report.path


def test_a_run_whose_dataset_is_gone_is_checked_on_fixed_sentences(exported, tmp_path_factory, tmp_path):
    """Parity still holds on fixed sentences, one of them longer than the max length (cut alike)."""
    from studio.export.text import FALLBACK_TEXTS
    from studio.store.datasets import delete_dataset
    from studio.store.models import Run

    _lib, _run, onnx_report, _hf = exported
    template, run_id = shared_text_library(tmp_path_factory)
    shutil.copytree(template, tmp_path / "library")
    lib = Library.open(tmp_path / "library")
    try:
        with lib.session() as s:
            dataset_id = s.get(Run, run_id).dataset_id
        delete_dataset(lib, dataset_id)
        split, texts = held_out_texts(lib, run_id)
        assert split == "example" and texts == FALLBACK_TEXTS
        parity = check_text_parity(load_text_run(lib, run_id), "onnx", Path(onnx_report.path), split, texts)
    finally:
        lib.close()
    assert parity["ok"] and parity["n"] == len(FALLBACK_TEXTS) and parity["texts_cut"] == 1
