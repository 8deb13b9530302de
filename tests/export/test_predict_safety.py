"""Predicting and importing models made elsewhere: nothing untrusted is ever unpickled."""

from __future__ import annotations

import os
import pickle
import shutil

import numpy as np
import pytest

from studio.core.errors import InvalidInputError, NotFoundError
from studio.export.predictor import open_predictor
from studio.export.registry import list_imported
from studio.export.service import import_model


class Payload:
    """Unpickling this would create the marker file (and could do anything else)."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def plant(path, marker, card_from=None):
    with open(path, "wb") as fh:
        pickle.dump({"weight": Payload(marker)}, fh)
    if card_from is not None:
        shutil.copy(card_from, path.with_suffix(".json"))
    return path


@pytest.fixture
def exported(digits_exports):
    return digits_exports


def test_planted_pickle_is_refused_by_predict_and_never_runs(tmp_path, exported, digits_lib):
    marker = tmp_path / "PWNED"
    evil = plant(tmp_path / "evil.pt", marker, card_from=exported["safetensors"].card_path)
    with pytest.raises(InvalidInputError, match="refusing to load evil.pt"):
        open_predictor(evil, digits_lib)
    with pytest.raises(InvalidInputError, match="refusing to load evil.pt"):
        open_predictor(evil, digits_lib, trust=True)  # --trust is for TorchScript, never for pickles
    assert not marker.exists()


def test_planted_pickle_is_refused_by_models_import_and_never_runs(tmp_path, exported, digits_lib):
    marker = tmp_path / "PWNED"
    evil = plant(tmp_path / "evil.pth", marker, card_from=exported["safetensors"].card_path)
    with pytest.raises(InvalidInputError, match="refusing to load evil.pth"):
        import_model(digits_lib, evil, "evil")
    assert not marker.exists()
    assert not any(m["name"] == "evil" for m in list_imported(digits_lib))
    assert not (digits_lib.home / "models" / "evil").exists()


def test_foreign_torchscript_needs_trust(tmp_path, exported, digits_lib):
    copy = tmp_path / "elsewhere.pt"
    shutil.copy(exported["torchscript"].path, copy)
    shutil.copy(exported["torchscript"].card_path, copy.with_suffix(".json"))
    with pytest.raises(InvalidInputError, match="TorchScript, which can run code"):
        open_predictor(copy, digits_lib)
    with pytest.raises(InvalidInputError, match="--trust"):
        import_model(digits_lib, copy, "foreign-ts")
    trusted = open_predictor(copy, digits_lib, trust=True)
    assert trusted.classes == [str(d) for d in range(10)]


def test_own_torchscript_export_changed_after_export_is_not_trusted(tmp_path, exported, digits_lib):
    path = exported["torchscript"].path
    open_predictor(path, digits_lib)  # unchanged own export: loads without --trust
    tampered = tmp_path / "tampered"
    shutil.copytree(os.path.dirname(path), tampered)
    with open(tampered / "model.pt", "ab") as fh:
        fh.write(b"\0")
    with pytest.raises(InvalidInputError, match="can run code"):
        open_predictor(tampered / "model.pt", digits_lib)


def test_weights_only_state_dict_with_card_works(tmp_path, exported, digits_lib, digit_files):
    import torch
    from safetensors.torch import load_file

    state = load_file(exported["safetensors"].path)
    torch.save(state, tmp_path / "weights.pt")
    shutil.copy(exported["safetensors"].card_path, tmp_path / "weights.json")
    plain = open_predictor(tmp_path / "weights.pt", digits_lib)
    reference = open_predictor(exported["safetensors"].path, digits_lib)
    images = [reference.decode(f) for f in digit_files]
    assert np.abs(plain.predict(images) - reference.predict(images)).max() == 0.0


def test_models_import_onnx_and_weights_then_predict_by_name(tmp_path, exported, digits_lib, digit_files):
    onnx = import_model(digits_lib, exported["onnx"].path, "digits-onnx")
    assert onnx["format"] == "onnx" and onnx["uses"] == ["play"] and len(onnx["classes"]) == 10
    weights = import_model(digits_lib, exported["safetensors"].path, "digits-weights")
    assert weights["uses"] == ["play", "finetune"]
    assert (digits_lib.home / weights["path"]).suffix == ".safetensors"
    assert (digits_lib.home / weights["path"]).with_suffix(".json").is_file()
    names = [m["name"] for m in list_imported(digits_lib)]
    assert {"digits-onnx", "digits-weights"} <= set(names)
    by_name = open_predictor("digits-onnx", digits_lib)
    by_file = open_predictor(exported["onnx"].path)
    images = [by_file.decode(f) for f in digit_files]
    assert np.abs(by_name.predict(images) - by_file.predict(images)).max() == 0.0
    with pytest.raises(InvalidInputError, match="already imported"):
        import_model(digits_lib, exported["onnx"].path, "digits-onnx")


def test_imported_trusted_torchscript_can_play(tmp_path, exported, digits_lib):
    entry = import_model(digits_lib, exported["torchscript"].path, "digits-ts", trust=True)
    assert entry["trusted"] is True and entry["format"] == "torchscript"
    assert open_predictor("digits-ts", digits_lib).classes == [str(d) for d in range(10)]


def test_bad_model_sources(tmp_path, exported, digits_lib):
    with pytest.raises(NotFoundError, match="no run, imported model or file"):
        open_predictor(tmp_path / "missing.onnx", digits_lib)
    with pytest.raises(NotFoundError, match="no run 4242"):
        open_predictor("4242", digits_lib)
    lonely = tmp_path / "lonely.safetensors"
    shutil.copy(exported["safetensors"].path, lonely)
    with pytest.raises(NotFoundError, match="no model card lonely.json"):
        open_predictor(lonely, digits_lib)
    odd = tmp_path / "model.h5"
    odd.write_bytes(b"x")
    with pytest.raises(InvalidInputError, match="unknown model format"):
        open_predictor(odd, digits_lib)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"garbage")
    with pytest.raises(InvalidInputError, match="cannot load garbage.onnx as ONNX"):
        open_predictor(garbage)


def test_a_file_that_is_not_an_image_gives_an_error_result(tmp_path, exported):
    text = tmp_path / "notes.png"
    text.write_text("hello")
    result = open_predictor(exported["onnx"].path).predict_file(text)
    assert result.top == [] and "cannot read" in result.error and "not an image" in result.error


def test_cuda_without_a_gpu_is_refused(exported):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with pytest.raises(InvalidInputError, match="no CUDA GPU"):
        open_predictor(exported["onnx"].path, device="cuda")


@pytest.mark.gpu
def test_cuda_predictions_match_cpu(exported, digits_lib, digit_files):
    cpu = open_predictor(exported["torchscript"].run_id, digits_lib, device="cpu")
    gpu = open_predictor(exported["torchscript"].run_id, digits_lib, device="cuda")
    images = [cpu.decode(f) for f in digit_files]
    assert (cpu.predict(images).argmax(1) == gpu.predict(images).argmax(1)).all()
