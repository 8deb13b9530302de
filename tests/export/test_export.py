"""Export -> load back in a fresh process with only its runtime -> same answers as the studio."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from studio.core.errors import InvalidInputError, NotFoundError
from studio.export.predictor import open_predictor
from studio.export.registry import list_exports
from studio.export.service import export_run

SUFFIX = {"onnx": ".onnx", "torchscript": ".pt", "safetensors": ".safetensors"}


@pytest.fixture
def exports(digits_exports):
    return digits_exports


@pytest.mark.parametrize("fmt", list(SUFFIX))
def test_export_agrees_with_the_studio_on_the_test_split(exports, fmt):
    report = exports[fmt]
    parity = report.parity
    assert report.ok, parity
    assert parity["split"] == "test" and parity["n"] == 150
    assert parity["agreement"] == 1.0 and parity["top1_agree"] == 150
    assert parity["max_prob_diff"] < 1e-4
    if fmt != "safetensors":  # loaded by its runtime alone: no studio module in the child process
        assert parity["studio_loaded"] is False


@pytest.mark.parametrize("fmt", list(SUFFIX))
def test_export_is_recorded_with_its_parity(exports, digits_lib, fmt):
    report = exports[fmt]
    rows = {row["id"]: row for row in list_exports(digits_lib, report.run_id)}
    row = rows[report.export_id]
    assert row["format"] == fmt and row["path"] == report.path and row["ok"] is True
    assert row["parity"]["n"] == 150 and row["parity"]["max_prob_diff"] < 1e-4
    card = json.loads(open(report.card_path).read())
    assert card["classes"] == [str(d) for d in range(10)] and card["export"]["format"] == fmt
    assert card["export"]["parity"]["ok"] is True


@pytest.mark.parametrize("fmt", list(SUFFIX))
def test_example_script_prints_the_studio_top_classes(exports, digits_lib, digit_files, fmt):
    report = exports[fmt]
    proc = subprocess.run([sys.executable, report.example_path, *map(str, digit_files)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = [line.split("\t") for line in proc.stdout.strip().splitlines()]
    studio = open_predictor(report.run_id, digits_lib)
    expected = []
    for file in digit_files:
        result = studio.predict_file(file, k=3)
        expected += [[str(file), name, f"{p:.4f}"] for name, p in result.top]
    assert [line[:2] for line in lines] == [row[:2] for row in expected]
    assert all(abs(float(a[2]) - float(b[2])) <= 1.5e-4 for a, b in zip(lines, expected))


@pytest.mark.parametrize("fmt", list(SUFFIX))
def test_predicting_with_the_file_matches_the_run(exports, digits_lib, digit_files, fmt):
    report = exports[fmt]
    studio = open_predictor(str(report.run_id), digits_lib)
    exported = open_predictor(report.path, digits_lib)  # own TorchScript export: trusted by hash
    assert exported.classes == studio.classes
    images = [studio.decode(f) for f in digit_files]
    a, b = studio.predict(images), exported.predict(images)
    assert (a.argmax(1) == b.argmax(1)).all() and np.abs(a - b).max() < 1e-4
    assert (a.argmax(1)[:10] == np.arange(10)).sum() >= 8  # the model really learned digits


def test_grayscale_model_reads_colour_files_as_grey(exports, digits_lib, digit_files):
    onnx = open_predictor(exports["onnx"].path)
    colour, grey = onnx.predict_file(digit_files[-1]), onnx.predict_file(digit_files[9])
    assert colour.top[0][0] == grey.top[0][0]


def test_parity_disagreement_is_flagged_not_hidden(exports, digits_lib):
    from studio.export.parity import check_parity, held_out_images

    report = exports["onnx"]

    class Shifted:  # a "studio model" that disagrees with the file on purpose
        classes = [str(d) for d in range(10)]

        def predict(self, images):
            probs = open_predictor(report.run_id, digits_lib).predict(images)
            return np.roll(probs, 1, axis=1)

    split, images = held_out_images(digits_lib, report.run_id, 1, 16)
    result = check_parity(Shifted(), "onnx", report.path, split, images)
    assert result["ok"] is False and result["agreement"] < 0.5 and result["max_prob_diff"] > 0.1


def test_broken_export_file_is_flagged(exports, tmp_path, digits_lib):
    from studio.export.parity import check_parity

    bad = tmp_path / "broken.onnx"
    bad.write_bytes(b"not an onnx file")
    studio = open_predictor(exports["onnx"].run_id, digits_lib)
    result = check_parity(studio, "onnx", bad, "test", [np.zeros((8, 8, 1), np.uint8)])
    assert result["ok"] is False and "fresh process" in result["error"]


def test_onnx_missing_says_how_to_get_it(digits_run, digits_lib, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    target = tmp_path / "model.onnx"
    with pytest.raises(InvalidInputError) as err:
        export_run(digits_lib, digits_run[1], "onnx", target)
    assert "pip install 'model-studio[onnx]'" in str(err.value)
    assert not target.exists()


def test_bad_export_requests(digits_lib, digits_run, tmp_path):
    with pytest.raises(NotFoundError, match="no run 999"):
        export_run(digits_lib, 999, "onnx", tmp_path / "m.onnx")
    with pytest.raises(InvalidInputError, match="must end in .onnx"):
        export_run(digits_lib, digits_run[1], "onnx", tmp_path / "m.pt")
    with pytest.raises(InvalidInputError, match="unknown export format"):
        export_run(digits_lib, digits_run[1], "tflite", tmp_path / "m.tflite")
    from studio.store.models import Run

    with digits_lib.transaction() as s:
        run = Run(model="simple-cnn", status="running")
        s.add(run)
        s.flush()
        unfinished = run.id
    with pytest.raises(NotFoundError, match="no trained model yet"):
        export_run(digits_lib, unfinished, "onnx", tmp_path / "m.onnx")
