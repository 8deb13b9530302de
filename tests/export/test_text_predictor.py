"""Predicting with a text run as Play and `studio predict` do: one typed sentence, a file of texts
to a CSV of predictions, a Hugging Face folder opened as a model; the numbers are Evaluate's
(TextClassifier). Real Rotten Tomatoes sentences and a trained tiny BERT (text_runs.py)."""

from __future__ import annotations

import csv
import shutil
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train" / "text"))
from text_runs import shared_text_library

from studio.core.errors import Cancelled, InvalidInputError, NotFoundError
from studio.core.jobs import JobState
from studio.export.play import playable_models
from studio.export.predict_texts import read_texts_to_predict
from studio.export.predictor import open_predictor
from studio.store.library import Library
from studio.train.run_files import run_dir
from studio.train.text.inference import load_text_run

POSITIVE = "a delightful, charming and heartfelt comedy"


@pytest.fixture(scope="module")
def text_lib(tmp_path_factory):
    template, run_id = shared_text_library(tmp_path_factory)
    home = tmp_path_factory.mktemp("text-predict") / "library"
    shutil.copytree(template, home)
    lib = Library.open(home)
    yield lib, run_id
    lib.close()


@pytest.fixture(scope="module")
def reviews():
    from text_runs import rotten_tomatoes

    return rotten_tomatoes()


def test_a_text_run_gives_a_text_predictor_with_evaluates_numbers(text_lib, reviews):
    lib, run_id = text_lib
    predictor = open_predictor(str(run_id), lib)
    assert (predictor.kind, predictor.classes, predictor.device, predictor.label) == ("text", ["neg", "pos"], "cpu", f"run {run_id}")
    classifier = load_text_run(lib, run_id)
    texts, labels = reviews

    probabilities, truncated = predictor.predict_texts(texts)  # in chunks of 256: the chunking changes nothing
    np.testing.assert_allclose(probabilities, classifier.probabilities(texts), atol=1e-6)
    np.testing.assert_array_equal(truncated, classifier.tokenize(texts).truncated)
    accuracy = np.mean(np.array(predictor.classes)[probabilities.argmax(axis=1)] == np.array(labels))
    assert accuracy > 0.8  # the trained run, not random weights

    one = predictor.predict_text(texts[0])
    assert [name for name, _ in one.probabilities] == ["neg", "pos"]
    np.testing.assert_allclose([p for _, p in one.probabilities], classifier.probabilities([texts[0]])[0], atol=1e-6)
    assert one.ranked[0] == one.best and one.tokens == len(classifier.tokenize([texts[0]]).ids(0))


def test_a_text_longer_than_max_length_is_cut_and_says_so(text_lib):
    predictor = open_predictor(str(text_lib[1]), text_lib[0])
    short = predictor.predict_text(POSITIVE)
    long = predictor.predict_text(" ".join([POSITIVE] * 20))
    assert not short.truncated and short.tokens < predictor.max_length == 48
    assert long.truncated and long.tokens == predictor.max_length


def test_a_txt_and_a_csv_of_texts_are_predicted_to_a_csv(text_lib, reviews, tmp_path):
    lib, run_id = text_lib
    predictor = open_predictor(str(run_id), lib)
    classifier = load_text_run(lib, run_id)
    texts = reviews[0][:5] + reviews[0][-5:]
    lines = tmp_path / "reviews.txt"
    lines.write_bytes("\n".join(texts[:5]).encode() + b"\n\n  \ncaf\xe9 au lait, tr\xe8s bon\n" + "\n".join(texts[5:]).encode())
    report = predictor.predict_file(lines, tmp_path / "from txt.csv")
    expected_texts = texts[:5] + ["café au lait, très bon"] + texts[5:]
    assert report.texts == 11 and any("Latin-1" in note for note in report.notes)
    with open(tmp_path / "from txt.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["text", "class", "probability", "P(neg)", "P(pos)"]
    assert [r["text"] for r in rows] == expected_texts
    expected = classifier.probabilities(expected_texts)
    np.testing.assert_allclose([[float(r["P(neg)"]), float(r["P(pos)"])] for r in rows], expected, atol=1e-6)
    assert [r["class"] for r in rows] == [["neg", "pos"][i] for i in expected.argmax(axis=1)]
    assert [float(r["probability"]) for r in rows] == pytest.approx(expected.max(axis=1).tolist(), abs=1e-6)

    table = tmp_path / "reviews.csv"
    with open(table, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "review"])
        writer.writerows([[i, t] for i, t in enumerate(texts)] + [[99, ""]])
    report = predictor.predict_file(table, tmp_path / "from csv.csv")
    assert report.texts == 10 and "'review'" in report.notes[0] and any("1 rows" in n for n in report.notes)
    with open(tmp_path / "from csv.csv", encoding="utf-8", newline="") as f:
        assert [r["text"] for r in csv.DictReader(f)] == texts


def test_a_cancelled_file_writes_nothing(text_lib, reviews, tmp_path):
    predictor = open_predictor(str(text_lib[1]), text_lib[0])
    state = JobState(on_progress=lambda fraction, _message: fraction > 0.3 and state.cancel())
    with pytest.raises(Cancelled):
        predictor.write_predictions(reviews[0] * 3, tmp_path / "out.csv", state)  # 900 texts: 4 chunks
    assert list(tmp_path.iterdir()) == []


def test_files_that_hold_no_texts_get_one_clear_message(tmp_path):
    (tmp_path / "empty.txt").write_text("\n \n")
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")
    with pytest.raises(InvalidInputError, match="has no texts"):
        read_texts_to_predict(tmp_path / "empty.txt")
    with pytest.raises(InvalidInputError, match="cannot read texts from a .pdf"):
        read_texts_to_predict(tmp_path / "notes.pdf")
    with pytest.raises(NotFoundError, match="no such file"):
        read_texts_to_predict(tmp_path / "missing.txt")


def test_a_hugging_face_folder_is_a_text_model(text_lib, tmp_path):
    lib, run_id = text_lib
    folder = run_dir(lib, run_id)
    expected = load_text_run(lib, run_id).probabilities([POSITIVE])[0]
    for source in (folder, folder / "config.json", folder / "model.safetensors"):
        predictor = open_predictor(str(source), lib)
        assert predictor.kind == "text" and predictor.classes == ["neg", "pos"] and predictor.label == str(folder)
        np.testing.assert_allclose([p for _, p in predictor.predict_text(POSITIVE).probabilities], expected, atol=1e-6)

    pickled = tmp_path / "pickled"
    pickled.mkdir()
    for name in ("config.json", "tokenizer.json"):
        shutil.copy(folder / name, pickled / name)
    (pickled / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(InvalidInputError, match="pickle"):
        open_predictor(str(pickled))
    with pytest.raises(InvalidInputError, match="not a Hugging Face model folder"):
        open_predictor(str(tmp_path))


def test_the_text_run_is_playable_with_a_note(text_lib):
    lib, run_id = text_lib
    [choice] = [c for c in playable_models(lib) if c.run_id == run_id and c.kind == "run"]
    assert choice.title.endswith(" - text model") and choice.source == str(run_id)


def test_a_text_runs_onnx_export_plays_through_onnxruntime_with_the_runs_numbers(text_lib, reviews, tmp_path):
    """The export's files as studio export writes them (model.onnx, the card model.json, tokenizer.json);
    the graph is made here with the quick tracer: the full export and its parity are the export tests'."""
    pytest.importorskip("onnxruntime")
    import torch

    from studio.export.text import card_text, trace_inputs

    lib, run_id = text_lib
    classifier = load_text_run(lib, run_id)
    model = tmp_path / "model.onnx"

    class Probabilities(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = classifier.model

        def forward(self, input_ids, attention_mask):
            logits = self.model(input_ids=input_ids, attention_mask=attention_mask).logits
            return torch.softmax(logits, dim=1), logits

    axes = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on a graph that is checked below
        torch.onnx.export(Probabilities().eval(), trace_inputs(classifier), str(model), dynamic_axes=axes,
                          input_names=["input_ids", "attention_mask"], output_names=["probabilities", "logits"], dynamo=False)
    (tmp_path / "model.json").write_text(card_text(classifier, "onnx", model), encoding="utf-8")
    classifier.tokenizer.save(str(tmp_path / "tokenizer.json"))

    predictor = open_predictor(str(model), lib)
    assert (predictor.kind, predictor.runtime, predictor.classes, predictor.max_length) == ("text", "onnxruntime", ["neg", "pos"], 48)
    texts = reviews[0][:40] + [" ".join([POSITIVE] * 20)]
    probabilities, truncated = predictor.predict_texts(texts)
    np.testing.assert_allclose(probabilities, classifier.probabilities(texts), atol=1e-5)
    assert truncated.tolist() == classifier.tokenize(texts).truncated.tolist()

    (tmp_path / "tokenizer.json").unlink()
    with pytest.raises(NotFoundError, match="needs tokenizer.json beside it"):
        open_predictor(str(model), lib)
